//! Dynamic credentials: the statements both stores run on the engine, role and lease tables
//! and the rows they read. Optional filters are written once as `($n IS NULL OR ...)`, as in
//! `sql/pki.rs`. The only backend-specific part is the lock taken before a capped lease insert
//! (`lock_lease_caps` in `sqlite/dynamic.rs` and `postgres/dynamic.rs`).

use super::{from_micros, opt_from_micros, to_u64};
use crate::dynamic::{EngineRecord, LeaseRecord, RoleRecord};
use crate::model::SealedBlob;
use crate::{Result, StoreError};

/// The columns of `dynamic_engines`, in the order of [`INSERT_ENGINE`]'s parameters and of
/// [`EngineRow`].
macro_rules! engine_columns {
    () => {
        "tenant_id, name, kind, config, secret_key_id, sealed_secret, created_at, updated_at, \
         root_rotated_at"
    };
}

/// The columns of `dynamic_roles`, in the order of [`INSERT_ROLE`]'s parameters and of
/// [`RoleRow`].
macro_rules! role_columns {
    () => {
        "tenant_id, engine, name, config, default_ttl_secs, max_ttl_secs, max_leases, \
         created_at, updated_at"
    };
}

/// The columns of `dynamic_leases`, in the order of [`INSERT_LEASE`]'s parameters and of
/// [`LeaseRow`].
macro_rules! lease_columns {
    () => {
        "id, tenant_id, engine, role, identity, status, renewable, handle, issued_at, \
         expires_at, max_expires_at, due_at, attempts, last_error, revoked_at, updated_at"
    };
}

// --- engines ----------------------------------------------------------------------------------

pub(crate) const INSERT_ENGINE: &str = concat!(
    "INSERT INTO dynamic_engines (",
    engine_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
);
pub(crate) const GET_ENGINE: &str = concat!(
    "SELECT ",
    engine_columns!(),
    " FROM dynamic_engines WHERE tenant_id = $1 AND name = $2"
);
pub(crate) const ENGINE_EXISTS: &str =
    "SELECT count(*) FROM dynamic_engines WHERE tenant_id = $1 AND name = $2";
pub(crate) const LIST_ENGINES: &str = concat!(
    "SELECT ",
    engine_columns!(),
    " FROM dynamic_engines WHERE tenant_id = $1 AND name > $2 ORDER BY name LIMIT $3"
);
/// The kind and the name never change (they name the engine everywhere).
pub(crate) const UPDATE_ENGINE: &str = "UPDATE dynamic_engines
     SET config = $3, secret_key_id = $4, sealed_secret = $5, updated_at = $6,
         root_rotated_at = $7
     WHERE tenant_id = $1 AND name = $2";
pub(crate) const DELETE_ENGINE_ROLES: &str =
    "DELETE FROM dynamic_roles WHERE tenant_id = $1 AND engine = $2";
pub(crate) const DELETE_ENGINE: &str =
    "DELETE FROM dynamic_engines WHERE tenant_id = $1 AND name = $2";

// --- roles ------------------------------------------------------------------------------------

pub(crate) const INSERT_ROLE: &str = concat!(
    "INSERT INTO dynamic_roles (",
    role_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
);
pub(crate) const GET_ROLE: &str = concat!(
    "SELECT ",
    role_columns!(),
    " FROM dynamic_roles WHERE tenant_id = $1 AND engine = $2 AND name = $3"
);
pub(crate) const LIST_ROLES: &str = concat!(
    "SELECT ",
    role_columns!(),
    " FROM dynamic_roles WHERE tenant_id = $1 AND engine = $2 AND name > $3
     ORDER BY name LIMIT $4"
);
pub(crate) const UPDATE_ROLE: &str = "UPDATE dynamic_roles
     SET config = $4, default_ttl_secs = $5, max_ttl_secs = $6, max_leases = $7, updated_at = $8
     WHERE tenant_id = $1 AND engine = $2 AND name = $3";
pub(crate) const DELETE_ROLE: &str =
    "DELETE FROM dynamic_roles WHERE tenant_id = $1 AND engine = $2 AND name = $3";

// --- leases -----------------------------------------------------------------------------------

pub(crate) const INSERT_LEASE: &str = concat!(
    "INSERT INTO dynamic_leases (",
    lease_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
);
/// The role's live leases, counted no further than the cap (`$4`): a cap check reads at most
/// cap rows of the live-leases index, however many leases exist.
pub(crate) const COUNT_ROLE_CAPPED: &str = "SELECT count(*) FROM (
         SELECT 1 FROM dynamic_leases
         WHERE tenant_id = $1 AND engine = $2 AND role = $3 AND due_at IS NOT NULL
         LIMIT $4) AS capped";
/// The tenant's live leases, counted no further than the cap (`$2`).
pub(crate) const COUNT_TENANT_CAPPED: &str = "SELECT count(*) FROM (
         SELECT 1 FROM dynamic_leases WHERE tenant_id = $1 AND due_at IS NOT NULL
         LIMIT $2) AS capped";
