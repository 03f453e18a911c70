//! Secrets and their versions: the hot path.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::audit::*;
use crate::model::*;
use crate::{Result, SealFn};

#[async_trait]
pub trait SecretStore: Send + Sync {
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

    /// Secrets across tenants whose `expires_at` is in `(from, to]` (not deleted), as
    /// (tenant, path, expires_at), soonest first, at most `limit`.
    async fn secrets_expiring_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<(String, String, OffsetDateTime)>>;
}
