//! Rotation: secret policies, rotation policies, schedules and runs. The statements both stores
//! run, the rows they read, and the filters of the two listings with optional conditions (built
//! with a `QueryBuilder` of either database).

use sqlx::{Database, Encode, QueryBuilder, Type};

use super::{from_micros, micros, opt_from_micros, to_i64, to_u64};
use crate::rotation::*;
use crate::{Result, StoreError};

macro_rules! secret_policy_columns {
    () => {
        "id, tenant_id, name, description, secret_type, fields, created_at, updated_at"
    };
}
macro_rules! rotation_policy_columns {
    () => {
        "id, tenant_id, name, description, interval_secs, grace_secs, warn_before, \
         auto_generate, rotation_window, created_at, updated_at"
    };
}
macro_rules! schedule_columns {
    () => {
        "tenant_id, path, policy_id, state, next_rotation_at, next_warning_at, attempts, \
         last_rotated_at, last_error, updated_at"
    };
}
macro_rules! run_columns {
    () => {
        "seq, id, tenant_id, policy_id, path, trigger, status, attempt, old_version, \
         new_version, error, started_at, finished_at"
    };
}

// --- secret policies -------------------------------------------------------------------------

pub(crate) const INSERT_SECRET_POLICY: &str = concat!(
    "INSERT INTO secret_policies (",
    secret_policy_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
);
pub(crate) const UPDATE_SECRET_POLICY: &str =
    "UPDATE secret_policies SET name = $3, description = $4, secret_type = $5, fields = $6,
        updated_at = $7
     WHERE tenant_id = $1 AND id = $2";
pub(crate) const GET_SECRET_POLICY: &str = concat!(
    "SELECT ",
    secret_policy_columns!(),
    " FROM secret_policies WHERE tenant_id = $1 AND id = $2"
);
pub(crate) const LIST_SECRET_POLICIES: &str = concat!(
    "SELECT ",
    secret_policy_columns!(),
    " FROM secret_policies WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
);
pub(crate) const DELETE_SECRET_POLICY: &str =
    "DELETE FROM secret_policies WHERE tenant_id = $1 AND id = $2";

// --- rotation policies -----------------------------------------------------------------------

pub(crate) const INSERT_ROTATION_POLICY: &str = concat!(
    "INSERT INTO rotation_policies (",
    rotation_policy_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
);
pub(crate) const UPDATE_ROTATION_POLICY: &str =
    "UPDATE rotation_policies SET name = $3, description = $4, interval_secs = $5,
        grace_secs = $6, warn_before = $7, auto_generate = $8, rotation_window = $9,
        updated_at = $10
     WHERE tenant_id = $1 AND id = $2";
pub(crate) const GET_ROTATION_POLICY: &str = concat!(
    "SELECT ",
    rotation_policy_columns!(),
    " FROM rotation_policies WHERE tenant_id = $1 AND id = $2"
);
pub(crate) const LIST_ROTATION_POLICIES: &str = concat!(
    "SELECT ",
    rotation_policy_columns!(),
    " FROM rotation_policies WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
);
pub(crate) const DELETE_ROTATION_POLICY: &str =
    "DELETE FROM rotation_policies WHERE tenant_id = $1 AND id = $2";
/// `updated_at` stays: it tracks what the secret's owner wrote (as `patch_secret` does).
pub(crate) const DETACH_ROTATION_POLICY: &str = "UPDATE secrets SET rotation_policy_id = NULL
     WHERE tenant_id = $1 AND rotation_policy_id = $2";
pub(crate) const DELETE_POLICY_SCHEDULES: &str =
    "DELETE FROM rotation_schedules WHERE tenant_id = $1 AND policy_id = $2";

// --- schedules -------------------------------------------------------------------------------

pub(crate) const SET_SECRET_ROTATION_POLICY: &str = "UPDATE secrets SET rotation_policy_id = $3
     WHERE tenant_id = $1 AND path = $2 AND deleted_at IS NULL";
