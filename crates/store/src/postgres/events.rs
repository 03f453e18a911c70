//! The event outbox and subscriptions in PostgreSQL.
//!
//! Mutations insert their event ([`crate::events::event_for`]) in their own transaction, right
//! after their audit entry ([`super::PgStore`]), so an event exists exactly when its change
//! committed.
//!
//! The cursor: `events.seq` comes from an identity sequence, handed out at INSERT time, so with
//! several nodes (or just several connections) a transaction may commit an event with a *lower*
//! seq after one with a higher seq was already visible. A poller or the delivery worker paging
//! by seq would skip it for good. So, as for the audit cursor ([`super::audit`]), every inserter
//! holds a shared advisory lock ([`EVENTS_LOCK`]) from just before its INSERT until its
//! transaction ends, and readers briefly take that lock exclusively to read the sequence's last
//! value (the high-water mark): every seq at or below it belongs to a finished transaction, and
//! only those are returned. The lock has its own key so that polls never wait for audit-only
//! appends (reads, denials). Inserters take it last, after the audit heads and the audit lock;
//! readers take it alone in a transaction of their own, so it never closes a wait cycle.

use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Postgres, QueryBuilder, Row};
use time::OffsetDateTime;

use super::{commit_failed, from_micros, micros, opt_from_micros, page_of, to_i64, to_u64, unique};
use crate::Result;
use crate::events::*;
use crate::model::*;

/// Advisory lock key guarding the `events.seq` high-water mark ("SCAIEVTS"), per database.
const EVENTS_LOCK: i64 = 0x5343_4149_4556_5453;

/// Rows per INSERT statement (6 bound values each; PostgreSQL allows 65,535 per statement).
const ROWS_PER_INSERT: usize = 1_000;

const EVENT_COLUMNS: &str = "seq, id, tenant_id, event_type, path, occurred_at, data";

const SUBSCRIPTION_COLUMNS: &str = "id, tenant_id, name, paths, event_types, tenants, \
     webhook_url, webhook_secret_key_id, webhook_secret, owner_identity, owner_groups, \
     owner_is_admin, owner_is_partner_admin, created_at, start_seq, delivered_seq, attempts, \
     next_attempt_at, last_error";

