//! System values (schema facts, the write probe) and the keyring's wrapped data keys: the
//! statements both stores run and the row they read.

use super::from_micros;
use crate::model::StoredKey;
use crate::{Result, StoreError};

pub(crate) const GET: &str = "SELECT value FROM system WHERE key = $1";
/// An upsert both dialects speak (SQLite since 3.24).
pub(crate) const SET: &str = "INSERT INTO system (key, value) VALUES ($1, $2)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

pub(crate) const LIST_DATA_KEYS: &str =
    "SELECT key_id, purpose, provider, wrapped, created_at, active FROM data_keys
     ORDER BY created_at, key_id";
pub(crate) const INSERT_DATA_KEY: &str =
    "INSERT INTO data_keys (key_id, purpose, provider, wrapped, created_at, active)
     VALUES ($1, $2, $3, $4, $5, $6)";

#[derive(sqlx::FromRow)]
pub(crate) struct DataKeyRow {
    key_id: String,
    purpose: String,
    provider: String,
    wrapped: Vec<u8>,
    created_at: i64,
    active: bool,
}

impl TryFrom<DataKeyRow> for StoredKey {
    type Error = StoreError;

    fn try_from(row: DataKeyRow) -> Result<Self> {
        Ok(Self {
            key_id: row.key_id,
            purpose: row.purpose,
            provider: row.provider,
            wrapped: row.wrapped,
            created_at: from_micros(row.created_at)?,
            active: row.active,
        })
    }
}
