//! Secrets, their versions and read counters in PostgreSQL.
//!
//! Every mutation of a secret first locks its row (`FOR UPDATE`, or the `UPDATE`/`DELETE` that
//! changes it), so concurrent writers on any number of nodes apply one after the other and
//! version numbers stay unique and gap-free.

use std::collections::BTreeMap;

use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};
use time::OffsetDateTime;

use crate::model::*;
use crate::sql::secrets::*;
use crate::sql::{
    TextListRef, from_micros, like_prefix, micros, opt_from_micros, page_of, records, to_i64,
    to_u64,
};
use crate::{Entity, Result, SealFn, StoreError};

crate::sql::secrets::shared_bindings!(sqlx::PgConnection, sqlx::PgPool);

const CREATE_ATTEMPTS: usize = 4;

/// The secret's row, locked until the transaction ends; `None` when absent.
async fn lock_secret(
    conn: &mut PgConnection,
    tenant_id: &str,
    path: &str,
) -> Result<Option<SecretRecord>> {
    let row: Option<SecretRow> = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM secrets WHERE tenant_id = $1 AND path = $2 FOR UPDATE"
    ))
    .bind(tenant_id)
    .bind(path)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(TryInto::try_into).transpose()
}

/// Applies a patch's set fields to an existing secret, and for a write also the new current
/// version and `updated_at`; returns the updated row.
async fn update_secret(
    conn: &mut PgConnection,
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

async fn insert_version(
    conn: &mut PgConnection,
    tenant_id: &str,
    path: &str,
    version: i64,
    sealed: &SealedBlob,
    now: i64,
) -> Result<()> {
    sqlx::query(INSERT_VERSION)
        .bind(tenant_id)
        .bind(path)
        .bind(version)
        .bind(&sealed.key_id)
        .bind(&sealed.ciphertext)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Claims a new path with version 1. `None` when a concurrent writer created it first
/// (`ON CONFLICT DO NOTHING` waits for that writer's transaction to end).
async fn claim_new(
    conn: &mut PgConnection,
    tenant_id: &str,
    write: &SecretWrite,
) -> Result<Option<SecretRecord>> {
    let patch = &write.patch;
    let row: Option<SecretRow> = sqlx::query_as(concat!(
        "INSERT INTO secrets (tenant_id, path, secret_type, current_version, latest_version,
            max_versions, description, tags, owner, expires_at, rotation_policy_id,
            secret_policy_id, created_at, updated_at)
         VALUES ($1, $2, $3, 1, 1, $4, $5, $6, $7, $8, $9, $10, $11, $11)
         ON CONFLICT (tenant_id, path) DO NOTHING
         RETURNING ",
        columns!()
    ))
    .bind(tenant_id)
    .bind(&write.path)
    .bind(patch.secret_type.as_deref().unwrap_or("kv"))
    .bind(i64::from(
        patch.max_versions.unwrap_or(DEFAULT_MAX_VERSIONS),
    ))
    .bind(&patch.description)
    .bind(TextListRef(patch.tags.as_deref().unwrap_or_default()))
    .bind(&patch.owner)
    .bind(patch.expires_at.map(micros))
    .bind(&patch.rotation_policy_id)
    .bind(&patch.secret_policy_id)
    .bind(micros(write.now))
    .fetch_optional(&mut *conn)
    .await?;
    row.map(TryInto::try_into).transpose()
}

/// One write inside the caller's transaction: lock (or claim) the row, check, seal, store.
pub(super) async fn write_in(
    tx: &mut PgConnection,
    tenant_id: &str,
    write: &SecretWrite,
    seal: &SealFn,
) -> Result<WriteOutcome> {
    let path = write.path.as_str();
    for _ in 0..CREATE_ATTEMPTS {
        let existing = lock_secret(tx, tenant_id, path).await?;
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
        let now = micros(write.now);

        let Some(existing) = existing else {
            // A new secret has one version: nothing to retire or prune.
            let Some(record) = claim_new(tx, tenant_id, write).await? else {
                continue;
            };
            let sealed = seal(1).map_err(|()| StoreError::Seal)?;
            insert_version(tx, tenant_id, path, 1, &sealed, now).await?;
            return Ok(WriteOutcome {
                version: 1,
                previous_version: None,
                created: true,
                record,
            });
        };

        let version = existing.latest_version + 1;
        let version_i64 =
            i64::try_from(version).map_err(|_| StoreError::Corrupt("version overflow".into()))?;
        let sealed = seal(version).map_err(|()| StoreError::Seal)?;
        insert_version(tx, tenant_id, path, version_i64, &sealed, now).await?;
        let record =
            update_secret(tx, tenant_id, path, &write.patch, Some((version_i64, now))).await?;
        if let WriteMode::Rotate { retire_previous_at } = write.mode {
            sqlx::query(RETIRE_VERSION)
                .bind(tenant_id)
                .bind(path)
                .bind(to_i64(current))
                .bind(micros(retire_previous_at))
                .execute(&mut *tx)
                .await?;
        }
        prune_versions(tx, tenant_id, path, write.now).await?;
        return Ok(WriteOutcome {
            version,
            previous_version: Some(current),
            created: current == 0,
            record,
        });
    }
    Err(StoreError::CommitFailed(
        "the path was created and deleted concurrently too often; retry".into(),
    ))
}

/// The record with its number of live versions (one statement, one snapshot).
pub(super) async fn get(pool: &PgPool, tenant_id: &str, path: &str) -> Result<SecretRecord> {
    #[derive(sqlx::FromRow)]
    struct CountedRow {
        #[sqlx(flatten)]
        secret: SecretRow,
        version_count: i64,
    }
    let row: CountedRow = sqlx::query_as(concat!(
        "SELECT ",
        columns_of_s!(),
        ", (SELECT COUNT(*) FROM secret_versions v
            WHERE v.tenant_id = s.tenant_id AND v.path = s.path) AS version_count
         FROM secrets s WHERE s.tenant_id = $1 AND s.path = $2"
    ))
    .bind(tenant_id)
    .bind(path)
    .fetch_optional(pool)
    .await?
    .ok_or(StoreError::NotFound(Entity::Secret))?;
    let mut record = SecretRecord::try_from(row.secret)?;
    record.version_count = to_u64(row.version_count, "count")?;
    Ok(record)
}

