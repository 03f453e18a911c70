"""Secret values never reach repr(), str() or a log record."""

from __future__ import annotations

import logging

import pytest
from vaultserver import Server

import scaivault

MARKER = "hunter2-redaction-marker"


def test_repr_and_logs_never_show_values(
    server: Server, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="scaivault")
    with server.client() as vault:
        assert server.token not in repr(vault)
        vault.secrets.write(f"{unique}/r", {"password": MARKER})
        secret = vault.secrets.read(f"{unique}/r")
        assert secret.data["password"] == MARKER
        for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}"):
            assert MARKER not in text and "data=<redacted>" in text
        rotated = vault.secrets.rotate(f"{unique}/r", {"password": MARKER + "2"})
        assert MARKER not in repr(rotated)
        token = vault.auth.tokens.create("r", ["secrets:read"], ttl="1h")
        assert token.token not in repr(token) and "token=<redacted>" in repr(token)
        with server.client(token=token.token) as other:
            assert token.token not in repr(other)
            other.secrets.read(f"{unique}/r")
        with pytest.raises(scaivault.NotFoundError) as caught:
            vault.secrets.read(f"{unique}/missing")
        assert MARKER not in repr(caught.value)
    records = [r for r in caplog.records if r.name == "scaivault"]
    messages = [r.getMessage() for r in records]
    assert any(f"/secrets/{unique}/r" in m and "200" in m for m in messages)
    logged = "\n".join(r.getMessage() + repr(r.args) for r in records)
    assert MARKER not in logged
    assert server.token not in logged and token.token not in logged
    assert MARKER not in caplog.text
