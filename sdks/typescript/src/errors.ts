// The error hierarchy of docs/sdks.md, keyed by the API's error codes (docs/api.md#errors).
//
// An error carries the code, the HTTP status, the server's message and request id: never the
// request (its body may hold a secret value) nor the response body beyond the error envelope.

const INSPECT = Symbol.for("nodejs.util.inspect.custom");

export interface ScaiVaultErrorInit {
  code: string;
  status?: number | undefined;
  message: string;
  requestId?: string | undefined;
  /** The request's method and path (no query string, no body), for the operator. */
  method?: string | undefined;
  path?: string | undefined;
  retryAfter?: number | undefined;
  cause?: unknown;
}

/** The base of every error the SDK throws (also any HTTP status without a class of its own). */
export class ScaiVaultError extends Error {
  /** The API's error code (`secret_not_found`, ...), or `http_<status>` / `transport_error`. */
  readonly code: string;
  /** The HTTP status; `undefined` when no HTTP answer came (a {@link TransportError}). */
  readonly status: number | undefined;
  /** The server's `X-Request-Id` of the failed request, to quote to an operator. */
  readonly requestId: string | undefined;
  /** The request's method, e.g. `GET`. */
  readonly method: string | undefined;
  /** The request's URL path, without the query string. */
  readonly path: string | undefined;

  constructor(init: ScaiVaultErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.status = init.status;
    this.requestId = init.requestId;
    this.method = init.method;
    this.path = init.path;
  }

  override toString(): string {
    const where = this.method && this.path ? ` (${this.method} ${this.path})` : "";
    const status = this.status === undefined ? "" : ` ${this.status}`;
    const id = this.requestId ? ` [request ${this.requestId}]` : "";
    return `${this.name}${status} ${this.code}: ${this.message}${where}${id}`;
  }

  /** What `JSON.stringify` shows: the fields above, nothing of the request. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {
      name: this.name,
      code: this.code,
      status: this.status,
      message: this.message,
      requestId: this.requestId,
      method: this.method,
      path: this.path,
    };
    if (this instanceof RateLimitedError || this instanceof ServiceUnavailableError) {
      out["retryAfter"] = this.retryAfter;
    }
    return out;
  }

  /** Node's `util.inspect` (and so `console.log`) shows the same fields and the stack. */
  [INSPECT](): string {
    const stack = (this.stack ?? "").split("\n").slice(1).join("\n");
    return `${this.toString()}${stack ? "\n" + stack : ""}`;
  }
}

