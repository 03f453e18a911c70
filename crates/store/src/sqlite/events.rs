//! The event outbox and subscriptions in SQLite.

use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};

use super::{from_micros, micros, opt_from_micros, page_of, to_u64};
use crate::events::*;
use crate::model::*;
use crate::{Result, StoreError};

/// The `system` row holding the highest seq the outbox pruning deleted. SQLite would hand a
/// deleted newest seq out again (a rowid is the largest one present plus one), and a poll
/// cursor or webhook delivery cursor already past it would then skip the new event; so seqs
/// are assigned explicitly above both the rows present and this floor.
const SEQ_FLOOR_KEY: &str = "events_seq_floor";

/// The highest seq ever assigned: the newest row's, or the pruning floor's.
const HIGHEST_SEQ: &str = "SELECT MAX(COALESCE((SELECT MAX(seq) FROM events), 0),
        COALESCE((SELECT CAST(value AS INTEGER) FROM system WHERE key = 'events_seq_floor'), 0))";

async fn highest_seq(conn: &mut SqliteConnection) -> Result<i64> {
    Ok(sqlx::query_scalar(HIGHEST_SEQ)
        .fetch_one(&mut *conn)
        .await?)
}

/// Inserts events inside the caller's transaction.
pub(super) async fn insert_in(conn: &mut SqliteConnection, events: &[NewEvent]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut next = highest_seq(conn).await? + 1;
    for chunk in events.chunks(500) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO events (seq, id, tenant_id, event_type, path, occurred_at, data) ",
        );
        let first = next;
        next += chunk.len() as i64;
        let mut seq = first..next;
        qb.push_values(chunk, |mut b, e| {
            b.push_bind(seq.next().unwrap_or(next))
                .push_bind(e.id.clone())
                .push_bind(e.tenant_id.clone())
                .push_bind(e.event_type.clone())
                .push_bind(e.path.clone())
                .push_bind(micros(e.occurred_at))
                .push_bind(e.data.clone());
        });
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Inserts events, skipping ids that exist; returns how many were new.
pub(super) async fn insert_new(conn: &mut SqliteConnection, events: &[NewEvent]) -> Result<u64> {
    let mut inserted = 0;
    for e in events {
        let seq = highest_seq(conn).await? + 1;
        inserted += sqlx::query(
            "INSERT OR IGNORE INTO events (seq, id, tenant_id, event_type, path, occurred_at, data)
             VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&e.id)
        .bind(&e.tenant_id)
        .bind(&e.event_type)
        .bind(&e.path)
        .bind(micros(e.occurred_at))
        .bind(&e.data)
        .bind(seq)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(inserted)
}

pub(super) async fn expiring_between(
    pool: &SqlitePool,
    from: time::OffsetDateTime,
    to: time::OffsetDateTime,
    limit: u32,
) -> Result<Vec<(String, String, time::OffsetDateTime)>> {
    let rows = sqlx::query(
        "SELECT tenant_id, path, expires_at FROM secrets
         WHERE deleted_at IS NULL AND expires_at > ?1 AND expires_at <= ?2
         ORDER BY expires_at, tenant_id, path LIMIT ?3",
    )
    .bind(micros(from))
    .bind(micros(to))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("tenant_id")?,
                r.try_get("path")?,
                from_micros(r.try_get("expires_at")?)?,
            ))
        })
        .collect()
}

fn event_from_row(row: &SqliteRow) -> Result<EventRecord> {
    Ok(EventRecord {
        seq: to_u64(row.try_get("seq")?, "seq")?,
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        event_type: row.try_get("event_type")?,
        path: row.try_get("path")?,
        occurred_at: from_micros(row.try_get("occurred_at")?)?,
        data: row.try_get("data")?,
    })
}

pub(super) async fn after(
    pool: &SqlitePool,
    tenants: &[String],
    after_seq: u64,
    limit: u32,
) -> Result<Vec<EventRecord>> {
    if tenants.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<Sqlite>::new(
        "SELECT seq, id, tenant_id, event_type, path, occurred_at, data FROM events WHERE seq > ",
    );
    qb.push_bind(i64::try_from(after_seq).unwrap_or(i64::MAX))
        .push(" AND tenant_id IN (");
    let mut list = qb.separated(", ");
    for t in tenants {
        list.push_bind(t.clone());
    }
    qb.push(") ORDER BY seq LIMIT ").push_bind(i64::from(limit));
    let rows = qb.build().fetch_all(pool).await?;
    rows.iter().map(event_from_row).collect()
}

