//! The internal CA: the statements both stores run on the PKI tables and the rows they read.
//! Optional filters are written once as `($n IS NULL OR ...)`, which both drivers bind alike
//! (sqlx sends PostgreSQL the parameter types, so an unused NULL filter needs no cast).

use super::{TextList, from_micros, opt_from_micros, to_u64};
use crate::model::SealedBlob;
use crate::pki::{CaRecord, CertRecord, CertStatusFilter, CrlRecord, CsrRecord};
use crate::{Result, StoreError};

/// The columns of `pki_cas`, in the order of [`INSERT_CA`]'s parameters and of [`CaRow`].
macro_rules! ca_columns {
    () => {
        "id, tenant_id, name, parent_ca_id, common_name, key_type, cert_der, key_id, sealed_key, \
         serial, not_before, not_after, status, separation_of_duties, settings, imported, \
         created_at, updated_at"
    };
}

/// The columns of `pki_certificates`, in the order of [`INSERT_CERT`]'s parameters and of
/// [`CertRow`].
macro_rules! cert_columns {
    () => {
        "id, tenant_id, ca_id, serial, common_name, sans, key_type, usage, not_before, \
         not_after, cert_der, secret_path, csr_id, revoked_at, revocation_reason, issued_by, \
         created_at"
    };
}

/// The columns of `pki_csrs`, in the order of [`INSERT_CSR`]'s parameters and of [`CsrRow`].
macro_rules! csr_columns {
    () => {
        "id, tenant_id, csr_pem, common_name, sans, key_type, status, submitted_by, decided_by, \
         decided_at, reason, cert_id, created_at"
    };
}

// --- certificate authorities ------------------------------------------------------------------

pub(crate) const INSERT_CA: &str = concat!(
    "INSERT INTO pki_cas (",
    ca_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
);
pub(crate) const GET_CA: &str = concat!(
    "SELECT ",
    ca_columns!(),
    " FROM pki_cas WHERE tenant_id = $1 AND id = $2"
);
pub(crate) const FIND_CA: &str = concat!("SELECT ", ca_columns!(), " FROM pki_cas WHERE id = $1");
pub(crate) const LIST_CAS: &str = concat!(
    "SELECT ",
    ca_columns!(),
    " FROM pki_cas WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
);
pub(crate) const DISABLE_CA: &str = "UPDATE pki_cas SET status = 'disabled', updated_at = $3
     WHERE tenant_id = $1 AND id = $2";
/// One counter per CA, incremented under the row's write lock (PostgreSQL) or by the single
/// writer (SQLite): no two callers on any node get the same number.
pub(crate) const NEXT_CRL_NUMBER: &str =
    "UPDATE pki_cas SET crl_number = crl_number + 1 WHERE id = $1 RETURNING crl_number";

// --- certificates -----------------------------------------------------------------------------

pub(crate) const INSERT_CERT: &str = concat!(
    "INSERT INTO pki_certificates (",
    cert_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
);
pub(crate) const GET_CERT: &str = concat!(
    "SELECT ",
    cert_columns!(),
    " FROM pki_certificates WHERE tenant_id = $1 AND id = $2"
);
pub(crate) const CERT_BY_SERIAL: &str = concat!(
    "SELECT ",
    cert_columns!(),
    " FROM pki_certificates WHERE ca_id = $1 AND serial = $2"
);
/// `$1` tenant, `$2` cursor, `$3` CA or NULL, `$4` status ([`status_code`]) or NULL, `$5` now,
/// `$6` expiring-before or NULL, `$7` limit.
pub(crate) const LIST_CERTS: &str = concat!(
    "SELECT ",
    cert_columns!(),
    " FROM pki_certificates
     WHERE tenant_id = $1 AND id > $2
       AND ($3 IS NULL OR ca_id = $3)
       AND ($4 IS NULL
            OR ($4 = 'valid' AND revoked_at IS NULL AND not_after > $5)
            OR ($4 = 'revoked' AND revoked_at IS NOT NULL)
            OR ($4 = 'expired' AND revoked_at IS NULL AND not_after <= $5))
       AND ($6 IS NULL OR (not_after > $5 AND not_after <= $6))
     ORDER BY id LIMIT $7"
);
pub(crate) const REVOKE_CERT: &str =
    "UPDATE pki_certificates SET revoked_at = $3, revocation_reason = $4
     WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL";
pub(crate) const REVOKED_CERTS: &str = concat!(
    "SELECT ",
    cert_columns!(),
    " FROM pki_certificates
     WHERE ca_id = $1 AND revoked_at IS NOT NULL AND not_after > $2
     ORDER BY serial"
);
pub(crate) const EXPIRING_CERTS: &str = concat!(
    "SELECT ",
    cert_columns!(),
    " FROM pki_certificates
     WHERE revoked_at IS NULL AND not_after > $1 AND not_after <= $2
     ORDER BY not_after, id LIMIT $3"
);

// --- certificate signing requests -------------------------------------------------------------

pub(crate) const INSERT_CSR: &str = concat!(
    "INSERT INTO pki_csrs (",
    csr_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
);
pub(crate) const GET_CSR: &str = concat!(
    "SELECT ",
    csr_columns!(),
    " FROM pki_csrs WHERE tenant_id = $1 AND id = $2"
);
/// `$1` tenant, `$2` status or NULL, `$3` cursor, `$4` limit.
pub(crate) const LIST_CSRS: &str = concat!(
    "SELECT ",
    csr_columns!(),
    " FROM pki_csrs WHERE tenant_id = $1 AND ($2 IS NULL OR status = $2) AND id > $3
     ORDER BY id LIMIT $4"
);
/// Compare-and-set on the status: `$3` from, `$4` to.
pub(crate) const DECIDE_CSR: &str = "UPDATE pki_csrs
     SET status = $4, decided_by = $5, decided_at = $6, reason = $7
     WHERE tenant_id = $1 AND id = $2 AND status = $3";
