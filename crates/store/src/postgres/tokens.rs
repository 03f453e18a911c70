//! Credentials (tokens, API keys) and the keyring's wrapped data keys in PostgreSQL (the
//! statements are in [`crate::sql::tokens`] and [`crate::sql::system`]).

use sqlx::{AssertSqlSafe, PgConnection, PgPool};
use time::OffsetDateTime;

use crate::Result;
use crate::model::*;
use crate::sql::system::{DataKeyRow, INSERT_DATA_KEY, LIST_DATA_KEYS};
use crate::sql::tokens::*;
use crate::sql::{TextListRef, micros, page_of, records, unique};

/// Inserts, or with `replace` overwrites the token with the same id. `Duplicate` when the
/// token hash (or, without `replace`, the id) is taken.
async fn upsert(conn: &mut PgConnection, t: &TokenRecord, replace: bool) -> Result<()> {
    let on_conflict = if replace {
        " ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.tenant_id,
            partner_id = excluded.partner_id, identity_id = excluded.identity_id,
            identity_type = excluded.identity_type, token_hash = excluded.token_hash,
            name = excluded.name, scopes = excluded.scopes, is_admin = excluded.is_admin,
            is_partner_admin = excluded.is_partner_admin, kind = excluded.kind,
            created_at = excluded.created_at, expires_at = excluded.expires_at,
            revoked_at = excluded.revoked_at, parent_key_id = excluded.parent_key_id"
    } else {
        ""
    };
    sqlx::query(AssertSqlSafe(format!("{INSERT}{on_conflict}")))
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

pub(super) async fn insert(conn: &mut PgConnection, t: &TokenRecord) -> Result<()> {
    upsert(conn, t, false).await
}

/// Like SQLite's `INSERT OR REPLACE`: another token holding the same hash is dropped, and the
/// token with this id is overwritten.
pub(super) async fn replace(conn: &mut PgConnection, t: &TokenRecord) -> Result<()> {
    sqlx::query("DELETE FROM tokens WHERE token_hash = $1 AND id <> $2")
        .bind(&t.token_hash)
        .bind(&t.id)
        .execute(&mut *conn)
        .await?;
    upsert(conn, t, true).await
}

pub(super) async fn find(pool: &PgPool, token_hash: &str) -> Result<Option<TokenRecord>> {
    let row: Option<TokenRow> = sqlx::query_as(FIND)
        .bind(token_hash)
        .fetch_optional(pool)
        .await?;
    row.map(TryInto::try_into).transpose()
}

pub(super) async fn list(
    pool: &PgPool,
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

pub(super) async fn get(pool: &PgPool, id: &str) -> Result<Option<TokenRecord>> {
    let row: Option<TokenRow> = sqlx::query_as(GET).bind(id).fetch_optional(pool).await?;
    row.map(TryInto::try_into).transpose()
}

/// Marks the token revoked, and every token minted from it (an API key's); false when this
/// identity has no such live token.
pub(super) async fn revoke(
    conn: &mut PgConnection,
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

pub(super) async fn list_data_keys(pool: &PgPool) -> Result<Vec<StoredKey>> {
    let rows: Vec<DataKeyRow> = sqlx::query_as(LIST_DATA_KEYS).fetch_all(pool).await?;
    records(rows)
}

pub(super) async fn insert_data_key(pool: &PgPool, key: &StoredKey) -> Result<()> {
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
