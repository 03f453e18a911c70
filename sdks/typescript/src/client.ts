// The client and its resource groups: one method per endpoint, grouped as the CLI groups its
// commands (docs/sdks.md). Request and response bodies are the API's wire types (snake_case,
// see types.ts); method arguments and options are camelCase.

import { Transport, encodeSegment, secretPathSegments } from "./http.js";
import type { FetchLike, LogRecord, QueryValue, RequestSpec } from "./http.js";
import { Paginator } from "./pagination.js";
import type { PageShape } from "./pagination.js";
import type * as T from "./types.js";
import { verify } from "./webhooks.js";

/** The default server address of a local `scaivault server`. */
export const DEFAULT_URL = "http://127.0.0.1:8200";
/** The default per-request timeout, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** The default number of retries of a request that is safe to repeat. */
export const DEFAULT_MAX_RETRIES = 3;

const INSPECT = Symbol.for("nodejs.util.inspect.custom");

export interface ClientOptions {
  /** The server, e.g. `https://vault.example.com` (env `SCAIVAULT_URL`, default `http://127.0.0.1:8200`). */
  url?: string | undefined;
  /** A token `skt_...`, API key `svk_...` or ScaiKey JWT (env `SCAIVAULT_TOKEN`). */
  token?: string | undefined;
  /** Act as this tenant (partner admins): routes go to `/v1/t/{tenantId}/...` (env `SCAIVAULT_TENANT_ID`). */
  tenantId?: string | undefined;
  /** An explicit partner context (env `SCAIVAULT_PARTNER_ID`). */
  partnerId?: string | undefined;
  /** Per-request timeout in milliseconds (default 60000). Long-polls get their `wait` on top. */
  timeout?: number | undefined;
  /** Retries of 429/503 answers and connection failures, for requests safe to repeat (default 3). */
  maxRetries?: number | undefined;
  /** The `fetch` to use (default `globalThis.fetch`). */
  fetch?: FetchLike | undefined;
  /** Called once per HTTP attempt with the method, path, status and request id (never bodies). */
  logger?: ((record: LogRecord) => void) | undefined;
}

type Env = Record<string, string | undefined>;

