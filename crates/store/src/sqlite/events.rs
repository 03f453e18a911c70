//! The event outbox and subscriptions in SQLite (the shared statements are in
//! [`crate::sql::events`]). Seqs are assigned here, explicitly, above a floor (see below).

use sqlx::{AssertSqlSafe, QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

use crate::Result;
use crate::events::*;
use crate::model::*;
use crate::sql::events::*;
use crate::sql::{TextListRef, micros, page_of, records, to_i64, to_u64, unique};

crate::sql::events::shared_bindings!(sqlx::SqliteConnection, sqlx::SqlitePool);

const SEQ_FLOOR_KEY: &str = "events_seq_floor";

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
             VALUES ($7, $1, $2, $3, $4, $5, $6)",
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
    let rows: Vec<ExpiringRow> = sqlx::query_as(EXPIRING_BETWEEN)
        .bind(micros(from))
        .bind(micros(to))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    records(rows)
}

/// Events of `tenants` after the cursor, in seq order. (SQLite has no array parameter: one
/// `$N` per tenant.)
pub(super) async fn after(
    pool: &SqlitePool,
    tenants: &[String],
    after_seq: u64,
    limit: u32,
) -> Result<Vec<EventRecord>> {
    if tenants.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (3..tenants.len() + 3).map(|n| format!("${n}")).collect();
    let sql = format!(
        concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE seq > $1 AND tenant_id IN ({}) ORDER BY seq LIMIT $2"
        ),
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as::<_, EventRow>(AssertSqlSafe(sql))
        .bind(to_i64(after_seq))
        .bind(i64::from(limit));
    for tenant in tenants {
        query = query.bind(tenant);
    }
    records(query.fetch_all(pool).await?)
}

pub(super) async fn last_seq(pool: &SqlitePool) -> Result<u64> {
    let seq: i64 = sqlx::query_scalar(HIGHEST_SEQ).fetch_one(pool).await?;
    to_u64(seq, "seq")
}

/// Moves the delivery cursor and retry state, and records the dead letter if there is one
/// (inside the caller's transaction).
pub(super) async fn record_delivery(
    conn: &mut SqliteConnection,
    state: &DeliveryState<'_>,
) -> Result<()> {
    sqlx::query(RECORD_DELIVERY)
        .bind(state.subscription_id)
        .bind(to_i64(state.delivered_seq))
        .bind(i64::from(state.attempts))
        .bind(state.next_attempt_at.map(micros))
        .bind(state.last_error)
        .execute(&mut *conn)
        .await?;
    if let Some(dead) = state.dead {
        sqlx::query(UPSERT_DEAD_LETTER)
            .bind(&dead.subscription_id)
            .bind(to_i64(dead.event_seq))
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
    let rows: Vec<DeadLetterRow> = sqlx::query_as(DEAD_LETTERS)
        .bind(subscription_id)
        .fetch_all(pool)
        .await?;
    records(rows)
}

/// Deletes up to [`PRUNE_BATCH`] events no subscription needs: none covering the event's
/// tenant existed before it, or it occurred before `replay_before` and every webhook
/// subscription covering it has delivered it. (A subscription's tenants are a JSON array
/// here: `json_each` where PostgreSQL has `= ANY`.)
pub(super) async fn prune_batch(
    conn: &mut SqliteConnection,
    replay_before: time::OffsetDateTime,
) -> Result<u64> {
    // The floor first: every seq deleted below is at most the highest one.
    sqlx::query(crate::sql::system::SET)
        .bind(SEQ_FLOOR_KEY)
        .bind(highest_seq(conn).await?.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(sqlx::query(
        "DELETE FROM events WHERE seq IN (
            SELECT e.seq FROM events e WHERE NOT EXISTS (
                SELECT 1 FROM subscriptions s, json_each(s.tenants) t
                WHERE t.value = e.tenant_id AND s.start_seq < e.seq
                  AND (e.occurred_at >= $1
                       OR (s.webhook_url IS NOT NULL AND s.delivered_seq < e.seq)))
            LIMIT $2)",
    )
    .bind(micros(replay_before))
    .bind(to_i64(PRUNE_BATCH))
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Deletes dead letters that failed before `before`.
pub(super) async fn prune_dead_letters(
    conn: &mut SqliteConnection,
    before: time::OffsetDateTime,
) -> Result<u64> {
    Ok(sqlx::query(PRUNE_DEAD_LETTERS)
        .bind(micros(before))
        .execute(&mut *conn)
        .await?
        .rows_affected())
}
