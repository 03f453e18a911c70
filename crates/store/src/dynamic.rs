//! Dynamic credentials' storage (issue 17): engines (a tenant's connection to a database, a cloud
//! account or an SSH CA), their roles, and leases. The store keeps names, JSON settings and
//! sealed blobs; talking to the targets is `scaivault-dynamic`'s and the server's. An engine's
//! root password, cloud key or CA private key arrives sealed by the server, like every secret
//! value, and no lease keeps a credential: only the `handle` revocation needs (a user name, an
//! access key id), never a password or a secret key.
//!
//! A lease is recorded (status `pending`) BEFORE its credential is created, so a crash at any
//! point leaves nothing untracked: the sweeper revokes what a crashed creation may have left.
//!
//! `due_at` drives the sweeper: it is set exactly while the lease still needs work (pending:
//! when an unfinished creation is to be cleaned up; active: its expiry; revoking or
//! revocation_failed: the next attempt) and NULL once revoked. "Live" means `due_at IS NOT
//! NULL`. An index on `due_at` keeps [`DynamicStore::due_leases`] cheap with 100,000 live leases.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::Result;
use crate::audit::AuditEvent;
use crate::model::{Page, SealedBlob};

/// Lease statuses.
/// Recorded; its credential is being created (or the creation crashed and awaits cleanup).
pub const LEASE_PENDING: &str = "pending";
/// Its credential exists and is handed out.
pub const LEASE_ACTIVE: &str = "active";
/// Revocation requested (by a user, a prefix revocation, an engine deletion or expiry) and
/// not attempted yet.
pub const LEASE_REVOKING: &str = "revoking";
/// At least one revocation attempt failed (target down, ...); retried with back-off.
pub const LEASE_REVOCATION_FAILED: &str = "revocation_failed";
/// Torn down. Final.
pub const LEASE_REVOKED: &str = "revoked";

/// A dynamic-credentials engine of a tenant, named by the tenant (`postgres-prod`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineRecord {
    pub tenant_id: String,
    /// Unique per tenant; immutable (it names the engine in URLs, policies and leases).
    pub name: String,
    /// `postgres`, `mysql`, `aws` or `ssh`.
    pub kind: String,
    /// JSON settings without any secret (connection URL with the password removed, region,
    /// endpoint, the SSH CA's public key, ...). Opaque to the store.
    pub config: String,
    /// The engine's secret (root password, secret access key, CA private key), sealed by the
    /// server (its Debug shows only the length).
    pub sealed_secret: SealedBlob,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// When `rotate-root` last replaced the secret.
    pub root_rotated_at: Option<OffsetDateTime>,
}

/// A role of an engine: what a lease's credential may do and how long it lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRecord {
    pub tenant_id: String,
    pub engine: String,
    /// Unique per engine.
    pub name: String,
    /// JSON settings of the engine's kind (statements, policy ARNs, principals). Opaque.
    pub config: String,
    pub default_ttl_secs: u64,
    pub max_ttl_secs: u64,
    /// Cap on this role's live leases; `None`: only the tenant's cap applies.
    pub max_leases: Option<u32>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A lease on a dynamic credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRecord {
    /// `lease_...`, unique across tenants.
    pub id: String,
    pub tenant_id: String,
    pub engine: String,
    pub role: String,
    /// The actor id of the requester (`user:...`, `sa:...`).
    pub identity: String,
    /// One of the `LEASE_*` statuses.
    pub status: String,
    pub renewable: bool,
    /// JSON: what revoking needs (user name, access key id, certificate key id). Never a
    /// password or secret key.
    pub handle: String,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Renewals never go past this (issue time + the role's max TTL).
    pub max_expires_at: OffsetDateTime,
    /// When the sweeper acts next; `None` once revoked.
    pub due_at: Option<OffsetDateTime>,
    /// Failed revocation attempts so far.
    pub attempts: u32,
    /// The last revocation failure, as the target reported it (no secrets).
    pub last_error: Option<String>,
    pub revoked_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
}

/// Caps checked by [`DynamicStore::insert_lease`] against live leases (`due_at IS NOT NULL`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeaseCaps {
    /// The role's cap: refused with `LimitReached("the role's lease cap")`.
    pub role: Option<u32>,
    /// The tenant's cap: refused with `LimitReached("the tenant's lease cap")`.
    pub tenant: Option<u32>,
}

/// Which leases [`DynamicStore::list_leases`] returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseQuery {
    pub engine: Option<String>,
    pub role: Option<String>,
    pub identity: Option<String>,
    /// Only live leases (not revoked) when true.
    pub live_only: bool,
    /// The cursor: the last id of the previous page (exclusive).
    pub after: Option<String>,
    pub limit: u32,
}

