//! ACME certificates: the statements both stores run on the account, DNS provider and order
//! tables and the rows they read. Optional filters are written once as `($n IS NULL OR ...)`,
//! as in `sql/pki.rs`. The backend-specific parts are the row locks (PostgreSQL's
//! `FOR UPDATE` / `FOR SHARE` / `SKIP LOCKED`; SQLite needs none, its writer is single), in
//! `sqlite/acme.rs` and `postgres/acme.rs`.

use super::{TextList, from_micros, opt_from_micros};
use crate::acme::{AcmeAccountRecord, AcmeOrderRecord, DnsProviderRecord};
use crate::model::SealedBlob;
use crate::{Result, StoreError};

/// The columns of `acme_accounts`, in the order of [`INSERT_ACCOUNT`]'s parameters and of
/// [`AccountRow`].
macro_rules! account_columns {
    () => {
        "id, tenant_id, provider, directory_url, contacts, status, account_url, \
         credentials_key_id, sealed_credentials, eab_kid, created_at, updated_at"
    };
}

/// The columns of `acme_dns_providers`, in the order of [`INSERT_DNS_PROVIDER`]'s parameters
/// and of [`DnsProviderRow`].
macro_rules! dns_provider_columns {
    () => {
        "id, tenant_id, name, kind, settings, credentials_key_id, sealed_credentials, \
         created_at, updated_at"
    };
}

/// The columns of `acme_orders`, in the order of [`INSERT_ORDER`]'s parameters and of
/// [`OrderRow`].
macro_rules! order_columns {
    () => {
        "id, tenant_id, account_id, domains, challenge, dns_provider_id, key_type, status, \
         order_url, checkpoint_key_id, sealed_checkpoint, certificate_id, problem, attempts, \
         next_attempt_at, renewal_of, claimed_by, claim_expires_at, created_at, updated_at, \
         secret_path, requested_by"
    };
}

/// The condition of an order that is not final (`valid` and `failed` are).
macro_rules! not_final {
    () => {
        "status NOT IN ('valid', 'failed')"
    };
}

// --- accounts ---------------------------------------------------------------------------------

pub(crate) const INSERT_ACCOUNT: &str = concat!(
    "INSERT INTO acme_accounts (",
    account_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
);
pub(crate) const GET_ACCOUNT: &str = concat!(
    "SELECT ",
    account_columns!(),
    " FROM acme_accounts WHERE tenant_id = $1 AND id = $2"
);
pub(crate) const ACCOUNT_EXISTS: &str =
    "SELECT count(*) FROM acme_accounts WHERE tenant_id = $1 AND id = $2";
pub(crate) const LIST_ACCOUNTS: &str = concat!(
    "SELECT ",
    account_columns!(),
    " FROM acme_accounts WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
);
pub(crate) const SET_ACCOUNT_STATUS: &str =
    "UPDATE acme_accounts SET status = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2";

// --- DNS providers ----------------------------------------------------------------------------

pub(crate) const INSERT_DNS_PROVIDER: &str = concat!(
    "INSERT INTO acme_dns_providers (",
    dns_provider_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
);
pub(crate) const GET_DNS_PROVIDER: &str = concat!(
    "SELECT ",
    dns_provider_columns!(),
    " FROM acme_dns_providers WHERE tenant_id = $1 AND id = $2"
);
pub(crate) const LIST_DNS_PROVIDERS: &str = concat!(
    "SELECT ",
    dns_provider_columns!(),
    " FROM acme_dns_providers WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
);
/// The provider's id when the tenant has it, with a backend's row lock.
macro_rules! select_dns_provider {
    ($lock:literal) => {
        concat!(
            "SELECT id FROM acme_dns_providers WHERE tenant_id = $1 AND id = $2",
            $lock
        )
    };
}
/// The provider row, for deleting it (PostgreSQL locks it against a concurrent order insert).
pub(crate) const LOCK_DNS_PROVIDER_SQLITE: &str = select_dns_provider!("");
pub(crate) const LOCK_DNS_PROVIDER_POSTGRES: &str = select_dns_provider!(" FOR UPDATE");
/// The provider row, for an order naming it (PostgreSQL holds it against a concurrent delete,
/// which then sees the order).
pub(crate) const SHARE_DNS_PROVIDER_SQLITE: &str = select_dns_provider!("");
pub(crate) const SHARE_DNS_PROVIDER_POSTGRES: &str = select_dns_provider!(" FOR SHARE");
pub(crate) const PROVIDER_IN_USE: &str = concat!(
    "SELECT count(*) FROM acme_orders WHERE tenant_id = $1 AND dns_provider_id = $2 AND ",
    not_final!()
);
pub(crate) const DELETE_DNS_PROVIDER: &str =
    "DELETE FROM acme_dns_providers WHERE tenant_id = $1 AND id = $2";

