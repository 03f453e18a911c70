# GENERATED from _async_resources.py by tools/unasync.py: do not edit by hand.
"""The resource groups of :class:`scaivault.Client`: one method per API endpoint.

``_async_resources.py`` is the source of truth; ``_sync_resources.py`` is generated from it by
``tools/unasync.py`` (coroutines become plain functions, async iterators plain ones)
and a test checks that the two agree, so the sync and async clients cannot drift. Request
building and response parsing live in ``_transport`` and ``models``; only ``send`` differs.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from . import models as m
from ._model import Model
from ._transport import (
    POLL_MARGIN,
    SyncTransport,
    Call,
    body,
    format_time,
    query,
    secret_path,
    segment,
    wait_param,
)

M = TypeVar("M", bound=Model)
T = TypeVar("T")

JSON = Mapping[str, Any]
Time = str | datetime


def _none(_: Any) -> None:
    return None


def _list_of(model: type[M], key: str) -> Callable[[Any], builtins.list[M]]:
    def parse(data: Any) -> builtins.list[M]:
        return [model.from_json(item) for item in (data or {}).get(key) or []]

    return parse


class Resource:
    """Base of the resource groups: URL helpers and paging over one transport."""

    def __init__(self, transport: SyncTransport) -> None:
        self._t = transport

    def _tenant(self, *segments: str) -> str:
        """A tenant-scoped route: ``/v1/...`` or ``/v1/t/{tenant}/...``."""
        return self._t.config.tenant_prefix() + "".join("/" + segment(s) for s in segments)

    @staticmethod
    def _global(*segments: str) -> str:
        """A route that is not about one tenant: ``/v1/...``."""
        return "/v1" + "".join("/" + segment(s) for s in segments)

    def _send(self, call: Call[T]) -> T:
        return self._t.send(call)

    def _pages(
        self,
        path: str,
        params: builtins.list[tuple[str, str]],
        key: str,
        model: type[M],
    ) -> Iterator[M]:
        """Follows ``cursor`` until ``has_more`` is false, one page at a time."""
        cursor: str | None = None
        while True:
            page_query = params + ([("cursor", cursor)] if cursor else [])
            page: Any = self._send(Call("GET", path, query=page_query))
            for item in (page or {}).get(key) or []:
                yield model.from_json(item)
            cursor = (page or {}).get("cursor")
            if not (page or {}).get("has_more") or not cursor:
                return


# ------------------------------------------------------------------------------------ secrets


class Secrets(Resource):
    """``/v1/secrets``: read, write, list, version and rotate secrets.

    ``client.partner_secrets`` is the same group on ``/v1/partner/secrets`` (secrets shared by
    every tenant of the partner; partner admins write them).
    """

    def __init__(self, transport: SyncTransport, *, partner: bool = False) -> None:
        super().__init__(transport)
        self._partner = partner

    def _secrets(self, before: str, path: str | None, after: str = "") -> str:
        if self._partner:
            url = "/v1/partner/secrets"
        else:
            url = self._t.config.tenant_prefix() + "/secrets"
        if before:
            url += "/" + before
        if path is not None:
            url += "/" + secret_path(path)
        if after:
            url += "/" + after
        return url

    def read(self, path: str, version: int | None = None) -> m.Secret:
        """``GET /v1/secrets/{path}[?version=N]``: the current (or given) version."""
        return self._send(
            Call(
                "GET",
                self._secrets("", path),
                m.Secret.from_json,
                query=query(("version", version)),
            )
        )

    def write(
        self,
        path: str,
        data: JSON,
        secret_type: str | None = None,
        metadata: JSON | None = None,
        options: JSON | None = None,
        if_match: int | None = None,
        *,
        if_none_match: bool = False,
    ) -> m.WriteResult:
        """``PUT /v1/secrets/{path}``: creates the secret or a new version of it.

        ``if_match=N`` writes only while version N is current (else ``VersionConflictError``);
        ``if_none_match=True`` only creates. Such writes are retried; plain writes never.
        """
        headers = {}
        if if_match is not None:
            headers["If-Match"] = f'"{int(if_match)}"'
        if if_none_match:
            headers["If-None-Match"] = "*"
        return self._send(
            Call(
                "PUT",
                self._secrets("", path),
                m.WriteResult.from_json,
                json=body(
                    data=dict(data), secret_type=secret_type, metadata=metadata, options=options
                ),
                headers=headers,
            )
        )

    def patch(
        self, path: str, metadata: JSON | None = None, options: JSON | None = None
    ) -> m.SecretInfo:
        """``PATCH /v1/secrets/{path}``: metadata and options only, no new version."""
        return self._send(
            Call(
                "PATCH",
                self._secrets("", path),
                m.SecretInfo.from_json,
                json=body(metadata=metadata, options=options),
            )
        )

    def list(
        self,
        prefix: str | None = None,
        *,
        tags: Sequence[str] | None = None,
        secret_type: str | None = None,
        expires_before: Time | None = None,
        updated_after: Time | None = None,
        include_expired: bool = False,
        include_metadata: bool = False,
        limit: int | None = None,
    ) -> Iterator[m.SecretSummary]:
        """``GET /v1/secrets``: every matching secret, by path, fetched page by page."""
        params = query(
            ("prefix", prefix),
            ("tag", list(tags or [])),
            ("secret_type", secret_type),
            ("expires_before", format_time(expires_before)),
            ("updated_after", format_time(updated_after)),
            ("include_expired", include_expired),
            ("include_metadata", include_metadata),
            ("limit", limit),
        )
        for item in self._pages(self._secrets("", None), params, "secrets", m.SecretSummary):
            yield item

    def versions(self, path: str) -> builtins.list[m.VersionInfo]:
        """``GET /v1/secrets/{path}/versions``: live versions, newest first."""
        return self._send(
            Call(
                "GET", self._secrets("", path, "versions"), _list_of(m.VersionInfo, "versions")
            )
        )

    def metadata(self, path: str) -> m.SecretInfo:
        """``GET /v1/secrets/metadata/{path}``."""
        return self._send(
            Call("GET", self._secrets("metadata", path), m.SecretInfo.from_json)
        )

    def delete(
        self, path: str, permanent: bool = False, *, version: int | None = None
    ) -> None:
        """``DELETE /v1/secrets/{path}``: soft delete (restorable), ``permanent=True`` for
        good, or ``version=N`` to destroy one version."""
        self._send(
            Call(
                "DELETE",
                self._secrets("", path),
                _none,
                query=query(("permanent", permanent), ("version", version)),
                kind="none",
            )
        )

    def restore(self, path: str) -> m.RestoreResult:
        """``POST /v1/secrets/{path}/restore``: undoes a soft delete."""
        return self._send(
            Call("POST", self._secrets("", path, "restore"), m.RestoreResult.from_json)
        )

    def rotate(
        self,
        path: str,
        new_value: JSON | None = None,
        *,
        reason: str | None = None,
        grace_period: str | None = None,
    ) -> m.RotateResult:
        """``POST /v1/secrets/{path}/rotate``: a new version; the previous one stays readable
        for ``grace_period`` (e.g. ``"1h"``). ``new_value`` may be left out when the secret
        has a secret policy (the value is generated)."""
        return self._send(
            Call(
                "POST",
                self._secrets("", path, "rotate"),
                m.RotateResult.from_json,
                json=body(
                    new_value=None if new_value is None else dict(new_value),
                    reason=reason,
                    grace_period=grace_period,
                ),
            )
        )

    def expiring(
        self, days: int | None = None, *, prefix: str | None = None, limit: int | None = None
    ) -> Iterator[m.ExpiringSecret]:
        """``GET /v1/secrets/expiring``: secrets expiring within ``days`` (default 30)."""
        params = query(("days", days), ("prefix", prefix), ("limit", limit))
        for item in self._pages(
            self._secrets("expiring", None), params, "secrets", m.ExpiringSecret
        ):
            yield item


# --------------------------------------------------------------------------------------- auth


class Tokens(Resource):
    """``/v1/auth/tokens``: the caller's personal access tokens."""

    def create(
        self, name: str, scopes: Sequence[str], ttl: str | None = None
    ) -> m.CreatedToken:
        """``POST /v1/auth/tokens``: the only answer that carries the token's value."""
        return self._send(
            Call(
                "POST",
                self._global("auth", "tokens"),
                m.CreatedToken.from_json,
                json=body(name=name, scopes=list(scopes), ttl=ttl),
            )
        )

    def list(self, *, limit: int | None = None) -> Iterator[m.TokenInfo]:
        """``GET /v1/auth/tokens``: the caller's active tokens (never their values)."""
        for item in self._pages(
            self._global("auth", "tokens"), query(("limit", limit)), "tokens", m.TokenInfo
        ):
            yield item

    def revoke(self, id: str) -> None:
        """``DELETE /v1/auth/tokens/{id}``."""
        self._send(
            Call("DELETE", self._global("auth", "tokens", id), _none, kind="none")
        )