/// `$3` the final handle, `$4` now. Only a pending lease: a revocation requested meanwhile
/// wins (the lease is `revoking` and the sweeper tears the credential down).
pub(crate) const ACTIVATE_LEASE: &str = "UPDATE dynamic_leases
     SET status = 'active', handle = $3, due_at = expires_at, updated_at = $4
     WHERE tenant_id = $1 AND id = $2 AND status = 'pending'";
pub(crate) const GET_LEASE: &str = concat!(
    "SELECT ",
    lease_columns!(),
    " FROM dynamic_leases WHERE tenant_id = $1 AND id = $2"
);
/// `$1` tenant, `$2` cursor, `$3` engine or NULL, `$4` role or NULL, `$5` identity or NULL,
/// `$6` TRUE for live leases only or NULL, `$7` limit.
pub(crate) const LIST_LEASES: &str = concat!(
    "SELECT ",
    lease_columns!(),
    " FROM dynamic_leases
     WHERE tenant_id = $1 AND id > $2
       AND ($3 IS NULL OR engine = $3)
       AND ($4 IS NULL OR role = $4)
       AND ($5 IS NULL OR identity = $5)
       AND ($6 IS NULL OR due_at IS NOT NULL)
     ORDER BY id LIMIT $7"
);
/// `$3` the new expiry, `$4` now. An active lease's `due_at` is its expiry.
pub(crate) const RENEW_LEASE: &str = "UPDATE dynamic_leases
     SET expires_at = $3, due_at = $3, updated_at = $4
     WHERE tenant_id = $1 AND id = $2 AND status = 'active'";

/// What a revocation request sets on each live lease it matches (`$2` now): pending and active
/// leases become `revoking`; revoking and revocation_failed ones keep their status (and their
/// attempts); all are due now.
macro_rules! request_revocation {
    ($filter:literal) => {
        concat!(
            "UPDATE dynamic_leases
             SET status = CASE WHEN status IN ('pending', 'active') THEN 'revoking'
                               ELSE status END,
                 due_at = $2, updated_at = $2
             WHERE tenant_id = $1 AND due_at IS NOT NULL AND ",
            $filter,
            " RETURNING id"
        )
    };
}
/// One statement per selector (rather than `$n IS NULL OR ...` filters) so that each uses its
/// own index: the primary key for one lease, the live-leases index for an engine or role.
pub(crate) const REVOKE_ONE: &str = request_revocation!("id = $3");
pub(crate) const REVOKE_ENGINE: &str = request_revocation!("engine = $3");
pub(crate) const REVOKE_ROLE: &str = request_revocation!("engine = $3 AND role = $4");

/// The sweeper's work across tenants, from the `dynamic_leases_due` index.
pub(crate) const DUE_LEASES: &str = concat!(
    "SELECT ",
    lease_columns!(),
    " FROM dynamic_leases WHERE due_at IS NOT NULL AND due_at <= $1
     ORDER BY due_at, id LIMIT $2"
);
/// `$2` when. `last_error` is kept (it tells what the earlier attempts met).
pub(crate) const COMPLETE_REVOCATION: &str = "UPDATE dynamic_leases
     SET status = 'revoked', due_at = NULL, revoked_at = $2, updated_at = $2
     WHERE id = $1 AND status <> 'revoked'";
/// `$2` the error, `$3` the next attempt, `$4` now.
pub(crate) const FAIL_REVOCATION: &str = "UPDATE dynamic_leases
     SET status = 'revocation_failed', attempts = attempts + 1, last_error = $2, due_at = $3,
         updated_at = $4
     WHERE id = $1 AND status <> 'revoked'";
/// Active leases expiring in `($1, $2]`. An active lease's `due_at` equals its `expires_at`
/// (activation and renewal set both), so the range is read from the `dynamic_leases_due`
/// index (and ordered by it); the `expires_at` conditions state what is meant and keep the
/// result right should a row ever break that equality.
pub(crate) const EXPIRING_LEASES: &str = concat!(
    "SELECT ",
    lease_columns!(),
    " FROM dynamic_leases
     WHERE due_at IS NOT NULL AND due_at > $1 AND due_at <= $2 AND status = 'active'
       AND expires_at > $1 AND expires_at <= $2
     ORDER BY due_at, id LIMIT $3"
);
/// `$2` engine or NULL, `$3` role or NULL.
pub(crate) const COUNT_LIVE: &str = "SELECT count(*) FROM dynamic_leases
     WHERE tenant_id = $1 AND due_at IS NOT NULL
       AND ($2 IS NULL OR engine = $2) AND ($3 IS NULL OR role = $3)";

/// A stored cap or attempt count (never negative nor above `u32::MAX` when ScaiVault wrote
/// it).
pub(crate) fn to_u32(v: i64, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} out of range: {v}")))
}

#[derive(sqlx::FromRow)]
pub(crate) struct EngineRow {
    tenant_id: String,
    name: String,
    kind: String,
    config: String,
    secret_key_id: String,
    sealed_secret: Vec<u8>,
    created_at: i64,
    updated_at: i64,
    root_rotated_at: Option<i64>,
}

impl TryFrom<EngineRow> for EngineRecord {
    type Error = StoreError;

