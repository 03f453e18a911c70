"""Real ScaiVault servers for the tests: a dev server per session, a production-mode one with
rate limits where a test needs it (see vaultserver.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from vaultserver import Server, start_dev_server, start_prod_server

import scaivault


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_dev_server(
        tmp_path_factory.mktemp("dev"), "--dev-webhook-network", "127.0.0.0/8"
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def prod_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_prod_server(tmp_path_factory.mktemp("prod"))
    yield srv
    srv.stop()


@pytest.fixture
def client(server: Server) -> Iterator[scaivault.Client]:
    with server.client() as c:
        yield c


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def unique() -> str:
    """A fresh path prefix, so tests sharing the session's server do not see each other."""
    return "t" + secrets.token_hex(4)