pub(crate) const UPSERT_SCHEDULE: &str = concat!(
    "INSERT INTO rotation_schedules (",
    schedule_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (tenant_id, path) DO UPDATE SET
        policy_id = excluded.policy_id,
        state = excluded.state,
        next_rotation_at = excluded.next_rotation_at,
        next_warning_at = excluded.next_warning_at,
        attempts = excluded.attempts,
        last_rotated_at = excluded.last_rotated_at,
        last_error = excluded.last_error,
        updated_at = excluded.updated_at"
);
pub(crate) const DELETE_SCHEDULE: &str =
    "DELETE FROM rotation_schedules WHERE tenant_id = $1 AND path = $2";
pub(crate) const GET_SCHEDULE: &str = concat!(
    "SELECT ",
    schedule_columns!(),
    " FROM rotation_schedules WHERE tenant_id = $1 AND path = $2"
);
/// Due schedules of every tenant, not awaiting a value. The state condition is written exactly
/// as the partial index `rotation_schedules_due` has it, so the index applies.
pub(crate) const DUE: &str = concat!(
    "SELECT ",
    schedule_columns!(),
    " FROM rotation_schedules
     WHERE next_rotation_at <= $1 AND state <> 'awaiting_value'
     ORDER BY next_rotation_at, path, tenant_id LIMIT $2"
);
pub(crate) const DUE_WARNINGS: &str = concat!(
    "SELECT ",
    schedule_columns!(),
    " FROM rotation_schedules
     WHERE next_warning_at <= $1
     ORDER BY next_warning_at, path, tenant_id LIMIT $2"
);

/// `SELECT ... FROM rotation_schedules` of the tenant filtered by `q`, in cursor order, one
/// row more than the page.
pub(crate) fn schedules_query<DB>(tenant_id: &str, q: &ScheduleQuery) -> QueryBuilder<DB>
where
    DB: Database,
    DB::Arguments: Default,
    String: for<'t> Encode<'t, DB> + Type<DB>,
    i64: for<'t> Encode<'t, DB> + Type<DB>,
{
    let mut qb = QueryBuilder::<DB>::new(concat!(
        "SELECT ",
        schedule_columns!(),
        " FROM rotation_schedules WHERE tenant_id = "
    ));
    qb.push_bind(tenant_id.to_owned());
    if let Some(policy_id) = &q.policy_id {
        qb.push(" AND policy_id = ").push_bind(policy_id.clone());
    }
    if let Some(before) = q.due_before {
        qb.push(" AND next_rotation_at <= ")
            .push_bind(micros(before));
    }
    if let Some((at, path)) = &q.after {
        qb.push(" AND (next_rotation_at, path) > (")
            .push_bind(micros(*at))
            .push(", ")
            .push_bind(path.clone())
            .push(")");
    }
    qb.push(" ORDER BY next_rotation_at, path LIMIT ")
        .push_bind(i64::from(q.limit) + 1);
    qb
}

// --- runs ------------------------------------------------------------------------------------

/// Inserts the run (a new id) or updates its outcome (a known id), returning its `seq`; no row
/// when the id is another tenant's.
pub(crate) const UPSERT_RUN: &str =
    "INSERT INTO rotation_runs (id, tenant_id, policy_id, path, trigger, status, attempt,
        old_version, new_version, error, started_at, finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (id) DO UPDATE SET
        status = excluded.status,
        attempt = excluded.attempt,
        old_version = excluded.old_version,
        new_version = excluded.new_version,
        error = excluded.error,
        finished_at = excluded.finished_at
     WHERE rotation_runs.tenant_id = excluded.tenant_id
     RETURNING seq";
pub(crate) const GET_RUN: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM rotation_runs WHERE id = $2 AND tenant_id = $1"
);
/// Runs in one status, oldest first.
pub(crate) const RUNS_IN_STATUS: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM rotation_runs WHERE status = $1 ORDER BY seq LIMIT $2"
);
/// Runs in one open status, oldest first. Repeats the condition of the partial index
/// `rotation_runs_open` verbatim, so the index applies.
pub(crate) const OPEN_RUNS_IN_STATUS: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM rotation_runs WHERE status IN ('running', 'awaiting_value') AND status = $1
     ORDER BY seq LIMIT $2"
);