/** 400, 413, 422: the request is malformed or names something out of range. */
export class ValidationError extends ScaiVaultError {}
/** 401: no token, or it is unknown, revoked or expired. */
export class AuthenticationError extends ScaiVaultError {}
/** 403: authenticated, but not allowed. */
export class AccessDeniedError extends ScaiVaultError {}
/** 404: no such secret, version, route or object. */
export class NotFoundError extends ScaiVaultError {}
/** 409: the object exists, or is not in the state the operation needs. */
export class ConflictError extends ScaiVaultError {}
/** 409 `version_conflict`: `ifMatch` named a version that is no longer current. */
export class VersionConflictError extends ConflictError {}
/** 410: the secret's `expires_at` has passed. */
export class SecretExpiredError extends ScaiVaultError {}
/** 429: too many requests (or the lease cap is reached). */
export class RateLimitedError extends ScaiVaultError {
  /** Seconds to wait, from `Retry-After`; `undefined` when the server sent none. */
  readonly retryAfter: number | undefined;
  constructor(init: ScaiVaultErrorInit) {
    super(init);
    this.retryAfter = init.retryAfter;
  }
}
/** 503: the server is not ready, sealed, or its store is unavailable. */
export class ServiceUnavailableError extends ScaiVaultError {
  /** Seconds to wait, from `Retry-After`, when sent. */
  readonly retryAfter: number | undefined;
  constructor(init: ScaiVaultErrorInit) {
    super(init);
    this.retryAfter = init.retryAfter;
  }
}
/** 500 and other 5xx: something failed inside the server (or the engine's target). */
export class ServerError extends ScaiVaultError {}
/** No HTTP answer: connection refused or reset, timeout, TLS failure. `status` is undefined. */
export class TransportError extends ScaiVaultError {}
/** A webhook delivery whose signature, timestamp or payload does not verify. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
  }
}

// The name lives on each prototype, so the stack trace's first line (captured while the base
// constructor runs) already names the subclass.
// (Spelt out: a minifier may rename the classes.)
for (const [cls, name] of [
  [ScaiVaultError, "ScaiVaultError"],
  [ValidationError, "ValidationError"],
  [AuthenticationError, "AuthenticationError"],
  [AccessDeniedError, "AccessDeniedError"],
  [NotFoundError, "NotFoundError"],
  [ConflictError, "ConflictError"],
  [VersionConflictError, "VersionConflictError"],
  [SecretExpiredError, "SecretExpiredError"],
  [RateLimitedError, "RateLimitedError"],
  [ServiceUnavailableError, "ServiceUnavailableError"],
  [ServerError, "ServerError"],
  [TransportError, "TransportError"],
  [WebhookVerificationError, "WebhookVerificationError"],
] as const) {
  Object.defineProperty(cls.prototype, "name", { value: name, writable: true, configurable: true });
}

type ErrorClass = new (init: ScaiVaultErrorInit) => ScaiVaultError;

const BY_CODE: Readonly<Record<string, ErrorClass>> = {
  invalid_path: ValidationError,
  validation_error: ValidationError,
  payload_too_large: ValidationError,
  invalid_csr: ValidationError,
  validity_exceeds_ca: ValidationError,
  name_not_permitted: ValidationError,
  authentication_required: AuthenticationError,
  access_denied: AccessDeniedError,
  separation_of_duties: AccessDeniedError,
  secret_not_found: NotFoundError,
  version_not_found: NotFoundError,
  not_found: NotFoundError,
  ca_not_found: NotFoundError,
  certificate_not_found: NotFoundError,
  csr_not_found: NotFoundError,
  engine_not_found: NotFoundError,
  role_not_found: NotFoundError,
  lease_not_found: NotFoundError,
  secret_exists: ConflictError,
  conflict: ConflictError,
  csr_not_approved: ConflictError,
  ca_disabled: ConflictError,
  engine_has_leases: ConflictError,
  lease_not_renewable: ConflictError,
  version_conflict: VersionConflictError,
  secret_expired: SecretExpiredError,
  rate_limited: RateLimitedError,
  lease_limit_reached: RateLimitedError,
  service_unavailable: ServiceUnavailableError,
  storage_unavailable: ServiceUnavailableError,
  sealed: ServiceUnavailableError,
  key_provider_unavailable: ServiceUnavailableError,
  internal_error: ServerError,
  engine_unreachable: ServerError,
  acme_ca_error: ServerError,
};

function classByStatus(status: number): ErrorClass {
  switch (status) {
    case 400:
    case 413:
    case 422:
      return ValidationError;
    case 401:
      return AuthenticationError;
    case 403:
      return AccessDeniedError;
    case 404:
      return NotFoundError;
    case 409:
      return ConflictError;
    case 410:
      return SecretExpiredError;
    case 429:
      return RateLimitedError;
    case 503:
      return ServiceUnavailableError;
    default:
      return status >= 500 ? ServerError : ScaiVaultError;
  }
}

/**
 * The error for an HTTP error answer. A code the SDK does not know maps by its status, so a
 * newer server never breaks an older SDK.
 */
export function errorFromResponse(init: ScaiVaultErrorInit & { status: number }): ScaiVaultError {
  const known = Object.prototype.hasOwnProperty.call(BY_CODE, init.code) ? BY_CODE[init.code] : undefined;
  const cls = known ?? classByStatus(init.status);
  return new cls(init);
}
