// Subscriptions: long-poll (one poll, and follow) and webhooks: a REAL signed delivery from the
// server to a local node:http receiver, verified with webhooks.verify.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { IncomingHttpHeaders, Server as HttpServer } from "node:http";
import { Client, WebhookVerificationError, verify, webhooks } from "scaivault";
import type { Event } from "scaivault";
import { startDevServer, unique } from "./helpers.js";
import type { Server } from "./helpers.js";

let server: Server;
let client: Client;

before(async () => {
  server = await startDevServer({ webhooks: true });
  client = new Client({ url: server.url, token: server.token });
});
after(async () => {
  await server?.stop();
});

describe("long-poll", () => {
  test("one poll yields the pending events; the cursor resumes after them", async () => {
    const prefix = unique("poll");
    const sub = await client.subscriptions.create({
      name: unique("poll"),
      paths: [`${prefix}/**`],
      events: ["secret.created", "secret.updated"],
    });
    await client.secrets.write(`${prefix}/a`, { v: "1" });
    await client.secrets.write(`${prefix}/a`, { v: "2" });
    const stream = client.subscriptions.poll(sub.id, { wait: 0 });
    const events: Event[] = [];
    for await (const e of stream) events.push(e);
    assert.deepEqual(
      events.map((e) => [e.event_type, e.path]),
      [
        ["secret.created", `${prefix}/a`],
        ["secret.updated", `${prefix}/a`],
      ],
    );
    assert.ok(stream.cursor);
    const again: Event[] = [];
    for await (const e of client.subscriptions.poll(sub.id, { cursor: stream.cursor, wait: 0 })) again.push(e);
    assert.deepEqual(again, []);
  });

  test("follow receives an event written after it started", async () => {
    const prefix = unique("follow");
    const sub = await client.subscriptions.create({
      name: unique("follow"),
      paths: [`${prefix}/**`],
      events: ["*"],
    });
    const controller = new AbortController();
    const stream = client.subscriptions.poll(sub.id, { follow: true, wait: 10_000, signal: controller.signal });
    const iterator = stream[Symbol.asyncIterator]();
    const first = iterator.next();
    // The write happens while the poll is waiting on the server (it holds up to 10 s).
    const writer = new Client({ url: server.url, token: server.token });
    await writer.secrets.write(`${prefix}/late`, { v: "1" });
    const got = await first;
    assert.equal(got.done, false);
    assert.equal(got.value?.event_type, "secret.created");
    assert.equal(got.value?.path, `${prefix}/late`);
    // A second event arrives through the same (followed) stream.
    const second = iterator.next();
    await writer.secrets.write(`${prefix}/late`, { v: "2" });
    assert.equal((await second).value?.event_type, "secret.updated");
    controller.abort();
    await iterator.return?.();
  });

  test("get, list, dead letters, delete", async () => {
    const sub = await client.subscriptions.create({ name: unique("crud"), paths: ["x/**"], events: ["*"] });
    assert.equal((await client.subscriptions.get(sub.id)).id, sub.id);
    const ids = (await client.subscriptions.list({ limit: 1 }).toArray()).map((s) => s.id);
    assert.ok(ids.includes(sub.id));
    assert.deepEqual(await client.subscriptions.deadLetters(sub.id).toArray(), []);
    await client.subscriptions.delete(sub.id);
    await assert.rejects(client.subscriptions.get(sub.id), { code: "not_found" });
  });
});

interface Delivery {
  body: Buffer;
  headers: IncomingHttpHeaders;
}

