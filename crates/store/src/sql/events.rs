//! The event outbox and subscriptions: the statements both stores run and the rows they read.
//! How seqs are assigned and guarded differs (see the backends' `events` modules).

use super::{TextList, from_micros, opt_from_micros, to_u64};
use crate::events::{DeadLetter, EventRecord, SubscriptionRecord};
use crate::model::SealedBlob;
use crate::{Result, StoreError};

macro_rules! event_columns {
    () => {
        "seq, id, tenant_id, event_type, path, occurred_at, data"
    };
}
pub(crate) use event_columns;

macro_rules! subscription_columns {
    () => {
        "id, tenant_id, name, paths, event_types, tenants, webhook_url, webhook_secret_key_id, \
         webhook_secret, owner_identity, owner_groups, owner_is_admin, owner_is_partner_admin, \
         created_at, start_seq, delivered_seq, attempts, next_attempt_at, last_error"
    };
}

/// Secrets across tenants whose expiry falls in `($1, $2]`, soonest first.
pub(crate) const EXPIRING_BETWEEN: &str = "SELECT tenant_id, path, expires_at FROM secrets
     WHERE deleted_at IS NULL AND expires_at > $1 AND expires_at <= $2
     ORDER BY expires_at, tenant_id, path LIMIT $3";

/// `Duplicate` (a unique violation) when the id is taken.
pub(crate) const INSERT_SUBSCRIPTION: &str = concat!(
    "INSERT INTO subscriptions (",
    subscription_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        $19)"
);
pub(crate) const GET_SUBSCRIPTION: &str = concat!(
    "SELECT ",
    subscription_columns!(),
    " FROM subscriptions WHERE tenant_id = $1 AND id = $2"
);
pub(crate) const LIST_SUBSCRIPTIONS: &str = concat!(
    "SELECT ",
    subscription_columns!(),
    " FROM subscriptions WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
);
pub(crate) const WEBHOOK_SUBSCRIPTIONS: &str = concat!(
    "SELECT ",
    subscription_columns!(),
    " FROM subscriptions WHERE webhook_url IS NOT NULL ORDER BY id"
);
pub(crate) const DELETE_SUBSCRIPTION: &str =
    "DELETE FROM subscriptions WHERE tenant_id = $1 AND id = $2";
/// Only a subscription with a webhook has a secret.
pub(crate) const SET_WEBHOOK_SECRET: &str =
    "UPDATE subscriptions SET webhook_secret_key_id = $3, webhook_secret = $4
     WHERE tenant_id = $1 AND id = $2 AND webhook_url IS NOT NULL";
pub(crate) const RECORD_DELIVERY: &str =
    "UPDATE subscriptions SET delivered_seq = $2, attempts = $3, next_attempt_at = $4,
        last_error = $5 WHERE id = $1";
pub(crate) const UPSERT_DEAD_LETTER: &str =
    "INSERT INTO dead_letters (subscription_id, event_seq, event_id, attempts, last_error,
        failed_at) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (subscription_id, event_seq) DO UPDATE SET
        event_id = excluded.event_id, attempts = excluded.attempts,
        last_error = excluded.last_error, failed_at = excluded.failed_at";
pub(crate) const DEAD_LETTERS: &str =
    "SELECT subscription_id, event_seq, event_id, attempts, last_error, failed_at
     FROM dead_letters WHERE subscription_id = $1 ORDER BY event_seq";
pub(crate) const PRUNE_DEAD_LETTERS: &str = "DELETE FROM dead_letters WHERE failed_at < $1";

/// Outbox rows deleted per pruning transaction.
pub(crate) const PRUNE_BATCH: u64 = 5_000;

/// A stored attempt count (a u32 that saturates rather than fails).
fn attempts_of(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    seq: i64,
    id: String,
    tenant_id: String,
    event_type: String,
    path: Option<String>,
    occurred_at: i64,
    data: String,
}

