"""The clients: :class:`Client` (blocking) and :class:`AsyncClient` (asyncio/trio via anyio)."""

from __future__ import annotations

from types import TracebackType

import httpx

from . import _async_resources as a
from . import _sync_resources as s
from ._transport import AsyncTransport, Config, SyncTransport

__all__ = ["Client", "AsyncClient"]


class Client:
    """A blocking ScaiVault client.

    Unset arguments come from the CLI's environment variables: ``SCAIVAULT_URL`` (default
    ``http://127.0.0.1:8200``), ``SCAIVAULT_TOKEN``, ``SCAIVAULT_TENANT_ID`` (act on another
    tenant: routes go to ``/v1/t/{tenant_id}/...``) and ``SCAIVAULT_PARTNER_ID``.
    ``timeout`` is per request in seconds; ``max_retries`` bounds the retries of safe requests
    (see the docs). ``http_client`` lets you bring a configured ``httpx.Client`` (proxies, TLS).

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        tenant_id: str | None = None,
        partner_id: str | None = None,
        timeout: float | None = 60.0,
        max_retries: int = 3,
        *,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._config = Config.resolve(url, token, tenant_id, partner_id, timeout, max_retries)
        self._transport = SyncTransport(self._config, http_client)
        self.secrets = s.Secrets(self._transport)
        self.partner_secrets = s.Secrets(self._transport, partner=True)
        self.auth = s.Auth(self._transport)
        self.policies = s.Policies(self._transport)
        self.rotation = s.Rotation(self._transport)
        self.secret_policies = s.SecretPolicies(self._transport)
        self.audit = s.Audit(self._transport)
        self.subscriptions = s.Subscriptions(self._transport)
        self.service_accounts = s.ServiceAccounts(self._transport)
        self.identity = s.Identity(self._transport)
        self.pki = s.Pki(self._transport)
        self.dynamic = s.Dynamic(self._transport)
        self.sys = s.Sys(self._transport)

    @property
    def url(self) -> str:
        return self._config.url

    @property
    def tenant_id(self) -> str | None:
        return self._config.tenant_id

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self._config!r})"


class AsyncClient:
    """The asynchronous twin of :class:`Client`: the same arguments and resource groups, every
    method awaitable and every list an async iterator (``async for``)."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        tenant_id: str | None = None,
        partner_id: str | None = None,
        timeout: float | None = 60.0,
        max_retries: int = 3,
        *,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._config = Config.resolve(url, token, tenant_id, partner_id, timeout, max_retries)
        self._transport = AsyncTransport(self._config, http_client)
        self.secrets = a.AsyncSecrets(self._transport)
        self.partner_secrets = a.AsyncSecrets(self._transport, partner=True)
        self.auth = a.AsyncAuth(self._transport)
        self.policies = a.AsyncPolicies(self._transport)
        self.rotation = a.AsyncRotation(self._transport)
        self.secret_policies = a.AsyncSecretPolicies(self._transport)
        self.audit = a.AsyncAudit(self._transport)
        self.subscriptions = a.AsyncSubscriptions(self._transport)
        self.service_accounts = a.AsyncServiceAccounts(self._transport)
        self.identity = a.AsyncIdentity(self._transport)
        self.pki = a.AsyncPki(self._transport)
        self.dynamic = a.AsyncDynamic(self._transport)
        self.sys = a.AsyncSys(self._transport)

    @property
    def url(self) -> str:
        return self._config.url

    @property
    def tenant_id(self) -> str | None:
        return self._config.tenant_id

    async def close(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncClient({self._config!r})"
