//! Credentials (tokens, API keys): the statements both stores run and the row they read.

use super::{TextList, from_micros, opt_from_micros};
use crate::model::TokenRecord;
use crate::{Result, StoreError};

/// The columns of `tokens`, in the order of [`INSERT`]'s parameters and of [`TokenRow`].
macro_rules! columns {
    () => {
        "id, tenant_id, partner_id, identity_id, identity_type, token_hash, name, scopes, \
         is_admin, is_partner_admin, kind, created_at, expires_at, revoked_at, parent_key_id"
    };
}
pub(crate) use columns;

pub(crate) const INSERT: &str = concat!(
    "INSERT INTO tokens (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
);
pub(crate) const FIND: &str = concat!("SELECT ", columns!(), " FROM tokens WHERE token_hash = $1");
pub(crate) const GET: &str = concat!("SELECT ", columns!(), " FROM tokens WHERE id = $1");
pub(crate) const LIST: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM tokens
     WHERE tenant_id = $1 AND identity_id = $2 AND revoked_at IS NULL AND id > $3
     ORDER BY id LIMIT $4"
);
pub(crate) const REVOKE: &str = "UPDATE tokens SET revoked_at = $4
     WHERE tenant_id = $1 AND identity_id = $2 AND id = $3 AND revoked_at IS NULL";
/// Tokens minted from a key die with it.
pub(crate) const REVOKE_CHILDREN: &str =
    "UPDATE tokens SET revoked_at = $2 WHERE parent_key_id = $1 AND revoked_at IS NULL";

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    id: String,
    tenant_id: String,
    partner_id: String,
    identity_id: String,
    identity_type: String,
    token_hash: String,
    name: String,
    scopes: TextList,
    is_admin: bool,
    is_partner_admin: bool,
    kind: String,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    parent_key_id: Option<String>,
}

impl TryFrom<TokenRow> for TokenRecord {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            tenant_id: row.tenant_id,
            partner_id: row.partner_id,
            identity_id: row.identity_id,
            identity_type: row.identity_type,
            token_hash: row.token_hash,
            name: row.name,
            scopes: row.scopes.0,
            is_admin: row.is_admin,
            is_partner_admin: row.is_partner_admin,
            kind: row.kind,
            created_at: from_micros(row.created_at)?,
            expires_at: opt_from_micros(row.expires_at)?,
            revoked_at: opt_from_micros(row.revoked_at)?,
            parent_key_id: row.parent_key_id,
        })
    }
}

/// The bindings of these statements that both stores run alike, for a backend's connection and
/// pool types (expanded in `sqlite/tokens.rs` and `postgres/tokens.rs`, whose imports the paths
/// inside resolve to).
macro_rules! shared_bindings {
    ($conn:ty, $pool:ty) => {
        pub(super) async fn find(pool: &$pool, token_hash: &str) -> Result<Option<TokenRecord>> {
            let row: Option<TokenRow> = sqlx::query_as(FIND)
                .bind(token_hash)
                .fetch_optional(pool)
                .await?;
            row.map(TryInto::try_into).transpose()
        }

        pub(super) async fn list(
            pool: &$pool,
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

        pub(super) async fn get(pool: &$pool, id: &str) -> Result<Option<TokenRecord>> {
            let row: Option<TokenRow> = sqlx::query_as(GET).bind(id).fetch_optional(pool).await?;
            row.map(TryInto::try_into).transpose()
        }

        /// Marks the token revoked, and every token minted from it (an API key's); false when this
        /// identity has no such live token.
        pub(super) async fn revoke(
            conn: &mut $conn,
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

        pub(super) async fn list_data_keys(pool: &$pool) -> Result<Vec<StoredKey>> {
            let rows: Vec<DataKeyRow> = sqlx::query_as(LIST_DATA_KEYS).fetch_all(pool).await?;
            records(rows)
        }

        pub(super) async fn insert_data_key(pool: &$pool, key: &StoredKey) -> Result<()> {
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
    };
}
pub(crate) use shared_bindings;