class Auth(Resource):
    """``/v1/auth``: who am I, token exchange, personal access tokens (``.tokens``)."""

    def __init__(self, transport: SyncTransport) -> None:
        super().__init__(transport)
        self.tokens = Tokens(transport)

    def whoami(self) -> m.WhoAmI:
        """``GET /v1/auth/whoami``."""
        return self._send(Call("GET", self._global("auth", "whoami"), m.WhoAmI.from_json))

    def exchange(self, ttl: str | None = None) -> m.CreatedToken:
        """``POST /v1/auth/exchange``: the client's API key for a short-lived token."""
        return self._send(
            Call(
                "POST",
                self._global("auth", "exchange"),
                m.CreatedToken.from_json,
                json=body(ttl=ttl),
            )
        )


# ----------------------------------------------------------------------------------- policies

RuleInput = m.Rule | JSON


class Policies(Resource):
    """``/v1/policies``: path policies, their bindings and the explain endpoint."""

    def create(
        self,
        name: str,
        rules: Sequence[RuleInput] | None = None,
        *,
        description: str | None = None,
        path: str | None = None,
        permissions: Sequence[str] | None = None,
        effect: str | None = None,
    ) -> m.Policy:
        """``POST /v1/policies``: from ``rules``, or the quick form ``path`` + ``permissions``."""
        return self._send(
            Call(
                "POST",
                self._tenant("policies"),
                m.Policy.from_json,
                json=body(
                    name=name,
                    description=description,
                    rules=None if rules is None else list(rules),
                    path=path,
                    permissions=None if permissions is None else list(permissions),
                    effect=effect,
                ),
            )
        )

    def get(self, id: str) -> m.Policy:
        """``GET /v1/policies/{id}``."""
        return self._send(Call("GET", self._tenant("policies", id), m.Policy.from_json))

    def list(self, *, limit: int | None = None) -> Iterator[m.Policy]:
        """``GET /v1/policies``."""
        for item in self._pages(
            self._tenant("policies"), query(("limit", limit)), "policies", m.Policy
        ):
            yield item

    def update(
        self,
        id: str,
        name: str,
        rules: Sequence[RuleInput] | None = None,
        *,
        description: str | None = None,
        path: str | None = None,
        permissions: Sequence[str] | None = None,
        effect: str | None = None,
    ) -> m.Policy:
        """``PUT /v1/policies/{id}``: replaces name, description and rules."""
        return self._send(
            Call(
                "PUT",
                self._tenant("policies", id),
                m.Policy.from_json,
                json=body(
                    name=name,
                    description=description,
                    rules=None if rules is None else list(rules),
                    path=path,
                    permissions=None if permissions is None else list(permissions),
                    effect=effect,
                ),
            )
        )

    def delete(self, id: str) -> None:
        """``DELETE /v1/policies/{id}``: the policy and its bindings."""
        self._send(Call("DELETE", self._tenant("policies", id), _none, kind="none"))

    def test(
        self,
        path: str,
        permission: str,
        *,
        identity_id: str | None = None,
        groups: Sequence[str] | None = None,
    ) -> m.PolicyTestResult:
        """``POST /v1/policies/test``: would the identity (default: the caller) be allowed,
        and which rule decides? A denial is a result with ``allowed=False``, not an error."""
        return self._send(
            Call(
                "POST",
                self._tenant("policies", "test"),
                m.PolicyTestResult.from_json,
                json=body(
                    path=path,
                    permission=permission,
                    identity_id=identity_id,
                    groups=None if groups is None else list(groups),
                ),
            )
        )

    def bind(self, id: str, identity_type: str, identity_id: str) -> m.Binding:
        """``POST /v1/policies/{id}/bindings``: to a ``user``, ``group`` or
        ``service_account``."""
        return self._send(
            Call(
                "POST",
                self._tenant("policies", id, "bindings"),
                m.Binding.from_json,
                json=body(identity_type=identity_type, identity_id=identity_id),
            )
        )

    def unbind(self, id: str, identity_id: str) -> None:
        """``DELETE /v1/policies/{id}/bindings/{identity_id}``."""
        self._send(
            Call(
                "DELETE",
                self._tenant("policies", id, "bindings", identity_id),
                _none,
                kind="none",
            )
        )

    def bindings(self, id: str) -> builtins.list[m.Binding]:
        """``GET /v1/policies/{id}/bindings``."""
        return self._send(
            Call("GET", self._tenant("policies", id, "bindings"), _list_of(m.Binding, "bindings"))
        )


