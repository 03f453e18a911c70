"""The installed artifact: the package imported is the wheel's, typed, with its binary, and the
generated sync resources match the async source."""

from __future__ import annotations

import importlib.util
import inspect
import os
import subprocess
from pathlib import Path

from vaultserver import scaivault_bin

import scaivault
from scaivault import _async_resources, _sync_resources

SDK_DIR = Path(__file__).resolve().parents[1]


def test_the_installed_package_is_imported() -> None:
    package = Path(scaivault.__file__).resolve().parent
    assert (package / "py.typed").is_file()
    if os.environ.get("SCAIVAULT_SDK_INSTALLED") == "1":
        assert "site-packages" in package.parts, package
        assert SDK_DIR / "src" not in package.parents


def test_version_matches_the_binary() -> None:
    out = subprocess.run(
        [scaivault_bin(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert scaivault.__version__ in out, (scaivault.__version__, out)


def _load_unasync() -> object:
    spec = importlib.util.spec_from_file_location("unasync", SDK_DIR / "tools" / "unasync.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sync_resources_are_generated_from_async() -> None:
    unasync = _load_unasync()
    source = Path(_async_resources.__file__).read_text(encoding="utf-8")
    generated = Path(_sync_resources.__file__).read_text(encoding="utf-8")
    assert generated == unasync.unasync(source)  # type: ignore[attr-defined]


def test_sync_and_async_clients_have_the_same_surface() -> None:
    def surface(obj: object, depth: int = 0) -> dict[str, object]:
        out: dict[str, object] = {}
        for name in dir(obj):
            if name.startswith("_") or name in ("url", "tenant_id", "close"):
                continue
            value = getattr(obj, name)
            if callable(value):
                sig = inspect.signature(value)
                out[name] = [(p.name, p.kind, p.default) for p in sig.parameters.values()]
            elif depth < 2:
                out[name] = surface(value, depth + 1)
        return out

    sync = scaivault.Client("http://127.0.0.1:1", "skt_x")
    asyn = scaivault.AsyncClient("http://127.0.0.1:1", "skt_x")
    assert surface(sync) == surface(asyn)
    groups = {
        "secrets": "read write patch list versions metadata delete restore rotate expiring",
        "policies": "create get list update delete test bind unbind bindings",
        "rotation": "create get list update delete assign unassign secrets history trigger due "
        "runs",
        "secret_policies": "create get list update delete types generate",
        "audit": "query trail summary verify",
        "subscriptions": "create get list delete poll dead_letters rotate_secret",
        "service_accounts": "create get list delete create_key list_keys delete_key",
        "sys": "health seal_status unseal keys rotate_keys",
    }
    for group, methods in groups.items():
        for method in methods.split():
            assert callable(getattr(getattr(sync, group), method)), f"{group}.{method}"
    for dotted in (
        "auth.whoami auth.exchange auth.tokens.create auth.tokens.list auth.tokens.revoke "
        "identity.tenants.create identity.tenants.list identity.tenants.get "
        "identity.partners.list identity.register identity.user_groups "
        "pki.cas.create pki.cas.import_ pki.cas.get pki.cas.list pki.cas.disable pki.cas.cert "
        "pki.certs.issue pki.certs.get pki.certs.list pki.certs.renew pki.certs.revoke "
        "pki.csrs.submit pki.csrs.get pki.csrs.list pki.csrs.approve pki.csrs.reject "
        "pki.csrs.sign pki.crl dynamic.engines.create dynamic.engines.get dynamic.engines.list "
        "dynamic.engines.update dynamic.engines.delete dynamic.engines.rotate_root "
        "dynamic.engines.ca dynamic.roles.create dynamic.roles.get dynamic.roles.list "
        "dynamic.roles.update dynamic.roles.delete dynamic.creds dynamic.leases.list "
        "dynamic.leases.get dynamic.leases.renew dynamic.leases.revoke "
        "dynamic.leases.revoke_prefix"
    ).split():
        target: object = sync
        for part in dotted.split("."):
            target = getattr(target, part)
        assert callable(target), dotted


def test_unknown_fields_are_ignored_and_missing_ones_are_none() -> None:
    secret = scaivault.models.Secret.from_json(
        {
            "path": "a",
            "secret_type": "kv",
            "version": 1,
            "data": {},
            "metadata": {"tags": ["x"], "from_the_future": 1},
            "created_at": "2026-04-23T14:30:00Z",
            "updated_at": "2026-04-23T14:30:00.5Z",
            "brand_new_field": {"nested": True},
        }
    )
    assert secret.metadata.tags == ["x"] and secret.expires_at is None
    assert secret.updated_at.microsecond == 500000


def test_unknown_error_codes_map_by_status() -> None:
    from scaivault.errors import error_from_response

    err = error_from_response(404, {"error": {"code": "brand_new", "message": "m"}})
    assert isinstance(err, scaivault.NotFoundError) and err.code == "brand_new"
    assert isinstance(error_from_response(502, None), scaivault.ServerError)
    assert type(error_from_response(418, None)) is scaivault.ScaiVaultError
    assert isinstance(
        error_from_response(409, {"error": {"code": "version_conflict", "message": "m"}}),
        scaivault.VersionConflictError,
    )
    limited = error_from_response(429, None, retry_after=2.0)
    assert isinstance(limited, scaivault.RateLimitedError) and limited.retry_after == 2.0
