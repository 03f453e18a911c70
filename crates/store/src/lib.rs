//! ScaiVault's storage boundary.
//!
//! The [`Store`] trait is narrow on purpose: it speaks domain records and ciphertext, never SQL
//! or driver types, and every tenant-owned operation takes the tenant first so a cross-tenant
//! query cannot be written by accident. The embedded SQLite implementation is
//! [`sqlite::SqliteStore`], the PostgreSQL one [`postgres::PgStore`] (several nodes on one
//! database); both pass the same conformance suite (`tests/common`).
//!
//! Plaintext never reaches this crate: values arrive sealed, through a callback that receives
//! the version number assigned inside the write transaction (the version is part of the AAD).

pub mod archive;
pub mod audit;
pub mod cache;
pub mod copy;
pub mod events;
pub mod model;
pub mod pki;
pub mod postgres;
pub mod rotation;
mod sql;
pub mod sqlite;
pub mod usage;

pub use audit::{
    AuditAnchor, AuditCheckpoint, AuditEntry, AuditEvent, AuditQuery, AuditSummary, ChainBreak,
    ChainMac, ChainReport, ChainVerifier,
};
pub use cache::CachedStore;
pub use events::{DeadLetter, DeliveryState, EventRecord, NewEvent, SubscriptionRecord};
pub use model::*;
pub use pki::{CaRecord, CertQuery, CertRecord, CertStatusFilter, CrlRecord, CsrRecord, PkiStore};
pub use postgres::{PgOptions, PgStore};
pub use rotation::{
    RotationPolicyRecord, RotationStep, RunQuery, RunRecord, RunStatus, RunTrigger, ScheduleChange,
    ScheduleQuery, ScheduleRecord, ScheduleState, SecretPolicyRecord,
};
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use time::OffsetDateTime;

/// What a [`StoreError::NotFound`] did not find: the server answers each with its documented
/// error code (`secret_not_found` for a secret, `not_found` for the rest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity {
    Secret,
    Partner,
    Tenant,
    ServiceAccount,
    /// A service account's API key.
    ApiKey,
    Token,
    Policy,
    /// A policy's binding to an identity.
    PolicyBinding,
    SecretPolicy,
    RotationPolicy,
    Subscription,
    CertificateAuthority,
    Certificate,
    /// A certificate signing request.
    CertificateRequest,
}

