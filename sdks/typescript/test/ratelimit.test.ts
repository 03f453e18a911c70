// 429 and retries against a production-mode server with `identity = { per_second = 2, burst = 3 }`:
// the 4th request within a second is answered 429 rate_limited with Retry-After.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Client, RateLimitedError } from "scaivault";
import type { LogRecord } from "scaivault";
import { startProductionServer } from "./helpers.js";
import type { Server } from "./helpers.js";

let server: Server;

before(async () => {
  server = await startProductionServer();
  // Written while the bucket is still full (burst 3): the If-Match test below updates it.
  await new Client({ url: server.url, token: server.token, maxRetries: 0 }).secrets.write("rl/y", { v: "1" });
});
after(async () => {
  await server?.stop();
});

/** Requests until one is refused with 429 (the burst is 3); the refusal. */
async function exhaust(client: Client): Promise<RateLimitedError> {
  for (let i = 0; i < 20; i++) {
    try {
      await client.auth.whoami();
    } catch (e) {
      if (e instanceof RateLimitedError) return e;
      throw e;
    }
  }
  throw new Error("no 429 after 20 requests");
}

describe("rate limits", () => {
  test("maxRetries 0: RateLimitedError with retryAfter", async () => {
    const client = new Client({ url: server.url, token: server.token, maxRetries: 0 });
    const error = await exhaust(client);
    assert.equal(error.status, 429);
    assert.equal(error.code, "rate_limited");
    assert.equal(typeof error.retryAfter, "number");
    assert.ok((error.retryAfter ?? 0) >= 1 && (error.retryAfter ?? 0) <= 2, `retryAfter ${error.retryAfter}`);
    assert.match(error.requestId ?? "", /^req_/);
    assert.equal(JSON.parse(JSON.stringify(error)).retryAfter, error.retryAfter);
  });

  test("a GET is retried after Retry-After and succeeds", async () => {
    const log: LogRecord[] = [];
    const client = new Client({ url: server.url, token: server.token, maxRetries: 3, logger: (r) => log.push(r) });
    const limited = new Client({ url: server.url, token: server.token, maxRetries: 0 });
    await exhaust(limited);
    const started = Date.now();
    const me = await client.auth.whoami();
    assert.equal(typeof me.identity_id, "string");
    const statuses = log.map((r) => r.status);
    assert.equal(statuses[0], 429, `statuses ${statuses.join(",")}`);
    assert.equal(statuses.at(-1), 200);
    assert.ok(Date.now() - started >= 900, "waited for Retry-After");
  });

  test("a plain write is not retried; a write with ifMatch is", async () => {
    const log: LogRecord[] = [];
    const client = new Client({ url: server.url, token: server.token, maxRetries: 3, logger: (r) => log.push(r) });
    const limited = new Client({ url: server.url, token: server.token, maxRetries: 0 });
    await exhaust(limited);
    await assert.rejects(client.secrets.write("rl/x", { v: "1" }), RateLimitedError);
    assert.equal(log.length, 1);

    // With If-Match the write is retried (after Retry-After) until it applies.
    await exhaust(limited);
    log.length = 0;
    const written = await client.secrets.write("rl/y", { v: "2" }, { ifMatch: 1 });
    assert.equal(written.version, 2);
    assert.equal(log[0]?.status, 429);
    assert.ok(log.length >= 2);
  });
});
