// The transport: one `fetch` per attempt, retries per docs/sdks.md, errors by code.
//
// Runs wherever `fetch`, `AbortController` and `URL` exist (Node 20+, browsers, Deno, Bun).

import { ScaiVaultError, TransportError, ValidationError, errorFromResponse } from "./errors.js";

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** One log record per attempt: never headers, bodies or query strings. */
export interface LogRecord {
  method: string;
  path: string;
  /** The HTTP status, or `undefined` when no answer came. */
  status: number | undefined;
  requestId: string | undefined;
  /** 0 for the first attempt, 1 for the first retry, ... */
  attempt: number;
  durationMs: number;
}

export type QueryValue = string | number | boolean | undefined | null | readonly string[];

export interface RequestSpec {
  method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Already-encoded path segments, joined with `/` after the base URL. */
  segments: readonly string[];
  query?: Record<string, QueryValue> | undefined;
  /** A JSON body (serialised here; never kept on an error). */
  body?: unknown;
  headers?: Record<string, string> | undefined;
  /** This request's own timeout in milliseconds (long-polls), instead of the client's. */
  timeout?: number | undefined;
  /** Error statuses whose body is a regular answer of this route. */
  accept?: readonly number[] | undefined;
  /** How to read a success body: JSON (default), text or bytes. */
  responseType?: "json" | "text" | "bytes" | undefined;
  signal?: AbortSignal | undefined;
}

export interface TransportConfig {
  baseUrl: string;
  token: string | undefined;
  partnerId: string | undefined;
  timeout: number;
  maxRetries: number;
  fetch: FetchLike;
  logger: ((record: LogRecord) => void) | undefined;
}

/** Percent-encodes everything but RFC 3986 unreserved characters (as the CLI does). */
export function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(
    /[!'()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/** A secret path's segments, refusing what a URL layer would rewrite (empty, `.`, `..`). */
export function secretPathSegments(path: string): string[] {
  if (path === "") {
    throw new ValidationError({ code: "invalid_path", message: "the secret path is empty" });
  }
  const parts = path.split("/");
  if (parts.some((p) => p === "." || p === "..")) {
    throw new ValidationError({
      code: "invalid_path",
      message: "`.` and `..` segments are not allowed in a secret path",
    });
  }
  return parts.map(encodeSegment);
}

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;

/** Seconds from a `Retry-After` header (delta-seconds or an HTTP date). */
export function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, (date - Date.now()) / 1000);
}

