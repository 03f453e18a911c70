//! Secrets, their versions and read counters in SQLite (the shared statements are in
//! [`crate::sql::secrets`]). One writer connection serialises every change, so nothing here
//! locks rows; prefixes match with `GLOB`, tags (a JSON array) with `json_each`.

use sqlx::{AssertSqlSafe, QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use time::OffsetDateTime;

use crate::model::*;
use crate::sql::secrets::*;
use crate::sql::{
    TextListRef, from_micros, glob_prefix, micros, opt_from_micros, page_of, records, to_i64,
    to_u64,
};
use crate::{Entity, Result, SealFn, StoreError};

crate::sql::secrets::shared_bindings!(sqlx::SqliteConnection, sqlx::SqlitePool);

async fn fetch_secret(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    path: &str,
) -> Result<Option<SecretRecord>> {
    let row: Option<SecretRow> = sqlx::query_as(FETCH)
        .bind(tenant_id)
        .bind(path)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(TryInto::try_into).transpose()
}

/// Applies a patch's set fields to an existing secret, and for a write also the new current
/// version and `updated_at`; returns the updated row (`RETURNING` spares a second statement,
/// and every statement is a round trip to sqlx's SQLite worker thread).
async fn update_secret(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    path: &str,
    patch: &SecretPatch,
    new_version: Option<(i64, i64)>,
) -> Result<SecretRecord> {
    let row: SecretRow = sqlx::query_as(UPDATE)
        .bind(tenant_id)
        .bind(path)
        .bind(&patch.secret_type)
        .bind(&patch.description)
        .bind(patch.tags.as_deref().map(TextListRef))
        .bind(&patch.owner)
        .bind(patch.max_versions.map(i64::from))
        .bind(patch.expires_at.map(micros))
        .bind(&patch.rotation_policy_id)
        .bind(&patch.secret_policy_id)
        .bind(new_version.map(|(v, _)| v))
        .bind(new_version.map(|(_, at)| at))
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound(Entity::Secret))?;
    row.try_into()
}

fn push_list_filters(qb: &mut QueryBuilder<Sqlite>, tenant_id: &str, q: &ListQuery) {
    qb.push(" WHERE tenant_id = ")
        .push_bind(tenant_id.to_owned())
        .push(" AND deleted_at IS NULL");
    if !q.prefix.is_empty() {
        qb.push(" AND path GLOB ").push_bind(glob_prefix(&q.prefix));
    }
    for tag in &q.tags {
        qb.push(" AND EXISTS (SELECT 1 FROM json_each(secrets.tags) WHERE json_each.value = ")
            .push_bind(tag.clone())
            .push(")");
    }
    if let Some(t) = &q.secret_type {
        qb.push(" AND secret_type = ").push_bind(t.clone());
    }
    if let Some(before) = q.expires_before {
        qb.push(" AND expires_at IS NOT NULL AND expires_at < ")
            .push_bind(micros(before));
    }
    if let Some(after) = q.updated_after {
        qb.push(" AND updated_at > ").push_bind(micros(after));
    }
    if !q.include_expired
        && let Some(now) = q.now
    {
        qb.push(" AND (expires_at IS NULL OR expires_at > ")
            .push_bind(micros(now))
            .push(")");
    }
}

const INSERT_NEW: &str = concat!(
    "INSERT INTO secrets (tenant_id, path, secret_type, current_version, latest_version,
        max_versions, description, tags, owner, expires_at, rotation_policy_id,
        secret_policy_id, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
     RETURNING ",
    columns!()
);