# ----------------------------------------------------------------------------------- rotation


class Rotation(Resource):
    """``/v1/rotation``: rotation policies, their secrets, runs and the schedule."""

    def create(
        self,
        name: str,
        interval: str,
        *,
        description: str | None = None,
        grace_period: str | None = None,
        warn_before: Sequence[str] | None = None,
        auto_generate: bool | None = None,
        window: str | None = None,
    ) -> m.RotationPolicy:
        """``POST /v1/rotation/policies`` (the id is derived from the name)."""
        return self._send(
            Call(
                "POST",
                self._tenant("rotation", "policies"),
                m.RotationPolicy.from_json,
                json=body(
                    name=name,
                    interval=interval,
                    description=description,
                    grace_period=grace_period,
                    warn_before=None if warn_before is None else list(warn_before),
                    auto_generate=auto_generate,
                    window=window,
                ),
            )
        )

    def get(self, id: str) -> m.RotationPolicy:
        """``GET /v1/rotation/policies/{id}``."""
        return self._send(
            Call("GET", self._tenant("rotation", "policies", id), m.RotationPolicy.from_json)
        )

    def list(self, *, limit: int | None = None) -> Iterator[m.RotationPolicy]:
        """``GET /v1/rotation/policies``."""
        for item in self._pages(
            self._tenant("rotation", "policies"),
            query(("limit", limit)),
            "rotation_policies",
            m.RotationPolicy,
        ):
            yield item

    def update(
        self,
        id: str,
        name: str,
        interval: str,
        *,
        description: str | None = None,
        grace_period: str | None = None,
        warn_before: Sequence[str] | None = None,
        auto_generate: bool | None = None,
        window: str | None = None,
    ) -> m.RotationPolicy:
        """``PUT /v1/rotation/policies/{id}``: replaces the whole policy."""
        return self._send(
            Call(
                "PUT",
                self._tenant("rotation", "policies", id),
                m.RotationPolicy.from_json,
                json=body(
                    name=name,
                    interval=interval,
                    description=description,
                    grace_period=grace_period,
                    warn_before=None if warn_before is None else list(warn_before),
                    auto_generate=auto_generate,
                    window=window,
                ),
            )
        )

    def delete(self, id: str) -> None:
        """``DELETE /v1/rotation/policies/{id}``."""
        self._send(
            Call("DELETE", self._tenant("rotation", "policies", id), _none, kind="none")
        )

    def assign(self, id: str, paths: Sequence[str]) -> m.AssignResult:
        """``POST /v1/rotation/policies/{id}/assign``: paths or globs onto the schedule."""
        return self._send(
            Call(
                "POST",
                self._tenant("rotation", "policies", id, "assign"),
                m.AssignResult.from_json,
                json=body(paths=list(paths)),
            )
        )

    def unassign(self, id: str, paths: Sequence[str]) -> m.AssignResult:
        """``POST /v1/rotation/policies/{id}/unassign``."""
        return self._send(
            Call(
                "POST",
                self._tenant("rotation", "policies", id, "unassign"),
                m.AssignResult.from_json,
                json=body(paths=list(paths)),
            )
        )

    def secrets(
        self, id: str, *, limit: int | None = None
    ) -> Iterator[m.ScheduledRotation]:
        """``GET /v1/rotation/policies/{id}/secrets``: assigned secrets and their schedule."""
        for item in self._pages(
            self._tenant("rotation", "policies", id, "secrets"),
            query(("limit", limit)),
            "secrets",
            m.ScheduledRotation,
        ):
            yield item

    def history(
        self, id: str, *, status: str | None = None, limit: int | None = None
    ) -> Iterator[m.RotationRun]:
        """``GET /v1/rotation/policies/{id}/history``: the policy's runs, newest first."""
        for item in self._pages(
            self._tenant("rotation", "policies", id, "history"),
            query(("status", status), ("limit", limit)),
            "runs",
            m.RotationRun,
        ):
            yield item

    def trigger(self, id: str, paths: Sequence[str] | None = None) -> m.TriggerResult:
        """``POST /v1/rotation/policies/{id}/trigger``: rotate now (all, or these paths)."""
        return self._send(
            Call(
                "POST",
                self._tenant("rotation", "policies", id, "trigger"),
                m.TriggerResult.from_json,
                json=body(paths=None if paths is None else list(paths)),
            )
        )

    def due(
        self, within_hours: int | None = None, *, limit: int | None = None
    ) -> Iterator[m.ScheduledRotation]:
        """``GET /v1/rotation/due``: rotations due within ``within_hours``, soonest first."""
        for item in self._pages(
            self._tenant("rotation", "due"),
            query(("within_hours", within_hours), ("limit", limit)),
            "secrets",
            m.ScheduledRotation,
        ):
            yield item

    def runs(
        self,
        *,
        path: str | None = None,
        policy_id: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> Iterator[m.RotationRun]:
        """``GET /v1/rotation/runs``: runs across policies, newest first."""
        for item in self._pages(
            self._tenant("rotation", "runs"),
            query(("path", path), ("policy_id", policy_id), ("status", status), ("limit", limit)),
            "runs",
            m.RotationRun,
        ):
            yield item


# ---------------------------------------------------------------------------- secret policies

FieldInput = m.GeneratorField | JSON


class SecretPolicies(Resource):
    """``/v1/secret-policies``: how values are generated."""

    def create(
        self,
        name: str,
        fields: Sequence[FieldInput],
        *,
        description: str | None = None,
        secret_type: str | None = None,
    ) -> m.SecretPolicy:
        """``POST /v1/secret-policies`` (the id is derived from the name)."""
        return self._send(
            Call(
                "POST",
                self._tenant("secret-policies"),
                m.SecretPolicy.from_json,
                json=body(
                    name=name,
                    fields=list(fields),
                    description=description,
                    secret_type=secret_type,
                ),
            )
        )

    def get(self, id: str) -> m.SecretPolicy:
        """``GET /v1/secret-policies/{id}``."""
        return self._send(
            Call("GET", self._tenant("secret-policies", id), m.SecretPolicy.from_json)
        )

    def list(self, *, limit: int | None = None) -> Iterator[m.SecretPolicy]:
        """``GET /v1/secret-policies``."""
        for item in self._pages(
            self._tenant("secret-policies"),
            query(("limit", limit)),
            "secret_policies",
            m.SecretPolicy,
        ):
            yield item

    def update(
        self,
        id: str,
        name: str,
        fields: Sequence[FieldInput],
        *,
        description: str | None = None,
        secret_type: str | None = None,
    ) -> m.SecretPolicy:
        """``PUT /v1/secret-policies/{id}``: replaces name, description, type and fields."""
        return self._send(
            Call(
                "PUT",
                self._tenant("secret-policies", id),
                m.SecretPolicy.from_json,
                json=body(
                    name=name,
                    fields=list(fields),
                    description=description,
                    secret_type=secret_type,
                ),
            )
        )

    def delete(self, id: str) -> None:
        """``DELETE /v1/secret-policies/{id}``."""
        self._send(
            Call("DELETE", self._tenant("secret-policies", id), _none, kind="none")
        )

    def types(self) -> m.GeneratorCatalogue:
        """``GET /v1/secret-policies/types``: the generators and charsets."""
        return self._send(
            Call("GET", self._tenant("secret-policies", "types"), m.GeneratorCatalogue.from_json)
        )

    def generate(self, id: str) -> m.GeneratedValue:
        """``POST /v1/secret-policies/{id}/generate``: a fresh value, never stored."""
        return self._send(
            Call(
                "POST",
                self._tenant("secret-policies", id, "generate"),
                m.GeneratedValue.from_json,
            )
        )


# -------------------------------------------------------------------------------------- audit


class Audit(Resource):
    """``/v1/audit``: the audit trail (tenant admins with ``audit:read``).

    When the client acts as a tenant (``tenant_id``), that tenant is sent as the ``tenant_id``
    parameter unless a call names one.
    """

    def _tenant_param(self, tenant_id: str | None) -> str | None:
        return tenant_id or self._t.config.tenant_id

    def query(
        self,
        *,
        action: str | None = None,
        identity: str | None = None,
        resource_type: str | None = None,
        path_prefix: str | None = None,
        outcome: str | None = None,
        start: Time | None = None,
        end: Time | None = None,
        tenant_id: str | None = None,
        limit: int | None = None,
    ) -> Iterator[m.AuditEntry]:
        """``GET /v1/audit``: matching entries, newest first."""
        params = query(
            ("action", action),
            ("identity", identity),
            ("resource_type", resource_type),
            ("path_prefix", path_prefix),
            ("outcome", outcome),
            ("start", format_time(start)),
            ("end", format_time(end)),
            ("tenant_id", self._tenant_param(tenant_id)),
            ("limit", limit),
        )
        for item in self._pages(self._global("audit"), params, "entries", m.AuditEntry):
            yield item

    def trail(self, path: str, *, limit: int | None = None) -> Iterator[m.AuditEntry]:
        """``GET /v1/audit/trail/{path}``: one secret's history, newest first."""
        params = query(("tenant_id", self._tenant_param(None)), ("limit", limit))
        for item in self._pages(
            "/v1/audit/trail/" + secret_path(path), params, "entries", m.AuditEntry
        ):
            yield item

    def summary(
        self, *, start: Time | None = None, end: Time | None = None
    ) -> m.AuditSummary:
        """``GET /v1/audit/summary``: counts by action, outcome, identity and path."""
        return self._send(
            Call(
                "GET",
                self._global("audit", "summary"),
                m.AuditSummary.from_json,
                query=query(
                    ("start", format_time(start)),
                    ("end", format_time(end)),
                    ("tenant_id", self._tenant_param(None)),
                ),
            )
        )

    def verify(self) -> m.AuditVerifyResult:
        """``POST /v1/audit/verify``: checks the hash chains."""
        return self._send(
            Call("POST", self._global("audit", "verify"), m.AuditVerifyResult.from_json, json={})
        )


# ------------------------------------------------------------------------------ subscriptions


class Subscriptions(Resource):
    """``/v1/subscriptions``: event subscriptions, long-poll and webhook state."""

    def create(
        self,
        name: str,
        paths: Sequence[str],
        events: Sequence[str],
        *,
        webhook: str | None = None,
        tenants: Sequence[str] | None = None,
    ) -> m.Subscription:
        """``POST /v1/subscriptions``. With a webhook the result carries the signing secret
        (``webhook_secret``, ``whsec_...``), which no later answer repeats."""
        return self._send(
            Call(
                "POST",
                self._tenant("subscriptions"),
                m.Subscription.from_json,
                json=body(
                    name=name,
                    paths=list(paths),
                    events=list(events),
                    webhook=webhook,
                    tenants=None if tenants is None else list(tenants),
                ),
            )
        )

    def get(self, id: str) -> m.Subscription:
        """``GET /v1/subscriptions/{id}``, with its webhook delivery state."""
        return self._send(
            Call("GET", self._tenant("subscriptions", id), m.Subscription.from_json)
        )

    def list(self, *, limit: int | None = None) -> Iterator[m.Subscription]:
        """``GET /v1/subscriptions``."""
        for item in self._pages(
            self._tenant("subscriptions"), query(("limit", limit)), "subscriptions", m.Subscription
        ):
            yield item

    def delete(self, id: str) -> None:
        """``DELETE /v1/subscriptions/{id}``."""
        self._send(Call("DELETE", self._tenant("subscriptions", id), _none, kind="none"))

    def poll_page(
        self,
        id: str,
        *,
        cursor: str | None = None,
        wait: float | None = None,
        limit: int | None = None,
    ) -> m.PollPage:
        """``GET /v1/subscriptions/{id}/poll``: one long-poll. Resume with the returned
        ``cursor`` (also when ``events`` is empty). ``wait`` in seconds (server default 30)."""
        held = 30.0 if wait is None else float(wait)
        return self._send(
            Call(
                "GET",
                self._tenant("subscriptions", id, "poll"),
                m.PollPage.from_json,
                query=query(
                    ("cursor", cursor),
                    ("wait", None if wait is None else wait_param(wait)),
                    ("limit", limit),
                ),
                timeout=held + POLL_MARGIN,
            )
        )

    def poll(
        self,
        id: str,
        follow: bool = False,
        *,
        cursor: str | None = None,
        wait: float | None = None,
        limit: int | None = None,
    ) -> Iterator[m.Event]:
        """Events of the subscription: one poll's, or with ``follow=True`` every event as it
        arrives, for as long as the caller iterates (each response's cursor is passed back)."""
        while True:
            page = self.poll_page(id, cursor=cursor, wait=wait, limit=limit)
            for event in page.events:
                yield event
            cursor = page.cursor
            if not follow:
                return

    def dead_letters(self, id: str) -> builtins.list[m.DeadLetter]:
        """``GET /v1/subscriptions/{id}/dead-letters``: deliveries given up on."""
        return self._send(
            Call(
                "GET",
                self._tenant("subscriptions", id, "dead-letters"),
                _list_of(m.DeadLetter, "dead_letters"),
            )
        )

    def rotate_secret(self, id: str) -> m.Subscription:
        """``POST /v1/subscriptions/{id}/rotate-secret``: a new webhook signing secret (in
        ``webhook_secret``, shown once); it signs every delivery from then on."""
        return self._send(
            Call(
                "POST",
                self._tenant("subscriptions", id, "rotate-secret"),
                m.Subscription.from_json,
            )
        )


# --------------------------------------------------------------------------- service accounts


class ServiceAccounts(Resource):
    """``/v1/service-accounts``: machine identities and their API keys (tenant admins)."""

    def create(
        self, name: str, roles: Sequence[str], *, description: str | None = None
    ) -> m.ServiceAccount:
        """``POST /v1/service-accounts``."""
        return self._send(
            Call(
                "POST",
                self._tenant("service-accounts"),
                m.ServiceAccount.from_json,
                json=body(name=name, roles=list(roles), description=description),
            )
        )

    def get(self, id: str) -> m.ServiceAccount:
        """``GET /v1/service-accounts/{id}``."""
        return self._send(
            Call("GET", self._tenant("service-accounts", id), m.ServiceAccount.from_json)
        )

    def list(self, *, limit: int | None = None) -> Iterator[m.ServiceAccount]:
        """``GET /v1/service-accounts``."""
        for item in self._pages(
            self._tenant("service-accounts"),
            query(("limit", limit)),
            "service_accounts",
            m.ServiceAccount,
        ):
            yield item

    def delete(self, id: str) -> None:
        """``DELETE /v1/service-accounts/{id}``: its keys stop working at once."""
        self._send(
            Call("DELETE", self._tenant("service-accounts", id), _none, kind="none")
        )

    def create_key(
        self, id: str, name: str, ttl: str | None = None
    ) -> m.CreatedApiKey:
        """``POST /v1/service-accounts/{id}/keys``: the only answer with the key (``svk_...``)."""
        return self._send(
            Call(
                "POST",
                self._tenant("service-accounts", id, "keys"),
                m.CreatedApiKey.from_json,
                json=body(name=name, ttl=ttl),
            )
        )

    def list_keys(self, id: str, *, limit: int | None = None) -> Iterator[m.ApiKeyInfo]:
        """``GET /v1/service-accounts/{id}/keys``: active keys, never their values."""
        for item in self._pages(
            self._tenant("service-accounts", id, "keys"),
            query(("limit", limit)),
            "keys",
            m.ApiKeyInfo,
        ):
            yield item

    def delete_key(self, id: str, key_id: str) -> None:
        """``DELETE /v1/service-accounts/{id}/keys/{key_id}``."""
        self._send(
            Call(
                "DELETE", self._tenant("service-accounts", id, "keys", key_id), _none, kind="none"
            )
        )


# ----------------------------------------------------------------------------------- identity


class Tenants(Resource):
    """``/v1/identity/tenants`` (partner admins)."""

    def create(
        self, slug: str, name: str | None = None, *, partner_id: str | None = None
    ) -> m.Tenant:
        """``POST /v1/identity/tenants``."""
        return self._send(
            Call(
                "POST",
                self._global("identity", "tenants"),
                m.Tenant.from_json,
                json=body(slug=slug, name=name, partner_id=partner_id),
            )
        )

    def list(self, *, limit: int | None = None) -> Iterator[m.Tenant]:
        """``GET /v1/identity/tenants``: the tenants in reach."""
        for item in self._pages(
            self._global("identity", "tenants"), query(("limit", limit)), "tenants", m.Tenant
        ):
            yield item

    def get(self, id: str) -> m.Tenant:
        """``GET /v1/identity/tenants/{id}``."""
        return self._send(
            Call("GET", self._global("identity", "tenants", id), m.Tenant.from_json)
        )


class Partners(Resource):
    """``/v1/identity/partners`` (operators)."""

    def list(self, *, limit: int | None = None) -> Iterator[m.Partner]:
        """``GET /v1/identity/partners``."""
        for item in self._pages(
            self._global("identity", "partners"), query(("limit", limit)), "partners", m.Partner
        ):
            yield item

    def create(self, name: str, *, id: str | None = None) -> m.Partner:
        """``POST /v1/identity/partners``."""
        return self._send(
            Call(
                "POST",
                self._global("identity", "partners"),
                m.Partner.from_json,
                json=body(name=name, id=id),
            )
        )


class Identity(Resource):
    """``/v1/identity``: tenants, partners, registration and synced group membership."""

    def __init__(self, transport: SyncTransport) -> None:
        super().__init__(transport)
        self.tenants = Tenants(transport)
        self.partners = Partners(transport)

    def register(
        self,
        scope: str,
        email: str,
        *,
        tenant_slug: str | None = None,
        partner_name: str | None = None,
        partner_id: str | None = None,
    ) -> m.RegisterResult:
        """``POST /v1/identity/register``: a new tenant (or partner) and its first admin; the
        only answer with that admin's token."""
        return self._send(
            Call(
                "POST",
                self._global("identity", "register"),
                m.RegisterResult.from_json,
                json=body(
                    scope=scope,
                    email=email,
                    tenant_slug=tenant_slug,
                    partner_name=partner_name,
                    partner_id=partner_id,
                ),
            )
        )

    def user_groups(self, identity_id: str) -> m.GroupMembership:
        """``GET /v1/identity/users/{identity_id}/groups``."""
        return self._send(
            Call(
                "GET",
                self._tenant("identity", "users", identity_id, "groups"),
                m.GroupMembership.from_json,
            )
        )

    def set_user_groups(
        self, identity_id: str, groups: Sequence[str]
    ) -> m.GroupMembership:
        """``PUT /v1/identity/users/{identity_id}/groups``: replaces the synced groups."""
        return self._send(
            Call(
                "PUT",
                self._tenant("identity", "users", identity_id, "groups"),
                m.GroupMembership.from_json,
                json=body(groups=list(groups)),
            )
        )


# ---------------------------------------------------------------------------------------- pki


class Cas(Resource):
    """``/v1/pki/cas``: certificate authorities."""

    def create(
        self,
        name: str,
        common_name: str,
        *,
        organization: str | None = None,
        organizational_unit: str | None = None,
        country: str | None = None,
        state: str | None = None,
        locality: str | None = None,
        key_type: str | None = None,
        validity_days: int | None = None,
        parent_ca_id: str | None = None,
        path_len: int | None = None,
        permitted_dns_domains: Sequence[str] | None = None,
        excluded_dns_domains: Sequence[str] | None = None,
        require_separate_approver: bool | None = None,
    ) -> m.Ca:
        """``POST /v1/pki/cas``: a root CA, or an intermediate with ``parent_ca_id``."""
        return self._send(
            Call(
                "POST",
                self._tenant("pki", "cas"),
                m.Ca.from_json,
                json=body(
                    name=name,
                    common_name=common_name,
                    organization=organization,
                    organizational_unit=organizational_unit,
                    country=country,
                    state=state,
                    locality=locality,
                    key_type=key_type,
                    validity_days=validity_days,
                    parent_ca_id=parent_ca_id,
                    path_len=path_len,
                    permitted_dns_domains=permitted_dns_domains,
                    excluded_dns_domains=excluded_dns_domains,
                    require_separate_approver=require_separate_approver,
                ),
            )
        )

    def import_(
        self,
        name: str,
        certificate: str,
        private_key: str,
        *,
        require_separate_approver: bool | None = None,
    ) -> m.Ca:
        """``POST /v1/pki/cas/import``: an existing CA certificate and key (PEM)."""
        return self._send(
            Call(
                "POST",
                self._tenant("pki", "cas", "import"),
                m.Ca.from_json,
                json=body(
                    name=name,
                    certificate=certificate,
                    private_key=private_key,
                    require_separate_approver=require_separate_approver,
                ),
            )
        )

    def get(self, id: str) -> m.Ca:
        """``GET /v1/pki/cas/{id}``."""
        return self._send(Call("GET", self._tenant("pki", "cas", id), m.Ca.from_json))

    def list(self, *, limit: int | None = None) -> Iterator[m.Ca]:
        """``GET /v1/pki/cas``."""
        for item in self._pages(
            self._tenant("pki", "cas"), query(("limit", limit)), "cas", m.Ca
        ):
            yield item

    def disable(self, id: str) -> m.Ca:
        """``POST /v1/pki/cas/{id}/disable``: it issues nothing more."""
        return self._send(
            Call("POST", self._tenant("pki", "cas", id, "disable"), m.Ca.from_json)
        )

    def cert(self, id: str, chain: bool = False) -> str:
        """``GET /v1/pki/cas/{id}/cert``: the CA certificate as PEM (``chain=True``: with its
        parents, CA first)."""
        return self._send(
            Call(
                "GET",
                self._tenant("pki", "cas", id, "cert"),
                str,
                query=query(("format", "pem"), ("chain", chain)),
                kind="text",
            )
        )


class Certs(Resource):
    """``/v1/pki/certs``: issued certificates."""

    def issue(
        self,
        ca_id: str,
        common_name: str,
        sans: Sequence[str] | None = None,
        *,
        validity_days: int | None = None,
        ttl: str | None = None,
        key_type: str | None = None,
        usage: str | None = None,
        path: str | None = None,
    ) -> m.IssuedCertificate:
        """``POST /v1/pki/certs``: a key pair and certificate (the key is also stored as a
        secret at ``secret_path``)."""
        return self._send(
            Call(
                "POST",
                self._tenant("pki", "certs"),
                m.IssuedCertificate.from_json,
                json=body(
                    ca_id=ca_id,
                    common_name=common_name,
                    sans=None if sans is None else list(sans),
                    validity_days=validity_days,
                    ttl=ttl,
                    key_type=key_type,
                    usage=usage,
                    path=path,
                ),
            )
        )

    def get(self, id: str) -> m.Certificate:
        """``GET /v1/pki/certs/{id}``."""
        return self._send(
            Call("GET", self._tenant("pki", "certs", id), m.Certificate.from_json)
        )

    def list(
        self,
        *,
        ca_id: str | None = None,
        status: str | None = None,
        expiring_within: str | None = None,
        limit: int | None = None,
    ) -> Iterator[m.Certificate]:
        """``GET /v1/pki/certs``."""
        for item in self._pages(
            self._tenant("pki", "certs"),
            query(
                ("ca_id", ca_id),
                ("status", status),
                ("expiring_within", expiring_within),
                ("limit", limit),
            ),
            "certificates",
            m.Certificate,
        ):
            yield item

    def renew(
        self, id: str, *, validity_days: int | None = None, ttl: str | None = None
    ) -> m.IssuedCertificate:
        """``POST /v1/pki/certs/{id}/renew``: a new certificate for the same names."""
        return self._send(
            Call(
                "POST",
                self._tenant("pki", "certs", id, "renew"),
                m.IssuedCertificate.from_json,
                json=body(validity_days=validity_days, ttl=ttl),
            )
        )

    def revoke(self, id: str, reason: str | None = None) -> m.Certificate:
        """``POST /v1/pki/certs/{id}/revoke``."""
        return self._send(
            Call(
                "POST",
                self._tenant("pki", "certs", id, "revoke"),
                m.Certificate.from_json,
                json=body(reason=reason),
            )
        )


class Csrs(Resource):
    """``/v1/pki/csrs``: the certificate signing request workflow."""

    def submit(self, csr: str, ca_id: str | None = None) -> m.Csr:
        """``POST /v1/pki/csrs``: a PEM CSR, pending approval."""
        return self._send(
            Call(
                "POST",
                self._tenant("pki", "csrs"),
                m.Csr.from_json,
                json=body(csr=csr, ca_id=ca_id),
            )
        )

    def get(self, id: str) -> m.Csr:
        """``GET /v1/pki/csrs/{id}``."""
        return self._send(Call("GET", self._tenant("pki", "csrs", id), m.Csr.from_json))

    def list(
        self, *, status: str | None = None, limit: int | None = None
    ) -> Iterator[m.Csr]:
        """``GET /v1/pki/csrs``."""
        for item in self._pages(
            self._tenant("pki", "csrs"),
            query(("status", status), ("limit", limit)),
            "csrs",
            m.Csr,
        ):
            yield item

    def approve(self, id: str) -> m.Csr:
        """``POST /v1/pki/csrs/{id}/approve``."""
        return self._send(
            Call("POST", self._tenant("pki", "csrs", id, "approve"), m.Csr.from_json)
        )

    def reject(self, id: str, reason: str | None = None) -> m.Csr:
        """``POST /v1/pki/csrs/{id}/reject``."""
        return self._send(
            Call(
                "POST",
                self._tenant("pki", "csrs", id, "reject"),
                m.Csr.from_json,
                json=body(reason=reason),
            )
        )

    def sign(
        self,
        id: str,
        ca_id: str,
        *,
        validity_days: int | None = None,
        ttl: str | None = None,
        usage: str | None = None,
    ) -> m.SignedCertificate:
        """``POST /v1/pki/csrs/{id}/sign``: an approved CSR into a certificate."""
        return self._send(
            Call(
                "POST",
                self._tenant("pki", "csrs", id, "sign"),
                m.SignedCertificate.from_json,
                json=body(ca_id=ca_id, validity_days=validity_days, ttl=ttl, usage=usage),
            )
        )


class Pki(Resource):
    """``/v1/pki``: the internal CA (``.cas``, ``.certs``, ``.csrs``) and the CRL."""

    def __init__(self, transport: SyncTransport) -> None:
        super().__init__(transport)
        self.cas = Cas(transport)
        self.certs = Certs(transport)
        self.csrs = Csrs(transport)

    def crl(self, ca_id: str) -> bytes:
        """``GET /v1/pki/crl/{ca_id}``: the CA's certificate revocation list (DER)."""
        return self._send(
            Call("GET", self._tenant("pki", "crl", ca_id), bytes, kind="bytes")
        )


# ------------------------------------------------------------------------------------ dynamic


class Engines(Resource):
    """``/v1/dynamic/engines``: connections to a database, an AWS account or an SSH CA."""

    def create(self, name: str, type: str, settings: JSON | None = None) -> m.Engine:
        """``POST /v1/dynamic/engines``: ``type`` is ``postgres``, ``mysql``, ``aws`` or
        ``ssh``; ``settings`` the engine's fields (docs/dynamic.md)."""
        return self._send(
            Call(
                "POST",
                self._tenant("dynamic", "engines"),
                m.Engine.from_json,
                json={**body(**dict(settings or {})), "name": name, "type": type},
            )
        )

    def get(self, name: str) -> m.Engine:
        """``GET /v1/dynamic/engines/{name}``."""
        return self._send(
            Call("GET", self._tenant("dynamic", "engines", name), m.Engine.from_json)
        )

    def list(self, *, limit: int | None = None) -> Iterator[m.Engine]:
        """``GET /v1/dynamic/engines``."""
        for item in self._pages(
            self._tenant("dynamic", "engines"), query(("limit", limit)), "engines", m.Engine
        ):
            yield item

    def update(self, name: str, settings: JSON) -> m.Engine:
        """``PATCH /v1/dynamic/engines/{name}``: the fields given."""
        return self._send(
            Call(
                "PATCH",
                self._tenant("dynamic", "engines", name),
                m.Engine.from_json,
                json=body(**dict(settings)),
            )
        )

    def delete(self, name: str, force: bool = False) -> None:
        """``DELETE /v1/dynamic/engines/{name}`` (``force=True`` revokes live leases first)."""
        self._send(
            Call(
                "DELETE",
                self._tenant("dynamic", "engines", name),
                _none,
                query=query(("force", force)),
                kind="none",
            )
        )

    def rotate_root(self, name: str) -> m.Engine:
        """``POST /v1/dynamic/engines/{name}/rotate-root``: a new root credential."""
        return self._send(
            Call(
                "POST", self._tenant("dynamic", "engines", name, "rotate-root"), m.Engine.from_json
            )
        )

    def ca(self, name: str) -> str:
        """``GET /v1/dynamic/engines/{name}/ca``: an SSH engine's CA public key (OpenSSH)."""
        return self._send(
            Call("GET", self._tenant("dynamic", "engines", name, "ca"), str, kind="text")
        )


class Roles(Resource):
    """``/v1/dynamic/engines/{engine}/roles``: what a lease's credentials may do."""

    def create(
        self,
        engine: str,
        name: str,
        *,
        default_ttl: str | None = None,
        max_ttl: str | None = None,
        max_leases: int | None = None,
        settings: JSON | None = None,
    ) -> m.Role:
        """``POST /v1/dynamic/engines/{engine}/roles``."""
        return self._send(
            Call(
                "POST",
                self._tenant("dynamic", "engines", engine, "roles"),
                m.Role.from_json,
                json=body(
                    **dict(settings or {}),
                    name=name,
                    default_ttl=default_ttl,
                    max_ttl=max_ttl,
                    max_leases=max_leases,
                ),
            )
        )

    def get(self, engine: str, name: str) -> m.Role:
        """``GET /v1/dynamic/engines/{engine}/roles/{name}``."""
        return self._send(
            Call("GET", self._tenant("dynamic", "engines", engine, "roles", name), m.Role.from_json)
        )

    def list(self, engine: str, *, limit: int | None = None) -> Iterator[m.Role]:
        """``GET /v1/dynamic/engines/{engine}/roles``."""
        for item in self._pages(
            self._tenant("dynamic", "engines", engine, "roles"),
            query(("limit", limit)),
            "roles",
            m.Role,
        ):
            yield item

    def update(
        self,
        engine: str,
        name: str,
        *,
        default_ttl: str | None = None,
        max_ttl: str | None = None,
        max_leases: int | None = None,
        settings: JSON | None = None,
    ) -> m.Role:
        """``PATCH /v1/dynamic/engines/{engine}/roles/{name}``: the fields given."""
        return self._send(
            Call(
                "PATCH",
                self._tenant("dynamic", "engines", engine, "roles", name),
                m.Role.from_json,
                json=body(
                    **dict(settings or {}),
                    default_ttl=default_ttl,
                    max_ttl=max_ttl,
                    max_leases=max_leases,
                ),
            )
        )

    def delete(self, engine: str, name: str) -> None:
        """``DELETE /v1/dynamic/engines/{engine}/roles/{name}``."""
        self._send(
            Call(
                "DELETE",
                self._tenant("dynamic", "engines", engine, "roles", name),
                _none,
                kind="none",
            )
        )


class Leases(Resource):
    """``/v1/dynamic/leases``: leases on short-lived credentials."""

    def list(
        self,
        *,
        engine: str | None = None,
        role: str | None = None,
        identity: str | None = None,
        live: bool = False,
        limit: int | None = None,
    ) -> Iterator[m.Lease]:
        """``GET /v1/dynamic/leases`` (``live=True``: only live ones)."""
        for item in self._pages(
            self._tenant("dynamic", "leases"),
            query(
                ("engine", engine),
                ("role", role),
                ("identity", identity),
                ("status", "live" if live else None),
                ("limit", limit),
            ),
            "leases",
            m.Lease,
        ):
            yield item

    def get(self, id: str) -> m.Lease:
        """``GET /v1/dynamic/leases/{id}``."""
        return self._send(
            Call("GET", self._tenant("dynamic", "leases", id), m.Lease.from_json)
        )

    def renew(self, id: str, ttl: str | None = None) -> m.Lease:
        """``POST /v1/dynamic/leases/{id}/renew``."""
        return self._send(
            Call(
                "POST",
                self._tenant("dynamic", "leases", id, "renew"),
                m.Lease.from_json,
                json=body(ttl=ttl),
            )
        )

    def revoke(self, id: str) -> m.Lease:
        """``POST /v1/dynamic/leases/{id}/revoke``: the credentials are dropped now."""
        return self._send(
            Call("POST", self._tenant("dynamic", "leases", id, "revoke"), m.Lease.from_json)
        )

    def revoke_prefix(self, engine: str, role: str | None = None) -> m.RevokePrefixResult:
        """``POST /v1/dynamic/leases/revoke-prefix``: every lease of an engine (or role)."""
        return self._send(
            Call(
                "POST",
                self._tenant("dynamic", "leases", "revoke-prefix"),
                m.RevokePrefixResult.from_json,
                json=body(engine=engine, role=role),
            )
        )


class Dynamic(Resource):
    """``/v1/dynamic``: ``.engines``, ``.roles``, ``.leases`` and ``creds``."""

    def __init__(self, transport: SyncTransport) -> None:
        super().__init__(transport)
        self.engines = Engines(transport)
        self.roles = Roles(transport)
        self.leases = Leases(transport)

    def creds(
        self, engine: str, role: str, *, ttl: str | None = None, public_key: str | None = None
    ) -> m.LeaseCreated:
        """``POST /v1/dynamic/engines/{engine}/creds/{role}``: new credentials on a lease
        (``data`` holds them and is hidden from ``repr``)."""
        return self._send(
            Call(
                "POST",
                self._tenant("dynamic", "engines", engine, "creds", role),
                m.LeaseCreated.from_json,
                json=body(ttl=ttl, public_key=public_key),
            )
        )


# ---------------------------------------------------------------------------------------- sys


class Sys(Resource):
    """Health, seal status and the keyring (operators)."""

    def health(self) -> m.Health:
        """``GET /v1/health``: liveness, no token needed."""
        return self._send(Call("GET", "/v1/health", m.Health.from_json))

    def seal_status(self) -> m.SealStatus:
        """``GET /v1/sys/seal-status``: no token needed."""
        return self._send(Call("GET", "/v1/sys/seal-status", m.SealStatus.from_json))

    def unseal(self) -> m.SealStatus:
        """``POST /v1/sys/unseal``: try the root key provider now; a still-sealed answer
        (503) is returned as the status, not raised."""
        return self._send(
            Call("POST", "/v1/sys/unseal", m.SealStatus.from_json, timeout=40.0, accept=(503,))
        )

    def keys(self) -> m.KeyringStatus:
        """``GET /v1/sys/keys``: the data keys and the rewrap's progress."""
        return self._send(Call("GET", "/v1/sys/keys", m.KeyringStatus.from_json))

    def rotate_keys(self) -> m.KeyringStatus:
        """``POST /v1/sys/keys/rotate``: a new active data key; values are rewrapped in the
        background."""
        return self._send(Call("POST", "/v1/sys/keys/rotate", m.KeyringStatus.from_json))
