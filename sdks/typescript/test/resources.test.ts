// Every resource group other than secrets and subscriptions, against one dev server.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  AccessDeniedError,
  Client,
  ConflictError,
  NotFoundError,
  ScaiVaultError,
} from "scaivault";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startDevServer, unique } from "./helpers.js";
import type { Server } from "./helpers.js";

let server: Server;
let client: Client;

before(async () => {
  server = await startDevServer();
  client = new Client({ url: server.url, token: server.token });
});
after(async () => {
  await server?.stop();
});

describe("auth", () => {
  test("whoami, tokens create/list/revoke", async () => {
    const me = await client.auth.whoami();
    assert.match(me.tenant_id, /^tnt_/);
    assert.ok(me.scopes.length > 0);

    const name = unique("tok");
    const created = await client.auth.tokens.create({ name, scopes: ["secrets:read"], ttl: "1h" });
    assert.match(created.token, /^skt_/);
    const listed = await client.auth.tokens.list({ limit: 1 }).toArray();
    assert.ok(listed.some((t) => t.id === created.id));
    const other = new Client({ url: server.url, token: created.token });
    assert.deepEqual((await other.auth.whoami()).scopes, ["secrets:read"]);
    await client.auth.tokens.revoke(created.id);
    await assert.rejects(other.auth.whoami(), { code: "authentication_required" });
  });

  test("exchange needs a ScaiKey JWT: a ScaiVault token is refused", async () => {
    await assert.rejects(client.auth.exchange({}), ScaiVaultError);
  });
});

describe("policies", () => {
  test("create, get, list, update, test, bind, bindings, unbind, delete", async () => {
    const prefix = unique("pol");
    const policy = await client.policies.create({
      name: prefix,
      description: "readers",
      rules: [{ path: `${prefix}/**`, permissions: ["read", "list"] }],
    });
    assert.match(policy.id, /^pol_/);
    assert.equal((await client.policies.get(policy.id)).name, prefix);
    assert.ok((await client.policies.list({ limit: 1 }).toArray()).some((p) => p.id === policy.id));

    const updated = await client.policies.update(policy.id, {
      name: prefix,
      description: "readers and writers",
      rules: [{ path: `${prefix}/**`, permissions: ["read", "list", "write"] }],
    });
    assert.equal(updated.description, "readers and writers");

    const binding = await client.policies.bind(policy.id, { identity_type: "group", identity_id: "developers" });
    assert.equal(binding.identity_id, "group:developers");
    assert.deepEqual(
      (await client.policies.bindings(policy.id).toArray()).map((b) => b.identity_id),
      ["group:developers"],
    );
    const decision = await client.policies.test({
      path: `${prefix}/x`,
      permission: "write",
      identity_id: "user:dev@example.com",
      groups: ["developers"],
    });
    assert.equal(decision.allowed, true);
    await client.policies.unbind(policy.id, "group:developers");
    assert.deepEqual(await client.policies.bindings(policy.id).toArray(), []);
    await client.policies.delete(policy.id);
    await assert.rejects(client.policies.get(policy.id), NotFoundError);
  });
});

describe("secret policies and rotation", () => {
  test("secret policies: types, create, generate, update, list, delete", async () => {
    const types = await client.secretPolicies.types();
    assert.ok(types.generators.length > 0);
    const sp = await client.secretPolicies.create({
      name: unique("sp"),
      fields: [{ name: "password", generator: "random", config: { length: 24 } }],
    });
    const value = await client.secretPolicies.generate(sp.id);
    assert.equal(String(value.data["password"]).length, 24);
    const updated = await client.secretPolicies.update(sp.id, {
      name: sp.name,
      description: "longer",
      fields: [{ name: "password", generator: "random", config: { length: 32 } }],
    });
    assert.equal(updated.description, "longer");
    assert.equal((await client.secretPolicies.get(sp.id)).id, sp.id);
    assert.ok((await client.secretPolicies.list().toArray()).some((p) => p.id === sp.id));
    await client.secretPolicies.delete(sp.id);
    await assert.rejects(client.secretPolicies.get(sp.id), NotFoundError);
  });

  test("rotation policies: create, assign, secrets, due, trigger, history, runs, unassign", async () => {
    const prefix = unique("rot");
    const sp = await client.secretPolicies.create({
      name: unique("gen"),
      fields: [{ name: "password", generator: "random", config: {} }],
    });
    await client.secrets.write(`${prefix}/db`, { password: "initial" }, { options: { secret_policy_id: sp.id } });
    const rp = await client.rotation.create({ name: unique("rp"), interval: "30d", warn_before: [] });
    assert.equal((await client.rotation.get(rp.id)).interval, "30d");
    assert.ok((await client.rotation.list().toArray()).some((p) => p.id === rp.id));
    const updated = await client.rotation.update(rp.id, { name: rp.name, interval: "7d", warn_before: ["1d"] });
    assert.equal(updated.interval, "7d");

    const assigned = await client.rotation.assign(rp.id, [`${prefix}/**`]);
    assert.deepEqual(assigned.paths, [`${prefix}/db`]);
    const scheduled = await client.rotation.secrets(rp.id).toArray();
    assert.deepEqual(
      scheduled.map((s) => s.path),
      [`${prefix}/db`],
    );
    const due = await client.rotation.due({ withinHours: 24 * 8 }).toArray();
    assert.ok(due.some((s) => s.path === `${prefix}/db`));

    const triggered = await client.rotation.trigger(rp.id, { paths: [`${prefix}/db`] });
    assert.equal(triggered.runs.length, 1);
    const history = await client.rotation.history(rp.id).toArray();
    assert.ok(history.length >= 1);
    const runs = await client.rotation.runs({ path: `${prefix}/db` }).toArray();
    assert.ok(runs.length >= 1);
    assert.notEqual((await client.secrets.read(`${prefix}/db`)).data["password"], "initial");

    await client.rotation.unassign(rp.id, [`${prefix}/**`]);
    assert.deepEqual(await client.rotation.secrets(rp.id).toArray(), []);
    await client.rotation.delete(rp.id);
    await assert.rejects(client.rotation.get(rp.id), NotFoundError);
  });
});

