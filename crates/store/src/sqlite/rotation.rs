//! Rotation in SQLite: secret policies, rotation policies, the schedule of each secret with a
//! rotation policy, and the history of rotation runs.

use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use time::OffsetDateTime;

use super::{from_micros, micros, opt_from_micros, page_of, to_u64};
use crate::model::Page;
use crate::rotation::*;
use crate::{Result, StoreError};

const SECRET_POLICY_COLUMNS: &str =
    "id, tenant_id, name, description, secret_type, fields, created_at, updated_at";

const ROTATION_POLICY_COLUMNS: &str = "id, tenant_id, name, description, interval_secs, \
     grace_secs, warn_before, auto_generate, rotation_window, created_at, updated_at";

const SCHEDULE_COLUMNS: &str = "tenant_id, path, policy_id, state, next_rotation_at, \
     next_warning_at, attempts, last_rotated_at, last_error, updated_at";

const RUN_COLUMNS: &str = "seq, id, tenant_id, policy_id, path, trigger, status, attempt, \
     old_version, new_version, error, started_at, finished_at";

fn unique(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate,
        e => e.into(),
    }
}

/// A version number (or other u64) for an INTEGER column.
fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn secret_policy_from_row(row: &SqliteRow) -> Result<SecretPolicyRecord> {
    Ok(SecretPolicyRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        secret_type: row.try_get("secret_type")?,
        fields: row.try_get("fields")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
    })
}

fn rotation_policy_from_row(row: &SqliteRow) -> Result<RotationPolicyRecord> {
    Ok(RotationPolicyRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        interval_secs: to_u64(row.try_get("interval_secs")?, "interval_secs")?,
        grace_secs: to_u64(row.try_get("grace_secs")?, "grace_secs")?,
        warn_before_secs: decode_warn_before(&row.try_get::<String, _>("warn_before")?)?,
        auto_generate: row.try_get::<i64, _>("auto_generate")? != 0,
        window: row.try_get("rotation_window")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
    })
}

fn schedule_from_row(row: &SqliteRow) -> Result<ScheduleRecord> {
    Ok(ScheduleRecord {
        tenant_id: row.try_get("tenant_id")?,
        path: row.try_get("path")?,
        policy_id: row.try_get("policy_id")?,
        state: state_from_db(&row.try_get::<String, _>("state")?)?,
        next_rotation_at: from_micros(row.try_get("next_rotation_at")?)?,
        next_warning_at: opt_from_micros(row.try_get("next_warning_at")?)?,
        attempts: u32_from_db(row.try_get("attempts")?, "attempts")?,
        last_rotated_at: opt_from_micros(row.try_get("last_rotated_at")?)?,
        last_error: row.try_get("last_error")?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
    })
}

fn run_from_row(row: &SqliteRow) -> Result<RunRecord> {
    let version = |column: &str| -> Result<Option<u64>> {
        row.try_get::<Option<i64>, _>(column)?
            .map(|v| to_u64(v, "version"))
            .transpose()
    };
    Ok(RunRecord {
        seq: to_u64(row.try_get("seq")?, "seq")?,
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        policy_id: row.try_get("policy_id")?,
        path: row.try_get("path")?,
        trigger: trigger_from_db(&row.try_get::<String, _>("trigger")?)?,
        status: status_from_db(&row.try_get::<String, _>("status")?)?,
        attempt: u32_from_db(row.try_get("attempt")?, "attempt")?,
        old_version: version("old_version")?,
        new_version: version("new_version")?,
        error: row.try_get("error")?,
        started_at: from_micros(row.try_get("started_at")?)?,
        finished_at: opt_from_micros(row.try_get("finished_at")?)?,
    })
}

// --- secret policies -------------------------------------------------------------------------

pub(super) async fn insert_secret_policy(
    conn: &mut SqliteConnection,
    p: &SecretPolicyRecord,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO secret_policies (id, tenant_id, name, description, secret_type, fields,
            created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
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
    let done = sqlx::query(
        "UPDATE secret_policies SET name = ?3, description = ?4, secret_type = ?5, fields = ?6,
            updated_at = ?7
         WHERE tenant_id = ?1 AND id = ?2",
    )
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
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SECRET_POLICY_COLUMNS} FROM secret_policies WHERE tenant_id = ?1 AND id = ?2"
    )))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(secret_policy_from_row).transpose()
}

pub(super) async fn list_secret_policies(
    pool: &SqlitePool,
    tenant_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<SecretPolicyRecord>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SECRET_POLICY_COLUMNS} FROM secret_policies
         WHERE tenant_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
    )))
    .bind(tenant_id)
    .bind(after.unwrap_or(""))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let items = rows
        .iter()
        .map(secret_policy_from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(page_of(items, limit, None))
}

