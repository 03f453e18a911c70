//! Rotation in SQLite: secret policies, rotation policies, the schedule of each secret with a
//! rotation policy, and the history of rotation runs (the statements are in
//! [`crate::sql::rotation`]).

use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use time::OffsetDateTime;

use crate::model::Page;
use crate::rotation::*;
use crate::sql::rotation::*;
use crate::sql::{micros, page_of, records, to_i64, to_u64, unique};
use crate::{Result, StoreError};

// --- secret policies -------------------------------------------------------------------------

pub(super) async fn insert_secret_policy(
    conn: &mut SqliteConnection,
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
    conn: &mut SqliteConnection,
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
    pool: &SqlitePool,
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
    pool: &SqlitePool,
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
    conn: &mut SqliteConnection,
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

// --- rotation policies -----------------------------------------------------------------------

pub(super) async fn insert_rotation_policy(
    conn: &mut SqliteConnection,
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
    conn: &mut SqliteConnection,
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
    pool: &SqlitePool,
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
    pool: &SqlitePool,
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

/// Deletes the policy, detaches it from the tenant's secrets (soft-deleted ones included) and
/// deletes its schedules; false (and nothing changed) when there is no such policy.
pub(super) async fn delete_rotation_policy(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    id: &str,
) -> Result<bool> {
    let done = sqlx::query(DELETE_ROTATION_POLICY)
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    for statement in [DETACH_ROTATION_POLICY, DELETE_POLICY_SCHEDULES] {
        sqlx::query(statement)
            .bind(tenant_id)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(true)
}

// --- schedules -------------------------------------------------------------------------------

/// Sets (or clears) the rotation policy of the live secret at `path`; false when there is no
/// live secret there. `Invalid` when the policy to attach does not exist (it may have been
/// deleted since the caller looked): a secret never points at a missing policy. (One writer:
/// no other transaction can delete the policy meanwhile, so nothing is locked.)
pub(super) async fn set_secret_rotation_policy(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    path: &str,
    policy_id: Option<&str>,
) -> Result<bool> {
    let policy_exists = match policy_id {
        Some(id) => sqlx::query("SELECT 1 FROM rotation_policies WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .is_some(),
        None => true,
    };
    let done = sqlx::query(SET_SECRET_ROTATION_POLICY)
        .bind(tenant_id)
        .bind(path)
        .bind(policy_id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    if !policy_exists {
        return Err(StoreError::Invalid("no such rotation policy"));
    }
    Ok(true)
}

pub(super) async fn apply_schedule(
    conn: &mut SqliteConnection,
    change: &ScheduleChange,
) -> Result<()> {
    match change {
        ScheduleChange::Keep => {}
        ScheduleChange::Upsert(s) => {
            sqlx::query(UPSERT_SCHEDULE)
                .bind(&s.tenant_id)
                .bind(&s.path)
                .bind(&s.policy_id)
                .bind(s.state.as_str())
                .bind(micros(s.next_rotation_at))
                .bind(s.next_warning_at.map(micros))
                .bind(i64::from(s.attempts))
                .bind(s.last_rotated_at.map(micros))
                .bind(&s.last_error)
                .bind(micros(s.updated_at))
                .execute(&mut *conn)
                .await?;
        }
        ScheduleChange::Delete { tenant_id, path } => {
            sqlx::query(DELETE_SCHEDULE)
                .bind(tenant_id)
                .bind(path)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

pub(super) async fn get_schedule(
    pool: &SqlitePool,
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

pub(super) async fn list_schedules(
    pool: &SqlitePool,
    tenant_id: &str,
    q: &ScheduleQuery,
) -> Result<Page<ScheduleRecord>> {
    let mut qb = schedules_query::<Sqlite>(tenant_id, q);
    let rows: Vec<ScheduleRow> = qb.build_query_as().fetch_all(pool).await?;
    Ok(page_of(records(rows)?, q.limit, None))
}

pub(super) async fn due(
    pool: &SqlitePool,
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
    pool: &SqlitePool,
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

/// Live secrets with a rotation policy but no schedule of that policy. Walks the partial index
/// `secrets_by_rotation_policy` in its own order (no sort) and probes each schedule by key.
/// (PostgreSQL's text needs `COLLATE "C"` for the same order.)
pub(super) async fn unscheduled(
    pool: &SqlitePool,
    limit: u32,
) -> Result<Vec<(String, String, String)>> {
    Ok(sqlx::query_as(
        "SELECT s.tenant_id, s.path, s.rotation_policy_id
         FROM secrets s
         LEFT JOIN rotation_schedules r ON r.tenant_id = s.tenant_id AND r.path = s.path
         WHERE s.rotation_policy_id IS NOT NULL AND s.deleted_at IS NULL
           AND (r.policy_id IS NULL OR r.policy_id <> s.rotation_policy_id)
         ORDER BY s.tenant_id, s.rotation_policy_id, s.path
         LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?)
}

// --- runs ------------------------------------------------------------------------------------

/// Inserts the run (a new id) or updates its outcome (a known id); returns its `seq`. An id
/// taken by another tenant's run is `Duplicate` (ids are random: never in practice).
pub(super) async fn upsert_run(conn: &mut SqliteConnection, run: &RunRecord) -> Result<u64> {
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

pub(super) async fn get_run(
    pool: &SqlitePool,
    tenant_id: &str,
    id: &str,
) -> Result<Option<RunRecord>> {
    let row: Option<RunRow> = sqlx::query_as(GET_RUN)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(TryInto::try_into).transpose()
}

pub(super) async fn list_runs(
    pool: &SqlitePool,
    tenant_id: &str,
    q: &RunQuery,
) -> Result<Page<RunRecord>> {
    let mut qb = runs_query::<Sqlite>(tenant_id, q);
    let rows: Vec<RunRow> = qb.build_query_as().fetch_all(pool).await?;
    Ok(page_of(records(rows)?, q.limit, None))
}

/// Runs of every tenant in `status`, oldest first (for an open status through the partial
/// index `rotation_runs_open`).
pub(super) async fn open_runs(
    pool: &SqlitePool,
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
