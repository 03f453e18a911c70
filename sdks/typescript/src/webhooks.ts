// Standard Webhooks signatures (https://www.standardwebhooks.com/), as the server signs them
// (crates/server/src/webhooks.rs `sign`): `webhook-signature: v1,<base64 HMAC-SHA256>` over
// "{webhook-id}.{webhook-timestamp}.{body}", keyed by the base64 part of the `whsec_...` secret.
//
// Web Crypto only (`crypto.subtle`), so it runs in Node 20+, browsers, Deno, Bun and workers.

import { WebhookVerificationError } from "./errors.js";
import type { Schemas } from "./types.js";

/** The event a delivery carries (the same shape the long-poll returns). */
export type WebhookEvent = Schemas["Event"];

/** A `Headers` object, or a plain record such as Node's `IncomingMessage.headers`. */
export type WebhookHeaders =
  | Headers
  | Readonly<Record<string, string | readonly string[] | undefined>>;

export interface VerifyOptions {
  /** Largest accepted distance between `webhook-timestamp` and now, in seconds (default 300). */
  tolerance?: number;
  /** "Now" in unix seconds (tests); default the clock. */
  now?: number;
}

const DEFAULT_TOLERANCE_S = 5 * 60;

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function" && typeof (headers as Headers).has === "function") {
    return (headers as Headers).get(name) ?? undefined;
  }
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  for (const [key, value] of Object.entries(record)) {
    if (key.toLowerCase() !== name) continue;
    if (value === undefined) return undefined;
    return typeof value === "string" ? value : value.join(" ");
  }
  return undefined;
}

function base64ToBytes(b64: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return undefined;
  const binary = atob(b64);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/** Compares two byte strings in time that depends only on their lengths. */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

function toBytes(payload: string | Uint8Array | ArrayBuffer): Uint8Array {
  if (typeof payload === "string") return new TextEncoder().encode(payload);
  if (payload instanceof Uint8Array) return payload;
  return new Uint8Array(payload);
}

/**
 * Checks a webhook delivery's signature and timestamp; the parsed event.
 *
 * Pass the body exactly as received (a string or the raw bytes: not a re-serialised object),
 * the request's headers, and the subscription's `whsec_...` signing secret. Every `v1,`
 * signature in the header is tried (several appear while a secret rotates), each in constant
 * time. A timestamp more than `tolerance` seconds (default 300) from now is refused.
 *
 * @throws {WebhookVerificationError} a header is missing, no signature matches, the timestamp
 *   is out of tolerance, or the payload is not a JSON event.
 */
export async function verify(
  payload: string | Uint8Array | ArrayBuffer,
  headers: WebhookHeaders,
  secret: string,
  options: VerifyOptions = {},
): Promise<WebhookEvent> {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError(
      "missing webhook-id, webhook-timestamp or webhook-signature header",
    );
  }
  if (!/^\d{1,15}$/.test(timestamp.trim())) {
    throw new WebhookVerificationError("webhook-timestamp is not unix seconds");
  }
  const sentAt = Number(timestamp.trim());
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE_S;
  if (Math.abs(now - sentAt) > tolerance) {
    throw new WebhookVerificationError(
      `webhook-timestamp is more than ${tolerance} seconds from now`,
    );
  }
  const key = base64ToBytes(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret);
  if (!key || key.length === 0) {
    throw new WebhookVerificationError("the signing secret is not a whsec_<base64> secret");
  }
  const body = toBytes(payload);
  const prefix = new TextEncoder().encode(`${id}.${timestamp}.`);
  const message = new Uint8Array(prefix.length + body.length);
  message.set(prefix, 0);
  message.set(body, prefix.length);
  const cryptoKey = await globalThis.crypto.subtle.importKey(
    "raw",
    key as BufferSource,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const expected = new Uint8Array(await globalThis.crypto.subtle.sign("HMAC", cryptoKey, message as BufferSource));

  let matched = false;
  for (const candidate of signatures.split(" ")) {
    const comma = candidate.indexOf(",");
    if (comma < 0 || candidate.slice(0, comma) !== "v1") continue;
    const given = base64ToBytes(candidate.slice(comma + 1));
    // Every candidate is compared (no early exit), so timing says nothing about which matched.
    if (given && constantTimeEqual(given, expected)) matched = true;
  }
  if (!matched) {
    throw new WebhookVerificationError("no webhook-signature matches the payload");
  }
  let event: unknown;
  try {
    event = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new WebhookVerificationError("the payload is not JSON");
  }
  if (event === null || typeof event !== "object" || Array.isArray(event)) {
    throw new WebhookVerificationError("the payload is not a JSON object");
  }
  return event as WebhookEvent;
}

/** `client.webhooks` and the standalone `webhooks` export. */
export const webhooks = { verify } as const;
