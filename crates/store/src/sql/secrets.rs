//! Secrets, their versions and read counters: the statements both stores run and the rows they
//! read. Where the dialects differ (row locks, claiming a new path, prefix and tag filters,
//! batched counters, the sweep), the backends' `secrets` modules have their own statements.

use super::{TextList, from_micros, opt_from_micros, to_u64};
use crate::model::{SealedBlob, SecretRecord, VersionRecord};
use crate::{Entity, Result, StoreError};

/// The columns of `secrets` that make a [`SecretRow`].
macro_rules! columns {
    () => {
        "path, secret_type, current_version, latest_version, max_versions, description, tags, \
         owner, expires_at, rotation_policy_id, secret_policy_id, created_at, updated_at, \
         deleted_at"
    };
}
pub(crate) use columns;

/// [`columns!`] qualified with the alias `s`, for joins (kept in the same order).
macro_rules! columns_of_s {
    () => {
        "s.path, s.secret_type, s.current_version, s.latest_version, s.max_versions, \
         s.description, s.tags, s.owner, s.expires_at, s.rotation_policy_id, \
         s.secret_policy_id, s.created_at, s.updated_at, s.deleted_at"
    };
}
pub(crate) use columns_of_s;

/// The secret's row (SQLite reads it as is; PostgreSQL appends `FOR UPDATE` to lock it).
pub(crate) const FETCH: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM secrets WHERE tenant_id = $1 AND path = $2"
);

/// Applies a patch's set fields to an existing secret, and for a write also the new current
/// version (`$11`) and `updated_at` (`$12`); returns the updated row (`RETURNING` spares a
/// second statement).
pub(crate) const UPDATE: &str = concat!(
    "UPDATE secrets SET
        secret_type = COALESCE($3, secret_type),
        description = COALESCE($4, description),
        tags = COALESCE($5, tags),
        owner = COALESCE($6, owner),
        max_versions = COALESCE($7, max_versions),
        expires_at = COALESCE($8, expires_at),
        rotation_policy_id = COALESCE($9, rotation_policy_id),
        secret_policy_id = COALESCE($10, secret_policy_id),
        current_version = COALESCE($11, current_version),
        latest_version = COALESCE($11, latest_version),
        updated_at = COALESCE($12, updated_at)
     WHERE tenant_id = $1 AND path = $2
     RETURNING ",
    columns!()
);

/// Drops versions beyond the secret's cap (oldest first) and versions already retired.
/// Versions inside a rotation grace period are kept even beyond the cap until they retire.
pub(crate) const PRUNE_VERSIONS: &str = "DELETE FROM secret_versions
     WHERE tenant_id = $1 AND path = $2
       AND (retires_at IS NULL OR retires_at <= $3)
       AND (retires_at <= $3 OR version <= (
            SELECT v.version FROM secret_versions v
            WHERE v.tenant_id = $1 AND v.path = $2
            ORDER BY v.version DESC
            LIMIT 1 OFFSET (SELECT max_versions FROM secrets WHERE tenant_id = $1 AND path = $2)))";

pub(crate) const INSERT_VERSION: &str =
    "INSERT INTO secret_versions (tenant_id, path, version, key_id, ciphertext, created_at)
     VALUES ($1, $2, $3, $4, $5, $6)";

/// A rotation retires the version it replaces at `$4` (unless it retires sooner already).
pub(crate) const RETIRE_VERSION: &str = "UPDATE secret_versions SET retires_at = $4
     WHERE tenant_id = $1 AND path = $2 AND version = $3
       AND (retires_at IS NULL OR retires_at > $4)";

/// The secret and one version (`$3`, or the current one) in one statement; see [`ReadRow`].
pub(crate) const READ: &str = concat!(
    "SELECT ",
    columns_of_s!(),
    ", v.version AS v_version, v.created_at AS v_created_at, v.retires_at AS v_retires_at,
        v.key_id AS v_key_id, v.ciphertext AS v_ciphertext
     FROM secrets s
     LEFT JOIN secret_versions v
       ON v.tenant_id = s.tenant_id AND v.path = s.path
      AND v.version = COALESCE($3, s.current_version)
     WHERE s.tenant_id = $1 AND s.path = $2"
);

/// Live versions at `$3`, newest first.
pub(crate) const LIVE_VERSION_NUMBERS: &str = "SELECT version FROM secret_versions
     WHERE tenant_id = $1 AND path = $2 AND (retires_at IS NULL OR retires_at > $3)
     ORDER BY version DESC";

pub(crate) const SOFT_DELETE: &str = "UPDATE secrets SET deleted_at = $3
     WHERE tenant_id = $1 AND path = $2 AND deleted_at IS NULL";
pub(crate) const HARD_DELETE: &str = "DELETE FROM secrets WHERE tenant_id = $1 AND path = $2";
/// What a hard delete removes besides the secret's row.
pub(crate) const HARD_DELETE_DEPENDENTS: [&str; 2] = [
    "DELETE FROM secret_versions WHERE tenant_id = $1 AND path = $2",
    "DELETE FROM secret_access WHERE tenant_id = $1 AND path = $2",
];
pub(crate) const DELETE_VERSION: &str =
    "DELETE FROM secret_versions WHERE tenant_id = $1 AND path = $2 AND version = $3";