describe("webhooks", () => {
  let receiver: HttpServer;
  let receiverUrl: string;
  const deliveries: Delivery[] = [];
  const waiters: Array<() => void> = [];

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        deliveries.push({ body: Buffer.concat(chunks), headers: req.headers });
        res.writeHead(204).end();
        for (const w of waiters.splice(0)) w();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const address = receiver.address();
    assert.ok(address && typeof address === "object");
    receiverUrl = `http://127.0.0.1:${address.port}/hook`;
  });
  after(async () => {
    await new Promise((resolve) => receiver.close(resolve));
  });

  /** Waits (event-driven, with a deadline) for a delivery matching `pred`. */
  async function delivery(pred: (d: Delivery) => boolean, timeoutMs = 20_000): Promise<Delivery> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = deliveries.find(pred);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no webhook delivery arrived");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  test("a real signed delivery verifies; tampering, a wrong secret and an old timestamp do not", async () => {
    const prefix = unique("hook");
    const sub = await client.subscriptions.create({
      name: unique("hook"),
      paths: [`${prefix}/**`],
      events: ["secret.created"],
      webhook: receiverUrl,
    });
    const secret = sub.webhook_secret;
    assert.ok(secret && secret.startsWith("whsec_"), "the signing secret is returned at creation");
    await client.secrets.write(`${prefix}/x`, { password: "never-in-the-event" });
    const d = await delivery((x) => x.body.toString().includes(`${prefix}/x`));
    assert.ok(!d.body.toString().includes("never-in-the-event"));

    // Raw bytes + Node's header record.
    const event = await verify(d.body, d.headers, secret);
    assert.equal(event.event_type, "secret.created");
    assert.equal(event.path, `${prefix}/x`);
    assert.equal(event.id, d.headers["webhook-id"]);
    // A string payload and a Headers object; through client.webhooks too.
    const headers = new Headers();
    for (const [k, v] of Object.entries(d.headers)) if (typeof v === "string") headers.set(k, v);
    assert.equal((await client.webhooks.verify(d.body.toString("utf8"), headers, secret)).id, event.id);
    assert.equal((await webhooks.verify(d.body, headers, secret)).id, event.id);

    // Tampered payload.
    const tampered = Buffer.from(d.body.toString().replace(`${prefix}/x`, `${prefix}/y`));
    await assert.rejects(verify(tampered, d.headers, secret), WebhookVerificationError);
    // Wrong secret.
    const wrong = "whsec_" + Buffer.from("another key of 32 bytes, exactly").toString("base64");
    await assert.rejects(verify(d.body, d.headers, wrong), WebhookVerificationError);
    // Old timestamp: the delivery checked an hour later is refused ...
    const ts = Number(d.headers["webhook-timestamp"]);
    await assert.rejects(verify(d.body, d.headers, secret, { now: ts + 3600 }), /timestamp/);
    // ... unless the tolerance allows it.
    assert.equal((await verify(d.body, d.headers, secret, { now: ts + 3600, tolerance: 7200 })).id, event.id);
    // A forged timestamp header breaks the signature.
    await assert.rejects(
      verify(d.body, { ...d.headers, "webhook-timestamp": String(ts + 1) }, secret),
      WebhookVerificationError,
    );
    // Missing headers.
    await assert.rejects(verify(d.body, {}, secret), /missing/);
    // Several signatures (as during a secret rotation): any match is enough.
    const sig = String(d.headers["webhook-signature"]);
    const several = { ...d.headers, "webhook-signature": `v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= ${sig}` };
    assert.equal((await verify(d.body, several, secret)).id, event.id);

    // rotate-secret: the new secret signs the next delivery, the old one no longer verifies it.
    const rotated = await client.subscriptions.rotateSecret(sub.id);
    assert.ok(rotated.webhook_secret && rotated.webhook_secret !== secret);
    await client.secrets.write(`${prefix}/z`, { v: "1" });
    const d2 = await delivery((x) => x.body.toString().includes(`${prefix}/z`));
    assert.equal((await verify(d2.body, d2.headers, rotated.webhook_secret)).path, `${prefix}/z`);
    await assert.rejects(verify(d2.body, d2.headers, secret), WebhookVerificationError);
  });

  test("the Standard Webhooks example signature", async () => {
    // The example of the Standard Webhooks specification (crates/server/src/webhooks.rs tests).
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const headers = {
      "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
      "webhook-timestamp": "1614265330",
      "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    };
    const event = await verify('{"test": 2432232314}', headers, secret, { now: 1614265330 });
    assert.deepEqual(event, { test: 2432232314 });
  });
});
