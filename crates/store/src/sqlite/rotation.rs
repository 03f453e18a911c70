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

crate::sql::rotation::shared_bindings!(sqlx::SqliteConnection, sqlx::SqlitePool);

// --- secret policies -------------------------------------------------------------------------

// --- rotation policies -----------------------------------------------------------------------

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

pub(super) async fn list_schedules(
    pool: &SqlitePool,
    tenant_id: &str,
    q: &ScheduleQuery,
) -> Result<Page<ScheduleRecord>> {
    let mut qb = schedules_query::<Sqlite>(tenant_id, q);
    let rows: Vec<ScheduleRow> = qb.build_query_as().fetch_all(pool).await?;
    Ok(page_of(records(rows)?, q.limit, None))
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
