// client.secrets against a real dev server: the whole life of a secret, lists across pages,
// If-Match, delete/restore, rotation, expiring, tenant routing.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Client, NotFoundError, Paginator, VersionConflictError } from "scaivault";
import type { SecretSummary } from "scaivault";
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

describe("secrets", () => {
  test("write, read, update, versions, metadata", async () => {
    const path = `${unique("app")}/db/credentials`;
    const created = await client.secrets.write(
      path,
      { username: "app", password: "s3cret-1" },
      {
        secretType: "json",
        metadata: { description: "the app's database", tags: ["db", "prod"] },
        options: { max_versions: 10 },
      },
    );
    assert.equal(created.path, path);
    assert.equal(created.version, 1);
    assert.equal(created.created, true);

    const read = await client.secrets.read(path);
    assert.equal(read.version, 1);
    assert.equal(read.secret_type, "json");
    assert.deepEqual(read.data, { username: "app", password: "s3cret-1" });
    assert.deepEqual(read.metadata.tags, ["db", "prod"]);

    const updated = await client.secrets.write(path, { username: "app", password: "s3cret-2" });
    assert.equal(updated.version, 2);
    assert.equal(updated.created, false);
    assert.equal(updated.previous_version, 1);

    assert.deepEqual((await client.secrets.read(path, { version: 1 })).data, {
      username: "app",
      password: "s3cret-1",
    });
    assert.equal((await client.secrets.read(path)).data["password"], "s3cret-2");

    const versions = await client.secrets.versions(path);
    assert.deepEqual(
      versions.versions.map((v) => [v.version, v.is_current]),
      [
        [2, true],
        [1, false],
      ],
    );

    const meta = await client.secrets.metadata(path);
    assert.equal(meta.current_version, 2);
    assert.equal(meta.version_count, 2);
    assert.equal(meta.max_versions, 10);
    assert.equal(meta.metadata.description, "the app's database");
  });

  test("patch changes metadata and options only", async () => {
    const path = `${unique("patch")}/x`;
    await client.secrets.write(path, { v: "1" });
    const patched = await client.secrets.patch(path, {
      metadata: { tags: ["critical"] },
      options: { max_versions: 25 },
    });
    assert.equal(patched.current_version, 1);
    assert.deepEqual(patched.metadata.tags, ["critical"]);
    assert.equal(patched.max_versions, 25);
  });

  test("paths with unicode and reserved URL characters are encoded", async () => {
    const path = `${unique("enc")}/ü+x@y:z/a;b=c&d`;
    await client.secrets.write(path, { v: "1" });
    assert.equal((await client.secrets.read(path)).path, path);
  });

  test("list follows cursors across pages (limit 2, 5 secrets)", async () => {
    const prefix = `${unique("page")}/`;
    for (let i = 0; i < 5; i++) {
      await client.secrets.write(`${prefix}s${i}`, { i: String(i) }, { metadata: { tags: ["paged"] } });
    }
    const listing = client.secrets.list({ prefix, limit: 2 });
    assert.ok(listing instanceof Paginator);
    const pages = [];
    for await (const page of listing.pages()) pages.push(page);
    assert.deepEqual(
      pages.map((p) => p.secrets.length),
      [2, 2, 1],
    );
    assert.equal(pages[0]?.has_more, true);
    assert.equal(pages[2]?.has_more, false);

    const paths: string[] = [];
    for await (const s of client.secrets.list({ prefix, limit: 2 })) paths.push(s.path);
    assert.deepEqual(paths, [0, 1, 2, 3, 4].map((i) => `${prefix}s${i}`));

    // Filters reach the server: tags, include_metadata.
    const tagged: SecretSummary[] = await client.secrets
      .list({ prefix, tags: ["paged"], includeMetadata: true, limit: 200 })
      .toArray();
    assert.equal(tagged.length, 5);
    assert.equal(
      (await client.secrets.list({ prefix, tags: ["other"] }).toArray()).length,
      0,
    );

    // Breaking out of the loop stops fetching (one page asked for).
    let seen = 0;
    for await (const _ of client.secrets.list({ prefix, limit: 2 })) {
      seen++;
      break;
    }
    assert.equal(seen, 1);
  });

  test("ifMatch writes only over the expected version", async () => {
    const path = `${unique("cas")}/x`;
    await client.secrets.write(path, { v: "1" });
    const ok = await client.secrets.write(path, { v: "2" }, { ifMatch: 1 });
    assert.equal(ok.version, 2);
    await assert.rejects(
      client.secrets.write(path, { v: "3" }, { ifMatch: 1 }),
      (e: unknown) => e instanceof VersionConflictError && e.code === "version_conflict" && e.status === 409,
    );
  });

  test("delete, restore, delete a version, delete permanently", async () => {
    const path = `${unique("del")}/x`;
    await client.secrets.write(path, { v: "1" });
    await client.secrets.write(path, { v: "2" });
    await client.secrets.delete(path);
    await assert.rejects(client.secrets.read(path), NotFoundError);
    const restored = await client.secrets.restore(path);
    assert.equal(restored.restored, true);
    assert.equal(restored.current_version, 2);

    await client.secrets.delete(path, { version: 1 });
    await assert.rejects(
      client.secrets.read(path, { version: 1 }),
      (e: unknown) => e instanceof NotFoundError && e.code === "version_not_found",
    );
    await client.secrets.delete(path, { permanent: true });
    await assert.rejects(
      client.secrets.read(path),
      (e: unknown) => e instanceof NotFoundError && e.code === "secret_not_found",
    );
  });

  test("rotate with a new value and a grace period", async () => {
    const path = `${unique("rot")}/x`;
    await client.secrets.write(path, { password: "old" });
    const rotated = await client.secrets.rotate(path, {
      reason: "suspected compromise",
      newValue: { password: "new" },
      gracePeriod: "1h",
    });
    assert.equal(rotated.version, 2);
    assert.equal(rotated.previous_version, 1);
    assert.equal((await client.secrets.read(path)).data["password"], "new");
    assert.equal((await client.secrets.read(path, { version: 1 })).data["password"], "old");
  });

  test("expiring lists secrets with an expiry, soonest first", async () => {
    const prefix = `${unique("exp")}/`;
    await client.secrets.write(`${prefix}late`, { v: "1" }, { options: { expires_in: "20d" } });
    await client.secrets.write(`${prefix}soon`, { v: "1" }, { options: { expires_in: "2d" } });
    await client.secrets.write(`${prefix}never`, { v: "1" });
    const expiring = await client.secrets.expiring({ days: 30, prefix }).toArray();
    assert.deepEqual(
      expiring.map((s) => s.path),
      [`${prefix}soon`, `${prefix}late`],
    );
    assert.ok((expiring[0]?.days_remaining ?? 99) <= 2);
  });

  test("tenantId sends tenant-scoped routes under /v1/t/{tenant}/", async () => {
    const me = await client.auth.whoami();
    const path = `${unique("tenant")}/x`;
    // The caller's own tenant, named explicitly.
    const own = new Client({ url: server.url, token: server.token, tenantId: me.tenant_id });
    await own.secrets.write(path, { v: "own" });
    assert.equal((await client.secrets.read(path)).data["v"], "own");
    // Another tenant of the partner (the dev root token is a partner admin): separate secrets.
    const slug = unique("other").replace(/[^a-z0-9-]/g, "");
    const tenant = await client.identity.tenants.create({ slug });
    const other = new Client({ url: server.url, token: server.token, tenantId: tenant.id });
    await assert.rejects(other.secrets.read(path), NotFoundError);
    await other.secrets.write(path, { v: "other" });
    assert.equal((await other.secrets.read(path)).data["v"], "other");
    assert.equal((await client.secrets.read(path)).data["v"], "own");
    const policy = await other.policies.create({ name: unique("p"), path: "x/**", permissions: ["read"] });
    await assert.rejects(client.policies.get(policy.id), NotFoundError);
    assert.equal((await other.policies.get(policy.id)).id, policy.id);
  });
});