function backoffMs(attempt: number): number {
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
  // "Equal jitter": half fixed, half random, so retries of many clients spread out.
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

interface ErrorEnvelope {
  error?: { code?: unknown; message?: unknown; request_id?: unknown };
}

function describeNetworkError(error: unknown): string {
  // Node's undici puts the system error (ECONNREFUSED, ...) in `cause`.
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (cause && typeof cause.code === "string") return `${cause.code}`;
  if (cause && typeof cause.message === "string") return cause.message;
  if (error instanceof Error) return error.message;
  return "network error";
}

/** The fields of a response that hold a secret value (a secret's or lease's `data`, a new token
 * or API key, a webhook signing secret, an issued private key). */
const SECRET_FIELDS = ["data", "token", "key", "webhook_secret", "private_key"] as const;
const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/**
 * Results are plain data (`result.data.password` works, `JSON.stringify` is an explicit choice
 * and shows everything), but a response holding a secret value gets a non-enumerable
 * `util.inspect` hook, so `console.log(result)` in Node, Deno and Bun shows `"<redacted>"` in
 * its place instead of printing the value into a log.
 */
export function hideSecretsFromInspect(value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  const secret = SECRET_FIELDS.filter((field) => record[field] !== undefined && record[field] !== null);
  if (secret.length === 0) return value;
  Object.defineProperty(record, INSPECT, {
    enumerable: false,
    value(_depth: number, options: object, inspect: (v: unknown, o: object) => string): string {
      const shown: Record<string, unknown> = { ...record };
      for (const field of secret) shown[field] = "<redacted>";
      return inspect(shown, options);
    },
  });
  return value;
}

export class Transport {
  readonly #config: TransportConfig;

  constructor(config: TransportConfig) {
    this.#config = config;
  }

  get baseUrl(): string {
    return this.#config.baseUrl;
  }

  url(spec: Pick<RequestSpec, "segments" | "query">): string {
    let url = this.#config.baseUrl + "/" + spec.segments.join("/");
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(spec.query ?? {})) {
      if (value === undefined || value === null) continue;
      if (Array.isArray(value)) {
        for (const v of value as readonly string[]) params.append(key, v);
      } else {
        params.append(key, String(value));
      }
    }
    const qs = params.toString();
    if (qs) url += "?" + qs;
    return url;
  }

  /** Sends `spec`, retrying what is safe to repeat; the decoded success body. */
  async request<T>(spec: RequestSpec): Promise<T> {
    const config = this.#config;
    const url = this.url(spec);
    const path = new URL(url).pathname;
    const headers: Record<string, string> = { accept: "application/json", ...spec.headers };
    if (config.token) headers["authorization"] = `Bearer ${config.token}`;
    if (config.partnerId) headers["x-scaivault-partner-id"] = config.partnerId;
    let body: string | undefined;
    if (spec.body !== undefined) {
      body = JSON.stringify(spec.body);
      headers["content-type"] = "application/json";
    }
    // Only requests that are safe to repeat are retried: GET, HEAD, and writes with If-Match
    // (a repeat of an applied write then fails the precondition instead of applying twice).
    const repeatable =
      spec.method === "GET" ||
      spec.method === "HEAD" ||
      Object.keys(headers).some((h) => h.toLowerCase() === "if-match");
    const timeout = spec.timeout ?? config.timeout;

    for (let attempt = 0; ; attempt++) {
      const started = Date.now();
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeout);
      const onCallerAbort = (): void => controller.abort(spec.signal?.reason);
      spec.signal?.addEventListener("abort", onCallerAbort, { once: true });
      let response: Response;
      try {
        const init: RequestInit = { method: spec.method, headers, signal: controller.signal };
        if (body !== undefined) init.body = body;
        response = await config.fetch(url, init);
      } catch (error) {
        clearTimeout(timer);
        spec.signal?.removeEventListener("abort", onCallerAbort);
        this.#log(spec.method, path, undefined, undefined, attempt, started);
        if (spec.signal?.aborted) throw spec.signal.reason;
        const reason = timedOut ? `timed out after ${timeout} ms` : describeNetworkError(error);
        const failure = new TransportError({
          code: "transport_error",
          message: `no answer from ${new URL(url).origin}: ${reason}`,
          method: spec.method,
          path,
        });
        // A connection failure is retried; a timeout may have reached the server, so it is not.
        if (!timedOut && repeatable && attempt < config.maxRetries) {
          await sleep(backoffMs(attempt), spec.signal);
          continue;
        }
        throw failure;
      }
      try {
        const requestId = response.headers.get("x-request-id") ?? undefined;
        this.#log(spec.method, path, response.status, requestId, attempt, started);
        if (response.ok || spec.accept?.includes(response.status)) {
          return (await this.#decode(response, spec.responseType ?? "json")) as T;
        }
        const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
        const text = await response.text();
        let code = `http_${response.status}`;
        let message = `HTTP ${response.status} ${response.statusText}`.trim();
        let bodyRequestId: string | undefined;
        try {
          const parsed = JSON.parse(text) as ErrorEnvelope;
          if (parsed && typeof parsed.error?.code === "string") code = parsed.error.code;
          if (parsed && typeof parsed.error?.message === "string") message = parsed.error.message;
          if (parsed && typeof parsed.error?.request_id === "string") {
            bodyRequestId = parsed.error.request_id;
          }
        } catch {
          // Not the JSON envelope (a proxy's HTML page): the status alone classifies it.
        }
        const error = errorFromResponse({
          code,
          status: response.status,
          message,
          requestId: requestId ?? bodyRequestId,
          method: spec.method,
          path,
          retryAfter,
        });
        if ((response.status === 429 || response.status === 503) && repeatable && attempt < config.maxRetries) {
          const delay =
            retryAfter !== undefined ? Math.min(retryAfter * 1000, MAX_DELAY_MS) : backoffMs(attempt);
          await sleep(delay, spec.signal);
          continue;
        }
        throw error;
      } catch (error) {
        if (error instanceof ScaiVaultError || spec.signal?.aborted) throw error;
        if (timedOut) {
          throw new TransportError({
            code: "transport_error",
            message: `timed out after ${timeout} ms reading the answer`,
            method: spec.method,
            path,
          });
        }
        throw new TransportError({
          code: "transport_error",
          message: `the answer could not be read: ${describeNetworkError(error)}`,
          method: spec.method,
          path,
        });
      } finally {
        clearTimeout(timer);
        spec.signal?.removeEventListener("abort", onCallerAbort);
      }
    }
  }

  async #decode(response: Response, type: "json" | "text" | "bytes"): Promise<unknown> {
    if (type === "bytes") return new Uint8Array(await response.arrayBuffer());
    const text = await response.text();
    if (type === "text") return text;
    if (text.trim() === "") return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Never quote the body: it may be a secret.
      throw new ScaiVaultError({
        code: "decode_error",
        status: response.status,
        message: "the server's answer is not valid JSON",
      });
    }
    return hideSecretsFromInspect(parsed);
  }

  #log(
    method: string,
    path: string,
    status: number | undefined,
    requestId: string | undefined,
    attempt: number,
    started: number,
  ): void {
    const logger = this.#config.logger;
    if (!logger) return;
    try {
      logger({ method, path, status, requestId, attempt, durationMs: Date.now() - started });
    } catch {
      // A failing logger never fails the request.
    }
  }
}