/// One write inside the batch transaction (see [`super::writer::run_writer`]).
pub(super) async fn write_in(
    tx: &mut SqliteConnection,
    tenant_id: &str,
    write: &SecretWrite,
    seal: &SealFn,
) -> Result<WriteOutcome> {
    let path = write.path.as_str();
    let existing = fetch_secret(tx, tenant_id, path).await?;
    match (&existing, &write.mode) {
        (Some(r), WriteMode::Put) if r.deleted_at.is_some() => {
            return Err(StoreError::SoftDeleted);
        }
        (Some(r), WriteMode::Rotate { .. }) if r.deleted_at.is_some() => {
            return Err(StoreError::NotFound(Entity::Secret));
        }
        (None, WriteMode::Rotate { .. }) => return Err(StoreError::NotFound(Entity::Secret)),
        _ => {}
    }
    let current = existing.as_ref().map_or(0, |r| r.current_version);
    if let Some(expected) = write.expected_version
        && expected != current
    {
        return Err(StoreError::VersionConflict { current });
    }
    let version = existing.as_ref().map_or(1, |r| r.latest_version + 1);
    let version_i64 =
        i64::try_from(version).map_err(|_| StoreError::Corrupt("version overflow".into()))?;
    let sealed = seal(version).map_err(|()| StoreError::Seal)?;
    let now = micros(write.now);
    // Every refusal is above this line, before the first change: a failure below is the
    // database's, and fails the whole batch (see `commit_batch`).

    sqlx::query(INSERT_VERSION)
        .bind(tenant_id)
        .bind(path)
        .bind(version_i64)
        .bind(&sealed.key_id)
        .bind(&sealed.ciphertext)
        .bind(now)
        .execute(&mut *tx)
        .await?;

    let patch = &write.patch;
    let record = if existing.is_none() {
        let row: SecretRow = sqlx::query_as(INSERT_NEW)
            .bind(tenant_id)
            .bind(path)
            .bind(patch.secret_type.as_deref().unwrap_or("kv"))
            .bind(version_i64)
            .bind(i64::from(
                patch.max_versions.unwrap_or(DEFAULT_MAX_VERSIONS),
            ))
            .bind(&patch.description)
            .bind(TextListRef(patch.tags.as_deref().unwrap_or_default()))
            .bind(&patch.owner)
            .bind(patch.expires_at.map(micros))
            .bind(&patch.rotation_policy_id)
            .bind(&patch.secret_policy_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        // A new secret has one version: nothing to retire or prune.
        row.try_into()?
    } else {
        let record = update_secret(tx, tenant_id, path, patch, Some((version_i64, now))).await?;
        if let WriteMode::Rotate { retire_previous_at } = write.mode {
            sqlx::query(RETIRE_VERSION)
                .bind(tenant_id)
                .bind(path)
                .bind(to_i64(current))
                .bind(micros(retire_previous_at))
                .execute(&mut *tx)
                .await?;
        }
        // No more live versions than `version` can exist, so under the cap there is nothing to
        // prune (retired versions are unreadable already and purged by the sweep).
        if version > u64::from(record.max_versions) {
            prune_versions(tx, tenant_id, path, write.now).await?;
        }
        record
    };
    Ok(WriteOutcome {
        version,
        previous_version: existing.map(|r| r.current_version),
        created: current == 0,
        record,
    })
}

const ACCESS_ROWS_PER_INSERT: usize = 500;

pub(super) async fn get(pool: &SqlitePool, tenant_id: &str, path: &str) -> Result<SecretRecord> {
    let mut conn = pool.acquire().await?;
    let mut record = fetch_secret(&mut conn, tenant_id, path)
        .await?
        .ok_or(StoreError::NotFound(Entity::Secret))?;
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM secret_versions WHERE tenant_id = $1 AND path = $2",
    )
    .bind(tenant_id)
    .bind(path)
    .fetch_one(&mut *conn)
    .await?;
    record.version_count = to_u64(count, "count")?;
    Ok(record)
}

pub(super) async fn patch(
    tx: &mut SqliteConnection,
    tenant_id: &str,
    path: &str,
    patch: &SecretPatch,
    now: OffsetDateTime,
) -> Result<SecretRecord> {
    match fetch_secret(&mut *tx, tenant_id, path).await? {
        Some(r) if r.deleted_at.is_none() => {}
        _ => return Err(StoreError::NotFound(Entity::Secret)),
    }
    let record = update_secret(&mut *tx, tenant_id, path, patch, None).await?;
    prune_versions(&mut *tx, tenant_id, path, now).await?;
    Ok(record)
}