pub(super) async fn last_seq(pool: &SqlitePool) -> Result<u64> {
    let seq: i64 = sqlx::query_scalar(HIGHEST_SEQ).fetch_one(pool).await?;
    to_u64(seq, "seq")
}

fn json_list(v: &[String]) -> Result<String> {
    serde_json::to_string(v).map_err(|_| StoreError::Corrupt("list".into()))
}

fn list_of(row: &SqliteRow, column: &str) -> Result<Vec<String>> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|_| StoreError::Corrupt(column.to_owned()))
}

fn subscription_from_row(row: &SqliteRow) -> Result<SubscriptionRecord> {
    let key_id: Option<String> = row.try_get("webhook_secret_key_id")?;
    let sealed: Option<Vec<u8>> = row.try_get("webhook_secret")?;
    Ok(SubscriptionRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        paths: list_of(row, "paths")?,
        event_types: list_of(row, "event_types")?,
        tenants: list_of(row, "tenants")?,
        webhook_url: row.try_get("webhook_url")?,
        webhook_secret: key_id
            .zip(sealed)
            .map(|(key_id, ciphertext)| SealedBlob { key_id, ciphertext }),
        owner_identity: row.try_get("owner_identity")?,
        owner_groups: list_of(row, "owner_groups")?,
        owner_is_admin: row.try_get::<i64, _>("owner_is_admin")? != 0,
        owner_is_partner_admin: row.try_get::<i64, _>("owner_is_partner_admin")? != 0,
        created_at: from_micros(row.try_get("created_at")?)?,
        start_seq: to_u64(row.try_get("start_seq")?, "start_seq")?,
        delivered_seq: to_u64(row.try_get("delivered_seq")?, "delivered_seq")?,
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        next_attempt_at: opt_from_micros(row.try_get("next_attempt_at")?)?,
        last_error: row.try_get("last_error")?,
    })
}

pub(super) async fn insert_subscription(
    conn: &mut SqliteConnection,
    s: &SubscriptionRecord,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO subscriptions (id, tenant_id, name, paths, event_types, tenants, webhook_url,
            webhook_secret_key_id, webhook_secret, owner_identity, owner_groups, owner_is_admin,
            owner_is_partner_admin, created_at, delivered_seq, start_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15)",
    )
    .bind(&s.id)
    .bind(&s.tenant_id)
    .bind(&s.name)
    .bind(json_list(&s.paths)?)
    .bind(json_list(&s.event_types)?)
    .bind(json_list(&s.tenants)?)
    .bind(&s.webhook_url)
    .bind(s.webhook_secret.as_ref().map(|b| b.key_id.clone()))
    .bind(s.webhook_secret.as_ref().map(|b| b.ciphertext.clone()))
    .bind(&s.owner_identity)
    .bind(json_list(&s.owner_groups)?)
    .bind(i64::from(s.owner_is_admin))
    .bind(i64::from(s.owner_is_partner_admin))
    .bind(micros(s.created_at))
    .bind(i64::try_from(s.delivered_seq).unwrap_or(i64::MAX))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn get_subscription(
    pool: &SqlitePool,
    tenant_id: &str,
    id: &str,
) -> Result<Option<SubscriptionRecord>> {
    let row = sqlx::query("SELECT * FROM subscriptions WHERE tenant_id = ?1 AND id = ?2")
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(subscription_from_row).transpose()
}