pub(crate) const SET_CURRENT_VERSION: &str =
    "UPDATE secrets SET current_version = $3 WHERE tenant_id = $1 AND path = $2";

#[derive(sqlx::FromRow)]
pub(crate) struct SecretRow {
    path: String,
    secret_type: String,
    current_version: i64,
    latest_version: i64,
    max_versions: i64,
    description: Option<String>,
    tags: TextList,
    owner: Option<String>,
    expires_at: Option<i64>,
    rotation_policy_id: Option<String>,
    secret_policy_id: Option<String>,
    created_at: i64,
    updated_at: i64,
    deleted_at: Option<i64>,
}

impl TryFrom<SecretRow> for SecretRecord {
    type Error = StoreError;

    fn try_from(row: SecretRow) -> Result<Self> {
        Ok(Self {
            path: row.path,
            secret_type: row.secret_type,
            current_version: to_u64(row.current_version, "version")?,
            latest_version: to_u64(row.latest_version, "version")?,
            max_versions: u32::try_from(row.max_versions)
                .map_err(|_| StoreError::Corrupt("max_versions".into()))?,
            description: row.description,
            tags: row.tags.0,
            owner: row.owner,
            expires_at: opt_from_micros(row.expires_at)?,
            rotation_policy_id: row.rotation_policy_id,
            secret_policy_id: row.secret_policy_id,
            created_at: from_micros(row.created_at)?,
            updated_at: from_micros(row.updated_at)?,
            deleted_at: opt_from_micros(row.deleted_at)?,
            version_count: 0,
        })
    }
}

/// A row of [`READ`]: the secret, and the version's columns (all NULL when there is no such
/// version).
#[derive(sqlx::FromRow)]
pub(crate) struct ReadRow {
    #[sqlx(flatten)]
    secret: SecretRow,
    v_version: Option<i64>,
    v_created_at: Option<i64>,
    v_retires_at: Option<i64>,
    v_key_id: Option<String>,
    v_ciphertext: Option<Vec<u8>>,
}

impl ReadRow {
    /// The secret and its version as read at `now`: `NotFound` when the secret is
    /// soft-deleted, `VersionNotFound` when the version is absent or retired.
    pub(crate) fn into_records(
        self,
        now: time::OffsetDateTime,
    ) -> Result<(SecretRecord, VersionRecord)> {
        let record = SecretRecord::try_from(self.secret)?;
        if record.deleted_at.is_some() {
            return Err(StoreError::NotFound(Entity::Secret));
        }
        let Some(version) = self.v_version else {
            return Err(StoreError::VersionNotFound);
        };
        let retires_at = opt_from_micros(self.v_retires_at)?;
        if retires_at.is_some_and(|r| r <= now) {
            return Err(StoreError::VersionNotFound);
        }
        let missing = |column: &str| StoreError::Corrupt(format!("version without {column}"));
        let version = VersionRecord {
            version: to_u64(version, "version")?,
            created_at: from_micros(self.v_created_at.ok_or_else(|| missing("created_at"))?)?,
            retires_at,
            sealed: Some(SealedBlob {
                key_id: self.v_key_id.ok_or_else(|| missing("key_id"))?,
                ciphertext: self.v_ciphertext.ok_or_else(|| missing("ciphertext"))?,
            }),
        };
        Ok((record, version))
    }
}

/// The bindings of these statements that both stores run alike, for a backend's connection and
/// pool types (expanded in `sqlite/secrets.rs` and `postgres/secrets.rs`, whose imports the paths
/// inside resolve to).
macro_rules! shared_bindings {
    ($conn:ty, $pool:ty) => {
        /// Drops versions beyond the secret's cap (oldest first) and versions already retired.
        /// Versions inside a rotation grace period are kept even beyond the cap until they retire.
        async fn prune_versions(
            conn: &mut $conn,
            tenant_id: &str,
            path: &str,
            now: OffsetDateTime,
        ) -> Result<()> {
            sqlx::query(PRUNE_VERSIONS)
                .bind(tenant_id)
                .bind(path)
                .bind(micros(now))
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        pub(super) async fn read(
            pool: &$pool,
            tenant_id: &str,
            path: &str,
            version: Option<u64>,
            now: OffsetDateTime,
        ) -> Result<(SecretRecord, VersionRecord)> {
            let version = version
                .map(|v| i64::try_from(v).map_err(|_| StoreError::VersionNotFound))
                .transpose()?;
            let row: ReadRow = sqlx::query_as(READ)
                .bind(tenant_id)
                .bind(path)
                .bind(version)
                .fetch_optional(pool)
                .await?
                .ok_or(StoreError::NotFound(Entity::Secret))?;
            row.into_records(now)
        }
    };
}
pub(crate) use shared_bindings;
