//! Credentials (tokens, API keys) and the keyring's wrapped data keys in SQLite (the
//! statements are in [`crate::sql::tokens`] and [`crate::sql::system`]).

use sqlx::{SqliteConnection, SqlitePool};
use time::OffsetDateTime;

use crate::Result;
use crate::model::*;
use crate::sql::system::{DataKeyRow, INSERT_DATA_KEY, LIST_DATA_KEYS};
use crate::sql::tokens::*;
use crate::sql::{TextListRef, micros, page_of, records, unique};

/// SQLite's replace: `INSERT OR REPLACE` drops any row holding the same id or the same hash
/// (PostgreSQL deletes the other holder of the hash, then upserts on the id).
const REPLACE: &str = concat!(
    "INSERT OR REPLACE INTO tokens (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
);

/// Runs [`INSERT`] or [`REPLACE`] for the token. `Duplicate` when the token hash (or, for an
/// insert, the id) is taken.
async fn write(conn: &mut SqliteConnection, sql: &'static str, t: &TokenRecord) -> Result<()> {
    sqlx::query(sql)
        .bind(&t.id)
        .bind(&t.tenant_id)
        .bind(&t.partner_id)
        .bind(&t.identity_id)
        .bind(&t.identity_type)
        .bind(&t.token_hash)
        .bind(&t.name)
        .bind(TextListRef(&t.scopes))
        .bind(t.is_admin)
        .bind(t.is_partner_admin)
        .bind(&t.kind)
        .bind(micros(t.created_at))
        .bind(t.expires_at.map(micros))
        .bind(t.revoked_at.map(micros))
        .bind(&t.parent_key_id)
        .execute(&mut *conn)
        .await
        .map_err(unique)?;
    Ok(())
}

pub(super) async fn insert(conn: &mut SqliteConnection, t: &TokenRecord) -> Result<()> {
    write(conn, INSERT, t).await
}

pub(super) async fn replace(conn: &mut SqliteConnection, t: &TokenRecord) -> Result<()> {
    write(conn, REPLACE, t).await
}

pub(super) async fn find(pool: &SqlitePool, token_hash: &str) -> Result<Option<TokenRecord>> {
    let row: Option<TokenRow> = sqlx::query_as(FIND)
        .bind(token_hash)
        .fetch_optional(pool)
        .await?;
    row.map(TryInto::try_into).transpose()
}

pub(super) async fn list(
    pool: &SqlitePool,
    tenant_id: &str,
    identity_id: &str,
    after_id: Option<&str>,
    limit: u32,
) -> Result<Page<TokenRecord>> {
    let rows: Vec<TokenRow> = sqlx::query_as(LIST)
        .bind(tenant_id)
        .bind(identity_id)
        .bind(after_id.unwrap_or(""))
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await?;
    Ok(page_of(records(rows)?, limit, None))
}

pub(super) async fn get(pool: &SqlitePool, id: &str) -> Result<Option<TokenRecord>> {
    let row: Option<TokenRow> = sqlx::query_as(GET).bind(id).fetch_optional(pool).await?;
    row.map(TryInto::try_into).transpose()
}

/// Marks the token revoked, and every token minted from it (an API key's); false when this
/// identity has no such live token.
pub(super) async fn revoke(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    identity_id: &str,
    token_id: &str,
    now: OffsetDateTime,
) -> Result<bool> {
    let done = sqlx::query(REVOKE)
        .bind(tenant_id)
        .bind(identity_id)
        .bind(token_id)
        .bind(micros(now))
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(REVOKE_CHILDREN)
        .bind(token_id)
        .bind(micros(now))
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

pub(super) async fn list_data_keys(pool: &SqlitePool) -> Result<Vec<StoredKey>> {
    let rows: Vec<DataKeyRow> = sqlx::query_as(LIST_DATA_KEYS).fetch_all(pool).await?;
    records(rows)
}

pub(super) async fn insert_data_key(pool: &SqlitePool, key: &StoredKey) -> Result<()> {
    sqlx::query(INSERT_DATA_KEY)
        .bind(&key.key_id)
        .bind(&key.purpose)
        .bind(&key.provider)
        .bind(&key.wrapped)
        .bind(micros(key.created_at))
        .bind(key.active)
        .execute(pool)
        .await?;
    Ok(())
}
