//! Credentials (tokens, API keys) and the keyring's wrapped data keys in SQLite.

use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row, SqliteConnection, SqlitePool};
use time::OffsetDateTime;

use super::{from_micros, opt_from_micros, page_of};
use crate::audit::micros;
use crate::model::*;
use crate::{Result, StoreError};

fn token_from_row(row: &SqliteRow) -> Result<TokenRecord> {
    let scopes: String = row.try_get("scopes")?;
    Ok(TokenRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        partner_id: row.try_get("partner_id")?,
        identity_id: row.try_get("identity_id")?,
        identity_type: row.try_get("identity_type")?,
        token_hash: row.try_get("token_hash")?,
        name: row.try_get("name")?,
        scopes: serde_json::from_str(&scopes).map_err(|_| StoreError::Corrupt("scopes".into()))?,
        is_admin: row.try_get::<i64, _>("is_admin")? != 0,
        is_partner_admin: row.try_get::<i64, _>("is_partner_admin")? != 0,
        kind: row.try_get("kind")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        expires_at: opt_from_micros(row.try_get("expires_at")?)?,
        revoked_at: opt_from_micros(row.try_get("revoked_at")?)?,
        parent_key_id: row.try_get("parent_key_id")?,
    })
}

/// Inserts, or with `replace` overwrites (`INSERT OR REPLACE`) the token with the same id or
/// hash. `Duplicate` when the token hash (or, without `replace`, the id) is taken.
async fn upsert(conn: &mut SqliteConnection, t: &TokenRecord, replace: bool) -> Result<()> {
    let verb = if replace {
        "INSERT OR REPLACE"
    } else {
        "INSERT"
    };
    let scopes =
        serde_json::to_string(&t.scopes).map_err(|_| StoreError::Corrupt("scopes".into()))?;
    let result = sqlx::query(AssertSqlSafe(format!(
        "{verb} INTO tokens (id, tenant_id, partner_id, identity_id, identity_type, token_hash,
            name, scopes, is_admin, created_at, expires_at, revoked_at, is_partner_admin, kind,
            parent_key_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    )))
    .bind(&t.id)
    .bind(&t.tenant_id)
    .bind(&t.partner_id)
    .bind(&t.identity_id)
    .bind(&t.identity_type)
    .bind(&t.token_hash)
    .bind(&t.name)
    .bind(scopes)
    .bind(i64::from(t.is_admin))
    .bind(micros(t.created_at))
    .bind(t.expires_at.map(micros))
    .bind(t.revoked_at.map(micros))
    .bind(i64::from(t.is_partner_admin))
    .bind(&t.kind)
    .bind(&t.parent_key_id)
    .execute(&mut *conn)
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Duplicate),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn insert(conn: &mut SqliteConnection, t: &TokenRecord) -> Result<()> {
    upsert(conn, t, false).await
}

pub(super) async fn replace(conn: &mut SqliteConnection, t: &TokenRecord) -> Result<()> {
    upsert(conn, t, true).await
}

pub(super) async fn find(pool: &SqlitePool, token_hash: &str) -> Result<Option<TokenRecord>> {
    let row = sqlx::query("SELECT * FROM tokens WHERE token_hash = ?1")
        .bind(token_hash)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(token_from_row).transpose()
}

pub(super) async fn list(
    pool: &SqlitePool,
    tenant_id: &str,
    identity_id: &str,
    after_id: Option<&str>,
    limit: u32,
) -> Result<Page<TokenRecord>> {
    let rows = sqlx::query(
        "SELECT * FROM tokens
         WHERE tenant_id = ?1 AND identity_id = ?2 AND revoked_at IS NULL AND id > ?3
         ORDER BY id LIMIT ?4",
    )
    .bind(tenant_id)
    .bind(identity_id)
    .bind(after_id.unwrap_or(""))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let items = rows
        .iter()
        .map(token_from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(page_of(items, limit, None))
}

pub(super) async fn get(pool: &SqlitePool, id: &str) -> Result<Option<TokenRecord>> {
    let row = sqlx::query("SELECT * FROM tokens WHERE id = ?1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(token_from_row).transpose()
}

/// Revokes the token and every token minted from it; false when no such live token exists.
pub(super) async fn revoke(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    identity_id: &str,
    token_id: &str,
    now: OffsetDateTime,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE tokens SET revoked_at = ?4
         WHERE tenant_id = ?1 AND identity_id = ?2 AND id = ?3 AND revoked_at IS NULL",
    )
    .bind(tenant_id)
    .bind(identity_id)
    .bind(token_id)
    .bind(micros(now))
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    // Tokens minted from a key die with it.
    sqlx::query(
        "UPDATE tokens SET revoked_at = ?2 WHERE parent_key_id = ?1 AND revoked_at IS NULL",
    )
    .bind(token_id)
    .bind(micros(now))
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

pub(super) async fn list_data_keys(pool: &SqlitePool) -> Result<Vec<StoredKey>> {
    let rows = sqlx::query(
        "SELECT key_id, purpose, provider, wrapped, created_at, active FROM data_keys ORDER BY created_at",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredKey {
                key_id: row.try_get("key_id")?,
                purpose: row.try_get("purpose")?,
                provider: row.try_get("provider")?,
                wrapped: row.try_get("wrapped")?,
                created_at: from_micros(row.try_get("created_at")?)?,
                active: row.try_get::<i64, _>("active")? != 0,
            })
        })
        .collect()
}

pub(super) async fn insert_data_key(writer: &SqlitePool, key: &StoredKey) -> Result<()> {
    sqlx::query(
        "INSERT INTO data_keys (key_id, purpose, provider, wrapped, created_at, active)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .bind(&key.key_id)
    .bind(&key.purpose)
    .bind(&key.provider)
    .bind(&key.wrapped)
    .bind(micros(key.created_at))
    .bind(i64::from(key.active))
    .execute(writer)
    .await?;
    Ok(())
}