pub(crate) const SIGN_CSR: &str = "UPDATE pki_csrs SET status = 'signed', cert_id = $3
     WHERE tenant_id = $1 AND id = $2 AND status = 'approved'";

// --- CRLs ---------------------------------------------------------------------------------------

/// Replaces the stored CRL only with one of the same or a higher number (both dialects have
/// this upsert); no row changes when a higher number is stored.
pub(crate) const STORE_CRL: &str =
    "INSERT INTO pki_crls (ca_id, crl_number, der, this_update, next_update)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (ca_id) DO UPDATE SET crl_number = excluded.crl_number, der = excluded.der,
         this_update = excluded.this_update, next_update = excluded.next_update
     WHERE pki_crls.crl_number <= excluded.crl_number";
pub(crate) const LATEST_CRL: &str =
    "SELECT ca_id, crl_number, der, this_update, next_update FROM pki_crls WHERE ca_id = $1";

/// How [`LIST_CERTS`] names a status filter.
pub(crate) fn status_code(status: Option<CertStatusFilter>) -> Option<&'static str> {
    status.map(|s| match s {
        CertStatusFilter::Valid => "valid",
        CertStatusFilter::Revoked => "revoked",
        CertStatusFilter::Expired => "expired",
    })
}

#[derive(sqlx::FromRow)]
pub(crate) struct CaRow {
    id: String,
    tenant_id: String,
    name: String,
    parent_ca_id: Option<String>,
    common_name: String,
    key_type: String,
    cert_der: Vec<u8>,
    key_id: String,
    sealed_key: Vec<u8>,
    serial: String,
    not_before: i64,
    not_after: i64,
    status: String,
    separation_of_duties: bool,
    settings: String,
    imported: bool,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<CaRow> for CaRecord {
    type Error = StoreError;

    fn try_from(row: CaRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            tenant_id: row.tenant_id,
            name: row.name,
            parent_ca_id: row.parent_ca_id,
            common_name: row.common_name,
            key_type: row.key_type,
            cert_der: row.cert_der,
            sealed_key: SealedBlob {
                key_id: row.key_id,
                ciphertext: row.sealed_key,
            },
            serial: row.serial,
            not_before: from_micros(row.not_before)?,
            not_after: from_micros(row.not_after)?,
            status: row.status,
            separation_of_duties: row.separation_of_duties,
            settings: row.settings,
            imported: row.imported,
            created_at: from_micros(row.created_at)?,
            updated_at: from_micros(row.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CertRow {
    id: String,
    tenant_id: String,
    ca_id: String,
    serial: String,
    common_name: String,
    sans: TextList,
    key_type: Option<String>,
    usage: String,
    not_before: i64,
    not_after: i64,
    cert_der: Vec<u8>,
    secret_path: Option<String>,
    csr_id: Option<String>,
    revoked_at: Option<i64>,
    revocation_reason: Option<String>,
    issued_by: String,
    created_at: i64,
}

impl TryFrom<CertRow> for CertRecord {
    type Error = StoreError;

    fn try_from(row: CertRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            tenant_id: row.tenant_id,
            ca_id: row.ca_id,
            serial: row.serial,
            common_name: row.common_name,
            sans: row.sans.0,
            key_type: row.key_type,
            usage: row.usage,
            not_before: from_micros(row.not_before)?,
            not_after: from_micros(row.not_after)?,
            cert_der: row.cert_der,
            secret_path: row.secret_path,
            csr_id: row.csr_id,
            revoked_at: opt_from_micros(row.revoked_at)?,
            revocation_reason: row.revocation_reason,
            issued_by: row.issued_by,
            created_at: from_micros(row.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CsrRow {
    id: String,
    tenant_id: String,
    csr_pem: String,
    common_name: String,
    sans: TextList,
    key_type: Option<String>,
    status: String,
    submitted_by: String,
    decided_by: Option<String>,
    decided_at: Option<i64>,
    reason: Option<String>,
    cert_id: Option<String>,
    created_at: i64,
}

impl TryFrom<CsrRow> for CsrRecord {
    type Error = StoreError;

    fn try_from(row: CsrRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            tenant_id: row.tenant_id,
            csr_pem: row.csr_pem,
            common_name: row.common_name,
            sans: row.sans.0,
            key_type: row.key_type,
            status: row.status,
            submitted_by: row.submitted_by,
            decided_by: row.decided_by,
            decided_at: opt_from_micros(row.decided_at)?,
            reason: row.reason,
            cert_id: row.cert_id,
            created_at: from_micros(row.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CrlRow {
    ca_id: String,
    crl_number: i64,
    der: Vec<u8>,
    this_update: i64,
    next_update: i64,
}

impl TryFrom<CrlRow> for CrlRecord {
    type Error = StoreError;

    fn try_from(row: CrlRow) -> Result<Self> {
        Ok(Self {
            ca_id: row.ca_id,
            number: to_u64(row.crl_number, "CRL number")?,
            der: row.der,
            this_update: from_micros(row.this_update)?,
            next_update: from_micros(row.next_update)?,
        })
    }
}
