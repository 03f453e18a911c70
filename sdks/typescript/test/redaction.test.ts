// Secret values and tokens never show in toString / util.inspect / JSON.stringify of the client
// or of errors, nor in log records.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { AccessDeniedError, Client, ScaiVaultError, TransportError } from "scaivault";
import type { LogRecord } from "scaivault";
import { deadUrl, startDevServer, unique } from "./helpers.js";
import type { Server } from "./helpers.js";

const VALUE = "hunter2-very-secret-value";

let server: Server;

before(async () => {
  server = await startDevServer();
});
after(async () => {
  await server?.stop();
});

function renderings(x: unknown): string[] {
  return [
    String(x),
    inspect(x),
    inspect(x, { showHidden: true, depth: 10, getters: true }),
    JSON.stringify(x) ?? "",
    x instanceof Error ? x.stack ?? "" : "",
  ];
}

function assertHidden(x: unknown, ...secrets: string[]): void {
  for (const text of renderings(x)) {
    for (const s of secrets) assert.ok(!text.includes(s), `${s} leaked in: ${text}`);
  }
}

describe("redaction", () => {
  test("the client never shows its token", () => {
    const client = new Client({ url: server.url, token: server.token });
    assertHidden(client, server.token);
    assert.match(String(client), /token=\*\*\*/);
    assert.equal(client.hasToken, true);
    assert.ok(!Object.values(client).some((v) => v === server.token));
  });

  test("errors of writes carry no request body; logs carry no values or tokens", async () => {
    const log: LogRecord[] = [];
    const client = new Client({ url: server.url, token: server.token, logger: (r) => log.push(r) });
    const path = `${unique("redact")}/x`;
    await client.secrets.write(path, { password: VALUE });
    const read = await client.secrets.read(path);
    assert.equal(read.data["password"], VALUE); // results are plain data
    // ... but console.log / util.inspect of a result never prints the value or a new token.
    for (const text of [inspect(read), inspect(read, { showHidden: false, depth: 10 })]) {
      assert.ok(!text.includes(VALUE), `the value leaked in: ${text}`);
      assert.match(text, /data: '<redacted>'/);
      assert.ok(text.includes(path), `the rest is shown: ${text}`);
    }
    assert.ok(JSON.stringify(read).includes(VALUE), "JSON.stringify is an explicit choice");
    assert.deepEqual(Object.keys(read).sort(), Object.keys({ ...read }).sort());

    // A refused write (403) with a secret value in its body.
    const limited = await client.auth.tokens.create({ name: unique("ro"), scopes: ["secrets:read"] });
    assert.ok(!inspect(limited).includes(limited.token), "a new token is not printed");
    const reader = new Client({ url: server.url, token: limited.token, logger: (r) => log.push(r) });
    const denied = await reader.secrets.write(path, { password: VALUE }).catch((e: unknown) => e);
    assert.ok(denied instanceof AccessDeniedError);
    assertHidden(denied, VALUE, limited.token, server.token);
    const json = JSON.parse(JSON.stringify(denied)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(json).sort(), ["code", "message", "method", "name", "path", "requestId", "status"]);
    assert.equal(json["code"], "access_denied");

    // A failed write with a value in the body (a validation error).
    const invalid = await client.secrets
      .write(path, { password: VALUE }, { options: { expires_in: "soon" } })
      .catch((e: unknown) => e);
    assert.ok(invalid instanceof ScaiVaultError);
    assertHidden(invalid, VALUE, server.token);

    // A transport failure of a write.
    const dead = new Client({ url: await deadUrl(), token: server.token, maxRetries: 0 });
    const failed = await dead.secrets.write(path, { password: VALUE }).catch((e: unknown) => e);
    assert.ok(failed instanceof TransportError);
    assertHidden(failed, VALUE, server.token);

    assert.ok(log.length >= 3);
    const logged = JSON.stringify(log);
    for (const s of [VALUE, server.token, limited.token]) assert.ok(!logged.includes(s), `${s} logged`);
    assert.deepEqual(Object.keys(log[0] ?? {}).sort(), ["attempt", "durationMs", "method", "path", "requestId", "status"]);
  });

  test("util.inspect of an error shows its code, status and request id", async () => {
    const client = new Client({ url: server.url, token: server.token });
    const error = await client.secrets.read(`${unique("nope")}/x`).catch((e: unknown) => e);
    assert.ok(error instanceof ScaiVaultError);
    const shown = inspect(error);
    assert.match(shown, /NotFoundError 404 secret_not_found/);
    assert.ok(error.requestId && shown.includes(error.requestId));
  });
});
