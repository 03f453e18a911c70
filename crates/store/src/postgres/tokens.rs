//! Credentials (tokens, API keys) and the keyring's wrapped data keys in PostgreSQL.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use time::OffsetDateTime;

use super::{from_micros, micros, opt_from_micros, page_of, unique};
use crate::Result;
use crate::model::*;

const COLUMNS: &str = "id, tenant_id, partner_id, identity_id, identity_type, token_hash, name, \
     scopes, is_admin, is_partner_admin, kind, created_at, expires_at, revoked_at, parent_key_id";

fn token_from_row(row: &PgRow) -> Result<TokenRecord> {
    Ok(TokenRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        partner_id: row.try_get("partner_id")?,
        identity_id: row.try_get("identity_id")?,
        identity_type: row.try_get("identity_type")?,
        token_hash: row.try_get("token_hash")?,
        name: row.try_get("name")?,
        scopes: row.try_get("scopes")?,
        is_admin: row.try_get("is_admin")?,
        is_partner_admin: row.try_get("is_partner_admin")?,
        kind: row.try_get("kind")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        expires_at: opt_from_micros(row.try_get("expires_at")?)?,
        revoked_at: opt_from_micros(row.try_get("revoked_at")?)?,
        parent_key_id: row.try_get("parent_key_id")?,
    })
}

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
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO tokens ({COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15){on_conflict}"
    )))
    .bind(&t.id)
    .bind(&t.tenant_id)
    .bind(&t.partner_id)
    .bind(&t.identity_id)
    .bind(&t.identity_type)
    .bind(&t.token_hash)
    .bind(&t.name)
    .bind(&t.scopes)
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
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tokens WHERE token_hash = $1"
    )))
    .bind(token_hash)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(token_from_row).transpose()
}

pub(super) async fn list(
    pool: &PgPool,
    tenant_id: &str,
    identity_id: &str,
    after_id: Option<&str>,
    limit: u32,
) -> Result<Page<TokenRecord>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tokens
         WHERE tenant_id = $1 AND identity_id = $2 AND revoked_at IS NULL AND id > $3
         ORDER BY id LIMIT $4"
    )))
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

pub(super) async fn get(pool: &PgPool, id: &str) -> Result<Option<TokenRecord>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM tokens WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(token_from_row).transpose()
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
    let done = sqlx::query(
        "UPDATE tokens SET revoked_at = $4
         WHERE tenant_id = $1 AND identity_id = $2 AND id = $3 AND revoked_at IS NULL",
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
        "UPDATE tokens SET revoked_at = $2 WHERE parent_key_id = $1 AND revoked_at IS NULL",
    )
    .bind(token_id)
    .bind(micros(now))
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

pub(super) async fn list_data_keys(pool: &PgPool) -> Result<Vec<StoredKey>> {
    let rows = sqlx::query(
        "SELECT key_id, purpose, provider, wrapped, created_at, active FROM data_keys
         ORDER BY created_at, key_id",
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
                active: row.try_get("active")?,
            })
        })
        .collect()
}

pub(super) async fn insert_data_key(pool: &PgPool, key: &StoredKey) -> Result<()> {
    sqlx::query(
        "INSERT INTO data_keys (key_id, purpose, provider, wrapped, created_at, active)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
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
