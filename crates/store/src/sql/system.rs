//! System values (schema facts, the write probe) and the keyring's wrapped data keys: the
//! statements both stores run and the rows they read; also the sealed values of every table
//! that holds them, for data key rotation and root key migration.

use super::{from_micros, to_u64};
use crate::model::{SealedBlob, SealedKind, SealedLocator, SealedRow, StoredKey};
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

// --- data key rotation and root key migration ----------------------------------------------

/// Rotation's first step: the active keys of purpose `$1` stop being active (they stay, so
/// what they sealed keeps opening); [`INSERT_DATA_KEY`] then adds the new active one.
pub(crate) const DEACTIVATE_DATA_KEYS: &str =
    "UPDATE data_keys SET active = FALSE WHERE purpose = $1 AND active";
/// Root key migration: a key wrapped anew by another root key (nothing else of it changes).
pub(crate) const REPLACE_WRAPPED: &str =
    "UPDATE data_keys SET wrapped = $2, provider = $3 WHERE key_id = $1";

/// The sealed values of one kind under any key but `$1`, after the cursor ($2, $3, $4)
/// (exclusive; `('', '', -1)` is before every row), in (tenant_id, id, version) order, at most
/// `$5`. A row-value comparison: PostgreSQL and SQLite (since 3.15) both speak it. The kinds
/// without versions read version 0; a subscription without a webhook has nothing sealed.
pub(crate) fn sealed_not_under(kind: SealedKind) -> &'static str {
    match kind {
        SealedKind::SecretVersion => {
            "SELECT tenant_id, path AS id, version, key_id, ciphertext FROM secret_versions
             WHERE key_id <> $1 AND (tenant_id, path, version) > ($2, $3, $4)
             ORDER BY tenant_id, path, version LIMIT $5"
        }
        SealedKind::WebhookSecret => {
            "SELECT tenant_id, id, CAST(0 AS BIGINT) AS version,
                    webhook_secret_key_id AS key_id, webhook_secret AS ciphertext
             FROM subscriptions
             WHERE webhook_secret_key_id IS NOT NULL AND webhook_secret IS NOT NULL
               AND webhook_secret_key_id <> $1
               AND (tenant_id, id, CAST(0 AS BIGINT)) > ($2, $3, $4)
             ORDER BY tenant_id, id LIMIT $5"
        }
        SealedKind::CaKey => {
            "SELECT tenant_id, id, CAST(0 AS BIGINT) AS version, key_id, sealed_key AS ciphertext
             FROM pki_cas
             WHERE key_id <> $1 AND (tenant_id, id, CAST(0 AS BIGINT)) > ($2, $3, $4)
             ORDER BY tenant_id, id LIMIT $5"
        }
        SealedKind::EngineSecret => {
            "SELECT tenant_id, name AS id, CAST(0 AS BIGINT) AS version,
                    secret_key_id AS key_id, sealed_secret AS ciphertext
             FROM dynamic_engines
             WHERE secret_key_id <> $1 AND (tenant_id, name, CAST(0 AS BIGINT)) > ($2, $3, $4)
             ORDER BY tenant_id, name LIMIT $5"
        }
    }
}

/// Replaces one sealed value at ($1, $2, $3) with key id `$4` and ciphertext `$5` if it is
/// still sealed as key id `$6`, ciphertext `$7`; nothing else of the row changes (a rewrap is
/// not a change of the value: `updated_at` stays). The kinds without versions match version 0
/// only.
pub(crate) fn reseal(kind: SealedKind) -> &'static str {
    match kind {
        SealedKind::SecretVersion => {
            "UPDATE secret_versions SET key_id = $4, ciphertext = $5
             WHERE tenant_id = $1 AND path = $2 AND version = $3
               AND key_id = $6 AND ciphertext = $7"
        }
        SealedKind::WebhookSecret => {
            "UPDATE subscriptions SET webhook_secret_key_id = $4, webhook_secret = $5
             WHERE tenant_id = $1 AND id = $2 AND $3 = CAST(0 AS BIGINT)
               AND webhook_secret_key_id = $6 AND webhook_secret = $7"
        }
        SealedKind::CaKey => {
            "UPDATE pki_cas SET key_id = $4, sealed_key = $5
             WHERE tenant_id = $1 AND id = $2 AND $3 = CAST(0 AS BIGINT)
               AND key_id = $6 AND sealed_key = $7"
        }
        SealedKind::EngineSecret => {
            "UPDATE dynamic_engines SET secret_key_id = $4, sealed_secret = $5
             WHERE tenant_id = $1 AND name = $2 AND $3 = CAST(0 AS BIGINT)
               AND secret_key_id = $6 AND sealed_secret = $7"
        }
    }
}

/// How many sealed values each key id seals, over the four tables that hold them.
pub(crate) const COUNT_SEALED_BY_KEY: &str = "SELECT key_id, COUNT(*) AS sealed FROM (
         SELECT key_id FROM secret_versions
         UNION ALL SELECT webhook_secret_key_id FROM subscriptions
             WHERE webhook_secret_key_id IS NOT NULL AND webhook_secret IS NOT NULL
         UNION ALL SELECT key_id FROM pki_cas
         UNION ALL SELECT secret_key_id FROM dynamic_engines
     ) AS sealed_values GROUP BY key_id ORDER BY key_id";

/// One row of [`sealed_not_under`].
#[derive(sqlx::FromRow)]
pub(crate) struct SealedDbRow {
    tenant_id: String,
    id: String,
    version: i64,
    key_id: String,
    ciphertext: Vec<u8>,
}

impl SealedDbRow {
    pub(crate) fn into_row(self, kind: SealedKind) -> Result<SealedRow> {
        Ok(SealedRow {
            kind,
            at: SealedLocator {
                tenant_id: self.tenant_id,
                id: self.id,
                version: to_u64(self.version, "version")?,
            },
            sealed: SealedBlob {
                key_id: self.key_id,
                ciphertext: self.ciphertext,
            },
        })
    }
}