impl Entity {
    /// The thing's name in messages ("no such API key").
    pub fn name(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Partner => "partner",
            Self::Tenant => "tenant",
            Self::ServiceAccount => "service account",
            Self::ApiKey => "API key",
            Self::Token => "token",
            Self::Policy => "policy",
            Self::PolicyBinding => "binding",
            Self::SecretPolicy => "secret policy",
            Self::RotationPolicy => "rotation policy",
            Self::Subscription => "subscription",
            Self::CertificateAuthority => "certificate authority",
            Self::Certificate => "certificate",
            Self::CertificateRequest => "certificate signing request",
        }
    }
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Errors of the store. Messages never contain secret values (the store never sees any).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing does not exist (a secret: or is soft-deleted, for reads). At fault: the caller.
    #[error("{0} not found")]
    NotFound(Entity),
    /// The path is soft-deleted and inside its retention window. At fault: the caller.
    #[error("secret is soft-deleted; restore it or delete it permanently")]
    SoftDeleted,
    /// The version does not exist, was pruned, deleted or retired. At fault: the caller.
    #[error("version not found")]
    VersionNotFound,
    /// `expected_version` did not match the current version. At fault: a concurrent writer.
    #[error("version conflict: current version is {current}")]
    VersionConflict { current: u64 },
    /// The request cannot be applied to this record (e.g. deleting its only version).
    #[error("{0}")]
    Invalid(&'static str),
    /// A token or other unique value already exists.
    #[error("duplicate")]
    Duplicate,
    /// The seal callback failed; nothing was written. At fault: the server's keyring.
    #[error("sealing failed")]
    Seal,
    /// Stored data is not what this version of ScaiVault wrote. At fault: storage.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The database failed. At fault: the environment or the server.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// The database cannot take writes or answer now (disk full, I/O error, connection lost,
    /// statement timeout). Nothing of the operation was committed; retrying later can succeed.
    /// At fault: the environment.
    #[error("storage unavailable: {cause} ({detail})")]
    Unavailable { cause: &'static str, detail: String },
    /// The transaction holding this write failed to commit; the write did not happen.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// The audit trail cannot be written; the request it records must fail (fail closed).
    #[error("audit trail unavailable: {0}")]
    Audit(String),
    /// This store does not implement the operation yet.
    #[error("not supported by this store: {0}")]
    Unsupported(&'static str),
    /// The audit archive cannot be written or read. At fault: the environment (disk).
    #[error("audit archive: {0}")]
    Archive(String),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The `system` row that [`Store::probe_write`] rewrites (not state worth copying).
pub const WRITE_PROBE_KEY: &str = "write_probe";

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match unavailable_cause(&e) {
            Some(cause) => Self::Unavailable {
                cause,
                detail: e.to_string(),
            },
            None => Self::Database(e),
        }
    }
}

impl StoreError {
    /// Whether the failure is the environment's (disk, I/O, connection, timeout), so the
    /// store is unwritable for now rather than the request being wrong.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// Names the environmental cause of a database error, or `None` for errors that retrying
/// would not cure (constraints, syntax, decoding).
fn unavailable_cause(e: &sqlx::Error) -> Option<&'static str> {
    match e {
        sqlx::Error::Io(_) => Some("I/O error"),
        sqlx::Error::PoolTimedOut => Some("no database connection available in time"),
        sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => Some("database connection lost"),
        sqlx::Error::Database(db) => {
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Primary result codes (the low byte of the extended code).
                let code = db
                    .code()
                    .and_then(|c| c.parse::<i32>().ok())
                    .map(|c| c & 0xff);
                return match code {
                    Some(13) => Some("the disk is full"),         // SQLITE_FULL
                    Some(10) => Some("disk I/O error"),           // SQLITE_IOERR
                    Some(5) => Some("the database is busy"),      // SQLITE_BUSY
                    Some(8) => Some("the database is read-only"), // SQLITE_READONLY
                    Some(14) => Some("the database file cannot be opened"), // SQLITE_CANTOPEN
                    _ => None,
                };
            }
            let state = db.code()?;
            match state.as_ref() {
                "53100" => Some("the database server's disk is full"),
                "57014" => Some("statement timeout"),
                s if s.starts_with("08") => Some("database connection lost"),
                s if s.starts_with("53") => Some("the database server is out of resources"),
                s if s.starts_with("57P") => Some("the database server is shutting down"),
                s if s.starts_with("58") => Some("the database server has a system error"),
                _ => None,
            }
        }
        _ => None,
    }
}
/// Seals a value for the version number the store assigned. Called inside the write
/// transaction (once per attempt; an attempt rolled back may be followed by none). Owned, so a
/// write can be handed to the store's group-commit writer.
pub type SealFn = dyn Fn(u64) -> std::result::Result<SealedBlob, ()> + Send + Sync + 'static;

#[async_trait]
pub trait Store: PkiStore + Send + Sync + std::fmt::Debug {
    /// Cheap liveness check of the database.
    async fn ping(&self) -> Result<()>;

    /// A tiny durable write (one system row, committed like any change), for readiness: a
    /// store that answers reads but cannot commit (disk full, read-only, lost primary) is not
    /// ready. `Unavailable` names the cause.
    async fn probe_write(&self, now: OffsetDateTime) -> Result<()>;

    // --- system values and the keyring --------------------------------------------------

    async fn get_system(&self, key: &str) -> Result<Option<String>>;
    async fn set_system(&self, key: &str, value: &str) -> Result<()>;
    async fn list_data_keys(&self) -> Result<Vec<StoredKey>>;
    async fn insert_data_key(&self, key: &StoredKey) -> Result<()>;

    // --- secrets -----------------------------------------------------------------------

    /// Creates a secret or adds a version, assigning the next version number transactionally.
    async fn write_secret(
        &self,
        tenant_id: &str,
        write: SecretWrite,
        seal: Box<SealFn>,
    ) -> Result<WriteOutcome>;

    /// The secret's record and one version (`None`: the current one) with its ciphertext.
    /// Soft-deleted secrets are `NotFound`; retired versions (at `now`) are `VersionNotFound`.
    async fn read_secret(
        &self,
        tenant_id: &str,
        path: &str,
        version: Option<u64>,
        now: OffsetDateTime,
    ) -> Result<(SecretRecord, VersionRecord)>;

    /// The secret's record (with `version_count`), soft-deleted ones included.
    async fn get_secret(&self, tenant_id: &str, path: &str) -> Result<SecretRecord>;

