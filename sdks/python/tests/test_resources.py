"""Every resource group of the sync client against a real dev server."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from vaultserver import Server, scaivault_bin

import scaivault
from scaivault import models


def test_auth(client: scaivault.Client, server: Server) -> None:
    who = client.auth.whoami()
    assert who.identity_type == "user" and who.tenant_id and "secrets:read" in who.scopes
    created = client.auth.tokens.create("ci", ["secrets:read"], ttl="1h")
    assert created.token.startswith("skt_") and created.id.startswith("tok_")
    assert created.scopes == ["secrets:read"]
    ids = [t.id for t in client.auth.tokens.list(limit=1)]
    assert created.id in ids
    with server.client(token=created.token) as narrow:
        assert narrow.auth.whoami().scopes == ["secrets:read"]
        client.auth.tokens.revoke(created.id)
        with pytest.raises(scaivault.AuthenticationError):
            narrow.auth.whoami()


def test_policies(client: scaivault.Client, unique: str) -> None:
    policy = client.policies.create(
        f"{unique}-readers",
        [{"path": f"{unique}/**", "permissions": ["read", "list"]}],
        description="readers",
    )
    assert policy.id.startswith("pol_") and policy.rules[0].permissions == ["read", "list"]
    quick = client.policies.create(
        f"{unique}-deny", path=f"{unique}/secret/**", permissions=["read"], effect="deny"
    )
    assert quick.rules[0].effect == "deny"
    assert client.policies.get(policy.id).name == f"{unique}-readers"
    names = [p.name for p in client.policies.list(limit=1)]
    assert {f"{unique}-readers", f"{unique}-deny"} <= set(names)
    updated = client.policies.update(
        policy.id,
        f"{unique}-readers",
        [models.Rule(path=f"{unique}/app/**", permissions=["read"])],
    )
    assert updated.rules[0].path == f"{unique}/app/**"
    binding = client.policies.bind(policy.id, "group", "developers")
    assert binding.identity_id == "group:developers"
    assert [b.identity_id for b in client.policies.bindings(policy.id)] == ["group:developers"]
    verdict = client.policies.test(
        f"{unique}/app/x", "read", identity_id="user:dev@example.test", groups=["developers"]
    )
    assert verdict.allowed and verdict.decided_by is not None
    assert verdict.decided_by.policy_id == policy.id
    denied = client.policies.test(
        f"{unique}/secret/x", "read", identity_id="user:dev@example.test", groups=["developers"]
    )
    assert not denied.allowed and denied.explanation
    client.policies.unbind(policy.id, "group:developers")
    assert client.policies.bindings(policy.id) == []
    client.policies.delete(policy.id)
    client.policies.delete(quick.id)
    with pytest.raises(scaivault.NotFoundError):
        client.policies.get(policy.id)


def test_secret_policies_and_rotation(client: scaivault.Client, unique: str) -> None:
    catalogue = client.secret_policies.types()
    assert catalogue.generators and catalogue.charsets
    sp = client.secret_policies.create(
        f"{unique} strong",
        [{"name": "password", "generator": "random", "config": {"length": 24}}],
        description="pw",
    )
    assert sp.id.startswith("sp_") and sp.fields[0].generator == "random"
    generated = client.secret_policies.generate(sp.id)
    assert len(generated.data["password"]) == 24
    assert generated.data["password"] not in repr(generated)
    assert sp.id in [p.id for p in client.secret_policies.list(limit=1)]
    sp = client.secret_policies.update(
        sp.id,
        f"{unique} strong",
        [models.GeneratorField(name="password", generator="random", config={"length": 40})],
    )
    assert sp.fields[0].config == {"length": 40}
    assert client.secret_policies.get(sp.id).fields[0].config == {"length": 40}

    rp = client.rotation.create(
        f"{unique}-q", "90d", grace_period="1h", warn_before=["7d"], description="quarterly"
    )
    assert rp.id.startswith("rot_") and rp.interval == "90d" and rp.auto_generate
    assert client.rotation.get(rp.id).grace_period == "1h"
    assert rp.id in [p.id for p in client.rotation.list(limit=1)]
    rp = client.rotation.update(rp.id, f"{unique}-q", "30d", grace_period="2h")
    assert rp.interval == "30d"

    path = f"{unique}/rotated/db"
    client.secrets.write(path, {"password": "initial"}, options={"secret_policy_id": sp.id})
    assigned = client.rotation.assign(rp.id, [f"{unique}/rotated/**"])
    assert assigned.count == 1
    scheduled = list(client.rotation.secrets(rp.id))
    assert [s.path for s in scheduled] == [path]
    assert path in [s.path for s in client.rotation.due(24 * 31)]
    triggered = client.rotation.trigger(rp.id)
    assert [r.path for r in triggered.runs] == [path]
    runs = list(client.rotation.history(rp.id))
    assert runs and runs[0].path == path
    assert list(client.rotation.runs(path=path, limit=1))
    assert len(client.secrets.read(path).data["password"]) == 40
    unassigned = client.rotation.unassign(rp.id, [path])
    assert unassigned.count == 1
    client.rotation.delete(rp.id)
    client.secret_policies.delete(sp.id)
    with pytest.raises(scaivault.NotFoundError):
        client.rotation.get(rp.id)


def test_audit(client: scaivault.Client, unique: str) -> None:
    path = f"{unique}/audited"
    client.secrets.write(path, {"a": "1"})
    client.secrets.read(path)
    trail = [e for e in client.audit.trail(path, limit=1) if e.resource_type == "secret"]
    assert [e.action for e in trail][:2] == ["read", "write"]
    assert all(e.path == path for e in trail)
    reads = list(client.audit.query(action="read", path_prefix=unique, limit=5))
    assert reads and reads[0].outcome == "success"
    summary = client.audit.summary()
    assert summary.total > 0 and summary.by_action
    verified = client.audit.verify()
    assert verified.intact and verified.chains


def test_service_accounts(client: scaivault.Client, server: Server, unique: str) -> None:
    sa = client.service_accounts.create(f"{unique}-ci", ["secrets-reader"], description="ci")
    assert sa.id.startswith("sva_") and "secrets:read" in sa.scopes
    assert client.service_accounts.get(sa.id).name == f"{unique}-ci"
    assert sa.id in [a.id for a in client.service_accounts.list(limit=1)]
    key = client.service_accounts.create_key(sa.id, "k1", ttl="1d")
    assert key.key.startswith("svk_") and key.key not in repr(key)
    assert [k.id for k in client.service_accounts.list_keys(sa.id)] == [key.id]
    with server.client(token=key.key) as machine:
        assert machine.auth.whoami().identity_id == sa.identity_id
        short = machine.auth.exchange(ttl="5m")
        assert short.token.startswith("skt_")
    client.service_accounts.delete_key(sa.id, key.id)
    assert list(client.service_accounts.list_keys(sa.id)) == []
    client.service_accounts.delete(sa.id)
    with pytest.raises(scaivault.NotFoundError):
        client.service_accounts.get(sa.id)


def test_identity(client: scaivault.Client, server: Server, unique: str) -> None:
    tenant = client.identity.tenants.create(unique, f"Tenant {unique}")
    assert tenant.slug == unique
    assert client.identity.tenants.get(tenant.id).name == f"Tenant {unique}"
    assert tenant.id in [t.id for t in client.identity.tenants.list(limit=1)]
    partners = list(client.identity.partners.list())
    assert tenant.partner_id in [p.id for p in partners]
    groups = client.identity.set_user_groups("user:dev@example.test", ["developers"])
    assert groups.groups == ["group:developers"]
    assert client.identity.user_groups("user:dev@example.test").groups == ["group:developers"]
    registered = client.identity.register(
        "tenant", f"admin@{unique}.test", tenant_slug=unique + "r"
    )
    assert registered.token.startswith("skt_") and registered.token not in repr(registered)
    with server.client(token=registered.token) as admin:
        assert admin.auth.whoami().tenant_id == registered.tenant_id
    # Acting on another tenant through /v1/t/{tenant}/ (the root token is its partner admin).
    with server.client(tenant_id=tenant.id) as other:
        other.secrets.write(f"{unique}/x", {"a": "1"})
        assert other.secrets.read(f"{unique}/x").data == {"a": "1"}
    with pytest.raises(scaivault.NotFoundError):
        client.secrets.read(f"{unique}/x")


def _csr(tmp: Path, cn: str) -> str:
    key, csr = tmp / "k.pem", tmp / "r.csr"
    subprocess.run(
        ["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={cn}"],
        check=True, capture_output=True,
    )
    return csr.read_text()


def test_pki(client: scaivault.Client, unique: str, tmp_path: Path) -> None:
    ca = client.pki.cas.create(f"{unique}-root", f"{unique} Root CA", validity_days=365)
    assert ca.status == "active" and ca.certificate.startswith("-----BEGIN CERTIFICATE-----")
    assert client.pki.cas.get(ca.id).common_name == f"{unique} Root CA"
    assert ca.id in [c.id for c in client.pki.cas.list(limit=1)]
    assert client.pki.cas.cert(ca.id).startswith("-----BEGIN CERTIFICATE-----")

    issued = client.pki.certs.issue(ca.id, "svc.example.test", ["svc.example.test"], ttl="24h")
    assert issued.private_key.startswith("-----BEGIN") and "PRIVATE KEY" not in repr(issued)
    text = subprocess.run(
        ["openssl", "x509", "-noout", "-subject", "-issuer"],
        input=issued.certificate, capture_output=True, text=True, check=True,
    ).stdout
    assert "svc.example.test" in text and f"{unique} Root CA" in text
    assert client.pki.certs.get(issued.id).serial == issued.serial
    assert issued.id in [c.id for c in client.pki.certs.list(ca_id=ca.id)]
    renewed = client.pki.certs.renew(issued.id, ttl="48h")
    assert renewed.id != issued.id
    revoked = client.pki.certs.revoke(issued.id, reason="key_compromise")
    assert revoked.status == "revoked"
    assert client.pki.crl(ca.id)[:1] == b"\x30"  # a DER SEQUENCE

    csr = client.pki.csrs.submit(_csr(tmp_path, "csr.example.test"), ca_id=ca.id)
    assert csr.status == "pending"
    assert csr.id in [c.id for c in client.pki.csrs.list(status="pending")]
    with pytest.raises(scaivault.ConflictError) as early:
        client.pki.csrs.sign(csr.id, ca.id)
    assert early.value.code == "csr_not_approved"
    assert client.pki.csrs.approve(csr.id).status == "approved"
    signed = client.pki.csrs.sign(csr.id, ca.id, ttl="24h")
    assert signed.certificate.startswith("-----BEGIN CERTIFICATE-----")
    assert client.pki.csrs.get(csr.id).cert_id == signed.id
    rejected = client.pki.csrs.reject(
        client.pki.csrs.submit(_csr(tmp_path, "no.example.test")).id, reason="no"
    )
    assert rejected.status == "rejected"

    assert client.pki.cas.disable(ca.id).status == "disabled"
    with pytest.raises(scaivault.ConflictError) as disabled:
        client.pki.certs.issue(ca.id, "late.example.test")
    assert disabled.value.code == "ca_disabled"
    with pytest.raises(scaivault.NotFoundError) as missing:
        client.pki.cas.get("ca_nope")
    assert missing.value.code == "ca_not_found"
    with pytest.raises(scaivault.ValidationError) as bad:
        client.pki.csrs.submit("not a csr")
    assert bad.value.code == "invalid_csr"


def test_dynamic_ssh(client: scaivault.Client, unique: str) -> None:
    engine = client.dynamic.engines.create(f"{unique}-ssh", "ssh", {"key_type": "ed25519"})
    assert engine.type == "ssh" and engine.live_leases == 0
    assert client.dynamic.engines.ca(engine.name).startswith("ssh-ed25519 ")
    assert engine.name in [e.name for e in client.dynamic.engines.list(limit=1)]
    role = client.dynamic.roles.create(
        engine.name, "deploy", default_ttl="10m", settings={"allowed_users": ["deploy"],
                                                            "default_user": "deploy"}
    )
    assert role.default_ttl == 600
    assert client.dynamic.roles.get(engine.name, "deploy").engine == engine.name
    assert [r.name for r in client.dynamic.roles.list(engine.name)] == ["deploy"]
    role = client.dynamic.roles.update(engine.name, "deploy", max_leases=5)
    assert role.max_leases == 5

    lease = client.dynamic.creds(engine.name, "deploy", ttl="5m")
    assert "signed_key" in lease.data and "private_key" in lease.data
    assert lease.data["private_key"] not in repr(lease)
    assert not lease.renewable
    listed = list(client.dynamic.leases.list(engine=engine.name, live=True))
    assert [item.id for item in listed] == [lease.lease_id]
    assert client.dynamic.leases.get(lease.lease_id).role == "deploy"
    with pytest.raises(scaivault.ConflictError) as renew:
        client.dynamic.leases.renew(lease.lease_id, ttl="10m")
    assert renew.value.code == "lease_not_renewable"
    assert client.dynamic.leases.revoke(lease.lease_id).status == "revoked"
    client.dynamic.creds(engine.name, "deploy")
    result = client.dynamic.leases.revoke_prefix(engine.name, "deploy")
    assert result.revoked == 1

    rotated = client.dynamic.engines.rotate_root(engine.name)
    assert rotated.root_rotated_at is not None
    updated = client.dynamic.engines.update(engine.name, {"key_type": "ed25519"})
    assert updated.name == engine.name
    client.dynamic.roles.delete(engine.name, "deploy")
    client.dynamic.engines.delete(engine.name, force=True)
    for call, code in (
        (lambda: client.dynamic.engines.get(engine.name), "engine_not_found"),
        (lambda: client.dynamic.roles.get("nope", "nope"), "engine_not_found"),
        (lambda: client.dynamic.leases.get("lease_nope"), "lease_not_found"),
    ):
        with pytest.raises(scaivault.NotFoundError) as caught:
            call()
        assert caught.value.code == code


def test_sys(client: scaivault.Client) -> None:
    health = client.sys.health()
    binary = subprocess.run(
        [scaivault_bin(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert health.status == "ok" and health.version in binary
    seal = client.sys.seal_status()
    assert seal.sealed is False and seal.provider
    keys = client.sys.keys()
    assert keys.active_key_id in [k.key_id for k in keys.keys]
    rotated = client.sys.rotate_keys()
    assert rotated.active_key_id != keys.active_key_id
    assert client.sys.unseal().sealed is False


POSTGRES_URL = os.environ.get(
    "SCAIVAULT_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)


def test_dynamic_postgres(client: scaivault.Client, unique: str) -> None:
    """A postgres engine on the machine's PostgreSQL (trust auth; SCAIVAULT_TEST_POSTGRES_URL
    overrides): a renewable lease on a real database user. rotate-root is left out: it would
    change the password of the machine's superuser."""
    engine = client.dynamic.engines.create(
        f"{unique}-pg", "postgres", {"connection_url": POSTGRES_URL}
    )
    assert engine.type == "postgres" and POSTGRES_URL.split("@")[-1] in str(engine.config)
    client.dynamic.roles.create(
        engine.name,
        "readonly",
        default_ttl="10m",
        max_ttl="1h",
        settings={
            "creation_statements": "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
            "VALID UNTIL '{{expiration}}';"
        },
    )
    lease = client.dynamic.creds(engine.name, "readonly")
    assert lease.renewable and lease.data["username"].startswith("v_")
    assert lease.data["password"] not in repr(lease)
    renewed = client.dynamic.leases.renew(lease.lease_id, ttl="30m")
    assert renewed.expires_at > lease.expires_at
    assert client.dynamic.engines.get(engine.name).live_leases == 1
    with pytest.raises(scaivault.ConflictError) as busy:
        client.dynamic.engines.delete(engine.name)
    assert busy.value.code == "engine_has_leases"
    assert client.dynamic.leases.revoke(lease.lease_id).status == "revoked"
    client.dynamic.roles.delete(engine.name, "readonly")
    client.dynamic.engines.delete(engine.name)