function environment(): Env {
  // `process` exists in Node, Bun and Deno (with --allow-env); not in browsers.
  try {
    const env = (globalThis as { process?: { env?: Env } }).process?.env;
    return env ?? {};
  } catch {
    return {};
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function normaliseUrl(raw: string): string {
  const trimmed = raw.trim().replace(/\/+$/, "");
  let parsed: URL;
  try {
    parsed = new URL(trimmed);
  } catch {
    throw new TypeError(`invalid ScaiVault URL ${JSON.stringify(raw)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TypeError(`invalid ScaiVault URL ${JSON.stringify(raw)}: the scheme must be http or https`);
  }
  if (parsed.search || parsed.hash) {
    throw new TypeError(`invalid ScaiVault URL ${JSON.stringify(raw)}: a base URL has no query or fragment`);
  }
  return trimmed;
}

/** Options of every list method: the page size (server default 50, at most 200). */
export interface ListOptions {
  limit?: number | undefined;
  /** Start from this cursor (from an earlier page) instead of the beginning. */
  cursor?: string | undefined;
}

/** The shared plumbing of the resource groups. */
class Base {
  protected readonly transport: Transport;
  protected readonly tenantId: string | undefined;

  constructor(transport: Transport, tenantId: string | undefined) {
    this.transport = transport;
    this.tenantId = tenantId;
  }

  /** `/v1/...`, segments encoded. */
  protected v1(...segments: string[]): string[] {
    return ["v1", ...segments.map(encodeSegment)];
  }

  /** `/v1/...`, or `/v1/t/{tenant}/...` when the client acts as a tenant. */
  protected t(...segments: string[]): string[] {
    const prefix = this.tenantId === undefined ? ["v1"] : ["v1", "t", encodeSegment(this.tenantId)];
    return [...prefix, ...segments.map(encodeSegment)];
  }

  protected req<R>(spec: RequestSpec): Promise<R> {
    return this.transport.request<R>(spec);
  }

  protected getJson<R>(segments: string[], query?: Record<string, QueryValue>): Promise<R> {
    return this.req<R>({ method: "GET", segments, query });
  }

  protected postJson<R>(segments: string[], body?: unknown): Promise<R> {
    return this.req<R>({ method: "POST", segments, body: body ?? {} });
  }

  protected async remove(segments: string[], query?: Record<string, QueryValue>): Promise<void> {
    await this.req<unknown>({ method: "DELETE", segments, query });
  }

  /** An iterator over a paginated list. */
  protected paged<Item, P extends PageShape>(
    segments: string[],
    query: Record<string, QueryValue>,
    options: ListOptions | undefined,
    items: (page: P) => readonly Item[],
  ): Paginator<Item, P> {
    return new Paginator<Item, P>(
      (cursor) => this.getJson<P>(segments, { ...query, limit: options?.limit, cursor }),
      items,
      options?.cursor,
    );
  }

  /** An iterator over a list the server answers in one piece. */
  protected single<Item, P>(segments: string[], items: (page: P) => readonly Item[]): Paginator<Item, P & PageShape> {
    return new Paginator<Item, P & PageShape>(
      () => this.getJson<P & PageShape>(segments),
      items,
    );
  }
}

// --- secrets -------------------------------------------------------------------------------

export interface ReadOptions {
  /** A specific version (default the current one). */
  version?: number | undefined;
}

export interface WriteOptions {
  /** `kv` (default), `json`, `certificate`, `ssh_key` or `api_key`. */
  secretType?: T.SecretType | undefined;
  metadata?: T.SecretMetadata | undefined;
  options?: T.SecretOptions | undefined;
  /**
   * Write only if the current version is this one (`If-Match`); otherwise a
   * {@link VersionConflictError}. A write with `ifMatch` is safe to retry, so it is.
   */
  ifMatch?: number | string | undefined;
}

export interface PatchOptions {
  metadata?: T.SecretMetadata | undefined;
  options?: T.SecretOptions | undefined;
}

export interface ListSecretsOptions extends ListOptions {
  prefix?: string | undefined;
  /** Only secrets with every one of these tags. */
  tags?: readonly string[] | undefined;
  secretType?: T.SecretType | undefined;
  /** RFC 3339 timestamp. */
  expiresBefore?: string | undefined;
  /** RFC 3339 timestamp. */
  updatedAfter?: string | undefined;
  includeExpired?: boolean | undefined;
  /** Include description, owner, created_at, ... in each summary. */
  includeMetadata?: boolean | undefined;
}

export interface DeleteOptions {
  /** Gone for good, instead of a soft delete restorable during the retention window. */
  permanent?: boolean | undefined;
  /** Delete only this version. */
  version?: number | undefined;
}

export interface RotateOptions {
  reason?: string | undefined;
  /** The new value; without it the secret's secret policy generates one. */
  newValue?: Record<string, unknown> | undefined;
  /** How long the previous version stays readable, e.g. `24h`. */
  gracePeriod?: string | undefined;
}

export interface ExpiringOptions extends ListOptions {
  /** Within this many days (server default 30). */
  days?: number | undefined;
  prefix?: string | undefined;
}

function flag(value: boolean | undefined): string | undefined {
  return value ? "true" : undefined;
}

export class Secrets extends Base {
  readonly #partner: boolean;

  /** `partner`: the partner-scoped secrets under `/v1/partner/secrets/` ({@link Client.partnerSecrets}). */
  constructor(transport: Transport, tenantId: string | undefined, partner = false) {
    super(transport, tenantId);
    this.#partner = partner;
  }

  #url(before: string[], path: string | undefined, after: string[] = []): string[] {
    const prefix = this.#partner
      ? ["v1", "partner"]
      : this.tenantId === undefined
        ? ["v1"]
        : ["v1", "t", encodeSegment(this.tenantId)];
    return [
      ...prefix,
      "secrets",
      ...before,
      ...(path === undefined ? [] : secretPathSegments(path)),
      ...after,
    ];
  }

  /** `GET /v1/secrets/{path}`: the current value, or `version`. */
  async read(path: string, options: ReadOptions = {}): Promise<T.ReadSecretResponse> {
    return this.getJson(this.#url([], path), { version: options.version });
  }

  /** `PUT /v1/secrets/{path}`: creates the secret or a new version of it. */
  async write(
    path: string,
    data: Record<string, unknown>,
    options: WriteOptions = {},
  ): Promise<T.WriteSecretResponse> {
    const body: T.WriteSecretRequest = { data };
    if (options.secretType !== undefined) body.secret_type = options.secretType;
    if (options.metadata !== undefined) body.metadata = options.metadata;
    if (options.options !== undefined) body.options = options.options;
    const headers: Record<string, string> = {};
    if (options.ifMatch !== undefined) {
      const v = String(options.ifMatch);
      headers["if-match"] = v.startsWith('"') ? v : `"${v}"`;
    }
    return this.req({ method: "PUT", segments: this.#url([], path), body, headers });
  }

  /** `PATCH /v1/secrets/{path}`: metadata and options only (no new version). */
  async patch(path: string, changes: PatchOptions): Promise<T.SecretMetadataResponse> {
    const body: T.PatchSecretRequest = {};
    if (changes.metadata !== undefined) body.metadata = changes.metadata;
    if (changes.options !== undefined) body.options = changes.options;
    return this.req({ method: "PATCH", segments: this.#url([], path), body });
  }

  /** `GET /v1/secrets`: every secret matching the filters (no values), page by page. */
  list(options: ListSecretsOptions = {}): Paginator<T.SecretSummary, T.ListSecretsResponse> {
    return this.paged<T.SecretSummary, T.ListSecretsResponse>(
      this.#url([], undefined),
      {
        prefix: options.prefix,
        tag: options.tags,
        secret_type: options.secretType,
        expires_before: options.expiresBefore,
        updated_after: options.updatedAfter,
        include_expired: flag(options.includeExpired),
        include_metadata: flag(options.includeMetadata),
      },
      options,
      (page) => page.secrets,
    );
  }

  /** `GET /v1/secrets/{path}/versions`: the versions kept, newest first. */
  async versions(path: string): Promise<T.VersionsResponse> {
    return this.getJson(this.#url([], path, ["versions"]));
  }

  /** `GET /v1/secrets/metadata/{path}`: everything but the value. */
  async metadata(path: string): Promise<T.SecretMetadataResponse> {
    return this.getJson(this.#url(["metadata"], path));
  }

  /** `DELETE /v1/secrets/{path}`: soft delete, `permanent`, or one `version`. */
  async delete(path: string, options: DeleteOptions = {}): Promise<void> {
    return this.remove(this.#url([], path), {
      permanent: flag(options.permanent),
      version: options.version,
    });
  }

  /** `POST /v1/secrets/{path}/restore`: undoes a soft delete. */
  async restore(path: string): Promise<T.RestoreSecretResponse> {
    return this.req({ method: "POST", segments: this.#url([], path, ["restore"]) });
  }

  /** `POST /v1/secrets/{path}/rotate`: a new version, from `newValue` or the secret policy. */
  async rotate(path: string, options: RotateOptions = {}): Promise<T.RotateSecretResponse> {
    const body: T.RotateSecretRequest = {};
    if (options.reason !== undefined) body.reason = options.reason;
    if (options.newValue !== undefined) body.new_value = options.newValue;
    if (options.gracePeriod !== undefined) body.grace_period = options.gracePeriod;
    return this.postJson(this.#url([], path, ["rotate"]), body);
  }

  /** `GET /v1/secrets/expiring`: secrets expiring within `days`, soonest first. */
  expiring(options: ExpiringOptions = {}): Paginator<T.ExpiringSecret, T.ExpiringSecretsResponse> {
    return this.paged<T.ExpiringSecret, T.ExpiringSecretsResponse>(
      this.#url(["expiring"], undefined),
      { days: options.days, prefix: options.prefix },
      options,
      (page) => page.secrets,
    );
  }
}

// --- auth ----------------------------------------------------------------------------------

export class Tokens extends Base {
  /** `POST /v1/auth/tokens`: the answer is the only place the token's value appears. */
  create(request: T.CreateTokenRequest): Promise<T.CreateTokenResponse> {
    return this.postJson(this.v1("auth", "tokens"), request);
  }

  /** `GET /v1/auth/tokens`: the caller's tokens (never their values). */
  list(options: ListOptions = {}): Paginator<T.TokenInfo, T.TokenListResponse> {
    return this.paged(this.v1("auth", "tokens"), {}, options, (p: T.TokenListResponse) => p.tokens);
  }

  /** `DELETE /v1/auth/tokens/{id}` */
  revoke(id: string): Promise<void> {
    return this.remove(this.v1("auth", "tokens", id));
  }
}

export class Auth extends Base {
  readonly tokens: Tokens;

  constructor(transport: Transport, tenantId: string | undefined) {
    super(transport, tenantId);
    this.tokens = new Tokens(transport, tenantId);
  }

  /** `GET /v1/auth/whoami`: the caller's identity, tenant, roles and scopes. */
  whoami(): Promise<T.WhoAmIResponse> {
    return this.getJson(this.v1("auth", "whoami"));
  }

  /** `POST /v1/auth/exchange`: a ScaiKey JWT (the bearer) for a ScaiVault token. */
  exchange(request: T.ExchangeRequest = {} as T.ExchangeRequest): Promise<T.CreateTokenResponse> {
    return this.postJson(this.v1("auth", "exchange"), request);
  }
}

// --- policies ------------------------------------------------------------------------------

export class Policies extends Base {
  /** `POST /v1/policies`: from `rules`, or the quick form `path` + `permissions`. */
  create(request: T.PolicyRequest): Promise<T.Policy> {
    return this.postJson(this.t("policies"), request);
  }

  /** `GET /v1/policies/{id}` */
  get(id: string): Promise<T.Policy> {
    return this.getJson(this.t("policies", id));
  }

  /** `GET /v1/policies` */
  list(options: ListOptions = {}): Paginator<T.Policy, T.PolicyList> {
    return this.paged(this.t("policies"), {}, options, (p: T.PolicyList) => p.policies);
  }

  /** `PUT /v1/policies/{id}`: replaces name, description and rules. */
  update(id: string, request: T.PolicyRequest): Promise<T.Policy> {
    return this.req({ method: "PUT", segments: this.t("policies", id), body: request });
  }

  /** `DELETE /v1/policies/{id}`: the policy and its bindings. */
  delete(id: string): Promise<void> {
    return this.remove(this.t("policies", id));
  }

  /** `POST /v1/policies/test`: would the identity be allowed, and which rule decides? */
  test(request: T.PolicyTestRequest): Promise<T.PolicyTestResponse> {
    return this.postJson(this.t("policies", "test"), request);
  }

  /** `POST /v1/policies/{id}/bindings`: binds the policy to a user, group or service account. */
  bind(id: string, request: T.BindRequest): Promise<T.Binding> {
    return this.postJson(this.t("policies", id, "bindings"), request);
  }

  /** `DELETE /v1/policies/{id}/bindings/{identityId}` (e.g. `group:developers`). */
  unbind(id: string, identityId: string): Promise<void> {
    return this.remove(this.t("policies", id, "bindings", identityId));
  }

  /** `GET /v1/policies/{id}/bindings` */
  bindings(id: string): Paginator<T.Binding, T.BindingList & PageShape> {
    return this.single(this.t("policies", id, "bindings"), (p: T.BindingList) => p.bindings);
  }
}

// --- rotation ------------------------------------------------------------------------------

export interface HistoryOptions extends ListOptions {
  /** `succeeded`, `failed`, `pending`, ... */
  status?: string | undefined;
}

export interface RunsOptions extends HistoryOptions {
  path?: string | undefined;
  policyId?: string | undefined;
}

export interface DueOptions extends ListOptions {
  /** Rotations due within this many hours (server default 168). */
  withinHours?: number | undefined;
}

export class Rotation extends Base {
  /** `POST /v1/rotation/policies` */
  create(request: T.RotationPolicyRequest): Promise<T.RotationPolicy> {
    return this.postJson(this.t("rotation", "policies"), request);
  }

  /** `GET /v1/rotation/policies/{id}` */
  get(id: string): Promise<T.RotationPolicy> {
    return this.getJson(this.t("rotation", "policies", id));
  }

  /** `GET /v1/rotation/policies` */
  list(options: ListOptions = {}): Paginator<T.RotationPolicy, T.RotationPolicyList> {
    return this.paged(this.t("rotation", "policies"), {}, options, (p: T.RotationPolicyList) => p.rotation_policies);
  }

  /** `PUT /v1/rotation/policies/{id}` */
  update(id: string, request: T.RotationPolicyRequest): Promise<T.RotationPolicy> {
    return this.req({ method: "PUT", segments: this.t("rotation", "policies", id), body: request });
  }

  /** `DELETE /v1/rotation/policies/{id}` */
  delete(id: string): Promise<void> {
    return this.remove(this.t("rotation", "policies", id));
  }

  /** `POST /v1/rotation/policies/{id}/assign`: paths or globs the policy rotates. */
  assign(id: string, paths: readonly string[]): Promise<T.AssignResponse> {
    return this.postJson(this.t("rotation", "policies", id, "assign"), { paths: [...paths] });
  }

  /** `POST /v1/rotation/policies/{id}/unassign` */
  unassign(id: string, paths: readonly string[]): Promise<T.AssignResponse> {
    return this.postJson(this.t("rotation", "policies", id, "unassign"), { paths: [...paths] });
  }

  /** `GET /v1/rotation/policies/{id}/secrets`: the secrets it rotates, with their next rotation. */
  secrets(id: string, options: ListOptions = {}): Paginator<T.ScheduledRotation, T.ScheduledRotationList> {
    return this.paged(this.t("rotation", "policies", id, "secrets"), {}, options, (p: T.ScheduledRotationList) => p.secrets);
  }

  /** `GET /v1/rotation/policies/{id}/history`: its runs, newest first. */
  history(id: string, options: HistoryOptions = {}): Paginator<T.RotationRun, T.RotationRunList> {
    return this.paged(
      this.t("rotation", "policies", id, "history"),
      { status: options.status },
      options,
      (p: T.RotationRunList) => p.runs,
    );
  }

  /** `POST /v1/rotation/policies/{id}/trigger`: rotates now (all its secrets, or `paths`). */
  trigger(id: string, options: { paths?: readonly string[] | undefined } = {}): Promise<T.TriggerResponse> {
    const body: T.TriggerRequest = {};
    if (options.paths !== undefined) body.paths = [...options.paths];
    return this.postJson(this.t("rotation", "policies", id, "trigger"), body);
  }

  /** `GET /v1/rotation/due`: rotations due within `withinHours`. */
  due(options: DueOptions = {}): Paginator<T.ScheduledRotation, T.ScheduledRotationList> {
    return this.paged(
      this.t("rotation", "due"),
      { within_hours: options.withinHours },
      options,
      (p: T.ScheduledRotationList) => p.secrets,
    );
  }

  /** `GET /v1/rotation/runs`: runs across policies, by path, policy or status. */
  runs(options: RunsOptions = {}): Paginator<T.RotationRun, T.RotationRunList> {
    return this.paged(
      this.t("rotation", "runs"),
      { path: options.path, policy_id: options.policyId, status: options.status },
      options,
      (p: T.RotationRunList) => p.runs,
    );
  }
}

// --- secret policies -----------------------------------------------------------------------

export class SecretPolicies extends Base {
  /** `POST /v1/secret-policies` */
  create(request: T.SecretPolicyRequest): Promise<T.SecretPolicy> {
    return this.postJson(this.t("secret-policies"), request);
  }

  /** `GET /v1/secret-policies/{id}` */
  get(id: string): Promise<T.SecretPolicy> {
    return this.getJson(this.t("secret-policies", id));
  }

  /** `GET /v1/secret-policies` */
  list(options: ListOptions = {}): Paginator<T.SecretPolicy, T.SecretPolicyList> {
    return this.paged(this.t("secret-policies"), {}, options, (p: T.SecretPolicyList) => p.secret_policies);
  }

  /** `PUT /v1/secret-policies/{id}` */
  update(id: string, request: T.SecretPolicyRequest): Promise<T.SecretPolicy> {
    return this.req({ method: "PUT", segments: this.t("secret-policies", id), body: request });
  }

  /** `DELETE /v1/secret-policies/{id}` */
  delete(id: string): Promise<void> {
    return this.remove(this.t("secret-policies", id));
  }

  /** `GET /v1/secret-policies/types`: the generators and charsets. */
  types(): Promise<T.GeneratorCatalogue> {
    return this.getJson(this.t("secret-policies", "types"));
  }

  /** `POST /v1/secret-policies/{id}/generate`: a preview value (stored nowhere). */
  generate(id: string): Promise<T.GeneratedValue> {
    return this.req({ method: "POST", segments: this.t("secret-policies", id, "generate") });
  }
}

// --- audit ---------------------------------------------------------------------------------

export interface AuditQueryOptions extends ListOptions {
  action?: string | undefined;
  identity?: string | undefined;
  resourceType?: string | undefined;
  pathPrefix?: string | undefined;
  /** `success` or `denied`, ... */
  outcome?: string | undefined;
  /** RFC 3339 timestamp or date. */
  start?: string | undefined;
  end?: string | undefined;
  /** Another tenant of the caller's partner (partner admins); default the client's tenantId. */
  tenantId?: string | undefined;
}

export class Audit extends Base {
  /** `GET /v1/audit`: entries matching the filters, newest first. */
  query(options: AuditQueryOptions = {}): Paginator<T.AuditEntry, T.AuditListResponse> {
    return this.paged(
      this.v1("audit"),
      {
        action: options.action,
        identity: options.identity,
        resource_type: options.resourceType,
        path_prefix: options.pathPrefix,
        outcome: options.outcome,
        start: options.start,
        end: options.end,
        tenant_id: options.tenantId ?? this.tenantId,
      },
      options,
      (p: T.AuditListResponse) => p.entries,
    );
  }

  /** `GET /v1/audit/trail/{path}`: every entry about one secret. */
  trail(path: string, options: ListOptions = {}): Paginator<T.AuditEntry, T.AuditListResponse> {
    let segments: string[];
    try {
      segments = secretPathSegments(path);
    } catch (error) {
      // An invalid path fails the iteration, as a server error would.
      return new Paginator(() => Promise.reject(error), (p: T.AuditListResponse) => p.entries);
    }
    return this.paged(
      ["v1", "audit", "trail", ...segments],
      { tenant_id: this.tenantId },
      options,
      (p: T.AuditListResponse) => p.entries,
    );
  }

  /** `GET /v1/audit/summary`: counts by action and outcome. */
  summary(options: { start?: string | undefined; end?: string | undefined } = {}): Promise<T.AuditSummaryResponse> {
    return this.getJson(this.v1("audit", "summary"), {
      start: options.start,
      end: options.end,
      tenant_id: this.tenantId,
    });
  }

  /** `POST /v1/audit/verify`: checks the hash chains. */
  verify(): Promise<T.AuditVerifyResponse> {
    return this.postJson(this.v1("audit", "verify"), {});
  }
}

// --- subscriptions -------------------------------------------------------------------------

export interface PollOptions {
  /** Resume after this cursor (default: the subscription's creation). */
  cursor?: string | undefined;
  /** How long the server holds a poll with no event pending, in milliseconds (server default 30000, at most 60000). */
  wait?: number | undefined;
  /** Events per response, 1-500. */
  limit?: number | undefined;
  /** Keep polling (passing each cursor back) for as long as the caller iterates. */
  follow?: boolean | undefined;
  /** Stops a `follow` poll (also ends a waiting request). */
  signal?: AbortSignal | undefined;
}

/** How much longer than its `wait` a poll's request may take. */
const POLL_MARGIN_MS = 30_000;
const DEFAULT_WAIT_MS = 30_000;

function waitParam(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${Math.max(1, Math.round(ms))}ms`;
}

/** The events of a long-poll; `cursor` is where to resume (after the last event handed out). */
export class EventStream implements AsyncIterable<T.Event> {
  #cursor: string | undefined;
  readonly #fetch: (cursor: string | undefined) => Promise<T.PollResponse>;
  readonly #follow: boolean;

  constructor(
    fetch: (cursor: string | undefined) => Promise<T.PollResponse>,
    cursor: string | undefined,
    follow: boolean,
  ) {
    this.#fetch = fetch;
    this.#cursor = cursor;
    this.#follow = follow;
  }

  /** The cursor to pass back to resume after the last event yielded. */
  get cursor(): string | undefined {
    return this.#cursor;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T.Event, void, undefined> {
    do {
      const response = await this.#fetch(this.#cursor);
      for (const event of response.events) yield event;
      // Only after every event was handed out: a caller that stops early resumes before the rest.
      if (response.cursor) this.#cursor = response.cursor;
    } while (this.#follow);
  }
}

export class Subscriptions extends Base {
  /** `POST /v1/subscriptions`: with a webhook, the answer holds the signing secret (once). */
  create(request: T.CreateSubscriptionRequest): Promise<T.Subscription> {
    return this.postJson(this.t("subscriptions"), request);
  }

  /** `GET /v1/subscriptions/{id}`, with its webhook delivery state. */
  get(id: string): Promise<T.Subscription> {
    return this.getJson(this.t("subscriptions", id));
  }

  /** `GET /v1/subscriptions` */
  list(options: ListOptions = {}): Paginator<T.Subscription, T.SubscriptionList> {
    return this.paged(this.t("subscriptions"), {}, options, (p: T.SubscriptionList) => p.subscriptions);
  }

  /** `DELETE /v1/subscriptions/{id}` */
  delete(id: string): Promise<void> {
    return this.remove(this.t("subscriptions", id));
  }

  /**
   * `GET /v1/subscriptions/{id}/poll`: the events after `cursor`. Without `follow`, the events
   * of one poll; with `follow`, events as they arrive, for as long as you iterate.
   */
  poll(id: string, options: PollOptions = {}): EventStream {
    const wait = options.wait ?? DEFAULT_WAIT_MS;
    const segments = this.t("subscriptions", id, "poll");
    return new EventStream(
      (cursor) =>
        this.req<T.PollResponse>({
          method: "GET",
          segments,
          query: {
            cursor,
            wait: options.wait === undefined ? undefined : waitParam(options.wait),
            limit: options.limit,
          },
          timeout: wait + POLL_MARGIN_MS,
          signal: options.signal,
        }),
      options.cursor,
      options.follow === true,
    );
  }

  /** `GET /v1/subscriptions/{id}/dead-letters`: webhook deliveries given up on. */
  deadLetters(id: string): Paginator<T.DeadLetterInfo, T.DeadLetterList & PageShape> {
    return this.single(this.t("subscriptions", id, "dead-letters"), (p: T.DeadLetterList) => p.dead_letters);
  }

  /** `POST /v1/subscriptions/{id}/rotate-secret`: a new webhook signing secret (shown once). */
  rotateSecret(id: string): Promise<T.Subscription> {
    return this.req({ method: "POST", segments: this.t("subscriptions", id, "rotate-secret") });
  }
}

// --- service accounts ----------------------------------------------------------------------

export class ServiceAccounts extends Base {
  /** `POST /v1/service-accounts` */
  create(request: T.CreateServiceAccountRequest): Promise<T.ServiceAccount> {
    return this.postJson(this.t("service-accounts"), request);
  }

  /** `GET /v1/service-accounts/{id}` */
  get(id: string): Promise<T.ServiceAccount> {
    return this.getJson(this.t("service-accounts", id));
  }

  /** `GET /v1/service-accounts` */
  list(options: ListOptions = {}): Paginator<T.ServiceAccount, T.ServiceAccountList> {
    return this.paged(this.t("service-accounts"), {}, options, (p: T.ServiceAccountList) => p.service_accounts);
  }

  /** `DELETE /v1/service-accounts/{id}`: the account and its keys. */
  delete(id: string): Promise<void> {
    return this.remove(this.t("service-accounts", id));
  }

  /** `POST /v1/service-accounts/{id}/keys`: the answer is the only place the key appears. */
  createKey(id: string, request: T.CreateApiKeyRequest = {} as T.CreateApiKeyRequest): Promise<T.CreateApiKeyResponse> {
    return this.postJson(this.t("service-accounts", id, "keys"), request);
  }

  /** `GET /v1/service-accounts/{id}/keys` */
  listKeys(id: string, options: ListOptions = {}): Paginator<T.ApiKeyInfo, T.ApiKeyList> {
    return this.paged(this.t("service-accounts", id, "keys"), {}, options, (p: T.ApiKeyList) => p.keys);
  }

  /** `DELETE /v1/service-accounts/{id}/keys/{keyId}` */
  deleteKey(id: string, keyId: string): Promise<void> {
    return this.remove(this.t("service-accounts", id, "keys", keyId));
  }
}

// --- identity ------------------------------------------------------------------------------

export class Tenants extends Base {
  /** `POST /v1/identity/tenants` (partner admins) */
  create(request: T.CreateTenantRequest): Promise<T.Tenant> {
    return this.postJson(this.v1("identity", "tenants"), request);
  }

  /** `GET /v1/identity/tenants` */
  list(options: ListOptions = {}): Paginator<T.Tenant, T.TenantList> {
    return this.paged(this.v1("identity", "tenants"), {}, options, (p: T.TenantList) => p.tenants);
  }

  /** `GET /v1/identity/tenants/{id}` */
  get(id: string): Promise<T.Tenant> {
    return this.getJson(this.v1("identity", "tenants", id));
  }
}

export class Partners extends Base {
  /** `GET /v1/identity/partners` */
  list(options: ListOptions = {}): Paginator<T.Partner, T.PartnerList> {
    return this.paged(this.v1("identity", "partners"), {}, options, (p: T.PartnerList) => p.partners);
  }

  /** `POST /v1/identity/partners` (platform admins) */
  create(request: T.CreatePartnerRequest): Promise<T.Partner> {
    return this.postJson(this.v1("identity", "partners"), request);
  }
}

export class Identity extends Base {
  readonly tenants: Tenants;
  readonly partners: Partners;

  constructor(transport: Transport, tenantId: string | undefined) {
    super(transport, tenantId);
    this.tenants = new Tenants(transport, tenantId);
    this.partners = new Partners(transport, tenantId);
  }

  /** `POST /v1/identity/register`: registers a ScaiKey tenant. */
  register(request: T.RegisterRequest): Promise<T.RegisterResponse> {
    return this.postJson(this.v1("identity", "register"), request);
  }

  /** `GET /v1/identity/users/{identityId}/groups`: the groups synced for a user. */
  userGroups(identityId: string): Promise<T.GroupsResponse> {
    return this.getJson(this.t("identity", "users", identityId, "groups"));
  }

  /** `PUT /v1/identity/users/{identityId}/groups`: replaces a user's groups. */
  setUserGroups(identityId: string, groups: readonly string[]): Promise<T.GroupsResponse> {
    const body: T.SetGroupsRequest = { groups: [...groups] } as T.SetGroupsRequest;
    return this.req({ method: "PUT", segments: this.t("identity", "users", identityId, "groups"), body });
  }
}

// --- PKI -----------------------------------------------------------------------------------

export type PemOrDer = "pem" | "der";

export class Cas extends Base {
  /** `POST /v1/pki/cas`: a root, or an intermediate under `parent_id`. */
  create(request: T.CreateCaRequest): Promise<T.Ca> {
    return this.postJson(this.t("pki", "cas"), request);
  }

  /** `POST /v1/pki/cas/import`: an existing CA's certificate and key. */
  import(request: T.ImportCaRequest): Promise<T.Ca> {
    return this.postJson(this.t("pki", "cas", "import"), request);
  }

  /** `GET /v1/pki/cas/{id}` */
  get(id: string): Promise<T.Ca> {
    return this.getJson(this.t("pki", "cas", id));
  }

  /** `GET /v1/pki/cas` */
  list(options: ListOptions = {}): Paginator<T.Ca, T.CaList> {
    return this.paged(this.t("pki", "cas"), {}, options, (p: T.CaList) => p.cas);
  }

  /** `POST /v1/pki/cas/{id}/disable`: it issues nothing more. */
  disable(id: string): Promise<T.Ca> {
    return this.req({ method: "POST", segments: this.t("pki", "cas", id, "disable") });
  }

  /** `GET /v1/pki/cas/{id}/cert`: the CA certificate, PEM (with `chain`: and its parents), or DER bytes. */
  cert(id: string, options?: { format?: "pem"; chain?: boolean | undefined }): Promise<string>;
  cert(id: string, options: { format: "der" }): Promise<Uint8Array>;
  cert(id: string, options: { format?: PemOrDer; chain?: boolean | undefined } = {}): Promise<string | Uint8Array> {
    const format = options.format ?? "pem";
    return this.req({
      method: "GET",
      segments: this.t("pki", "cas", id, "cert"),
      query: { format, chain: flag(options.chain) },
      responseType: format === "der" ? "bytes" : "text",
    });
  }
}

export interface CertListOptions extends ListOptions {
  caId?: string | undefined;
  /** `valid`, `revoked`, `expired` */
  status?: string | undefined;
  /** e.g. `30d` */
  expiringWithin?: string | undefined;
}

export class Certs extends Base {
  /** `POST /v1/pki/certs`: a certificate and its private key (the key is returned once). */
  issue(request: T.IssueCertificateRequest): Promise<T.IssuedCertificate> {
    return this.postJson(this.t("pki", "certs"), request);
  }

  /** `GET /v1/pki/certs/{id}` */
  get(id: string): Promise<T.Certificate> {
    return this.getJson(this.t("pki", "certs", id));
  }

  /** `GET /v1/pki/certs` */
  list(options: CertListOptions = {}): Paginator<T.Certificate, T.CertificateList> {
    return this.paged(
      this.t("pki", "certs"),
      { ca_id: options.caId, status: options.status, expiring_within: options.expiringWithin },
      options,
      (p: T.CertificateList) => p.certificates,
    );
  }

  /** `POST /v1/pki/certs/{id}/renew`: a new certificate for the same names. */
  renew(id: string, request: T.CertRenewRequest = {}): Promise<T.IssuedCertificate> {
    return this.postJson(this.t("pki", "certs", id, "renew"), request);
  }

  /** `POST /v1/pki/certs/{id}/revoke` */
  revoke(id: string, request: T.RevokeRequest = {} as T.RevokeRequest): Promise<T.Certificate> {
    return this.postJson(this.t("pki", "certs", id, "revoke"), request);
  }
}

export class Csrs extends Base {
  /** `POST /v1/pki/csrs`: a PEM CSR, whose key never reaches the server. */
  submit(request: T.SubmitCsrRequest): Promise<T.Csr> {
    return this.postJson(this.t("pki", "csrs"), request);
  }

  /** `GET /v1/pki/csrs/{id}` */
  get(id: string): Promise<T.Csr> {
    return this.getJson(this.t("pki", "csrs", id));
  }

  /** `GET /v1/pki/csrs` */
  list(options: ListOptions & { status?: string | undefined } = {}): Paginator<T.Csr, T.CsrList> {
    return this.paged(this.t("pki", "csrs"), { status: options.status }, options, (p: T.CsrList) => p.csrs);
  }

  /** `POST /v1/pki/csrs/{id}/approve` */
  approve(id: string): Promise<T.Csr> {
    return this.req({ method: "POST", segments: this.t("pki", "csrs", id, "approve") });
  }

  /** `POST /v1/pki/csrs/{id}/reject` */
  reject(id: string, request: T.RejectCsrRequest = {} as T.RejectCsrRequest): Promise<T.Csr> {
    return this.postJson(this.t("pki", "csrs", id, "reject"), request);
  }

  /** `POST /v1/pki/csrs/{id}/sign`: an approved CSR becomes a certificate. */
  sign(id: string, request: T.SignCsrRequest): Promise<T.SignedCertificate> {
    return this.postJson(this.t("pki", "csrs", id, "sign"), request);
  }
}

export class Pki extends Base {
  readonly cas: Cas;
  readonly certs: Certs;
  readonly csrs: Csrs;

  constructor(transport: Transport, tenantId: string | undefined) {
    super(transport, tenantId);
    this.cas = new Cas(transport, tenantId);
    this.certs = new Certs(transport, tenantId);
    this.csrs = new Csrs(transport, tenantId);
  }

  /** `GET /v1/pki/crl/{caId}`: the CA's CRL, DER bytes (default) or PEM text. No token needed. */
  crl(caId: string, options?: { format?: "der" }): Promise<Uint8Array>;
  crl(caId: string, options: { format: "pem" }): Promise<string>;
  crl(caId: string, options: { format?: PemOrDer } = {}): Promise<string | Uint8Array> {
    const format = options.format ?? "der";
    return this.req({
      method: "GET",
      segments: this.v1("pki", "crl", caId),
      query: { format },
      responseType: format === "pem" ? "text" : "bytes",
    });
  }
}

// --- dynamic credentials -------------------------------------------------------------------

export class Engines extends Base {
  /** `POST /v1/dynamic/engines` */
  create(request: T.CreateEngineRequest): Promise<T.Engine> {
    return this.postJson(this.t("dynamic", "engines"), request);
  }

  /** `GET /v1/dynamic/engines/{engine}` */
  get(engine: string): Promise<T.Engine> {
    return this.getJson(this.t("dynamic", "engines", engine));
  }

  /** `GET /v1/dynamic/engines` */
  list(options: ListOptions = {}): Paginator<T.Engine, T.EngineList> {
    return this.paged(this.t("dynamic", "engines"), {}, options, (p: T.EngineList) => p.engines);
  }

  /** `PATCH /v1/dynamic/engines/{engine}` */
  update(engine: string, request: T.UpdateEngineRequest): Promise<T.Engine> {
    return this.req({ method: "PATCH", segments: this.t("dynamic", "engines", engine), body: request });
  }

  /** `DELETE /v1/dynamic/engines/{engine}`; `force` revokes its live leases first. */
  delete(engine: string, options: { force?: boolean | undefined } = {}): Promise<void> {
    return this.remove(this.t("dynamic", "engines", engine), { force: flag(options.force) });
  }

  /** `POST /v1/dynamic/engines/{engine}/rotate-root`: a new root credential only ScaiVault knows. */
  rotateRoot(engine: string): Promise<T.Engine> {
    return this.req({ method: "POST", segments: this.t("dynamic", "engines", engine, "rotate-root") });
  }

  /** `GET /v1/dynamic/engines/{engine}/ca`: an SSH engine's CA public key (OpenSSH text). */
  ca(engine: string): Promise<string> {
    return this.req({ method: "GET", segments: this.t("dynamic", "engines", engine, "ca"), responseType: "text" });
  }
}

export class Roles extends Base {
  /** `POST /v1/dynamic/engines/{engine}/roles` */
  create(engine: string, request: T.CreateRoleRequest): Promise<T.Role> {
    return this.postJson(this.t("dynamic", "engines", engine, "roles"), request);
  }

  /** `GET /v1/dynamic/engines/{engine}/roles/{role}` */
  get(engine: string, role: string): Promise<T.Role> {
    return this.getJson(this.t("dynamic", "engines", engine, "roles", role));
  }

  /** `GET /v1/dynamic/engines/{engine}/roles` */
  list(engine: string, options: ListOptions = {}): Paginator<T.Role, T.RoleList> {
    return this.paged(this.t("dynamic", "engines", engine, "roles"), {}, options, (p: T.RoleList) => p.roles);
  }

  /** `PATCH /v1/dynamic/engines/{engine}/roles/{role}` */
  update(engine: string, role: string, request: T.UpdateRoleRequest): Promise<T.Role> {
    return this.req({
      method: "PATCH",
      segments: this.t("dynamic", "engines", engine, "roles", role),
      body: request,
    });
  }

  /** `DELETE /v1/dynamic/engines/{engine}/roles/{role}` */
  delete(engine: string, role: string): Promise<void> {
    return this.remove(this.t("dynamic", "engines", engine, "roles", role));
  }
}

export interface LeaseListOptions extends ListOptions {
  engine?: string | undefined;
  role?: string | undefined;
  identity?: string | undefined;
  /** Only live leases. */
  live?: boolean | undefined;
}

export class Leases extends Base {
  /** `GET /v1/dynamic/leases` */
  list(options: LeaseListOptions = {}): Paginator<T.Lease, T.LeaseList> {
    return this.paged(
      this.t("dynamic", "leases"),
      {
        engine: options.engine,
        role: options.role,
        identity: options.identity,
        status: options.live ? "live" : undefined,
      },
      options,
      (p: T.LeaseList) => p.leases,
    );
  }

  /** `GET /v1/dynamic/leases/{id}` */
  get(id: string): Promise<T.Lease> {
    return this.getJson(this.t("dynamic", "leases", id));
  }

  /** `POST /v1/dynamic/leases/{id}/renew`: extends it by `ttl` (default the role's). */
  renew(id: string, options: { ttl?: string | undefined } = {}): Promise<T.Lease> {
    return this.postJson(this.t("dynamic", "leases", id, "renew"), options.ttl === undefined ? {} : { ttl: options.ttl });
  }

  /** `POST /v1/dynamic/leases/{id}/revoke`: tears the credential down now. */
  revoke(id: string): Promise<T.Lease> {
    return this.req({ method: "POST", segments: this.t("dynamic", "leases", id, "revoke") });
  }

  /** `POST /v1/dynamic/leases/revoke-prefix`: every live lease of an engine, or of one role. */
  revokePrefix(request: T.RevokePrefixRequest): Promise<T.RevokePrefixResult> {
    return this.postJson(this.t("dynamic", "leases", "revoke-prefix"), request);
  }
}

export class Dynamic extends Base {
  readonly engines: Engines;
  readonly roles: Roles;
  readonly leases: Leases;

  constructor(transport: Transport, tenantId: string | undefined) {
    super(transport, tenantId);
    this.engines = new Engines(transport, tenantId);
    this.roles = new Roles(transport, tenantId);
    this.leases = new Leases(transport, tenantId);
  }

  /** `POST /v1/dynamic/engines/{engine}/creds/{role}`: a new credential on a lease. */
  creds(engine: string, role: string, request: T.CredsRequest = {} as T.CredsRequest): Promise<T.LeaseCreated> {
    return this.postJson(this.t("dynamic", "engines", engine, "creds", role), request);
  }
}

// --- system --------------------------------------------------------------------------------

export class Sys extends Base {
  /** `GET /v1/health`: liveness, no token needed. */
  health(): Promise<T.HealthResponse> {
    return this.getJson(this.v1("health"));
  }

  /** `GET /v1/sys/seal-status`: whether the root key provider is reachable. */
  sealStatus(): Promise<T.SealStatus> {
    return this.getJson(this.v1("sys", "seal-status"));
  }

  /** `POST /v1/sys/unseal`: retries the root key provider now (a 503 answer is returned, not thrown). */
  unseal(): Promise<T.SealStatus> {
    return this.req({ method: "POST", segments: this.v1("sys", "unseal"), accept: [503], timeout: 40_000 });
  }

  /** `GET /v1/sys/keys`: the keyring (platform admins). */
  keys(): Promise<T.KeyringStatus> {
    return this.getJson(this.v1("sys", "keys"));
  }

  /** `POST /v1/sys/keys/rotate`: a new data key; old versions are rewrapped in the background. */
  rotateKeys(): Promise<T.KeyringStatus> {
    return this.req({ method: "POST", segments: this.v1("sys", "keys", "rotate") });
  }
}

// --- the client ----------------------------------------------------------------------------

/**
 * A connection to one ScaiVault server. Every method is async; lists are async iterators.
 *
 * ```js
 * import { Client } from "scaivault";
 * const client = new Client(); // SCAIVAULT_URL, SCAIVAULT_TOKEN from the environment
 * const secret = await client.secrets.read("app/db/credentials");
 * ```
 */
export class Client {
  /** The server's base URL, without a trailing slash. */
  readonly url: string;
  readonly tenantId: string | undefined;
  readonly partnerId: string | undefined;
  readonly timeout: number;
  readonly maxRetries: number;
  readonly #hasToken: boolean;

  readonly secrets: Secrets;
  /**
   * The partner-scoped secrets (`/v1/partner/secrets/...`): shared by every tenant of the
   * partner, readable by all of them, written only by partner admins. Same methods as `secrets`.
   */
  readonly partnerSecrets: Secrets;
  readonly auth: Auth;
  readonly policies: Policies;
  readonly rotation: Rotation;
  readonly secretPolicies: SecretPolicies;
  readonly audit: Audit;
  readonly subscriptions: Subscriptions;
  readonly serviceAccounts: ServiceAccounts;
  readonly identity: Identity;
  readonly pki: Pki;
  readonly dynamic: Dynamic;
  readonly sys: Sys;
  /** `client.webhooks.verify(payload, headers, secret)`: see {@link verify}. */
  readonly webhooks = { verify } as const;

  constructor(options: ClientOptions = {}) {
    const env = environment();
    this.url = normaliseUrl(options.url ?? nonEmpty(env["SCAIVAULT_URL"]) ?? DEFAULT_URL);
    const token = options.token ?? nonEmpty(env["SCAIVAULT_TOKEN"]);
    this.tenantId = options.tenantId ?? nonEmpty(env["SCAIVAULT_TENANT_ID"]);
    this.partnerId = options.partnerId ?? nonEmpty(env["SCAIVAULT_PARTNER_ID"]);
    this.timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
    this.maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    if (!(this.timeout > 0)) throw new RangeError("timeout must be a positive number of milliseconds");
    if (!(Number.isInteger(this.maxRetries) && this.maxRetries >= 0)) {
      throw new RangeError("maxRetries must be a non-negative integer");
    }
    const fetchImpl = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (typeof fetchImpl !== "function") {
      throw new TypeError("no fetch available: pass one as the `fetch` option");
    }
    this.#hasToken = token !== undefined;
    // The token lives only in the transport's private state: not on any enumerable property.
    const transport = new Transport({
      baseUrl: this.url,
      token,
      partnerId: this.partnerId,
      timeout: this.timeout,
      maxRetries: this.maxRetries,
      // Called unbound: some runtimes refuse `fetch` called on another object.
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      logger: options.logger,
    });
    const tenant = this.tenantId;
    this.secrets = new Secrets(transport, tenant);
    this.partnerSecrets = new Secrets(transport, tenant, true);
    this.auth = new Auth(transport, tenant);
    this.policies = new Policies(transport, tenant);
    this.rotation = new Rotation(transport, tenant);
    this.secretPolicies = new SecretPolicies(transport, tenant);
    this.audit = new Audit(transport, tenant);
    this.subscriptions = new Subscriptions(transport, tenant);
    this.serviceAccounts = new ServiceAccounts(transport, tenant);
    this.identity = new Identity(transport, tenant);
    this.pki = new Pki(transport, tenant);
    this.dynamic = new Dynamic(transport, tenant);
    this.sys = new Sys(transport, tenant);
  }

  /** Whether a token is set (its value is never shown). */
  get hasToken(): boolean {
    return this.#hasToken;
  }

  toString(): string {
    const parts = [`url=${this.url}`, `token=${this.#hasToken ? "***" : "none"}`];
    if (this.tenantId) parts.push(`tenantId=${this.tenantId}`);
    if (this.partnerId) parts.push(`partnerId=${this.partnerId}`);
    return `Client(${parts.join(", ")})`;
  }

  toJSON(): Record<string, unknown> {
    return {
      url: this.url,
      token: this.#hasToken ? "***" : undefined,
      tenantId: this.tenantId,
      partnerId: this.partnerId,
      timeout: this.timeout,
      maxRetries: this.maxRetries,
    };
  }

  [INSPECT](): string {
    return this.toString();
  }
}
