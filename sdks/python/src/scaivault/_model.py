"""The base of the typed results: frozen dataclasses built from JSON, ignoring unknown fields."""

from __future__ import annotations

import dataclasses
import datetime
import types
import typing
from typing import Any, ClassVar, TypeVar, Union

REDACTED = "<redacted>"

M = TypeVar("M", bound="Model")


class Model:
    """Base of every result type.

    Results are frozen dataclasses. Fields listed in ``_secret_fields`` (a secret's ``data``, a
    token's value, a private key, ...) never appear in ``repr()`` or ``str()``.
    """

    _secret_fields: ClassVar[frozenset[str]] = frozenset()

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if not f.repr:
                continue
            value = getattr(self, f.name)
            if f.name in self._secret_fields and value is not None:
                parts.append(f"{f.name}={REDACTED}")
            else:
                parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    __str__ = __repr__

    @classmethod
    def from_json(cls: type[M], data: Any) -> M:
        """Builds the result from a decoded JSON object; unknown fields are ignored."""
        return _build(cls, data)


def parse_timestamp(value: str) -> datetime.datetime:
    """An RFC 3339 timestamp as an aware datetime (``Z`` accepted on Python 3.10 too)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python 3.10's fromisoformat wants 0, 3 or 6 fractional digits.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{(digits + '000000')[:6]}{rest}"
    return datetime.datetime.fromisoformat(text)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return _convert(args[0], value)
        return value
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_convert(item, v) for v in value] if isinstance(value, list) else value
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return tuple(_convert(item, v) for v in value) if isinstance(value, list) else value
    if hint is datetime.datetime and isinstance(value, str):
        try:
            return parse_timestamp(value)
        except ValueError:
            return value
    if isinstance(hint, type) and issubclass(hint, Model) and isinstance(value, dict):
        return _build(hint, value)
    return value


def _build(cls: type[M], data: Any) -> M:
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__}: expected a JSON object")
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        key = f.metadata.get("json", f.name)
        if key in data:
            kwargs[f.name] = _convert(hints[f.name], data[key])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            kwargs[f.name] = None
    return cls(**kwargs)


def field_json(name: str, default: Any = None) -> Any:
    """A dataclass field read from the JSON key ``name`` (e.g. ``type``)."""
    return dataclasses.field(default=default, metadata={"json": name})