/// Which leases [`DynamicStore::request_revocation`] marks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseSelector {
    One(String),
    /// Every live lease of the engine.
    Engine(String),
    /// Every live lease of the engine's role.
    Role {
        engine: String,
        role: String,
    },
}

/// The dynamic-credentials part of the [`crate::Store`]. Every mutation takes the request's
/// audit event and commits it (and the outbox event derived from it) in the same transaction.
#[async_trait]
pub trait DynamicStore: Send + Sync {
    /// `Duplicate` when the tenant already has an engine of this name.
    async fn insert_engine(&self, engine: &EngineRecord, audit: Option<&AuditEvent>) -> Result<()>;
    async fn get_engine(&self, tenant_id: &str, name: &str) -> Result<Option<EngineRecord>>;
    /// Ordered by name; `after` is the cursor (exclusive).
    async fn list_engines(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<EngineRecord>>;
    /// Replaces kind-independent fields: `config`, `sealed_secret`, `updated_at`,
    /// `root_rotated_at`. False when absent.
    async fn update_engine(
        &self,
        engine: &EngineRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;
    /// Deletes the engine and its roles in one transaction (leases stay, as history); false
    /// when absent.
    async fn delete_engine(
        &self,
        tenant_id: &str,
        name: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    /// `Duplicate` when the engine already has a role of this name; `NotFound(DynamicEngine)`
    /// when the engine does not exist.
    async fn insert_role(&self, role: &RoleRecord, audit: Option<&AuditEvent>) -> Result<()>;
    async fn get_role(
        &self,
        tenant_id: &str,
        engine: &str,
        name: &str,
    ) -> Result<Option<RoleRecord>>;
    /// Ordered by name; `after` is the cursor (exclusive).
    async fn list_roles(
        &self,
        tenant_id: &str,
        engine: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<RoleRecord>>;
    /// Replaces `config`, the TTLs, `max_leases` and `updated_at`; false when absent.
    async fn update_role(&self, role: &RoleRecord, audit: Option<&AuditEvent>) -> Result<bool>;
    /// False when absent.
    async fn delete_role(
        &self,
        tenant_id: &str,
        engine: &str,
        name: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    /// Inserts the lease (the caller sets status `pending` and `due_at`) unless a cap is
    /// reached, checked and inserted atomically: `LimitReached` names the cap, nothing is
    /// written. `Duplicate` when the id is taken.
    async fn insert_lease(
        &self,
        lease: &LeaseRecord,
        caps: LeaseCaps,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;
    /// `pending` -> `active` with the final `handle`, `due_at = expires_at`; false when the
    /// lease is not pending (a concurrent revocation won).
    async fn activate_lease(
        &self,
        tenant_id: &str,
        id: &str,
        handle: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;
    async fn get_lease(&self, tenant_id: &str, id: &str) -> Result<Option<LeaseRecord>>;
    /// Ordered by id; `query.after` is the cursor (exclusive).
    async fn list_leases(&self, tenant_id: &str, query: &LeaseQuery) -> Result<Page<LeaseRecord>>;
    /// Only an `active` lease: sets `expires_at` and `due_at` to `expires_at`. False otherwise.
    async fn renew_lease(
        &self,
        tenant_id: &str,
        id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;
    /// Marks every live lease the selector matches (pending, active: -> `revoking`; revoking
    /// and revocation_failed keep their status) due at `now`, in one transaction with `audit`;
    /// returns their ids, ordered. When nothing matches, nothing is written (not even
    /// `audit`) and the list is empty.
    async fn request_revocation(
        &self,
        tenant_id: &str,
        selector: &LeaseSelector,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<Vec<String>>;
    /// Live leases of every tenant with `due_at <= now`, soonest first (then by id), at most
    /// `limit`.
    async fn due_leases(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<LeaseRecord>>;
    /// -> `revoked` (`due_at` NULL, `revoked_at = at`, `last_error` kept), with `audit`; false
    /// when already revoked or absent.
    async fn complete_revocation(
        &self,
        id: &str,
        at: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;
    /// A failed attempt: -> `revocation_failed`, `attempts + 1`, `last_error`, `due_at =
    /// retry_at`; false when already revoked or absent.
    async fn fail_revocation(
        &self,
        id: &str,
        error: &str,
        retry_at: OffsetDateTime,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;
    /// `active` leases of every tenant with `expires_at` in `(from, to]`, soonest first (then
    /// by id): the `lease.expiring` notices.
    async fn leases_expiring_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<LeaseRecord>>;
    /// Live leases of the tenant, optionally of one engine (and role).
    async fn count_live_leases(
        &self,
        tenant_id: &str,
        engine: Option<&str>,
        role: Option<&str>,
    ) -> Result<u64>;
}