pub(super) async fn list(
    pool: &SqlitePool,
    tenant_id: &str,
    q: &ListQuery,
) -> Result<Page<SecretRecord>> {
    let mut conn = pool.acquire().await?;
    let mut count_qb = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM secrets");
    push_list_filters(&mut count_qb, tenant_id, q);
    let total: i64 = count_qb.build_query_scalar().fetch_one(&mut *conn).await?;

    let mut qb = QueryBuilder::<Sqlite>::new(concat!("SELECT ", columns!(), " FROM secrets"));
    push_list_filters(&mut qb, tenant_id, q);
    if let Some(after) = &q.after_path {
        qb.push(" AND path > ").push_bind(after.clone());
    }
    qb.push(" ORDER BY path LIMIT ")
        .push_bind(i64::from(q.limit) + 1);
    let rows: Vec<SecretRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
    Ok(page_of(
        records(rows)?,
        q.limit,
        Some(to_u64(total, "count")?),
    ))
}

pub(super) async fn list_expiring(
    pool: &SqlitePool,
    tenant_id: &str,
    q: &ExpiringQuery,
) -> Result<Page<SecretRecord>> {
    let mut qb = QueryBuilder::<Sqlite>::new(concat!(
        "SELECT ",
        columns!(),
        " FROM secrets WHERE tenant_id = "
    ));
    qb.push_bind(tenant_id.to_owned())
        .push(" AND deleted_at IS NULL AND expires_at > ")
        .push_bind(micros(q.now))
        .push(" AND expires_at <= ")
        .push_bind(micros(q.before));
    if !q.prefix.is_empty() {
        qb.push(" AND path GLOB ").push_bind(glob_prefix(&q.prefix));
    }
    if let Some((at, path)) = &q.after {
        qb.push(" AND (expires_at, path) > (")
            .push_bind(micros(*at))
            .push(", ")
            .push_bind(path.clone())
            .push(")");
    }
    qb.push(" ORDER BY expires_at, path LIMIT ")
        .push_bind(i64::from(q.limit) + 1);
    let rows: Vec<SecretRow> = qb.build_query_as().fetch_all(pool).await?;
    Ok(page_of(records(rows)?, q.limit, None))
}

pub(super) async fn list_versions(
    pool: &SqlitePool,
    tenant_id: &str,
    path: &str,
    now: OffsetDateTime,
) -> Result<Vec<VersionRecord>> {
    let mut conn = pool.acquire().await?;
    match fetch_secret(&mut conn, tenant_id, path).await? {
        Some(r) if r.deleted_at.is_none() => {}
        _ => return Err(StoreError::NotFound(Entity::Secret)),
    }
    let rows = sqlx::query(
        "SELECT version, created_at, retires_at FROM secret_versions
         WHERE tenant_id = $1 AND path = $2 AND (retires_at IS NULL OR retires_at > $3)
         ORDER BY version DESC",
    )
    .bind(tenant_id)
    .bind(path)
    .bind(micros(now))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(VersionRecord {
                version: to_u64(row.try_get("version")?, "version")?,
                created_at: from_micros(row.try_get("created_at")?)?,
                retires_at: opt_from_micros(row.try_get("retires_at")?)?,
                sealed: None,
            })
        })
        .collect()
}

pub(super) async fn soft_delete(
    tx: &mut SqliteConnection,
    tenant_id: &str,
    path: &str,
    now: OffsetDateTime,
) -> Result<()> {
    let done = sqlx::query(SOFT_DELETE)
        .bind(tenant_id)
        .bind(path)
        .bind(micros(now))
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(Entity::Secret));
    }
    Ok(())
}

pub(super) async fn restore(
    tx: &mut SqliteConnection,
    tenant_id: &str,
    path: &str,
) -> Result<SecretRecord> {
    if fetch_secret(&mut *tx, tenant_id, path).await?.is_none() {
        return Err(StoreError::NotFound(Entity::Secret));
    }
    sqlx::query("UPDATE secrets SET deleted_at = NULL WHERE tenant_id = $1 AND path = $2")
        .bind(tenant_id)
        .bind(path)
        .execute(&mut *tx)
        .await?;
    let record = fetch_secret(&mut *tx, tenant_id, path)
        .await?
        .ok_or(StoreError::NotFound(Entity::Secret))?;
    Ok(record)
}

