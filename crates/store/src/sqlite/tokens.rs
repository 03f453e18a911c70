//! Credentials (tokens, API keys) and the keyring's wrapped data keys in SQLite (the
//! statements are in [`crate::sql::tokens`] and [`crate::sql::system`]).

use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::Result;
use crate::model::*;
use crate::sql::system::{DataKeyRow, INSERT_DATA_KEY, LIST_DATA_KEYS};
use crate::sql::tokens::*;
use crate::sql::{TextListRef, micros, page_of, records, unique};

crate::sql::tokens::shared_bindings!(sqlx::SqliteConnection, sqlx::SqlitePool);

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