    fn try_from(row: EngineRow) -> Result<Self> {
        Ok(Self {
            tenant_id: row.tenant_id,
            name: row.name,
            kind: row.kind,
            config: row.config,
            sealed_secret: SealedBlob {
                key_id: row.secret_key_id,
                ciphertext: row.sealed_secret,
            },
            created_at: from_micros(row.created_at)?,
            updated_at: from_micros(row.updated_at)?,
            root_rotated_at: opt_from_micros(row.root_rotated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RoleRow {
    tenant_id: String,
    engine: String,
    name: String,
    config: String,
    default_ttl_secs: i64,
    max_ttl_secs: i64,
    max_leases: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<RoleRow> for RoleRecord {
    type Error = StoreError;

    fn try_from(row: RoleRow) -> Result<Self> {
        Ok(Self {
            tenant_id: row.tenant_id,
            engine: row.engine,
            name: row.name,
            config: row.config,
            default_ttl_secs: to_u64(row.default_ttl_secs, "default TTL")?,
            max_ttl_secs: to_u64(row.max_ttl_secs, "max TTL")?,
            max_leases: row.max_leases.map(|v| to_u32(v, "lease cap")).transpose()?,
            created_at: from_micros(row.created_at)?,
            updated_at: from_micros(row.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct LeaseRow {
    id: String,
    tenant_id: String,
    engine: String,
    role: String,
    identity: String,
    status: String,
    renewable: bool,
    handle: String,
    issued_at: i64,
    expires_at: i64,
    max_expires_at: i64,
    due_at: Option<i64>,
    attempts: i64,
    last_error: Option<String>,
    revoked_at: Option<i64>,
    updated_at: i64,
}

impl TryFrom<LeaseRow> for LeaseRecord {
    type Error = StoreError;

    fn try_from(row: LeaseRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            tenant_id: row.tenant_id,
            engine: row.engine,
            role: row.role,
            identity: row.identity,
            status: row.status,
            renewable: row.renewable,
            handle: row.handle,
            issued_at: from_micros(row.issued_at)?,
            expires_at: from_micros(row.expires_at)?,
            max_expires_at: from_micros(row.max_expires_at)?,
            due_at: opt_from_micros(row.due_at)?,
            attempts: to_u32(row.attempts, "revocation attempts")?,
            last_error: row.last_error,
            revoked_at: opt_from_micros(row.revoked_at)?,
            updated_at: from_micros(row.updated_at)?,
        })
    }
}

/// A role insert's failure: a taken name is `Duplicate`; a missing engine (deleted by another
/// node after the existence check) is the engine's `NotFound`.
pub(crate) fn role_insert_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate,
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            StoreError::NotFound(crate::Entity::DynamicEngine)
        }
        e => e.into(),
    }
}

/// The bindings of these statements that both stores run alike, for a backend's connection
/// type (expanded in `sqlite/dynamic.rs` and `postgres/dynamic.rs`, whose imports the paths
/// inside resolve to).
macro_rules! shared_bindings {
    ($conn:ty) => {
        /// `Duplicate` when the id is taken.
        async fn insert_lease_row(conn: &mut $conn, lease: &LeaseRecord) -> Result<()> {
            sqlx::query(INSERT_LEASE)
                .bind(&lease.id)
                .bind(&lease.tenant_id)
                .bind(&lease.engine)
                .bind(&lease.role)
                .bind(&lease.identity)
                .bind(&lease.status)
                .bind(lease.renewable)
                .bind(&lease.handle)
                .bind(micros(lease.issued_at))
                .bind(micros(lease.expires_at))
                .bind(micros(lease.max_expires_at))
                .bind(lease.due_at.map(micros))
                .bind(i64::from(lease.attempts))
                .bind(&lease.last_error)
                .bind(lease.revoked_at.map(micros))
                .bind(micros(lease.updated_at))
                .execute(&mut *conn)
                .await
                .map_err(unique)?;
            Ok(())
        }

        /// `LimitReached` when inserting one more live lease would pass a cap.
        async fn check_lease_caps(
            conn: &mut $conn,
            lease: &LeaseRecord,
            caps: LeaseCaps,
        ) -> Result<()> {
            if let Some(cap) = caps.role {
                let live: i64 = sqlx::query_scalar(COUNT_ROLE_CAPPED)
                    .bind(&lease.tenant_id)
                    .bind(&lease.engine)
                    .bind(&lease.role)
                    .bind(i64::from(cap))
                    .fetch_one(&mut *conn)
                    .await?;
                if live >= i64::from(cap) {
                    return Err(StoreError::LimitReached("the role's lease cap"));
                }
            }
            if let Some(cap) = caps.tenant {
                let live: i64 = sqlx::query_scalar(COUNT_TENANT_CAPPED)
                    .bind(&lease.tenant_id)
                    .bind(i64::from(cap))
                    .fetch_one(&mut *conn)
                    .await?;
                if live >= i64::from(cap) {
                    return Err(StoreError::LimitReached("the tenant's lease cap"));
                }
            }
            Ok(())
        }
    };
}
pub(crate) use shared_bindings;