/// From here until the transaction ends, the caller may hold seqs that are not committed yet.
async fn hold_cursor_lock(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(EVENTS_LOCK)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inserts `events` in order; returns how many rows were inserted.
async fn insert_rows(
    conn: &mut PgConnection,
    events: &[NewEvent],
    skip_existing: bool,
) -> Result<u64> {
    if events.is_empty() {
        return Ok(0);
    }
    hold_cursor_lock(conn).await?;
    let mut inserted = 0;
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let mut qb = QueryBuilder::<Postgres>::new(
            "INSERT INTO events (id, tenant_id, event_type, path, occurred_at, data) ",
        );
        qb.push_values(chunk, |mut b, e| {
            b.push_bind(e.id.clone())
                .push_bind(e.tenant_id.clone())
                .push_bind(e.event_type.clone())
                .push_bind(e.path.clone())
                .push_bind(micros(e.occurred_at))
                .push_bind(e.data.clone());
        });
        if skip_existing {
            qb.push(" ON CONFLICT (id) DO NOTHING");
        }
        inserted += qb.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(inserted)
}

/// Inserts a mutation's events inside its transaction (they commit or roll back with it).
pub(super) async fn insert_in(conn: &mut PgConnection, events: &[NewEvent]) -> Result<()> {
    insert_rows(conn, events, false).await?;
    Ok(())
}

/// Inserts events no mutation caused, skipping ids that exist; returns how many were new.
pub(super) async fn insert_new(pool: &PgPool, events: &[NewEvent]) -> Result<u64> {
    if events.is_empty() {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    let inserted = insert_rows(&mut tx, events, true).await?;
    tx.commit().await.map_err(commit_failed)?;
    Ok(inserted)
}

/// The high-water mark (see the module docs): no transaction still in flight holds a seq at
/// or below it.
async fn high_water(pool: &PgPool) -> Result<i64> {
    let mut tx = pool.begin().await?;
    // Waits for the inserters in flight; new ones wait for this short transaction.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(EVENTS_LOCK)
        .execute(&mut *tx)
        .await?;
    let high: i64 =
        sqlx::query_scalar("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_seq")
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(high)
}

fn event_from_row(row: &PgRow) -> Result<EventRecord> {
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

/// Events of `tenants` after the cursor, in seq order, up to the high-water mark.
pub(super) async fn after(
    pool: &PgPool,
    tenants: &[String],
    after_seq: u64,
    limit: u32,
) -> Result<Vec<EventRecord>> {
    if tenants.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let high = high_water(pool).await?;
    if high <= to_i64(after_seq) {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM events
         WHERE tenant_id = ANY($1) AND seq > $2 AND seq <= $3
         ORDER BY seq LIMIT $4"
    )))
    .bind(tenants)
    .bind(to_i64(after_seq))
    .bind(high)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(event_from_row).collect()
}

/// The newest event at or below the high-water mark: a subscription starting there misses
/// nothing that is still in flight.
pub(super) async fn last_seq(pool: &PgPool) -> Result<u64> {
    let high = high_water(pool).await?;
    let seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events WHERE seq <= $1")
        .bind(high)
        .fetch_one(pool)
        .await?;
    to_u64(seq, "seq")
}

pub(super) async fn expiring_between(
    pool: &PgPool,
    from: OffsetDateTime,
    to: OffsetDateTime,
    limit: u32,
) -> Result<Vec<(String, String, OffsetDateTime)>> {
    let rows = sqlx::query(
        "SELECT tenant_id, path, expires_at FROM secrets
         WHERE deleted_at IS NULL AND expires_at > $1 AND expires_at <= $2
         ORDER BY expires_at, tenant_id, path LIMIT $3",
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

fn attempts_of(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn subscription_from_row(row: &PgRow) -> Result<SubscriptionRecord> {
    let key_id: Option<String> = row.try_get("webhook_secret_key_id")?;
    let sealed: Option<Vec<u8>> = row.try_get("webhook_secret")?;
    Ok(SubscriptionRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        paths: row.try_get("paths")?,
        event_types: row.try_get("event_types")?,
        tenants: row.try_get("tenants")?,
        webhook_url: row.try_get("webhook_url")?,
        webhook_secret: key_id
            .zip(sealed)
            .map(|(key_id, ciphertext)| SealedBlob { key_id, ciphertext }),
        owner_identity: row.try_get("owner_identity")?,
        owner_groups: row.try_get("owner_groups")?,
        owner_is_admin: row.try_get("owner_is_admin")?,
        owner_is_partner_admin: row.try_get("owner_is_partner_admin")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        start_seq: to_u64(row.try_get("start_seq")?, "start_seq")?,
        delivered_seq: to_u64(row.try_get("delivered_seq")?, "delivered_seq")?,
        attempts: attempts_of(row.try_get("attempts")?),
        next_attempt_at: opt_from_micros(row.try_get("next_attempt_at")?)?,
        last_error: row.try_get("last_error")?,
    })
}

/// `Duplicate` when the id is taken.
pub(super) async fn insert_subscription(
    conn: &mut PgConnection,
    s: &SubscriptionRecord,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO subscriptions (id, tenant_id, name, paths, event_types, tenants, webhook_url,
            webhook_secret_key_id, webhook_secret, owner_identity, owner_groups, owner_is_admin,
            owner_is_partner_admin, created_at, start_seq, delivered_seq, attempts,
            next_attempt_at, last_error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
            $19)",
    )
    .bind(&s.id)
    .bind(&s.tenant_id)
    .bind(&s.name)
    .bind(&s.paths)
    .bind(&s.event_types)
    .bind(&s.tenants)
    .bind(&s.webhook_url)
    .bind(s.webhook_secret.as_ref().map(|b| b.key_id.clone()))
    .bind(s.webhook_secret.as_ref().map(|b| b.ciphertext.clone()))
    .bind(&s.owner_identity)
    .bind(&s.owner_groups)
    .bind(s.owner_is_admin)
    .bind(s.owner_is_partner_admin)
    .bind(micros(s.created_at))
    .bind(to_i64(s.start_seq))
    .bind(to_i64(s.delivered_seq))
    .bind(i64::from(s.attempts))
    .bind(s.next_attempt_at.map(micros))
    .bind(&s.last_error)
    .execute(&mut *conn)
    .await
    .map_err(unique)?;
    Ok(())
}

pub(super) async fn get_subscription(
    pool: &PgPool,
    tenant_id: &str,
    id: &str,
) -> Result<Option<SubscriptionRecord>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE tenant_id = $1 AND id = $2"
    )))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(subscription_from_row).transpose()
}

