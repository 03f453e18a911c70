// Each error class the dev server can be made to answer, and a transport failure.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  AccessDeniedError,
  AuthenticationError,
  Client,
  ConflictError,
  NotFoundError,
  ScaiVaultError,
  TransportError,
  ValidationError,
  VersionConflictError,
} from "scaivault";
import { deadUrl, startDevServer, unique } from "./helpers.js";
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

function expectError<E extends ScaiVaultError>(
  cls: new (...args: never[]) => E,
  code: string,
  status: number | undefined,
): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.ok(e instanceof ScaiVaultError);
    assert.equal(e.code, code);
    assert.equal(e.status, status);
    assert.equal(typeof e.message, "string");
    if (status !== undefined) assert.match(e.requestId ?? "", /^req_/);
    return true;
  };
}

describe("errors by code", () => {
  test("404 secret_not_found and version_not_found", async () => {
    const path = `${unique("missing")}/x`;
    await assert.rejects(client.secrets.read(path), expectError(NotFoundError, "secret_not_found", 404));
    await client.secrets.write(path, { v: "1" });
    await assert.rejects(
      client.secrets.read(path, { version: 7 }),
      expectError(NotFoundError, "version_not_found", 404),
    );
  });

  test("404 for other objects keeps its own code", async () => {
    await assert.rejects(client.policies.get("pol_nope"), NotFoundError);
    await assert.rejects(client.pki.cas.get("ca_nope"), expectError(NotFoundError, "ca_not_found", 404));
    await assert.rejects(
      client.dynamic.engines.get("nope"),
      expectError(NotFoundError, "engine_not_found", 404),
    );
  });

  test("401 authentication_required: a wrong token, and none", async () => {
    const wrong = new Client({ url: server.url, token: "skt_not_a_real_token" });
    await assert.rejects(wrong.auth.whoami(), expectError(AuthenticationError, "authentication_required", 401));
    const none = new Client({ url: server.url, token: undefined });
    // With no env token either (the test runner sets none).
    await assert.rejects(none.secrets.read("a/b"), AuthenticationError);
  });

  test("403 access_denied for a token without the scope", async () => {
    const path = `${unique("ro")}/x`;
    await client.secrets.write(path, { v: "1" });
    const created = await client.auth.tokens.create({ name: unique("reader"), scopes: ["secrets:read"] });
    const reader = new Client({ url: server.url, token: created.token });
    assert.equal((await reader.secrets.read(path)).data["v"], "1");
    await assert.rejects(
      reader.secrets.write(path, { v: "2" }),
      expectError(AccessDeniedError, "access_denied", 403),
    );
  });

  test("409 version_conflict is a ConflictError too; secret_exists", async () => {
    const path = `${unique("conflict")}/x`;
    await client.secrets.write(path, { v: "1" });
    await client.secrets.write(path, { v: "2" });
    await assert.rejects(client.secrets.write(path, { v: "3" }, { ifMatch: 1 }), (e: unknown) => {
      assert.ok(e instanceof VersionConflictError);
      assert.ok(e instanceof ConflictError);
      assert.equal(e.code, "version_conflict");
      return true;
    });
    await client.secrets.delete(path);
    await assert.rejects(client.secrets.write(path, { v: "4" }), expectError(ConflictError, "secret_exists", 409));
  });

  test("400 validation_error and invalid_path", async () => {
    await assert.rejects(
      client.secrets.write(`${unique("bad")}/x`, { v: "1" }, { options: { expires_in: "soon" } }),
      expectError(ValidationError, "validation_error", 400),
    );
    await assert.rejects(
      client.secrets.read("has*star/x"),
      expectError(ValidationError, "invalid_path", 400),
    );
    // `.` and `..` are refused before any request (a URL layer would rewrite them).
    await assert.rejects(client.secrets.read("a/../b"), (e: unknown) => {
      assert.ok(e instanceof ScaiVaultError);
      assert.equal(e.code, "invalid_path");
      assert.equal(e.status, undefined);
      return true;
    });
    await assert.rejects(client.audit.trail("a/../b").toArray(), { code: "invalid_path" });
  });

  test("a status without a class of its own (405) is a plain ScaiVaultError", async () => {
    // The `fetch` option, here wrapping the real fetch to send a method the route lacks.
    const patching = new Client({
      url: server.url,
      token: server.token,
      fetch: (input, init) => fetch(input, { ...init, method: "PATCH" }),
    });
    await assert.rejects(patching.auth.whoami(), (e: unknown) => {
      assert.ok(e instanceof ScaiVaultError);
      assert.equal(e.constructor, ScaiVaultError);
      assert.equal(e.code, "method_not_allowed");
      assert.equal(e.status, 405);
      return true;
    });
  });

  test("TransportError when nothing listens (status undefined), retried first", async () => {
    const attempts: number[] = [];
    const dead = new Client({
      url: await deadUrl(),
      token: "skt_x",
      maxRetries: 1,
      logger: (r) => attempts.push(r.attempt),
    });
    await assert.rejects(dead.secrets.read("a/b"), (e: unknown) => {
      assert.ok(e instanceof TransportError);
      assert.equal(e.status, undefined);
      assert.equal(e.code, "transport_error");
      assert.match(e.message, /ECONNREFUSED/);
      return true;
    });
    assert.deepEqual(attempts, [0, 1]);
    // A plain write is never retried.
    attempts.length = 0;
    await assert.rejects(dead.secrets.write("a/b", { v: "1" }), TransportError);
    assert.deepEqual(attempts, [0]);
  });

  test("a timeout is a TransportError, not retried", async () => {
    // A 1 ms budget: the answer cannot arrive in time (a connection alone takes longer).
    const attempts: number[] = [];
    const hasty = new Client({ url: server.url, token: server.token, timeout: 1, logger: (r) => attempts.push(r.attempt) });
    await assert.rejects(hasty.auth.whoami(), (e: unknown) => {
      assert.ok(e instanceof TransportError);
      assert.match(e.message, /timed out/);
      return true;
    });
    assert.deepEqual(attempts, [0]);
  });
});
