//! Credentials (tokens, API keys) and the keyring's wrapped data keys in PostgreSQL (the
//! statements are in [`crate::sql::tokens`] and [`crate::sql::system`]).

use sqlx::{AssertSqlSafe, PgConnection};
use time::OffsetDateTime;

use crate::Result;
use crate::model::*;
use crate::sql::system::{DataKeyRow, INSERT_DATA_KEY, LIST_DATA_KEYS};
use crate::sql::tokens::*;
use crate::sql::{TextListRef, micros, page_of, records, unique};

crate::sql::tokens::shared_bindings!(sqlx::PgConnection, sqlx::PgPool);

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
