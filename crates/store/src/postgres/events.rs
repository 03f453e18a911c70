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

use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use time::OffsetDateTime;

use super::commit_failed;
use crate::Result;
use crate::events::*;
use crate::model::*;
use crate::sql::events::*;
use crate::sql::{TextListRef, micros, page_of, records, to_i64, to_u64, unique};

crate::sql::events::shared_bindings!(sqlx::PgConnection, sqlx::PgPool);

const EVENTS_LOCK: i64 = 0x5343_4149_4556_5453;

const ROWS_PER_INSERT: usize = 1_000;

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
    let rows: Vec<EventRow> = sqlx::query_as(concat!(
        "SELECT ",
        event_columns!(),
        " FROM events WHERE tenant_id = ANY($1) AND seq > $2 AND seq <= $3
         ORDER BY seq LIMIT $4"
    ))
    .bind(tenants)
    .bind(to_i64(after_seq))
    .bind(high)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    records(rows)
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
    let rows: Vec<ExpiringRow> = sqlx::query_as(EXPIRING_BETWEEN)
        .bind(micros(from))
        .bind(micros(to))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    records(rows)
}

/// Moves the delivery cursor and retry state, and records the dead letter if there is one,
/// in one transaction.
pub(super) async fn record_delivery(pool: &PgPool, state: &DeliveryState<'_>) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(RECORD_DELIVERY)
        .bind(state.subscription_id)
        .bind(to_i64(state.delivered_seq))
        .bind(i64::from(state.attempts))
        .bind(state.next_attempt_at.map(micros))
        .bind(state.last_error)
        .execute(&mut *tx)
        .await?;
    if let Some(dead) = state.dead {
        sqlx::query(UPSERT_DEAD_LETTER)
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
    let rows: Vec<DeadLetterRow> = sqlx::query_as(DEAD_LETTERS)
        .bind(subscription_id)
        .fetch_all(pool)
        .await?;
    records(rows)
}

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
        .bind(to_i64(PRUNE_BATCH))
        .execute(pool)
        .await?
        .rows_affected();
        pruned += n;
        if n < PRUNE_BATCH {
            break;
        }
    }
    sqlx::query(PRUNE_DEAD_LETTERS)
        .bind(micros(dead_letters_before))
        .execute(pool)
        .await?;
    Ok(pruned)
}