describe("audit", () => {
  test("query, trail, summary, verify", async () => {
    const path = `${unique("aud")}/x`;
    await client.secrets.write(path, { v: "1" });
    await client.secrets.read(path);
    const trail = await client.audit.trail(path, { limit: 1 }).toArray();
    assert.ok(trail.length >= 2, `trail has ${trail.length}`);
    const entries = await client.audit.query({ pathPrefix: path, limit: 1 }).toArray();
    assert.ok(entries.length >= 2);
    const summary = await client.audit.summary();
    assert.ok(summary.by_action.length > 0);
    const verified = await client.audit.verify();
    assert.ok(verified.chains.length >= 1);
  });
});

describe("service accounts", () => {
  test("create, get, list, keys, delete", async () => {
    const sa = await client.serviceAccounts.create({ name: unique("ci"), roles: ["secrets-reader"] });
    assert.equal((await client.serviceAccounts.get(sa.id)).name, sa.name);
    assert.ok((await client.serviceAccounts.list({ limit: 1 }).toArray()).some((a) => a.id === sa.id));
    const key = await client.serviceAccounts.createKey(sa.id, { name: "deploy", ttl: "90d" });
    assert.match(key.key, /^svk_/);
    const asKey = new Client({ url: server.url, token: key.key });
    assert.equal((await asKey.auth.whoami()).identity_type, "service_account");
    await assert.rejects(asKey.secrets.write(`${unique("sa")}/x`, { v: "1" }), AccessDeniedError);
    assert.deepEqual(
      (await client.serviceAccounts.listKeys(sa.id).toArray()).map((k) => k.id),
      [key.id],
    );
    await client.serviceAccounts.deleteKey(sa.id, key.id);
    assert.deepEqual(await client.serviceAccounts.listKeys(sa.id).toArray(), []);
    await client.serviceAccounts.delete(sa.id);
    await assert.rejects(client.serviceAccounts.get(sa.id), NotFoundError);
  });
});

describe("identity", () => {
  test("partners, tenants, user groups", async () => {
    const partners = await client.identity.partners.list().toArray();
    assert.ok(partners.length >= 1);
    const tenants = await client.identity.tenants.list().toArray();
    const me = await client.auth.whoami();
    assert.ok(tenants.some((t) => t.id === me.tenant_id));
    assert.equal((await client.identity.tenants.get(me.tenant_id)).id, me.tenant_id);
    const slug = unique("acme").replace(/[^a-z0-9-]/g, "");
    const tenant = await client.identity.tenants.create({ slug, name: "Acme" });
    assert.equal((await client.identity.tenants.get(tenant.id)).name, "Acme");
    await assert.rejects(client.identity.tenants.create({ slug }), ConflictError);

    const groups = await client.identity.setUserGroups("user:alice@example.com", ["developers", "ops"]);
    assert.deepEqual([...groups.groups].sort(), ["group:developers", "group:ops"]);
    assert.deepEqual(
      [...(await client.identity.userGroups("user:alice@example.com")).groups].sort(),
      ["group:developers", "group:ops"],
    );
  });
});