pub(super) async fn hard_delete(
    tx: &mut SqliteConnection,
    tenant_id: &str,
    path: &str,
) -> Result<()> {
    let done = sqlx::query(HARD_DELETE)
        .bind(tenant_id)
        .bind(path)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(Entity::Secret));
    }
    for statement in HARD_DELETE_DEPENDENTS {
        sqlx::query(statement)
            .bind(tenant_id)
            .bind(path)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

pub(super) async fn delete_version(
    tx: &mut SqliteConnection,
    tenant_id: &str,
    path: &str,
    version: u64,
    now: OffsetDateTime,
) -> Result<()> {
    let version = i64::try_from(version).map_err(|_| StoreError::VersionNotFound)?;
    let record = match fetch_secret(&mut *tx, tenant_id, path).await? {
        Some(r) if r.deleted_at.is_none() => r,
        _ => return Err(StoreError::NotFound(Entity::Secret)),
    };
    let live: Vec<i64> = sqlx::query_scalar(LIVE_VERSION_NUMBERS)
        .bind(tenant_id)
        .bind(path)
        .bind(micros(now))
        .fetch_all(&mut *tx)
        .await?;
    if !live.contains(&version) {
        return Err(StoreError::VersionNotFound);
    }
    if live.len() == 1 {
        return Err(StoreError::Invalid(
            "cannot delete the only remaining version; delete the secret instead",
        ));
    }
    sqlx::query(DELETE_VERSION)
        .bind(tenant_id)
        .bind(path)
        .bind(version)
        .execute(&mut *tx)
        .await?;
    if to_u64(version, "version")? == record.current_version {
        let newest = live
            .iter()
            .copied()
            .find(|v| *v != version)
            .unwrap_or(version);
        sqlx::query(SET_CURRENT_VERSION)
            .bind(tenant_id)
            .bind(path)
            .bind(newest)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

pub(super) async fn record_access(writer: &SqlitePool, hits: &[AccessHit]) -> Result<()> {
    if hits.is_empty() {
        return Ok(());
    }
    // One statement per chunk of secrets: one per secret held the single writer connection,
    // and every durable write and audit append queued behind it, for one round trip per
    // secret read in the last second.
    let mut tx = writer.begin().await?;
    for chunk in hits.chunks(ACCESS_ROWS_PER_INSERT) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO secret_access (tenant_id, path, day, count, last_at) ",
        );
        qb.push_values(chunk, |mut b, hit| {
            b.push_bind(hit.tenant_id.clone())
                .push_bind(hit.path.clone())
                .push_bind(hit.last_at.unix_timestamp().div_euclid(86_400))
                .push_bind(i64::try_from(hit.count).unwrap_or(i64::MAX))
                .push_bind(micros(hit.last_at));
        });
        qb.push(
            " ON CONFLICT (tenant_id, path, day) DO UPDATE SET
                count = count + excluded.count,
                last_at = MAX(last_at, excluded.last_at)",
        );
        qb.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn access_stats(
    pool: &SqlitePool,
    tenant_id: &str,
    path: &str,
    since: OffsetDateTime,
) -> Result<(u64, Option<OffsetDateTime>)> {
    let since_day = since.unix_timestamp().div_euclid(86_400);
    let row = sqlx::query(
        "SELECT COALESCE(SUM(CASE WHEN day >= $3 THEN count ELSE 0 END), 0) AS n, MAX(last_at) AS last
         FROM secret_access WHERE tenant_id = $1 AND path = $2",
    )
    .bind(tenant_id)
    .bind(path)
    .bind(since_day)
    .fetch_one(pool)
    .await?;
    Ok((
        to_u64(row.try_get("n")?, "count")?,
        opt_from_micros(row.try_get("last")?)?,
    ))
}

pub(super) async fn sweep(
    writer: &SqlitePool,
    deleted_before: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(u64, u64)> {
    let mut tx = writer.begin().await?;
    for table in ["secret_versions", "secret_access"] {
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE (tenant_id, path) IN
               (SELECT tenant_id, path FROM secrets WHERE deleted_at IS NOT NULL AND deleted_at < $1)"
        )))
        .bind(micros(deleted_before))
        .execute(&mut *tx)
        .await?;
    }
    let secrets =
        sqlx::query("DELETE FROM secrets WHERE deleted_at IS NOT NULL AND deleted_at < $1")
            .bind(micros(deleted_before))
            .execute(&mut *tx)
            .await?
            .rows_affected();
    let versions = sqlx::query(
        "DELETE FROM secret_versions WHERE retires_at IS NOT NULL AND retires_at <= $1",
    )
    .bind(micros(now))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok((secrets, versions))
}
