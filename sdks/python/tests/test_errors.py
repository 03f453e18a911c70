from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from vaultserver import Server, start_dev_server

import scaivault


def test_not_found_codes(client: scaivault.Client, unique: str) -> None:
    with pytest.raises(scaivault.NotFoundError) as missing:
        client.secrets.read(f"{unique}/nope")
    err = missing.value
    assert (err.code, err.status) == ("secret_not_found", 404)
    assert err.request_id and err.message
    assert err.request_id in str(err)
    client.secrets.write(f"{unique}/one", {"a": "1"})
    with pytest.raises(scaivault.NotFoundError) as version:
        client.secrets.read(f"{unique}/one", version=7)
    assert version.value.code == "version_not_found"
    with pytest.raises(scaivault.NotFoundError) as other:
        client.policies.get("pol_nope")
    assert other.value.code == "not_found"


def test_authentication_error(server: Server) -> None:
    with server.client(token="skt_not_a_real_token") as c:
        with pytest.raises(scaivault.AuthenticationError) as caught:
            c.auth.whoami()
    assert (caught.value.code, caught.value.status) == ("authentication_required", 401)


def test_access_denied_with_limited_token(
    client: scaivault.Client, server: Server, unique: str
) -> None:
    client.secrets.write(f"{unique}/ro", {"a": "1"})
    reader = client.auth.tokens.create("reader", ["secrets:read"], ttl="1h")
    with server.client(token=reader.token) as limited:
        assert limited.secrets.read(f"{unique}/ro").data == {"a": "1"}
        with pytest.raises(scaivault.AccessDeniedError) as caught:
            limited.secrets.write(f"{unique}/ro", {"a": "2"})
    assert (caught.value.code, caught.value.status) == ("access_denied", 403)


def test_validation_errors(client: scaivault.Client, unique: str) -> None:
    with pytest.raises(scaivault.ValidationError) as caught:
        client.secrets.write(f"{unique}/v", {"a": "1"}, options={"max_versions": 1000})
    assert (caught.value.code, caught.value.status) == ("validation_error", 400)
    assert "max_versions" in caught.value.message
    with pytest.raises(scaivault.ValidationError) as path:
        client.secrets.write(f"{unique}/bad path", {"a": "1"})
    assert path.value.code == "invalid_path"
    with pytest.raises(scaivault.ValidationError):
        list(client.secrets.list(limit=1000))


def test_transport_error_when_nothing_listens() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with scaivault.Client(f"http://127.0.0.1:{port}", "skt_x", max_retries=1) as c:
        with pytest.raises(scaivault.TransportError) as caught:
            c.sys.health()
    assert caught.value.status is None and caught.value.code == "transport_error"


def _exhaust(c: scaivault.Client) -> scaivault.RateLimitedError:
    """Requests until the server answers 429 (the bucket holds 3)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            c.auth.whoami()
        except scaivault.RateLimitedError as err:
            return err
    raise AssertionError("never rate limited")


def test_rate_limited_without_retries(prod_server: Server) -> None:
    with prod_server.client(max_retries=0) as c:
        err = _exhaust(c)
    assert (err.code, err.status) == ("rate_limited", 429)
    assert err.retry_after is not None and 0 < err.retry_after <= 2


def test_retry_honours_retry_after(prod_server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="scaivault")
    with prod_server.client(max_retries=0) as c:
        _exhaust(c)
    with prod_server.client(max_retries=3) as c:
        started = time.monotonic()
        who = c.auth.whoami()  # 429 first, then retried after Retry-After
        assert who.identity_id
        for _ in range(4):
            c.auth.whoami()
        assert time.monotonic() - started >= 0.5
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert retries and "429" in retries[0]


def test_plain_writes_are_not_retried(
    prod_server: Server, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="scaivault")
    # The bucket refills every 500 ms, so on a loaded machine a cell may come back between the
    # refusal and the write: then the write succeeds at its first attempt and we try again.
    refused = False
    with prod_server.client(max_retries=3) as c, prod_server.client(max_retries=0) as burner:
        for attempt in range(10):
            _exhaust(burner)
            try:
                c.secrets.write(f"{unique}/w{attempt}", {"a": "1"})
            except scaivault.RateLimitedError:
                refused = True
                break
    assert refused, "a plain write met a 429"
    assert not [r for r in caplog.records if "PUT" in r.getMessage() and "retry" in r.getMessage()]


def test_payload_too_large(client: scaivault.Client, unique: str) -> None:
    with pytest.raises(scaivault.ValidationError) as caught:
        client.secrets.write(f"{unique}/big", {"blob": "x" * (2 * 1024 * 1024)})
    assert (caught.value.code, caught.value.status) == ("payload_too_large", 413)


@pytest.fixture(scope="module")
def clock_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_dev_server(tmp_path_factory.mktemp("clock"), "--dev-test-clock")
    yield srv
    srv.stop()


def test_secret_expired(clock_server: Server) -> None:
    with clock_server.client() as c:
        c.secrets.write("app/short-lived", {"a": "1"}, options={"expires_in": "1h"})
        assert c.secrets.read("app/short-lived").expires_at is not None
        # Time moves only when told (POST /v1/sys/test-clock, a dev-server route).
        moved = httpx.post(
            f"{clock_server.url}/v1/sys/test-clock",
            json={"advance": "2h"},
            headers={"Authorization": f"Bearer {clock_server.token}"},
        )
        assert moved.status_code == 200, moved.text
        with pytest.raises(scaivault.SecretExpiredError) as caught:
            c.secrets.read("app/short-lived")
    assert (caught.value.code, caught.value.status) == ("secret_expired", 410)