describe("pki", () => {
  test("a CA, a certificate, renew, revoke, CRL; CSR reject", async () => {
    const ca = await client.pki.cas.create({ name: unique("root"), common_name: "Test Root CA" });
    assert.match(ca.id, /^ca_/);
    assert.equal((await client.pki.cas.get(ca.id)).id, ca.id);
    assert.ok((await client.pki.cas.list().toArray()).some((c) => c.id === ca.id));
    const pem = await client.pki.cas.cert(ca.id);
    assert.match(pem, /-----BEGIN CERTIFICATE-----/);
    const der = await client.pki.cas.cert(ca.id, { format: "der" });
    assert.ok(der instanceof Uint8Array && der[0] === 0x30);

    const issued = await client.pki.certs.issue({
      ca_id: ca.id,
      common_name: "api.example.com",
      sans: ["DNS:api.example.com"],
      ttl: "72h",
    });
    assert.match(issued.certificate, /-----BEGIN CERTIFICATE-----/);
    const certId = issued.id;
    assert.equal((await client.pki.certs.get(certId)).common_name, "api.example.com");
    assert.ok((await client.pki.certs.list({ caId: ca.id }).toArray()).some((c) => c.id === certId));
    const renewed = await client.pki.certs.renew(certId, { ttl: "24h" });
    assert.notEqual(renewed.id, certId);
    // validity_days is accepted (the OpenAPI document's RenewRequest, shared by name with the
    // dynamic leases' renew, wrongly omits it).
    const longer = await client.pki.certs.renew(renewed.id, { validity_days: 2 });
    assert.notEqual(longer.id, renewed.id);
    const revoked = await client.pki.certs.revoke(certId, { reason: "superseded" });
    assert.equal(revoked.status, "revoked");
    const crlPem = await client.pki.crl(ca.id, { format: "pem" });
    assert.match(crlPem, /-----BEGIN X509 CRL-----/);
    const crlDer = await client.pki.crl(ca.id);
    assert.ok(crlDer.length > 0);

    await assert.rejects(client.pki.csrs.get("csr_nope"), { code: "csr_not_found" });
    assert.ok(Array.isArray(await client.pki.csrs.list({ status: "pending" }).toArray()));
    await assert.rejects(
      client.pki.csrs.submit({ ca_id: ca.id, csr: "not a csr" }),
      { code: "invalid_csr", status: 422 },
    );

    const disabled = await client.pki.cas.disable(ca.id);
    assert.equal(disabled.status, "disabled");
    await assert.rejects(
      client.pki.certs.issue({ ca_id: ca.id, common_name: "x.example.com", sans: [] }),
      { code: "ca_disabled" },
    );
  });
});

