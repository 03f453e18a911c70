"""Request building, response parsing and retries, shared by the sync and async clients.

Only the transport call differs between the two: :class:`SyncTransport` uses ``httpx.Client``
and ``time.sleep``, :class:`AsyncTransport` uses ``httpx.AsyncClient`` and ``anyio.sleep``.
Everything else (URLs, headers, the retry decision, the error mapping, logging) is here, once.
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import logging
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

import anyio
import httpx

from ._version import __version__
from .errors import ScaiVaultError, TransportError, error_from_response

logger = logging.getLogger("scaivault")

DEFAULT_URL = "http://127.0.0.1:8200"
DEFAULT_TIMEOUT = 60.0
#: How much longer than its ``wait`` a long-poll request may take.
POLL_MARGIN = 30.0
MAX_BACKOFF = 30.0
FIRST_BACKOFF = 0.5

T = TypeVar("T")
Kind = Literal["json", "text", "bytes", "none"]
QueryValue = str | int | float | bool | None


def segment(value: str) -> str:
    """Percent-encodes one path segment (everything but RFC 3986 unreserved characters)."""
    return quote(value, safe="-._~")


def secret_path(path: str) -> str:
    """A secret path as URL segments; refuses what the URL layer would rewrite."""
    if not path:
        raise ScaiVaultError(
            "the secret path is empty", code="invalid_path"
        )
    parts = path.split("/")
    if any(p in (".", "..") for p in parts):
        raise ScaiVaultError(
            f"invalid secret path {path!r}: '.' and '..' segments are not allowed",
            code="invalid_path",
        )
    return "/".join(segment(p) for p in parts)


def _identity(value: Any) -> Any:
    return value


@dataclass
class Call(Generic[T]):
    """One API call: everything needed to send it and to turn its answer into ``T``."""

    method: str
    path: str
    parse: Callable[[Any], T] = _identity
    query: list[tuple[str, str]] = field(default_factory=list)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    kind: Kind = "json"
    #: Error statuses whose body is a regular answer of this route (``unseal``'s 503).
    accept: tuple[int, ...] = ()

    @property
    def retryable(self) -> bool:
        """Safe to repeat: GET/HEAD, or a write guarded by ``If-Match``."""
        return self.method in ("GET", "HEAD") or "If-Match" in self.headers


def query(*pairs: tuple[str, QueryValue | Sequence[str]]) -> list[tuple[str, str]]:
    """Query parameters without the unset ones; booleans as ``true``, lists repeated."""
    out: list[tuple[str, str]] = []
    for key, value in pairs:
        if value is None or value is False:
            continue
        if value is True:
            out.append((key, "true"))
        elif isinstance(value, (list, tuple)):
            out.extend((key, str(v)) for v in value)
        else:
            out.append((key, str(value)))
    return out


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body without the unset (None) fields; dataclass values become objects."""
    return {k: jsonable(v) for k, v in fields.items() if v is not None}


def jsonable(value: Any) -> Any:
    """Dataclasses, mappings, sequences and datetimes as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime.datetime):
        return format_time(value)
    return value


def format_time(value: Any) -> Any:
    """A datetime as RFC 3339 UTC (``...Z``); strings pass through."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        utc = value.astimezone(datetime.timezone.utc)
        return utc.strftime("%Y-%m-%dT%H:%M:%S") + (
            f".{utc.microsecond:06d}Z" if utc.microsecond else "Z"
        )
    return value