pub(super) async fn list_subscriptions(
    pool: &SqlitePool,
    tenant_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<SubscriptionRecord>> {
    let rows = sqlx::query(
        "SELECT * FROM subscriptions WHERE tenant_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
    )
    .bind(tenant_id)
    .bind(after.unwrap_or(""))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let items = rows
        .iter()
        .map(subscription_from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(page_of(items, limit, None))
}

pub(super) async fn delete_subscription(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    id: &str,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM subscriptions WHERE tenant_id = ?1 AND id = ?2")
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn set_webhook_secret(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    id: &str,
    secret: &SealedBlob,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE subscriptions SET webhook_secret_key_id = ?3, webhook_secret = ?4
         WHERE tenant_id = ?1 AND id = ?2 AND webhook_url IS NOT NULL",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(&secret.key_id)
    .bind(&secret.ciphertext)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn webhook_subscriptions(pool: &SqlitePool) -> Result<Vec<SubscriptionRecord>> {
    let rows = sqlx::query("SELECT * FROM subscriptions WHERE webhook_url IS NOT NULL ORDER BY id")
        .fetch_all(pool)
        .await?;
    rows.iter().map(subscription_from_row).collect()
}

pub(super) async fn record_delivery(
    conn: &mut SqliteConnection,
    state: &DeliveryState<'_>,
) -> Result<()> {
    sqlx::query(
        "UPDATE subscriptions SET delivered_seq = ?2, attempts = ?3, next_attempt_at = ?4,
            last_error = ?5 WHERE id = ?1",
    )
    .bind(state.subscription_id)
    .bind(i64::try_from(state.delivered_seq).unwrap_or(i64::MAX))
    .bind(i64::from(state.attempts))
    .bind(state.next_attempt_at.map(micros))
    .bind(state.last_error)
    .execute(&mut *conn)
    .await?;
    if let Some(dead) = state.dead {
        sqlx::query(
            "INSERT OR REPLACE INTO dead_letters (subscription_id, event_seq, event_id, attempts,
                last_error, failed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&dead.subscription_id)
        .bind(i64::try_from(dead.event_seq).unwrap_or(i64::MAX))
        .bind(&dead.event_id)
        .bind(i64::from(dead.attempts))
        .bind(&dead.last_error)
        .bind(micros(dead.failed_at))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub(super) async fn dead_letters(
    pool: &SqlitePool,
    subscription_id: &str,
) -> Result<Vec<DeadLetter>> {
    let rows =
        sqlx::query("SELECT * FROM dead_letters WHERE subscription_id = ?1 ORDER BY event_seq")
            .bind(subscription_id)
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|row| {
            Ok(DeadLetter {
                subscription_id: row.try_get("subscription_id")?,
                event_seq: to_u64(row.try_get("event_seq")?, "event_seq")?,
                event_id: row.try_get("event_id")?,
                attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
                last_error: row.try_get("last_error")?,
                failed_at: from_micros(row.try_get("failed_at")?)?,
            })
        })
        .collect()
}

/// Outbox rows deleted per pruning transaction.
pub(super) const PRUNE_BATCH: u64 = 5_000;

/// Deletes up to [`PRUNE_BATCH`] events no subscription needs: none covering the event's
/// tenant existed before it, or it occurred before `replay_before` and every webhook
/// subscription covering it has delivered it.
pub(super) async fn prune_batch(
    conn: &mut SqliteConnection,
    replay_before: time::OffsetDateTime,
) -> Result<u64> {
    // The floor first: every seq deleted below is at most the highest one.
    sqlx::query(
        "INSERT INTO system (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(SEQ_FLOOR_KEY)
    .bind(highest_seq(conn).await?.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(sqlx::query(
        "DELETE FROM events WHERE seq IN (
            SELECT e.seq FROM events e WHERE NOT EXISTS (
                SELECT 1 FROM subscriptions s, json_each(s.tenants) t
                WHERE t.value = e.tenant_id AND s.start_seq < e.seq
                  AND (e.occurred_at >= ?1
                       OR (s.webhook_url IS NOT NULL AND s.delivered_seq < e.seq)))
            LIMIT ?2)",
    )
    .bind(micros(replay_before))
    .bind(PRUNE_BATCH as i64)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Deletes dead letters that failed before `before`.
pub(super) async fn prune_dead_letters(
    conn: &mut SqliteConnection,
    before: time::OffsetDateTime,
) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM dead_letters WHERE failed_at < ?1")
        .bind(micros(before))
        .execute(&mut *conn)
        .await?
        .rows_affected())
}