/** A PEM CSR made by openssl (its key never leaves this machine), as a requester would. */
async function makeCsr(commonName: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "scaivault-csr-"));
  try {
    await promisify(execFile)("openssl", [
      "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "csr.pem"),
      "-subj", `/CN=${commonName}`, "-addext", `subjectAltName=DNS:${commonName}`,
    ]);
    return readFileSync(join(dir, "csr.pem"), "utf8");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("pki import", () => {
  test("an existing CA made by openssl is imported and issues", async () => {
    const dir = mkdtempSync(join(tmpdir(), "scaivault-ca-"));
    try {
      await promisify(execFile)("openssl", [
        "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", join(dir, "ca.key"), "-out", join(dir, "ca.pem"), "-days", "30",
        "-subj", "/CN=Imported Root", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
      ]);
      const ca = await client.pki.cas.import({
        name: unique("imported"),
        certificate: readFileSync(join(dir, "ca.pem"), "utf8"),
        private_key: readFileSync(join(dir, "ca.key"), "utf8"),
      });
      assert.equal(ca.common_name, "Imported Root");
      const cert = await client.pki.certs.issue({ ca_id: ca.id, common_name: "x.example.com", sans: [], ttl: "24h" });
      assert.equal(cert.ca_id, ca.id);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("pki csrs", () => {
  test("submit, list, approve, sign; submit, reject; sign before approval is refused", async () => {
    const ca = await client.pki.cas.create({ name: unique("csr-ca"), common_name: "CSR CA" });
    const csr = await client.pki.csrs.submit({ ca_id: ca.id, csr: await makeCsr("svc.example.com") });
    assert.equal(csr.status, "pending");
    assert.equal(csr.common_name, "svc.example.com");
    assert.ok((await client.pki.csrs.list({ status: "pending" }).toArray()).some((c) => c.id === csr.id));
    await assert.rejects(client.pki.csrs.sign(csr.id, { ca_id: ca.id }), { code: "csr_not_approved", status: 409 });
    assert.equal((await client.pki.csrs.approve(csr.id)).status, "approved");
    const signed = await client.pki.csrs.sign(csr.id, { ca_id: ca.id, ttl: "24h" });
    assert.match(signed.certificate, /-----BEGIN CERTIFICATE-----/);
    assert.equal(signed.csr_id, csr.id);
    assert.equal((await client.pki.csrs.get(csr.id)).cert_id, signed.id);

    const other = await client.pki.csrs.submit({ ca_id: ca.id, csr: await makeCsr("no.example.com") });
    const rejected = await client.pki.csrs.reject(other.id, { reason: "not ours" });
    assert.equal(rejected.status, "rejected");
    assert.equal(rejected.reason, "not ours");
  });
});

describe("dynamic", () => {
  const databaseUrl = process.env["SCAIVAULT_TEST_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";

  test("not-found paths and empty lists", async () => {
    await assert.rejects(client.dynamic.engines.get("nope"), { code: "engine_not_found" });
    await assert.rejects(client.dynamic.leases.get("lease_nope"), { code: "lease_not_found" });
    assert.ok(Array.isArray(await client.dynamic.leases.list({ live: true }).toArray()));
  });

  test("a PostgreSQL engine: role, creds, lease renew/revoke, revoke-prefix, delete", async () => {
    const name = unique("pg").replace(/[^a-z0-9-]/g, "");
    const engine = await client.dynamic.engines.create({ name, type: "postgres", connection_url: databaseUrl });
    assert.equal(engine.name, name);
    assert.ok((await client.dynamic.engines.list().toArray()).some((e) => e.name === name));
    assert.equal((await client.dynamic.engines.get(name)).name, name);

    const role = await client.dynamic.roles.create(name, {
      name: "readonly",
      default_ttl: "1h",
      max_ttl: "24h",
      creation_statements:
        "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
    });
    assert.equal(role.name, "readonly");
    assert.equal((await client.dynamic.roles.get(name, "readonly")).name, "readonly");
    assert.deepEqual((await client.dynamic.roles.list(name).toArray()).map((r) => r.name), ["readonly"]);
    const patched = await client.dynamic.roles.update(name, "readonly", { default_ttl: "30m" });
    assert.equal(patched.default_ttl, 1800);
    await assert.rejects(client.dynamic.roles.get(name, "nope"), { code: "role_not_found" });

    const lease = await client.dynamic.creds(name, "readonly", { ttl: "10m" });
    assert.match(lease.lease_id, /^lease_/);
    assert.equal(typeof lease.data["username"], "string");
    const got = await client.dynamic.leases.get(lease.lease_id);
    assert.equal(got.status, "active");
    assert.ok((await client.dynamic.leases.list({ engine: name }).toArray()).some((l) => l.id === lease.lease_id));
    const renewed = await client.dynamic.leases.renew(lease.lease_id, { ttl: "20m" });
    assert.equal(renewed.id, lease.lease_id);
    await assert.rejects(client.dynamic.engines.delete(name), { code: "engine_has_leases" });
    const revoked = await client.dynamic.leases.revoke(lease.lease_id);
    assert.equal(revoked.status, "revoked");
    await assert.rejects(client.dynamic.leases.renew(lease.lease_id), { code: "lease_not_renewable" });

    await client.dynamic.creds(name, "readonly");
    const result = await client.dynamic.leases.revokePrefix({ engine: name });
    assert.equal(result.revoked, 1);

    const updated = await client.dynamic.engines.update(name, { max_open_connections: 2 });
    assert.equal(updated.name, name);
    await client.dynamic.roles.delete(name, "readonly");
    await client.dynamic.engines.delete(name);
    await assert.rejects(client.dynamic.engines.get(name), NotFoundError);
  });
});

describe("dynamic ssh", () => {
  test("an SSH CA engine: its public key, rotate-root, a signed certificate", async () => {
    const name = unique("ssh").replace(/[^a-z0-9-]/g, "");
    await client.dynamic.engines.create({ name, type: "ssh" });
    const ca = await client.dynamic.engines.ca(name);
    assert.match(ca, /^ssh-ed25519 /);
    await client.dynamic.roles.create(name, { name: "ops", allowed_users: ["deploy"], default_user: "deploy", default_ttl: "5m" });
    const lease = await client.dynamic.creds(name, "ops");
    assert.match(String(lease.data["signed_key"]), /^ssh-ed25519-cert-v01@openssh.com /);
    assert.equal(lease.renewable, false);
    await client.dynamic.engines.rotateRoot(name);
    assert.notEqual(await client.dynamic.engines.ca(name), ca);
    await client.dynamic.engines.delete(name, { force: true });
    await assert.rejects(client.dynamic.engines.get(name), { code: "engine_not_found" });
  });
});

describe("sys", () => {
  test("health, seal status, keys, rotate keys", async () => {
    const health = await client.sys.health();
    assert.equal(health.status, "ok");
    const seal = await client.sys.sealStatus();
    assert.equal(seal.sealed, false);
    const keys = await client.sys.keys();
    assert.ok(keys.keys.length >= 1);
    const rotated = await client.sys.rotateKeys();
    assert.notEqual(rotated.active_key_id, keys.active_key_id);
  });
});