def wait_param(seconds: float) -> str:
    """A long-poll ``wait`` as the API spells it: ``30s`` or ``1500ms``."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{max(1, round(seconds * 1000))}ms"


@dataclass(frozen=True)
class Config:
    """Connection settings; unset ones come from the CLI's environment variables."""

    url: str
    token: str | None
    tenant_id: str | None
    partner_id: str | None
    timeout: float
    max_retries: int

    @classmethod
    def resolve(
        cls,
        url: str | None,
        token: str | None,
        tenant_id: str | None,
        partner_id: str | None,
        timeout: float | None,
        max_retries: int,
    ) -> Config:
        url = url or os.environ.get("SCAIVAULT_URL") or DEFAULT_URL
        url = url.strip().rstrip("/")
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"invalid ScaiVault URL {url!r}: expected http(s)://host[:port]")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        return cls(
            url=url,
            token=token or os.environ.get("SCAIVAULT_TOKEN") or None,
            tenant_id=tenant_id or os.environ.get("SCAIVAULT_TENANT_ID") or None,
            partner_id=partner_id or os.environ.get("SCAIVAULT_PARTNER_ID") or None,
            timeout=DEFAULT_TIMEOUT if timeout is None else float(timeout),
            max_retries=max_retries,
        )

    def __repr__(self) -> str:
        token = None if self.token is None else "<redacted>"
        return (
            f"Config(url={self.url!r}, token={token!r}, tenant_id={self.tenant_id!r}, "
            f"partner_id={self.partner_id!r}, timeout={self.timeout!r}, "
            f"max_retries={self.max_retries!r})"
        )

    def headers(self) -> dict[str, str]:
        headers = {"User-Agent": f"scaivault-python/{__version__}", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        # As the CLI: the tenant goes into the URL (/v1/t/{tenant}/...), the partner into
        # this header.
        if self.partner_id:
            headers["X-ScaiVault-Partner-ID"] = self.partner_id
        return headers

    def tenant_prefix(self) -> str:
        """``/v1`` or ``/v1/t/{tenant}`` for tenant-scoped routes."""
        if self.tenant_id:
            return f"/v1/t/{segment(self.tenant_id)}"
        return "/v1"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff(attempt: int) -> float:
    """Exponential back-off with jitter: about 0.5 s, 1 s, 2 s, ... capped at 30 s."""
    base: float = min(MAX_BACKOFF, FIRST_BACKOFF * 2.0**attempt)
    return base / 2 + random.uniform(0, base / 2)


def retry_delay(call: Call[Any], attempt: int, config: Config, outcome: Any) -> float | None:
    """How long to wait before retrying ``call``, or None to give up.

    ``outcome`` is the ``httpx.Response`` or the transport exception of the attempt.
    """
    if attempt >= config.max_retries or not call.retryable:
        return None
    if isinstance(outcome, httpx.Response):
        if outcome.status_code not in (429, 503) or outcome.status_code in call.accept:
            return None
        after = _retry_after(outcome)
        return backoff(attempt) if after is None else float(after)
    if isinstance(outcome, (httpx.ConnectError, httpx.ConnectTimeout)):
        return backoff(attempt)
    return None


def request_args(call: Call[Any], config: Config) -> dict[str, Any]:
    """The arguments of ``httpx.Client.request`` for ``call``."""
    args: dict[str, Any] = {
        "method": call.method,
        "url": config.url + call.path,
        "params": call.query or None,
        "headers": call.headers or None,
    }
    if call.json is not None:
        args["json"] = call.json
    if call.timeout is not None:
        args["timeout"] = call.timeout
    return args


def transport_error(call: Call[Any], exc: httpx.HTTPError) -> TransportError:
    if isinstance(exc, httpx.TimeoutException):
        reason = "timed out"
    elif isinstance(exc, httpx.ConnectError):
        reason = f"could not connect: {exc}"
    else:
        reason = str(exc) or type(exc).__name__
    logger.debug("%s %s failed: %s", call.method, call.path, type(exc).__name__)
    return TransportError(f"{call.method} {call.path}: {reason}", code="transport_error")


def finish(call: Call[T], response: httpx.Response) -> T:
    """Turns a complete response into the call's result, or raises the mapped error."""
    request_id = response.headers.get("X-Request-Id")
    logger.debug(
        "%s %s -> %s (request %s)", call.method, call.path, response.status_code, request_id
    )
    status = response.status_code
    if status >= 400 and status not in call.accept:
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        raise error_from_response(
            status, payload, request_id=request_id, retry_after=_retry_after(response)
        )
    if call.kind == "none":
        return call.parse(None)
    if call.kind == "text":
        return call.parse(response.text)
    if call.kind == "bytes":
        return call.parse(response.content)
    if not response.content:
        return call.parse(None)
    try:
        payload = response.json()
    except ValueError as exc:
        raise ScaiVaultError(
            f"the server's answer to {call.method} {call.path} is not JSON",
            code="decode_error",
            status=status,
            request_id=request_id,
        ) from exc
    return call.parse(payload)


def _log_retry(call: Call[Any], attempt: int, delay: float, outcome: Any) -> None:
    what = outcome.status_code if isinstance(outcome, httpx.Response) else type(outcome).__name__
    logger.debug(
        "%s %s: %s, retry %d in %.2fs", call.method, call.path, what, attempt + 1, delay
    )


class SyncTransport:
    """Sends calls with ``httpx.Client``."""

    def __init__(self, config: Config, http: httpx.Client | None = None) -> None:
        self.config = config
        self._http = http or httpx.Client(headers=config.headers(), timeout=config.timeout)
        if http is not None:
            self._http.headers.update(config.headers())

    def close(self) -> None:
        self._http.close()

    def send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = self._http.request(**request_args(call, self.config))
            except httpx.HTTPError as exc:
                delay = retry_delay(call, attempt, self.config, exc)
                if delay is None:
                    raise transport_error(call, exc) from exc
                _log_retry(call, attempt, delay, exc)
            else:
                delay = retry_delay(call, attempt, self.config, response)
                if delay is None:
                    return finish(call, response)
                _log_retry(call, attempt, delay, response)
            time.sleep(delay)
            attempt += 1


class AsyncTransport:
    """Sends calls with ``httpx.AsyncClient``."""

    def __init__(self, config: Config, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._http = http or httpx.AsyncClient(headers=config.headers(), timeout=config.timeout)
        if http is not None:
            self._http.headers.update(config.headers())

    async def close(self) -> None:
        await self._http.aclose()

    async def send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = await self._http.request(**request_args(call, self.config))
            except httpx.HTTPError as exc:
                delay = retry_delay(call, attempt, self.config, exc)
                if delay is None:
                    raise transport_error(call, exc) from exc
                _log_retry(call, attempt, delay, exc)
            else:
                delay = retry_delay(call, attempt, self.config, response)
                if delay is None:
                    return finish(call, response)
                _log_retry(call, attempt, delay, response)
            await anyio.sleep(delay)
            attempt += 1