pub(super) async fn list_subscriptions(
    pool: &PgPool,
    tenant_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<SubscriptionRecord>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions
         WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    )))
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
    conn: &mut PgConnection,
    tenant_id: &str,
    id: &str,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM subscriptions WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the sealed secret of a subscription that has a webhook; false otherwise.
pub(super) async fn set_webhook_secret(
    conn: &mut PgConnection,
    tenant_id: &str,
    id: &str,
    secret: &SealedBlob,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE subscriptions SET webhook_secret_key_id = $3, webhook_secret = $4
         WHERE tenant_id = $1 AND id = $2 AND webhook_url IS NOT NULL",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(&secret.key_id)
    .bind(&secret.ciphertext)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn webhook_subscriptions(pool: &PgPool) -> Result<Vec<SubscriptionRecord>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE webhook_url IS NOT NULL
         ORDER BY id"
    )))
    .fetch_all(pool)
    .await?;
    rows.iter().map(subscription_from_row).collect()
}

/// Moves the delivery cursor and retry state, and records the dead letter if there is one,
/// in one transaction.
pub(super) async fn record_delivery(pool: &PgPool, state: &DeliveryState<'_>) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE subscriptions SET delivered_seq = $2, attempts = $3, next_attempt_at = $4,
            last_error = $5 WHERE id = $1",
    )
    .bind(state.subscription_id)
    .bind(to_i64(state.delivered_seq))
    .bind(i64::from(state.attempts))
    .bind(state.next_attempt_at.map(micros))
    .bind(state.last_error)
    .execute(&mut *tx)
    .await?;
    if let Some(dead) = state.dead {
        sqlx::query(
            "INSERT INTO dead_letters (subscription_id, event_seq, event_id, attempts,
                last_error, failed_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (subscription_id, event_seq) DO UPDATE SET
                event_id = excluded.event_id, attempts = excluded.attempts,
                last_error = excluded.last_error, failed_at = excluded.failed_at",
        )
        .bind(&dead.subscription_id)
        .bind(to_i64(dead.event_seq))
        .bind(&dead.event_id)
        .bind(i64::from(dead.attempts))
        .bind(&dead.last_error)
        .bind(micros(dead.failed_at))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await.map_err(commit_failed)?;
    Ok(())
}

pub(super) async fn dead_letters(pool: &PgPool, subscription_id: &str) -> Result<Vec<DeadLetter>> {
    let rows = sqlx::query(
        "SELECT subscription_id, event_seq, event_id, attempts, last_error, failed_at
         FROM dead_letters WHERE subscription_id = $1 ORDER BY event_seq",
    )
    .bind(subscription_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(DeadLetter {
                subscription_id: row.try_get("subscription_id")?,
                event_seq: to_u64(row.try_get("event_seq")?, "event_seq")?,
                event_id: row.try_get("event_id")?,
                attempts: attempts_of(row.try_get("attempts")?),
                last_error: row.try_get("last_error")?,
                failed_at: from_micros(row.try_get("failed_at")?)?,
            })
        })
        .collect()
}

/// Outbox rows deleted per pruning transaction.
const PRUNE_BATCH: i64 = 5_000;

/// Deletes events no subscription needs (none covering the event's tenant existed before it,
/// or it occurred before `replay_before` and every webhook subscription covering it has
/// delivered it) in batches, then dead letters that failed before `dead_letters_before`.
pub(super) async fn prune(
    pool: &PgPool,
    replay_before: OffsetDateTime,
    dead_letters_before: OffsetDateTime,
) -> Result<u64> {
    let mut pruned = 0;
    loop {
        let n = sqlx::query(
            "DELETE FROM events WHERE seq IN (
                SELECT e.seq FROM events e WHERE NOT EXISTS (
                    SELECT 1 FROM subscriptions s
                    WHERE e.tenant_id = ANY(s.tenants) AND s.start_seq < e.seq
                      AND (e.occurred_at >= $1
                           OR (s.webhook_url IS NOT NULL AND s.delivered_seq < e.seq)))
                LIMIT $2)",
        )
        .bind(micros(replay_before))
        .bind(PRUNE_BATCH)
        .execute(pool)
        .await?
        .rows_affected();
        pruned += n;
        if n < PRUNE_BATCH as u64 {
            break;
        }
    }
    sqlx::query("DELETE FROM dead_letters WHERE failed_at < $1")
        .bind(micros(dead_letters_before))
        .execute(pool)
        .await?;
    Ok(pruned)
}
