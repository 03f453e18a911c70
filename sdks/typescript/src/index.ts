// ScaiVault SDK for JavaScript and TypeScript: docs/sdks/javascript.md.

export { Client, DEFAULT_URL, DEFAULT_TIMEOUT_MS, DEFAULT_MAX_RETRIES, EventStream } from "./client.js";
export type {
  ClientOptions,
  ListOptions,
  ReadOptions,
  WriteOptions,
  PatchOptions,
  ListSecretsOptions,
  DeleteOptions,
  RotateOptions,
  ExpiringOptions,
  HistoryOptions,
  RunsOptions,
  DueOptions,
  AuditQueryOptions,
  PollOptions,
  CertListOptions,
  LeaseListOptions,
  PemOrDer,
  Secrets,
  Auth,
  Tokens,
  Policies,
  Rotation,
  SecretPolicies,
  Audit,
  Subscriptions,
  ServiceAccounts,
  Identity,
  Tenants,
  Partners,
  Pki,
  Cas,
  Certs,
  Csrs,
  Dynamic,
  Engines,
  Roles,
  Leases,
  Sys,
} from "./client.js";
export { Paginator } from "./pagination.js";
export type { PageShape } from "./pagination.js";
export type { LogRecord, FetchLike } from "./http.js";
export {
  ScaiVaultError,
  ValidationError,
  AuthenticationError,
  AccessDeniedError,
  NotFoundError,
  ConflictError,
  VersionConflictError,
  SecretExpiredError,
  RateLimitedError,
  ServiceUnavailableError,
  ServerError,
  TransportError,
  WebhookVerificationError,
} from "./errors.js";
export { verify, webhooks } from "./webhooks.js";
export type { WebhookEvent, WebhookHeaders, VerifyOptions } from "./webhooks.js";
export type * from "./types.js";
export type { components, paths, operations } from "./openapi.js";