pub(super) async fn delete_secret_policy(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    id: &str,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM secret_policies WHERE tenant_id = ?1 AND id = ?2")
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
    sqlx::query(
        "INSERT INTO rotation_policies (id, tenant_id, name, description, interval_secs,
            grace_secs, warn_before, auto_generate, rotation_window, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .bind(&p.id)
    .bind(&p.tenant_id)
    .bind(&p.name)
    .bind(&p.description)
    .bind(secs_to_db(p.interval_secs)?)
    .bind(secs_to_db(p.grace_secs)?)
    .bind(encode_warn_before(&p.warn_before_secs)?)
    .bind(i64::from(p.auto_generate))
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
    let done = sqlx::query(
        "UPDATE rotation_policies SET name = ?3, description = ?4, interval_secs = ?5,
            grace_secs = ?6, warn_before = ?7, auto_generate = ?8, rotation_window = ?9,
            updated_at = ?10
         WHERE tenant_id = ?1 AND id = ?2",
    )
    .bind(&p.tenant_id)
    .bind(&p.id)
    .bind(&p.name)
    .bind(&p.description)
    .bind(secs_to_db(p.interval_secs)?)
    .bind(secs_to_db(p.grace_secs)?)
    .bind(encode_warn_before(&p.warn_before_secs)?)
    .bind(i64::from(p.auto_generate))
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
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {ROTATION_POLICY_COLUMNS} FROM rotation_policies WHERE tenant_id = ?1 AND id = ?2"
    )))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(rotation_policy_from_row).transpose()
}

pub(super) async fn list_rotation_policies(
    pool: &SqlitePool,
    tenant_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<RotationPolicyRecord>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {ROTATION_POLICY_COLUMNS} FROM rotation_policies
         WHERE tenant_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
    )))
    .bind(tenant_id)
    .bind(after.unwrap_or(""))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let items = rows
        .iter()
        .map(rotation_policy_from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(page_of(items, limit, None))
}

/// Deletes the policy, detaches it from the tenant's secrets (soft-deleted ones included) and
/// deletes its schedules; false (and nothing changed) when there is no such policy.
pub(super) async fn delete_rotation_policy(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    id: &str,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM rotation_policies WHERE tenant_id = ?1 AND id = ?2")
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    // `updated_at` stays: it tracks what the secret's owner wrote (as `patch_secret` does).
    sqlx::query(
        "UPDATE secrets SET rotation_policy_id = NULL
         WHERE tenant_id = ?1 AND rotation_policy_id = ?2",
    )
    .bind(tenant_id)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM rotation_schedules WHERE tenant_id = ?1 AND policy_id = ?2")
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

// --- schedules -------------------------------------------------------------------------------

/// Sets (or clears) the rotation policy of the live secret at `path`; false when there is no
/// live secret there. `Invalid` when the policy to attach does not exist (it may have been
/// deleted since the caller looked): a secret never points at a missing policy.
pub(super) async fn set_secret_rotation_policy(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    path: &str,
    policy_id: Option<&str>,
) -> Result<bool> {
    let policy_exists = match policy_id {
        Some(id) => sqlx::query("SELECT 1 FROM rotation_policies WHERE tenant_id = ?1 AND id = ?2")
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .is_some(),
        None => true,
    };
    let done = sqlx::query(
        "UPDATE secrets SET rotation_policy_id = ?3
         WHERE tenant_id = ?1 AND path = ?2 AND deleted_at IS NULL",
    )
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
            sqlx::query(
                "INSERT INTO rotation_schedules (tenant_id, path, policy_id, state,
                    next_rotation_at, next_warning_at, attempts, last_rotated_at, last_error,
                    updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (tenant_id, path) DO UPDATE SET
                    policy_id = excluded.policy_id,
                    state = excluded.state,
                    next_rotation_at = excluded.next_rotation_at,
                    next_warning_at = excluded.next_warning_at,
                    attempts = excluded.attempts,
                    last_rotated_at = excluded.last_rotated_at,
                    last_error = excluded.last_error,
                    updated_at = excluded.updated_at",
            )
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
            sqlx::query("DELETE FROM rotation_schedules WHERE tenant_id = ?1 AND path = ?2")
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
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SCHEDULE_COLUMNS} FROM rotation_schedules WHERE tenant_id = ?1 AND path = ?2"
    )))
    .bind(tenant_id)
    .bind(path)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(schedule_from_row).transpose()
}