    /// Updates metadata/options without a new version. `NotFound` when absent or soft-deleted.
    async fn patch_secret(
        &self,
        tenant_id: &str,
        path: &str,
        patch: &SecretPatch,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<SecretRecord>;

    async fn list_secrets(&self, tenant_id: &str, query: &ListQuery) -> Result<Page<SecretRecord>>;

    /// Secrets with `now < expires_at <= before`, soonest first.
    async fn list_expiring(
        &self,
        tenant_id: &str,
        query: &ExpiringQuery,
    ) -> Result<Page<SecretRecord>>;

    /// Live versions, newest first, without ciphertext.
    async fn list_versions(
        &self,
        tenant_id: &str,
        path: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<VersionRecord>>;

    async fn soft_delete(
        &self,
        tenant_id: &str,
        path: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;
    async fn restore(
        &self,
        tenant_id: &str,
        path: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<SecretRecord>;
    /// Removes the secret, all its versions and counters. Works on soft-deleted secrets too.
    async fn hard_delete(
        &self,
        tenant_id: &str,
        path: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;
    /// Destroys one version. The current version falls back to the newest remaining one; the
    /// only remaining version cannot be deleted this way.
    async fn delete_version(
        &self,
        tenant_id: &str,
        path: &str,
        version: u64,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;

    /// Adds read counts (batched by the server).
    async fn record_access(&self, hits: &[AccessHit]) -> Result<()>;
    /// (reads since `since`, last read) for one secret.
    async fn access_stats(
        &self,
        tenant_id: &str,
        path: &str,
        since: OffsetDateTime,
    ) -> Result<(u64, Option<OffsetDateTime>)>;

    /// Housekeeping across tenants: purges soft-deleted secrets deleted before `deleted_before`
    /// and versions retired at or before `now`. Returns (secrets purged, versions purged).
    async fn sweep(
        &self,
        deleted_before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(u64, u64)>;

    // --- tokens --------------------------------------------------------------------------

    async fn insert_token(&self, token: &TokenRecord, audit: Option<&AuditEvent>) -> Result<()>;
    /// Replaces the token with the same id (used for the dev root token on each start).
    async fn replace_token(&self, token: &TokenRecord) -> Result<()>;
    async fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>>;
    async fn list_tokens(
        &self,
        tenant_id: &str,
        identity_id: &str,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Page<TokenRecord>>;
    /// The token with this id, live or not.
    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>>;
    /// Marks the token revoked, and in the same transaction every token minted from it (when
    /// it is an API key); false when no such token of this identity exists.
    async fn revoke_token(
        &self,
        tenant_id: &str,
        identity_id: &str,
        token_id: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    // --- partners, tenants, service accounts, groups --------------------------------------

    async fn insert_partner(
        &self,
        partner: &PartnerRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;
    async fn get_partner(&self, id: &str) -> Result<Option<PartnerRecord>>;
    async fn list_partners(&self, after: Option<&str>, limit: u32) -> Result<Page<PartnerRecord>>;
    /// `Duplicate` when the id is taken, or the slug within the tenant's partner.
    async fn insert_tenant(&self, tenant: &TenantRecord, audit: Option<&AuditEvent>) -> Result<()>;
    async fn get_tenant(&self, id: &str) -> Result<Option<TenantRecord>>;
    /// Registration: a new partner (when one is registered), its tenant and the first admin's
    /// token, with their audit entries, in one transaction: all of it or nothing. `Duplicate`
    /// when the partner id, the tenant id or slug, or the token is taken.
    async fn register_tenant(
        &self,
        partner: Option<&PartnerRecord>,
        tenant: &TenantRecord,
        admin_token: &TokenRecord,
        audit: &[AuditEvent],
    ) -> Result<()>;
    async fn list_tenants(
        &self,
        partner_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<TenantRecord>>;
    async fn insert_service_account(
        &self,
        account: &ServiceAccountRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;
    async fn get_service_account(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<ServiceAccountRecord>>;
    async fn list_service_accounts(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<ServiceAccountRecord>>;
    /// Deletes the account and revokes all its keys; false when there is no such account.
    async fn delete_service_account(
        &self,
        tenant_id: &str,
        id: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;
    /// Replaces an identity's synced group membership.
    async fn set_identity_groups(
        &self,
        tenant_id: &str,
        identity_id: &str,
        groups: &[String],
        audit: Option<&AuditEvent>,
    ) -> Result<()>;
    async fn identity_groups(&self, tenant_id: &str, identity_id: &str) -> Result<Vec<String>>;

    // --- path policies -------------------------------------------------------------------

    /// `Duplicate` when the tenant already has a policy with this name.
    async fn insert_policy(&self, policy: &PolicyRecord, audit: Option<&AuditEvent>) -> Result<()>;
    /// Replaces name, description and rules; false when absent.
    async fn update_policy(
        &self,
        policy: &PolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;
    async fn get_policy(&self, tenant_id: &str, id: &str) -> Result<Option<PolicyRecord>>;
    async fn list_policies(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<PolicyRecord>>;
    /// Deletes the policy and its bindings; false when absent.
    async fn delete_policy(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;
    /// `Duplicate` when already bound.
    async fn bind_policy(
        &self,
        tenant_id: &str,
        binding: &PolicyBinding,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;
    async fn unbind_policy(
        &self,
        tenant_id: &str,
        policy_id: &str,
        identity_id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;
    async fn policy_bindings(&self, tenant_id: &str, policy_id: &str)
    -> Result<Vec<PolicyBinding>>;
    /// Every policy bound to any of `identities` (an identity id and its group ids).
    async fn policies_bound_to(
        &self,
        tenant_id: &str,
        identities: &[String],
    ) -> Result<Vec<PolicyRecord>>;

    // --- rotation --------------------------------------------------------------------------
    //
    // Secret policies and rotation policies are per tenant; names are unique per tenant
    // (`Duplicate` on a taken id or name).

    async fn insert_secret_policy(
        &self,
        policy: &SecretPolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;
    /// Replaces name, description, secret_type and fields; false when there is no such policy.
    async fn update_secret_policy(
        &self,
        policy: &SecretPolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;
    async fn get_secret_policy(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<SecretPolicyRecord>>;
    /// Ordered by id; `after` is the cursor (exclusive).
    async fn list_secret_policies(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<SecretPolicyRecord>>;
    async fn delete_secret_policy(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    async fn insert_rotation_policy(
        &self,
        policy: &RotationPolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;
    /// Replaces everything but id, tenant and created_at; false when there is no such policy.
    async fn update_rotation_policy(
        &self,
        policy: &RotationPolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;
    async fn get_rotation_policy(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<RotationPolicyRecord>>;
    /// Ordered by id; `after` is the cursor (exclusive).
    async fn list_rotation_policies(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<RotationPolicyRecord>>;
    /// Deletes the policy, the schedules that use it, and detaches it from its secrets
    /// (`rotation_policy_id` cleared), in one transaction. False when there is no such policy.
    async fn delete_rotation_policy(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    /// Attaches (`Some`) or detaches (`None`) a rotation policy to the live secret at `path`
    /// and applies `schedule`, in one transaction. False when there is no live secret there.
    async fn set_secret_rotation_policy(
        &self,
        tenant_id: &str,
        path: &str,
        policy_id: Option<&str>,
        schedule: &ScheduleChange,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;
    async fn get_rotation_schedule(
        &self,
        tenant_id: &str,
        path: &str,
    ) -> Result<Option<ScheduleRecord>>;
    async fn list_rotation_schedules(
        &self,
        tenant_id: &str,
        query: &ScheduleQuery,
    ) -> Result<Page<ScheduleRecord>>;
    /// Schedules of every tenant with `next_rotation_at <= now`, not awaiting a value, soonest
    /// first.
    async fn due_rotations(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<ScheduleRecord>>;
    /// Schedules of every tenant with `next_warning_at <= now`, soonest first.
    async fn due_rotation_warnings(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ScheduleRecord>>;
    /// Live secrets whose `rotation_policy_id` has no schedule, or a schedule of another
    /// policy, as (tenant, path, rotation_policy_id): what a crash between a write and its
    /// schedule left behind.
    async fn unscheduled_rotations(&self, limit: u32) -> Result<Vec<(String, String, String)>>;
    /// Commits one step of rotation bookkeeping in one transaction (see [`RotationStep`]);
    /// returns the run's `seq` (0 without a run).
    async fn commit_rotation_step(&self, step: &RotationStep) -> Result<u64>;
    async fn get_rotation_run(&self, tenant_id: &str, id: &str) -> Result<Option<RunRecord>>;
    /// Newest first.
    async fn list_rotation_runs(
        &self,
        tenant_id: &str,
        query: &RunQuery,
    ) -> Result<Page<RunRecord>>;
    /// Runs of every tenant in `status`, oldest first (recovery of interrupted runs, and the
    /// run an awaited value completes).
    async fn open_rotation_runs(&self, status: RunStatus, limit: u32) -> Result<Vec<RunRecord>>;

    // --- events and subscriptions --------------------------------------------------------
    //
    // Mutations insert their events (see `events::event_for`) in their own transaction. The
    // defaults refuse, so a store that has not implemented events yet fails loudly.

    /// Events of `tenants` with `seq > after_seq`, oldest first.
    async fn events_after(
        &self,
        _tenants: &[String],
        _after_seq: u64,
        _limit: u32,
    ) -> Result<Vec<EventRecord>> {
        Err(StoreError::Unsupported("events"))
    }
    /// The newest event's `seq` (0 when there is none): where a new subscription starts.
    async fn last_event_seq(&self) -> Result<u64> {
        Err(StoreError::Unsupported("events"))
    }
    async fn insert_subscription(
        &self,
        _subscription: &SubscriptionRecord,
        _audit: Option<&AuditEvent>,
    ) -> Result<()> {
        Err(StoreError::Unsupported("subscriptions"))
    }
    async fn get_subscription(
        &self,
        _tenant_id: &str,
        _id: &str,
    ) -> Result<Option<SubscriptionRecord>> {
        Err(StoreError::Unsupported("subscriptions"))
    }
    async fn list_subscriptions(
        &self,
        _tenant_id: &str,
        _after: Option<&str>,
        _limit: u32,
    ) -> Result<Page<SubscriptionRecord>> {
        Err(StoreError::Unsupported("subscriptions"))
    }
    async fn delete_subscription(
        &self,
        _tenant_id: &str,
        _id: &str,
        _audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        Err(StoreError::Unsupported("subscriptions"))
    }
    /// Secrets across tenants whose `expires_at` is in `(from, to]` (not deleted), as
    /// (tenant, path, expires_at), soonest first, at most `limit`.
    async fn secrets_expiring_between(
        &self,
        _from: OffsetDateTime,
        _to: OffsetDateTime,
        _limit: u32,
    ) -> Result<Vec<(String, String, OffsetDateTime)>> {
        Err(StoreError::Unsupported("events"))
    }
    /// Inserts events that no mutation caused (expiry notices); events whose id already exists
    /// are skipped, so emitting the same notice twice (restarts, several nodes) is harmless.
    async fn insert_events(&self, _events: &[NewEvent]) -> Result<u64> {
        Err(StoreError::Unsupported("events"))
    }
    /// Replaces a subscription's sealed webhook secret; false when there is no such one.
    async fn set_webhook_secret(
        &self,
        _tenant_id: &str,
        _id: &str,
        _secret: &SealedBlob,
        _audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        Err(StoreError::Unsupported("subscriptions"))
    }
    /// Every subscription with a webhook, across tenants (for the delivery worker).
    async fn webhook_subscriptions(&self) -> Result<Vec<SubscriptionRecord>> {
        Err(StoreError::Unsupported("subscriptions"))
    }
    /// Records a delivery attempt's outcome (and a dead letter when the event is given up).
    async fn record_delivery(&self, _state: &DeliveryState<'_>) -> Result<()> {
        Err(StoreError::Unsupported("subscriptions"))
    }
    /// Rows and bytes per table, the database's size, and the audit entries since `since`.
    async fn storage_usage(&self, _since: OffsetDateTime) -> Result<usage::StorageUsage> {
        Err(StoreError::Unsupported("storage usage"))
    }
    /// Prunes the outbox: deletes events no subscription still needs (none covers the event's
    /// tenant since before it, or it occurred before `replay_before` and every webhook
    /// subscription covering it has delivered it), and dead letters that failed before
    /// `dead_letters_before`. In batches of short transactions; returns the events deleted.
    async fn prune_events(
        &self,
        _replay_before: OffsetDateTime,
        _dead_letters_before: OffsetDateTime,
    ) -> Result<u64> {
        Err(StoreError::Unsupported("events"))
    }
    async fn dead_letters(&self, _subscription_id: &str) -> Result<Vec<DeadLetter>> {
        Err(StoreError::Unsupported("subscriptions"))
    }

    // --- cluster-wide background jobs ---------------------------------------------------

    /// Takes or renews the lease of background job `job` for node `holder` until `until`;
    /// true when `holder` now holds it (it was free, expired, or already its own). A store only
    /// one node can use always answers true.
    async fn claim_job(
        &self,
        _job: &str,
        _holder: &str,
        _now: OffsetDateTime,
        _until: OffsetDateTime,
    ) -> Result<bool> {
        Ok(true)
    }

    // --- cache invalidation across nodes ----------------------------------------------------

    /// Tells every node sharing this store that cached state changed (`change` is a short
    /// tag such as `policies` or `credential:tok_...`). A no-op on a single-node store.
    async fn publish_change(&self, _change: &str) -> Result<()> {
        Ok(())
    }
    /// The changes published by any node (this one included), for cache invalidation; `None`
    /// when no other node can share the store. After a lost connection the feed sends `all`:
    /// changes may have been missed.
    async fn change_feed(&self) -> Result<Option<tokio::sync::mpsc::Receiver<String>>> {
        Ok(None)
    }

    // --- audit ---------------------------------------------------------------------------
    //
    // Every mutation above takes the audit event of the request that makes it and commits it in
    // the same transaction (`None` only for internal housekeeping and tests). Reads, denials and
    // failed mutations are appended on their own with `append_audit`.

    /// Supplies the MAC of the audit chains (derived from the keyring once it is unwrapped).
    /// Until then every audited mutation and append fails.
    fn set_audit_mac(&self, mac: ChainMac);
    /// Appends events durably (group-committed with concurrent writes) before returning.
    async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<()>;
    /// Entries matching the filters, newest first.
    async fn query_audit(&self, query: &AuditQuery) -> Result<Page<AuditEntry>>;
    /// Counts by action, outcome and actor, and the `top` most used paths (cursor ignored).
    async fn audit_summary(&self, query: &AuditQuery, top: u32) -> Result<AuditSummary>;
    /// Entries with `seq > after_seq` in commit order, across tenants (for the SIEM sink).
    async fn audit_since(&self, after_seq: u64, limit: u32) -> Result<Vec<AuditEntry>>;
    /// Every chain that has entries or an anchor.
    async fn audit_chains(&self) -> Result<Vec<String>>;
    /// One chain's entries with `chain_seq > after`, in chain order (raw, for verification).
    async fn audit_chain_page(
        &self,
        chain: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;
    async fn audit_checkpoints(&self, chain: &str) -> Result<Vec<AuditCheckpoint>>;
    async fn audit_anchor(&self, chain: &str) -> Result<Option<AuditAnchor>>;
    /// Checkpoints every chain head that moved since its last checkpoint; returns how many.
    async fn checkpoint_audit(&self, now: OffsetDateTime) -> Result<u64>;
    /// Deletes entries that occurred before `before`, keeping every chain verifiable.
    async fn prune_audit(&self, before: OffsetDateTime) -> Result<u64>;
    /// Deletes one chain's entries up to and including `through` (already archived), moving
    /// its anchor there; in one short transaction. Returns how many rows went.
    async fn prune_audit_chain(&self, chain: &str, through: u64) -> Result<u64>;
}

/// Walks one chain page by page and checks every link, checkpoint and the pruning anchor.
pub async fn verify_audit_chain(
    store: &dyn Store,
    chain: &str,
    mac: ChainMac,
) -> Result<ChainReport> {
    let anchor = store.audit_anchor(chain).await?;
    let checkpoints = store.audit_checkpoints(chain).await?;
    let verifier = ChainVerifier::new(chain, anchor.as_ref(), mac);
    let after = anchor.as_ref().map_or(0, |a| a.chain_seq);
    verify_rows_after(store, chain, verifier, after, &checkpoints).await
}

/// Pushes the chain's stored rows after position `after` into `verifier`, page by page, and
/// ends the report against `checkpoints` (those the walk can reach).
pub(crate) async fn verify_rows_after(
    store: &dyn Store,
    chain: &str,
    mut verifier: ChainVerifier,
    mut after: u64,
    checkpoints: &[AuditCheckpoint],
) -> Result<ChainReport> {
    const PAGE: u32 = 1_000;
    let wanted: std::collections::HashSet<u64> = checkpoints.iter().map(|c| c.chain_seq).collect();
    let mut seen = std::collections::HashMap::new();
    'pages: loop {
        let page = store.audit_chain_page(chain, after, PAGE).await?;
        for entry in &page {
            if wanted.contains(&entry.chain_seq) {
                seen.insert(entry.chain_seq, entry.hash);
            }
            if !verifier.push(entry) {
                break 'pages;
            }
            after = entry.chain_seq;
        }
        if page.len() < PAGE as usize {
            break;
        }
    }
    Ok(verifier.finish(chain, checkpoints, |seq| seen.get(&seq).copied()))
}