/// `SELECT ... FROM rotation_runs` of the tenant filtered by `q`, newest first, one row more
/// than the page.
pub(crate) fn runs_query<DB>(tenant_id: &str, q: &RunQuery) -> QueryBuilder<DB>
where
    DB: Database,
    DB::Arguments: Default,
    String: for<'t> Encode<'t, DB> + Type<DB>,
    &'static str: for<'t> Encode<'t, DB> + Type<DB>,
    i64: for<'t> Encode<'t, DB> + Type<DB>,
{
    let mut qb = QueryBuilder::<DB>::new(concat!(
        "SELECT ",
        run_columns!(),
        " FROM rotation_runs WHERE tenant_id = "
    ));
    qb.push_bind(tenant_id.to_owned());
    if let Some(policy_id) = &q.policy_id {
        qb.push(" AND policy_id = ").push_bind(policy_id.clone());
    }
    if let Some(path) = &q.path {
        qb.push(" AND path = ").push_bind(path.clone());
    }
    if let Some(status) = q.status {
        qb.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(before) = q.before_seq {
        qb.push(" AND seq < ").push_bind(to_i64(before));
    }
    qb.push(" ORDER BY seq DESC LIMIT ")
        .push_bind(i64::from(q.limit) + 1);
    qb
}

// --- rows ------------------------------------------------------------------------------------

#[derive(sqlx::FromRow)]
pub(crate) struct SecretPolicyRow {
    id: String,
    tenant_id: String,
    name: String,
    description: Option<String>,
    secret_type: String,
    fields: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<SecretPolicyRow> for SecretPolicyRecord {
    type Error = StoreError;

    fn try_from(row: SecretPolicyRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            tenant_id: row.tenant_id,
            name: row.name,
            description: row.description,
            secret_type: row.secret_type,
            fields: row.fields,
            created_at: from_micros(row.created_at)?,
            updated_at: from_micros(row.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RotationPolicyRow {
    id: String,
    tenant_id: String,
    name: String,
    description: Option<String>,
    interval_secs: i64,
    grace_secs: i64,
    warn_before: String,
    auto_generate: bool,
    rotation_window: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<RotationPolicyRow> for RotationPolicyRecord {
    type Error = StoreError;

    fn try_from(row: RotationPolicyRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            tenant_id: row.tenant_id,
            name: row.name,
            description: row.description,
            interval_secs: to_u64(row.interval_secs, "interval_secs")?,
            grace_secs: to_u64(row.grace_secs, "grace_secs")?,
            warn_before_secs: decode_warn_before(&row.warn_before)?,
            auto_generate: row.auto_generate,
            window: row.rotation_window,
            created_at: from_micros(row.created_at)?,
            updated_at: from_micros(row.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ScheduleRow {
    tenant_id: String,
    path: String,
    policy_id: String,
    state: String,
    next_rotation_at: i64,
    next_warning_at: Option<i64>,
    attempts: i64,
    last_rotated_at: Option<i64>,
    last_error: Option<String>,
    updated_at: i64,
}

impl TryFrom<ScheduleRow> for ScheduleRecord {
    type Error = StoreError;

    fn try_from(row: ScheduleRow) -> Result<Self> {
        Ok(Self {
            tenant_id: row.tenant_id,
            path: row.path,
            policy_id: row.policy_id,
            state: state_from_db(&row.state)?,
            next_rotation_at: from_micros(row.next_rotation_at)?,
            next_warning_at: opt_from_micros(row.next_warning_at)?,
            attempts: u32_from_db(row.attempts, "attempts")?,
            last_rotated_at: opt_from_micros(row.last_rotated_at)?,
            last_error: row.last_error,
            updated_at: from_micros(row.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    seq: i64,
    id: String,
    tenant_id: String,
    policy_id: Option<String>,
    path: String,
    trigger: String,
    status: String,
    attempt: i64,
    old_version: Option<i64>,
    new_version: Option<i64>,
    error: Option<String>,
    started_at: i64,
    finished_at: Option<i64>,
}

impl TryFrom<RunRow> for RunRecord {
    type Error = StoreError;

    fn try_from(row: RunRow) -> Result<Self> {
        let version = |v: Option<i64>| v.map(|v| to_u64(v, "version")).transpose();
        Ok(Self {
            seq: to_u64(row.seq, "seq")?,
            id: row.id,
            tenant_id: row.tenant_id,
            policy_id: row.policy_id,
            path: row.path,
            trigger: trigger_from_db(&row.trigger)?,
            status: status_from_db(&row.status)?,
            attempt: u32_from_db(row.attempt, "attempt")?,
            old_version: version(row.old_version)?,
            new_version: version(row.new_version)?,
            error: row.error,
            started_at: from_micros(row.started_at)?,
            finished_at: opt_from_micros(row.finished_at)?,
        })
    }
}

/// The bindings of these statements that both stores run alike, for a backend's connection and
/// pool types (expanded in `sqlite/rotation.rs` and `postgres/rotation.rs`, whose imports the paths
/// inside resolve to).
macro_rules! shared_bindings {
    ($conn:ty, $pool:ty) => {
        pub(super) async fn insert_secret_policy(
            conn: &mut $conn,
            p: &SecretPolicyRecord,
        ) -> Result<()> {
            sqlx::query(INSERT_SECRET_POLICY)
                .bind(&p.id)
                .bind(&p.tenant_id)
                .bind(&p.name)
                .bind(&p.description)
                .bind(&p.secret_type)
                .bind(&p.fields)
                .bind(micros(p.created_at))
                .bind(micros(p.updated_at))
                .execute(&mut *conn)
                .await
                .map_err(unique)?;
            Ok(())
        }

        /// Replaces name, description, secret_type and fields; false when there is no such policy.
        pub(super) async fn update_secret_policy(
            conn: &mut $conn,
            p: &SecretPolicyRecord,
        ) -> Result<bool> {
            let done = sqlx::query(UPDATE_SECRET_POLICY)
                .bind(&p.tenant_id)
                .bind(&p.id)
                .bind(&p.name)
                .bind(&p.description)
                .bind(&p.secret_type)
                .bind(&p.fields)
                .bind(micros(p.updated_at))
                .execute(&mut *conn)
                .await
                .map_err(unique)?;
            Ok(done.rows_affected() == 1)
        }

        pub(super) async fn get_secret_policy(
            pool: &$pool,
            tenant_id: &str,
            id: &str,
        ) -> Result<Option<SecretPolicyRecord>> {
            let row: Option<SecretPolicyRow> = sqlx::query_as(GET_SECRET_POLICY)
                .bind(tenant_id)
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.map(TryInto::try_into).transpose()
        }

        pub(super) async fn list_secret_policies(
            pool: &$pool,
            tenant_id: &str,
            after: Option<&str>,
            limit: u32,
        ) -> Result<Page<SecretPolicyRecord>> {
            let rows: Vec<SecretPolicyRow> = sqlx::query_as(LIST_SECRET_POLICIES)
                .bind(tenant_id)
                .bind(after.unwrap_or(""))
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await?;
            Ok(page_of(records(rows)?, limit, None))
        }

        pub(super) async fn delete_secret_policy(
            conn: &mut $conn,
            tenant_id: &str,
            id: &str,
        ) -> Result<bool> {
            let done = sqlx::query(DELETE_SECRET_POLICY)
                .bind(tenant_id)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() == 1)
        }

        pub(super) async fn insert_rotation_policy(
            conn: &mut $conn,
            p: &RotationPolicyRecord,
        ) -> Result<()> {
            sqlx::query(INSERT_ROTATION_POLICY)
                .bind(&p.id)
                .bind(&p.tenant_id)
                .bind(&p.name)
                .bind(&p.description)
                .bind(secs_to_db(p.interval_secs)?)
                .bind(secs_to_db(p.grace_secs)?)
                .bind(encode_warn_before(&p.warn_before_secs)?)
                .bind(p.auto_generate)
                .bind(&p.window)
                .bind(micros(p.created_at))
                .bind(micros(p.updated_at))
                .execute(&mut *conn)
                .await
                .map_err(unique)?;
            Ok(())
        }

        /// Replaces everything but id, tenant and created_at; false when there is no such policy.
        pub(super) async fn update_rotation_policy(
            conn: &mut $conn,
            p: &RotationPolicyRecord,
        ) -> Result<bool> {
            let done = sqlx::query(UPDATE_ROTATION_POLICY)
                .bind(&p.tenant_id)
                .bind(&p.id)
                .bind(&p.name)
                .bind(&p.description)
                .bind(secs_to_db(p.interval_secs)?)
                .bind(secs_to_db(p.grace_secs)?)
                .bind(encode_warn_before(&p.warn_before_secs)?)
                .bind(p.auto_generate)
                .bind(&p.window)
                .bind(micros(p.updated_at))
                .execute(&mut *conn)
                .await
                .map_err(unique)?;
            Ok(done.rows_affected() == 1)
        }

        pub(super) async fn get_rotation_policy(
            pool: &$pool,
            tenant_id: &str,
            id: &str,
        ) -> Result<Option<RotationPolicyRecord>> {
            let row: Option<RotationPolicyRow> = sqlx::query_as(GET_ROTATION_POLICY)
                .bind(tenant_id)
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.map(TryInto::try_into).transpose()
        }

        pub(super) async fn list_rotation_policies(
            pool: &$pool,
            tenant_id: &str,
            after: Option<&str>,
            limit: u32,
        ) -> Result<Page<RotationPolicyRecord>> {
            let rows: Vec<RotationPolicyRow> = sqlx::query_as(LIST_ROTATION_POLICIES)
                .bind(tenant_id)
                .bind(after.unwrap_or(""))
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await?;
            Ok(page_of(records(rows)?, limit, None))
        }

        pub(super) async fn get_schedule(
            pool: &$pool,
            tenant_id: &str,
            path: &str,
        ) -> Result<Option<ScheduleRecord>> {
            let row: Option<ScheduleRow> = sqlx::query_as(GET_SCHEDULE)
                .bind(tenant_id)
                .bind(path)
                .fetch_optional(pool)
                .await?;
            row.map(TryInto::try_into).transpose()
        }

        pub(super) async fn due(
            pool: &$pool,
            now: OffsetDateTime,
            limit: u32,
        ) -> Result<Vec<ScheduleRecord>> {
            let rows: Vec<ScheduleRow> = sqlx::query_as(DUE)
                .bind(micros(now))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            records(rows)
        }

        pub(super) async fn due_warnings(
            pool: &$pool,
            now: OffsetDateTime,
            limit: u32,
        ) -> Result<Vec<ScheduleRecord>> {
            let rows: Vec<ScheduleRow> = sqlx::query_as(DUE_WARNINGS)
                .bind(micros(now))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            records(rows)
        }

        /// Inserts the run (a new id) or updates its outcome (a known id); returns its `seq`. An id
        /// taken by another tenant's run is `Duplicate` (ids are random: never in practice).
        pub(super) async fn upsert_run(conn: &mut $conn, run: &RunRecord) -> Result<u64> {
            let seq: Option<i64> = sqlx::query_scalar(UPSERT_RUN)
                .bind(&run.id)
                .bind(&run.tenant_id)
                .bind(&run.policy_id)
                .bind(&run.path)
                .bind(run.trigger.as_str())
                .bind(run.status.as_str())
                .bind(i64::from(run.attempt))
                .bind(run.old_version.map(to_i64))
                .bind(run.new_version.map(to_i64))
                .bind(&run.error)
                .bind(micros(run.started_at))
                .bind(run.finished_at.map(micros))
                .fetch_optional(&mut *conn)
                .await?;
            to_u64(seq.ok_or(StoreError::Duplicate)?, "seq")
        }

        /// Runs of every tenant in `status`, oldest first (for an open status through the partial
        /// index `rotation_runs_open`).
        pub(super) async fn open_runs(
            pool: &$pool,
            status: RunStatus,
            limit: u32,
        ) -> Result<Vec<RunRecord>> {
            let sql = if status.is_open() {
                OPEN_RUNS_IN_STATUS
            } else {
                RUNS_IN_STATUS
            };
            let rows: Vec<RunRow> = sqlx::query_as(sql)
                .bind(status.as_str())
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            records(rows)
        }
    };
}
pub(crate) use shared_bindings;