impl TryFrom<EventRow> for EventRecord {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self> {
        Ok(Self {
            seq: to_u64(row.seq, "seq")?,
            id: row.id,
            tenant_id: row.tenant_id,
            event_type: row.event_type,
            path: row.path,
            occurred_at: from_micros(row.occurred_at)?,
            data: row.data,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ExpiringRow {
    tenant_id: String,
    path: String,
    expires_at: i64,
}

impl TryFrom<ExpiringRow> for (String, String, time::OffsetDateTime) {
    type Error = StoreError;

    fn try_from(row: ExpiringRow) -> Result<Self> {
        Ok((row.tenant_id, row.path, from_micros(row.expires_at)?))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SubscriptionRow {
    id: String,
    tenant_id: String,
    name: String,
    paths: TextList,
    event_types: TextList,
    tenants: TextList,
    webhook_url: Option<String>,
    webhook_secret_key_id: Option<String>,
    webhook_secret: Option<Vec<u8>>,
    owner_identity: String,
    owner_groups: TextList,
    owner_is_admin: bool,
    owner_is_partner_admin: bool,
    created_at: i64,
    start_seq: i64,
    delivered_seq: i64,
    attempts: i64,
    next_attempt_at: Option<i64>,
    last_error: Option<String>,
}

impl TryFrom<SubscriptionRow> for SubscriptionRecord {
    type Error = StoreError;

    fn try_from(row: SubscriptionRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            tenant_id: row.tenant_id,
            name: row.name,
            paths: row.paths.0,
            event_types: row.event_types.0,
            tenants: row.tenants.0,
            webhook_url: row.webhook_url,
            webhook_secret: row
                .webhook_secret_key_id
                .zip(row.webhook_secret)
                .map(|(key_id, ciphertext)| SealedBlob { key_id, ciphertext }),
            owner_identity: row.owner_identity,
            owner_groups: row.owner_groups.0,
            owner_is_admin: row.owner_is_admin,
            owner_is_partner_admin: row.owner_is_partner_admin,
            created_at: from_micros(row.created_at)?,
            start_seq: to_u64(row.start_seq, "start_seq")?,
            delivered_seq: to_u64(row.delivered_seq, "delivered_seq")?,
            attempts: attempts_of(row.attempts),
            next_attempt_at: opt_from_micros(row.next_attempt_at)?,
            last_error: row.last_error,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DeadLetterRow {
    subscription_id: String,
    event_seq: i64,
    event_id: String,
    attempts: i64,
    last_error: String,
    failed_at: i64,
}

impl TryFrom<DeadLetterRow> for DeadLetter {
    type Error = StoreError;

    fn try_from(row: DeadLetterRow) -> Result<Self> {
        Ok(Self {
            subscription_id: row.subscription_id,
            event_seq: to_u64(row.event_seq, "event_seq")?,
            event_id: row.event_id,
            attempts: attempts_of(row.attempts),
            last_error: row.last_error,
            failed_at: from_micros(row.failed_at)?,
        })
    }
}

/// The bindings of these statements that both stores run alike, for a backend's connection and
/// pool types (expanded in `sqlite/events.rs` and `postgres/events.rs`, whose imports the paths
/// inside resolve to).
macro_rules! shared_bindings {
    ($conn:ty, $pool:ty) => {
        /// `Duplicate` when the id is taken.
        pub(super) async fn insert_subscription(
            conn: &mut $conn,
            s: &SubscriptionRecord,
        ) -> Result<()> {
            sqlx::query(INSERT_SUBSCRIPTION)
                .bind(&s.id)
                .bind(&s.tenant_id)
                .bind(&s.name)
                .bind(TextListRef(&s.paths))
                .bind(TextListRef(&s.event_types))
                .bind(TextListRef(&s.tenants))
                .bind(&s.webhook_url)
                .bind(s.webhook_secret.as_ref().map(|b| b.key_id.as_str()))
                .bind(s.webhook_secret.as_ref().map(|b| b.ciphertext.as_slice()))
                .bind(&s.owner_identity)
                .bind(TextListRef(&s.owner_groups))
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
            pool: &$pool,
            tenant_id: &str,
            id: &str,
        ) -> Result<Option<SubscriptionRecord>> {
            let row: Option<SubscriptionRow> = sqlx::query_as(GET_SUBSCRIPTION)
                .bind(tenant_id)
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.map(TryInto::try_into).transpose()
        }

        pub(super) async fn list_subscriptions(
            pool: &$pool,
            tenant_id: &str,
            after: Option<&str>,
            limit: u32,
        ) -> Result<Page<SubscriptionRecord>> {
            let rows: Vec<SubscriptionRow> = sqlx::query_as(LIST_SUBSCRIPTIONS)
                .bind(tenant_id)
                .bind(after.unwrap_or(""))
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await?;
            Ok(page_of(records(rows)?, limit, None))
        }

        pub(super) async fn delete_subscription(
            conn: &mut $conn,
            tenant_id: &str,
            id: &str,
        ) -> Result<bool> {
            let done = sqlx::query(DELETE_SUBSCRIPTION)
                .bind(tenant_id)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() == 1)
        }

        /// Replaces the sealed secret of a subscription that has a webhook; false otherwise.
        pub(super) async fn set_webhook_secret(
            conn: &mut $conn,
            tenant_id: &str,
            id: &str,
            secret: &SealedBlob,
        ) -> Result<bool> {
            let done = sqlx::query(SET_WEBHOOK_SECRET)
                .bind(tenant_id)
                .bind(id)
                .bind(&secret.key_id)
                .bind(&secret.ciphertext)
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected() == 1)
        }

        pub(super) async fn webhook_subscriptions(pool: &$pool) -> Result<Vec<SubscriptionRecord>> {
            let rows: Vec<SubscriptionRow> = sqlx::query_as(WEBHOOK_SUBSCRIPTIONS)
                .fetch_all(pool)
                .await?;
            records(rows)
        }
    };
}
pub(crate) use shared_bindings;