// --- orders -----------------------------------------------------------------------------------

pub(crate) const INSERT_ORDER: &str = concat!(
    "INSERT INTO acme_orders (",
    order_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
     $18, $19, $20, $21, $22)"
);
pub(crate) const GET_ORDER: &str = concat!(
    "SELECT ",
    order_columns!(),
    " FROM acme_orders WHERE tenant_id = $1 AND id = $2"
);
pub(crate) const ORDER_EXISTS: &str =
    "SELECT count(*) FROM acme_orders WHERE tenant_id = $1 AND id = $2";
/// `$1` tenant, `$2` cursor, `$3` status or NULL, `$4` limit.
pub(crate) const LIST_ORDERS: &str = concat!(
    "SELECT ",
    order_columns!(),
    " FROM acme_orders WHERE tenant_id = $1 AND id > $2 AND ($3 IS NULL OR status = $3)
     ORDER BY id LIMIT $4"
);
/// `$1` node, `$2` now, `$3` claim expiry. One due, unfinished, unheld order (the most
/// overdue first, from the `acme_orders_due` index) takes the claim, with a backend's row lock
/// on the inner SELECT (PostgreSQL skips the rows another node is claiming, so two nodes
/// never take one order; SQLite's single writer runs one claim at a time). The outer
/// conditions repeat the inner ones so that a row changed meanwhile is never taken.
macro_rules! claim_due_order {
    ($lock:literal) => {
        concat!(
            "UPDATE acme_orders SET claimed_by = $1, claim_expires_at = $3
             WHERE id = (SELECT id FROM acme_orders
                         WHERE ",
            not_final!(),
            " AND next_attempt_at <= $2
                           AND (claimed_by IS NULL OR claim_expires_at IS NULL
                                OR claim_expires_at <= $2)
                         ORDER BY next_attempt_at, id LIMIT 1",
            $lock,
            ")
               AND ",
            not_final!(),
            " AND (claimed_by IS NULL OR claim_expires_at IS NULL OR claim_expires_at <= $2)
             RETURNING ",
            order_columns!()
        )
    };
}
pub(crate) const CLAIM_DUE_ORDER_SQLITE: &str = claim_due_order!("");
pub(crate) const CLAIM_DUE_ORDER_POSTGRES: &str = claim_due_order!(" FOR UPDATE SKIP LOCKED");
/// `$1` tenant, `$2` id, `$3` the node that must hold the claim, `$4`.. the progress, `$12`
/// the new holder (the node, or NULL to release), `$13` its expiry, `$14` now.
pub(crate) const UPDATE_ORDER: &str = concat!(
    "UPDATE acme_orders
     SET status = $4, order_url = $5, checkpoint_key_id = $6, sealed_checkpoint = $7,
         certificate_id = $8, problem = $9, attempts = $10, next_attempt_at = $11,
         claimed_by = $12, claim_expires_at = $13, updated_at = $14
     WHERE tenant_id = $1 AND id = $2 AND claimed_by = $3
     RETURNING ",
    order_columns!()
);

/// `$1` tenant, `$2` certificate.
pub(crate) const RENEWAL_ORDER_OF: &str = concat!(
    "SELECT ",
    order_columns!(),
    " FROM acme_orders WHERE tenant_id = $1 AND renewal_of = $2
     ORDER BY created_at DESC, id DESC LIMIT 1"
);

// --- http-01 answers --------------------------------------------------------------------------

pub(crate) const PUT_HTTP01_TOKEN: &str = "INSERT INTO acme_http01_tokens
     (token, tenant_id, order_id, key_authorization, expires_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (token) DO UPDATE SET tenant_id = excluded.tenant_id,
         order_id = excluded.order_id, key_authorization = excluded.key_authorization,
         expires_at = excluded.expires_at, created_at = excluded.created_at";
pub(crate) const GET_HTTP01_TOKEN: &str =
    "SELECT key_authorization FROM acme_http01_tokens WHERE token = $1 AND expires_at > $2";
pub(crate) const DELETE_HTTP01_TOKEN: &str =
    "DELETE FROM acme_http01_tokens WHERE token = $1 OR expires_at <= $2";

/// A stored attempt count (never negative nor above `u32::MAX` when ScaiVault wrote it).
fn to_u32(v: i64, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} out of range: {v}")))
}

/// A sealed blob stored as two nullable columns: both or neither.
fn opt_blob(key_id: Option<String>, ciphertext: Option<Vec<u8>>) -> Result<Option<SealedBlob>> {
    match (key_id, ciphertext) {
        (Some(key_id), Some(ciphertext)) => Ok(Some(SealedBlob { key_id, ciphertext })),
        (None, None) => Ok(None),
        _ => Err(StoreError::Corrupt(
            "an order's checkpoint has a key id or a ciphertext but not both".into(),
        )),
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    id: String,
    tenant_id: String,
    provider: String,
    directory_url: String,
    contacts: TextList,
    status: String,
    account_url: String,
    credentials_key_id: String,
    sealed_credentials: Vec<u8>,
    eab_kid: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<AccountRow> for AcmeAccountRecord {
    type Error = StoreError;

    fn try_from(row: AccountRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            tenant_id: row.tenant_id,
            provider: row.provider,
            directory_url: row.directory_url,
            contacts: row.contacts.0,
            status: row.status,
            account_url: row.account_url,
            sealed_credentials: SealedBlob {
                key_id: row.credentials_key_id,
                ciphertext: row.sealed_credentials,
            },
            eab_kid: row.eab_kid,
            created_at: from_micros(row.created_at)?,
            updated_at: from_micros(row.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DnsProviderRow {
    id: String,
    tenant_id: String,
    name: String,
    kind: String,
    settings: String,
    credentials_key_id: String,
    sealed_credentials: Vec<u8>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<DnsProviderRow> for DnsProviderRecord {
    type Error = StoreError;

    fn try_from(row: DnsProviderRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            tenant_id: row.tenant_id,
            name: row.name,
            kind: row.kind,
            settings: row.settings,
            sealed_credentials: SealedBlob {
                key_id: row.credentials_key_id,
                ciphertext: row.sealed_credentials,
            },
            created_at: from_micros(row.created_at)?,
            updated_at: from_micros(row.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct OrderRow {
    id: String,
    tenant_id: String,
    account_id: String,
    domains: TextList,
    challenge: String,
    dns_provider_id: Option<String>,
    key_type: String,
    status: String,
    order_url: Option<String>,
    checkpoint_key_id: Option<String>,
    sealed_checkpoint: Option<Vec<u8>>,
    certificate_id: Option<String>,
    problem: Option<String>,
    attempts: i64,
    next_attempt_at: i64,
    renewal_of: Option<String>,
    claimed_by: Option<String>,
    claim_expires_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    secret_path: String,
    requested_by: String,
}

impl TryFrom<OrderRow> for AcmeOrderRecord {
    type Error = StoreError;

    fn try_from(row: OrderRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            tenant_id: row.tenant_id,
            account_id: row.account_id,
            domains: row.domains.0,
            challenge: row.challenge,
            dns_provider_id: row.dns_provider_id,
            key_type: row.key_type,
            status: row.status,
            order_url: row.order_url,
            sealed_checkpoint: opt_blob(row.checkpoint_key_id, row.sealed_checkpoint)?,
            certificate_id: row.certificate_id,
            problem: row.problem,
            attempts: to_u32(row.attempts, "order attempts")?,
            next_attempt_at: from_micros(row.next_attempt_at)?,
            renewal_of: row.renewal_of,
            secret_path: row.secret_path,
            requested_by: row.requested_by,
            claimed_by: row.claimed_by,
            claim_expires_at: opt_from_micros(row.claim_expires_at)?,
            created_at: from_micros(row.created_at)?,
            updated_at: from_micros(row.updated_at)?,
        })
    }
}

/// An order insert's failure: a taken id is `Duplicate`; a missing account (the foreign key) is
/// the account's `NotFound`.
pub(crate) fn order_insert_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate,
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            StoreError::NotFound(crate::Entity::AcmeAccount)
        }
        e => e.into(),
    }
}
