"""The async client: the same flows as the sync tests, awaited."""

from __future__ import annotations

import time

import anyio
import httpx
import pytest
from vaultserver import Server

import scaivault
from scaivault import models

pytestmark = pytest.mark.anyio


async def test_secrets_flow(server: Server, unique: str) -> None:
    async with server.async_client() as vault:
        created = await vault.secrets.write(f"{unique}/a", {"pw": "1"}, metadata={"tags": ["t"]})
        assert created.created and created.version == 1
        updated = await vault.secrets.write(f"{unique}/a", {"pw": "2"}, if_match=1)
        assert updated.version == 2
        with pytest.raises(scaivault.VersionConflictError):
            await vault.secrets.write(f"{unique}/a", {"pw": "3"}, if_match=1)
        secret = await vault.secrets.read(f"{unique}/a")
        assert isinstance(secret, models.Secret) and secret.data == {"pw": "2"}
        assert [v.version for v in await vault.secrets.versions(f"{unique}/a")] == [2, 1]
        assert (await vault.secrets.metadata(f"{unique}/a")).metadata.tags == ["t"]
        patched = await vault.secrets.patch(f"{unique}/a", options={"max_versions": 3})
        assert patched.max_versions == 3
        rotated = await vault.secrets.rotate(f"{unique}/a", {"pw": "r"})
        assert rotated.version == 3

        for i in range(5):
            await vault.secrets.write(f"{unique}/p/{i}", {"v": str(i)})
        paths = [s.path async for s in vault.secrets.list(prefix=f"{unique}/p/", limit=2)]
        assert paths == [f"{unique}/p/{i}" for i in range(5)]

        await vault.secrets.delete(f"{unique}/a")
        with pytest.raises(scaivault.NotFoundError) as caught:
            await vault.secrets.read(f"{unique}/a")
        assert caught.value.code == "secret_not_found" and caught.value.request_id
        assert (await vault.secrets.restore(f"{unique}/a")).restored
        expiring = [e async for e in vault.secrets.expiring(30, prefix=unique)]
        assert expiring == []


async def test_other_groups(server: Server, unique: str) -> None:
    async with server.async_client() as vault:
        assert (await vault.sys.health()).status == "ok"
        who = await vault.auth.whoami()
        token = await vault.auth.tokens.create("async", ["secrets:read"], ttl="1h")
        assert token.id in [t.id async for t in vault.auth.tokens.list()]
        await vault.auth.tokens.revoke(token.id)
        policy = await vault.policies.create(
            f"{unique}-p", path=f"{unique}/**", permissions=["read"]
        )
        verdict = await vault.policies.test(f"{unique}/x", "read", identity_id=who.identity_id)
        assert verdict.allowed
        await vault.policies.delete(policy.id)
        ca = await vault.pki.cas.create(f"{unique}-ca", "Async CA")
        cert = await vault.pki.certs.issue(ca.id, "a.example.test", ttl="1h")
        assert cert.ca_id == ca.id
        assert [c.id async for c in vault.pki.cas.list()].count(ca.id) == 1
        sa = await vault.service_accounts.create(f"{unique}-sa", ["secrets-reader"])
        assert [a.id async for a in vault.service_accounts.list() if a.id == sa.id] == [sa.id]
        await vault.secrets.write(f"{unique}/audited", {"a": "1"})
        entries = [e async for e in vault.audit.query(path_prefix=unique, limit=2)]
        assert [e.action for e in entries] == ["write"]
        assert [e.action async for e in vault.audit.trail(f"{unique}/audited")] == ["write"]
        assert (await vault.audit.summary()).total > 0
        assert (await vault.audit.verify()).intact
        engines = [e async for e in vault.dynamic.engines.list()]
        assert isinstance(engines, list)
        with pytest.raises(scaivault.NotFoundError):
            await vault.dynamic.engines.get(f"{unique}-none")


async def test_long_poll_follow(server: Server, unique: str) -> None:
    poll_sent = anyio.Event()

    async def on_request(request: httpx.Request) -> None:
        if request.url.path.endswith("/poll"):
            poll_sent.set()

    http = httpx.AsyncClient(event_hooks={"request": [on_request]})
    async with server.async_client() as vault, server.async_client(http_client=http) as poller:
        sub = await vault.subscriptions.create(f"{unique}-s", [f"{unique}/**"], ["*"])
        first = await vault.subscriptions.poll_page(sub.id, wait=0)
        received: list[models.Event] = []

        async def follow() -> None:
            async for event in poller.subscriptions.poll(
                sub.id, follow=True, cursor=first.cursor, wait=20
            ):
                received.append(event)
                return

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(follow)
            with anyio.fail_after(20):
                await poll_sent.wait()  # the poll is out: now write
            await vault.secrets.write(f"{unique}/late", {"a": "1"})
        assert [(e.event_type, e.path) for e in received] == [("secret.created", f"{unique}/late")]
        assert time.monotonic() - started < 20
        await vault.subscriptions.delete(sub.id)


async def test_async_retry_on_429(prod_server: Server) -> None:
    async with prod_server.async_client(max_retries=0) as burner:
        deadline = time.monotonic() + 10
        while True:
            assert time.monotonic() < deadline, "never rate limited"
            try:
                await burner.auth.whoami()
            except scaivault.RateLimitedError as err:
                assert err.retry_after is not None
                break
    async with prod_server.async_client(max_retries=3) as patient:
        assert (await patient.auth.whoami()).identity_id
