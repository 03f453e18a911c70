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
