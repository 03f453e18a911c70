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
    // Four reads on an empty bucket (a cell may have come back meanwhile, not four): some meet a
    // 429 and are retried after Retry-After; all succeed.
    const started = Date.now();
    for (let i = 0; i < 4; i++) {
      const me = await client.auth.whoami();
      assert.equal(typeof me.identity_id, "string");
    }
    const statuses = log.map((r) => r.status);
    assert.ok(statuses.includes(429), `statuses ${statuses.join(",")}`);
    assert.equal(statuses.filter((s) => s === 200).length, 4, `statuses ${statuses.join(",")}`);
    assert.ok(Date.now() - started >= 900, "waited for Retry-After");
  });

  test("a plain write is not retried; a write with ifMatch is", async () => {
    const log: LogRecord[] = [];
    const client = new Client({ url: server.url, token: server.token, maxRetries: 3, logger: (r) => log.push(r) });
    const limited = new Client({ url: server.url, token: server.token, maxRetries: 0 });
    // The bucket refills every 500 ms, so on a loaded machine a cell may come back between the
    // refusal and the write: then the write succeeds on its first attempt and we try again.
    let refused = false;
    for (let attempt = 0; attempt < 10 && !refused; attempt++) {
      await exhaust(limited);
      log.length = 0;
      const outcome = await client.secrets.write(`rl/x${attempt}`, { v: "1" }).catch((e: unknown) => e);
      assert.equal(log.length, 1, `one attempt only, statuses ${log.map((r) => r.status).join(",")}`);
      if (outcome instanceof RateLimitedError) refused = true;
      else assert.ok(!(outcome instanceof Error), `unexpected ${String(outcome)}`);
    }
    assert.ok(refused, "a plain write met a 429 (and was not retried)");

    // With If-Match a write is retried (after Retry-After) until it applies: four of them on an
    // empty bucket, each applied exactly once.
    await exhaust(limited);
    log.length = 0;
    for (let version = 1; version <= 4; version++) {
      const written = await client.secrets.write("rl/y", { v: String(version + 1) }, { ifMatch: version });
      assert.equal(written.version, version + 1);
    }
    const statuses = log.map((r) => r.status);
    assert.ok(statuses.includes(429), `statuses ${statuses.join(",")}`);
    assert.equal(statuses.filter((s) => s !== 429).length, 4, `statuses ${statuses.join(",")}`);
  });
});