pub(super) async fn patch(
    conn: &mut PgConnection,
    tenant_id: &str,
    path: &str,
    patch: &SecretPatch,
    now: OffsetDateTime,
) -> Result<SecretRecord> {
    match lock_secret(conn, tenant_id, path).await? {
        Some(r) if r.deleted_at.is_none() => {}
        _ => return Err(StoreError::NotFound(Entity::Secret)),
    }
    let record = update_secret(conn, tenant_id, path, patch, None).await?;
    prune_versions(conn, tenant_id, path, now).await?;
    Ok(record)
}

fn push_list_filters(qb: &mut QueryBuilder<Postgres>, tenant_id: &str, q: &ListQuery) {
    qb.push(" WHERE tenant_id = ")
        .push_bind(tenant_id.to_owned())
        .push(" AND deleted_at IS NULL");
    if !q.prefix.is_empty() {
        qb.push(" AND path LIKE ").push_bind(like_prefix(&q.prefix));
    }
    if !q.tags.is_empty() {
        // Array containment: every requested tag is present.
        qb.push(" AND tags @> ").push_bind(q.tags.clone());
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

pub(super) async fn list(
    pool: &PgPool,
    tenant_id: &str,
    q: &ListQuery,
) -> Result<Page<SecretRecord>> {
    // The total ignores the cursor: it counts matches across all pages.
    let mut count_qb = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM secrets");
    push_list_filters(&mut count_qb, tenant_id, q);
    let total: i64 = count_qb.build_query_scalar().fetch_one(pool).await?;

    let mut qb = QueryBuilder::<Postgres>::new(concat!("SELECT ", columns!(), " FROM secrets"));
    push_list_filters(&mut qb, tenant_id, q);
    if let Some(after) = &q.after_path {
        qb.push(" AND path > ").push_bind(after.clone());
    }
    qb.push(" ORDER BY path LIMIT ")
        .push_bind(i64::from(q.limit) + 1);
    let rows: Vec<SecretRow> = qb.build_query_as().fetch_all(pool).await?;
    Ok(page_of(
        records(rows)?,
        q.limit,
        Some(to_u64(total, "count")?),
    ))
}

pub(super) async fn list_expiring(
    pool: &PgPool,
    tenant_id: &str,
    q: &ExpiringQuery,
) -> Result<Page<SecretRecord>> {
    let mut qb = QueryBuilder::<Postgres>::new(concat!(
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
        qb.push(" AND path LIKE ").push_bind(like_prefix(&q.prefix));
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

/// Live versions, newest first; `NotFound` when the secret is absent or soft-deleted. One
/// statement: the secret's row joined with its live versions (none: one row of NULLs).
pub(super) async fn list_versions(
    pool: &PgPool,
    tenant_id: &str,
    path: &str,
    now: OffsetDateTime,
) -> Result<Vec<VersionRecord>> {
    let rows = sqlx::query(
        "SELECT v.version, v.created_at, v.retires_at
         FROM secrets s
         LEFT JOIN secret_versions v
           ON v.tenant_id = s.tenant_id AND v.path = s.path
          AND (v.retires_at IS NULL OR v.retires_at > $3)
         WHERE s.tenant_id = $1 AND s.path = $2 AND s.deleted_at IS NULL
         ORDER BY v.version DESC",
    )
    .bind(tenant_id)
    .bind(path)
    .bind(micros(now))
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        return Err(StoreError::NotFound(Entity::Secret));
    }
    let mut versions = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(version) = row.try_get::<Option<i64>, _>("version")? else {
            continue;
        };
        versions.push(VersionRecord {
            version: to_u64(version, "version")?,
            created_at: from_micros(row.try_get("created_at")?)?,
            retires_at: opt_from_micros(row.try_get("retires_at")?)?,
            sealed: None,
        });
    }
    Ok(versions)
}

pub(super) async fn soft_delete(
    conn: &mut PgConnection,
    tenant_id: &str,
    path: &str,
    now: OffsetDateTime,
) -> Result<()> {
    let done = sqlx::query(SOFT_DELETE)
        .bind(tenant_id)
        .bind(path)
        .bind(micros(now))
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(Entity::Secret));
    }
    Ok(())
}

pub(super) async fn restore(
    conn: &mut PgConnection,
    tenant_id: &str,
    path: &str,
) -> Result<SecretRecord> {
    let row: SecretRow = sqlx::query_as(concat!(
        "UPDATE secrets SET deleted_at = NULL WHERE tenant_id = $1 AND path = $2 RETURNING ",
        columns!()
    ))
    .bind(tenant_id)
    .bind(path)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StoreError::NotFound(Entity::Secret))?;
    row.try_into()
}