pub(super) async fn list_schedules(
    pool: &SqlitePool,
    tenant_id: &str,
    q: &ScheduleQuery,
) -> Result<Page<ScheduleRecord>> {
    let mut qb = QueryBuilder::<Sqlite>::new(format!(
        "SELECT {SCHEDULE_COLUMNS} FROM rotation_schedules WHERE tenant_id = "
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
    let rows = qb.build().fetch_all(pool).await?;
    let items = rows
        .iter()
        .map(schedule_from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(page_of(items, q.limit, None))
}

/// Due schedules of every tenant, not awaiting a value. The state condition is written exactly
/// as the partial index `rotation_schedules_due` has it, so the index applies.
pub(super) async fn due(
    pool: &SqlitePool,
    now: OffsetDateTime,
    limit: u32,
) -> Result<Vec<ScheduleRecord>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SCHEDULE_COLUMNS} FROM rotation_schedules
         WHERE next_rotation_at <= ?1 AND state <> 'awaiting_value'
         ORDER BY next_rotation_at, path, tenant_id LIMIT ?2"
    )))
    .bind(micros(now))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(schedule_from_row).collect()
}

pub(super) async fn due_warnings(
    pool: &SqlitePool,
    now: OffsetDateTime,
    limit: u32,
) -> Result<Vec<ScheduleRecord>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SCHEDULE_COLUMNS} FROM rotation_schedules
         WHERE next_warning_at <= ?1
         ORDER BY next_warning_at, path, tenant_id LIMIT ?2"
    )))
    .bind(micros(now))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(schedule_from_row).collect()
}

/// Live secrets with a rotation policy but no schedule of that policy. Walks the partial index
/// `secrets_by_rotation_policy` in its own order (no sort) and probes each schedule by key.
pub(super) async fn unscheduled(
    pool: &SqlitePool,
    limit: u32,
) -> Result<Vec<(String, String, String)>> {
    let rows = sqlx::query(
        "SELECT s.tenant_id, s.path, s.rotation_policy_id
         FROM secrets s
         LEFT JOIN rotation_schedules r ON r.tenant_id = s.tenant_id AND r.path = s.path
         WHERE s.rotation_policy_id IS NOT NULL AND s.deleted_at IS NULL
           AND (r.policy_id IS NULL OR r.policy_id <> s.rotation_policy_id)
         ORDER BY s.tenant_id, s.rotation_policy_id, s.path
         LIMIT ?1",
    )
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("tenant_id")?,
                row.try_get("path")?,
                row.try_get("rotation_policy_id")?,
            ))
        })
        .collect()
}

// --- runs ------------------------------------------------------------------------------------

/// Inserts the run (a new id) or updates its outcome (a known id); returns its `seq`. An id
/// taken by another tenant's run is `Duplicate` (ids are random: never in practice).
pub(super) async fn upsert_run(conn: &mut SqliteConnection, run: &RunRecord) -> Result<u64> {
    let seq: Option<i64> = sqlx::query_scalar(
        "INSERT INTO rotation_runs (id, tenant_id, policy_id, path, trigger, status, attempt,
            old_version, new_version, error, started_at, finished_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (id) DO UPDATE SET
            status = excluded.status,
            attempt = excluded.attempt,
            old_version = excluded.old_version,
            new_version = excluded.new_version,
            error = excluded.error,
            finished_at = excluded.finished_at
         WHERE rotation_runs.tenant_id = excluded.tenant_id
         RETURNING seq",
    )
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
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} FROM rotation_runs WHERE id = ?2 AND tenant_id = ?1"
    )))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(run_from_row).transpose()
}

pub(super) async fn list_runs(
    pool: &SqlitePool,
    tenant_id: &str,
    q: &RunQuery,
) -> Result<Page<RunRecord>> {
    let mut qb = QueryBuilder::<Sqlite>::new(format!(
        "SELECT {RUN_COLUMNS} FROM rotation_runs WHERE tenant_id = "
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
    let rows = qb.build().fetch_all(pool).await?;
    let items = rows.iter().map(run_from_row).collect::<Result<Vec<_>>>()?;
    Ok(page_of(items, q.limit, None))
}

/// Runs of every tenant in `status`, oldest first. For the open statuses the query repeats the
/// condition of the partial index `rotation_runs_open` verbatim, so the index applies.
pub(super) async fn open_runs(
    pool: &SqlitePool,
    status: RunStatus,
    limit: u32,
) -> Result<Vec<RunRecord>> {
    let only_open = if status.is_open() {
        "status IN ('running', 'awaiting_value') AND "
    } else {
        ""
    };
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {RUN_COLUMNS} FROM rotation_runs WHERE {only_open}status = ?1
         ORDER BY seq LIMIT ?2"
    )))
    .bind(status.as_str())
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(run_from_row).collect()
}
