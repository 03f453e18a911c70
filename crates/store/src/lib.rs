//! ScaiVault's storage boundary.
//!
//! One trait per resource ([`SecretStore`], [`TokenStore`], [`IdentityStore`], [`PolicyStore`],
//! [`RotationStore`], [`EventStore`], [`AuditStore`], [`SystemStore`], [`PkiStore`],
//! [`DynamicStore`], [`AcmeStore`]); [`Store`] is all of
//! them. They speak domain records and ciphertext, never SQL or driver types, and every
//! tenant-owned operation takes the tenant first so a cross-tenant query cannot be written by
//! accident. The SQL text both backends run is in `sql/<resource>.rs`; each backend binds it in
//! `sqlite/<resource>.rs` and `postgres/<resource>.rs`. The embedded SQLite implementation is
//! [`sqlite::SqliteStore`], the PostgreSQL one [`postgres::PgStore`] (several nodes on one
//! database); both pass the same conformance suite (`tests/common`).
//!
//! Plaintext never reaches this crate: values arrive sealed, through a callback that receives
//! the version number assigned inside the write transaction (the version is part of the AAD).

pub mod acme;
pub mod archive;
pub mod audit;
pub mod cache;
pub mod copy;
pub mod dynamic;
pub mod events;
pub mod gauges;
pub mod model;
pub mod pki;
pub mod postgres;
pub mod rotation;
mod shared_impls;
mod sql;
pub mod sqlite;
mod traits;
pub mod usage;

pub use acme::{
    AcmeAccountRecord, AcmeOrderRecord, AcmeStore, DnsProviderRecord, Http01Token, OrderUpdate,
};
pub use audit::{
    AuditAnchor, AuditCheckpoint, AuditEntry, AuditEvent, AuditQuery, AuditSummary, ChainBreak,
    ChainMac, ChainReport, ChainVerifier,
};
pub use cache::CachedStore;
pub use dynamic::{
    DynamicStore, EngineRecord, LeaseCaps, LeaseQuery, LeaseRecord, LeaseSelector, RoleRecord,
};
pub use events::{DeadLetter, DeliveryState, EventRecord, NewEvent, SubscriptionRecord};
pub use model::*;
pub use pki::{CaRecord, CertQuery, CertRecord, CertStatusFilter, CrlRecord, CsrRecord, PkiStore};
pub use postgres::{PgOptions, PgStore};
pub use rotation::{
    RotationPolicyRecord, RotationStep, RunQuery, RunRecord, RunStatus, RunTrigger, ScheduleChange,
    ScheduleQuery, ScheduleRecord, ScheduleState, SecretPolicyRecord,
};
pub use sqlite::SqliteStore;
pub use traits::{
    AuditStore, EventStore, IdentityStore, PolicyStore, RotationStore, SecretStore, Store,
    SystemStore, TokenStore,
};

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
    /// A dynamic-credentials engine.
    DynamicEngine,
    /// A role of a dynamic engine.
    DynamicRole,
    /// A dynamic-credentials lease.
    Lease,
    /// A data key of the keyring (by key id).
    DataKey,
    /// An account at an ACME CA.
    AcmeAccount,
    /// A DNS provider for ACME dns-01 challenges.
    DnsProvider,
    /// An ACME certificate order.
    AcmeOrder,
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
            Self::DynamicEngine => "dynamic engine",
            Self::DynamicRole => "role",
            Self::Lease => "lease",
            Self::DataKey => "data key",
            Self::AcmeAccount => "ACME account",
            Self::DnsProvider => "DNS provider",
            Self::AcmeOrder => "ACME order",
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
    /// The record's state refuses the change (e.g. deleting a DNS provider an unfinished ACME
    /// order uses, or updating an order whose claim another node holds); nothing was written.
    /// The text says why. At fault: the caller, or a concurrent writer.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A cap on live records is reached (e.g. a role's or a tenant's live leases); nothing was
    /// written. The text names which cap. At fault: the caller (or its runaway client).
    #[error("limit reached: {0}")]
    LimitReached(&'static str),
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
    /// The audit archive cannot be written or read. At fault: the environment (disk).
    #[error("audit archive: {0}")]
    Archive(String),
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The `system` row that [`SystemStore::probe_write`] rewrites (not state worth copying).
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

/// Walks one chain page by page and checks every link, checkpoint and the pruning anchor.
pub async fn verify_audit_chain(
    store: &dyn AuditStore,
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
    store: &dyn AuditStore,
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