pub(super) async fn hard_delete(
    conn: &mut PgConnection,
    tenant_id: &str,
    path: &str,
) -> Result<()> {
    let done = sqlx::query(HARD_DELETE)
        .bind(tenant_id)
        .bind(path)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(Entity::Secret));
    }
    for statement in HARD_DELETE_DEPENDENTS {
        sqlx::query(statement)
            .bind(tenant_id)
            .bind(path)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(super) async fn delete_version(
    conn: &mut PgConnection,
    tenant_id: &str,
    path: &str,
    version: u64,
    now: OffsetDateTime,
) -> Result<()> {
    let version = i64::try_from(version).map_err(|_| StoreError::VersionNotFound)?;
    let record = match lock_secret(conn, tenant_id, path).await? {
        Some(r) if r.deleted_at.is_none() => r,
        _ => return Err(StoreError::NotFound(Entity::Secret)),
    };
    let live: Vec<i64> = sqlx::query_scalar(LIVE_VERSION_NUMBERS)
        .bind(tenant_id)
        .bind(path)
        .bind(micros(now))
        .fetch_all(&mut *conn)
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
        .execute(&mut *conn)
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
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Adds read counts in one statement. Hits are merged per (tenant, path, day) first (an upsert
/// may touch a row only once per statement) and sorted, so concurrent calls on several nodes
/// lock the counter rows in the same order and cannot deadlock.
pub(super) async fn record_access(pool: &PgPool, hits: &[AccessHit]) -> Result<()> {
    let mut merged: BTreeMap<(&str, &str, i64), (i64, i64)> = BTreeMap::new();
    for hit in hits {
        let day = hit.last_at.unix_timestamp().div_euclid(86_400);
        let entry = merged
            .entry((hit.tenant_id.as_str(), hit.path.as_str(), day))
            .or_insert((0, i64::MIN));
        entry.0 = entry
            .0
            .saturating_add(i64::try_from(hit.count).unwrap_or(i64::MAX));
        entry.1 = entry.1.max(micros(hit.last_at));
    }
    if merged.is_empty() {
        return Ok(());
    }
    let mut tenants = Vec::with_capacity(merged.len());
    let mut paths = Vec::with_capacity(merged.len());
    let mut days = Vec::with_capacity(merged.len());
    let mut counts = Vec::with_capacity(merged.len());
    let mut lasts = Vec::with_capacity(merged.len());
    for ((tenant, path, day), (count, last)) in merged {
        tenants.push(tenant.to_owned());
        paths.push(path.to_owned());
        days.push(day);
        counts.push(count);
        lasts.push(last);
    }
    sqlx::query(
        "INSERT INTO secret_access (tenant_id, path, day, count, last_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
         ON CONFLICT (tenant_id, path, day) DO UPDATE SET
            count = secret_access.count + excluded.count,
            last_at = GREATEST(secret_access.last_at, excluded.last_at)",
    )
    .bind(tenants)
    .bind(paths)
    .bind(days)
    .bind(counts)
    .bind(lasts)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn access_stats(
    pool: &PgPool,
    tenant_id: &str,
    path: &str,
    since: OffsetDateTime,
) -> Result<(u64, Option<OffsetDateTime>)> {
    let since_day = since.unix_timestamp().div_euclid(86_400);
    let row = sqlx::query(
        "SELECT COALESCE(SUM(CASE WHEN day >= $3 THEN count ELSE 0 END), 0)::BIGINT AS n,
                MAX(last_at) AS last
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

/// Housekeeping. Rows another transaction holds are skipped (`SKIP LOCKED`), so sweeps on
/// several nodes neither wait on writers nor deadlock with each other; skipped rows go next time.
pub(super) async fn sweep(
    pool: &PgPool,
    deleted_before: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(u64, u64)> {
    let mut tx = pool.begin().await?;
    let secrets: i64 = sqlx::query_scalar(
        "WITH purged AS (
            DELETE FROM secrets WHERE (tenant_id, path) IN (
                SELECT tenant_id, path FROM secrets
                WHERE deleted_at IS NOT NULL AND deleted_at < $1
                FOR UPDATE SKIP LOCKED)
            RETURNING tenant_id, path
         ), versions AS (
            DELETE FROM secret_versions v USING purged p
            WHERE v.tenant_id = p.tenant_id AND v.path = p.path
         ), counters AS (
            DELETE FROM secret_access a USING purged p
            WHERE a.tenant_id = p.tenant_id AND a.path = p.path
         )
         SELECT COUNT(*) FROM purged",
    )
    .bind(micros(deleted_before))
    .fetch_one(&mut *tx)
    .await?;
    let versions = sqlx::query(
        "DELETE FROM secret_versions WHERE (tenant_id, path, version) IN (
            SELECT tenant_id, path, version FROM secret_versions
            WHERE retires_at IS NOT NULL AND retires_at <= $1
            FOR UPDATE SKIP LOCKED)",
    )
    .bind(micros(now))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok((to_u64(secrets, "count")?, versions))
}
