//! The internal CA's storage (issue 16): certificate authorities, issued certificates, CSRs and
//! CRLs. The store keeps DER bytes, hex serials and strings; building, parsing and signing
//! certificates is the server's (crates/pki). A CA's private key arrives sealed by the server,
//! like every secret value, and an issued certificate's key is written as a secret version
//! ([`PkiStore::insert_certificate`]), so the store never sees a private key in the clear.
//!
//! Invariants the database enforces, so several nodes can issue at once:
//! - a CA's name is unique per tenant;
//! - a serial is unique per CA (`UNIQUE (ca_id, serial)`): a node that draws a serial another
//!   node already used gets `Duplicate` and retries with a fresh random serial;
//! - CRL numbers come from one counter per CA, incremented in the database.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::audit::AuditEvent;
use crate::model::{Page, SealedBlob, SecretWrite, WriteOutcome};
use crate::{Result, SealFn, StoreError};

/// `active` CA status.
pub const CA_ACTIVE: &str = "active";
/// `disabled` CA status: it issues nothing more; its CRL and OCSP answers go on.
pub const CA_DISABLED: &str = "disabled";

/// CSR statuses.
pub const CSR_PENDING: &str = "pending";
pub const CSR_APPROVED: &str = "approved";
pub const CSR_REJECTED: &str = "rejected";
pub const CSR_SIGNED: &str = "signed";

/// A certificate authority of a tenant (root or intermediate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaRecord {
    /// `ca_...`, unique across tenants.
    pub id: String,
    pub tenant_id: String,
    /// Unique per tenant.
    pub name: String,
    /// The issuing CA of an intermediate (same tenant); `None` for a root.
    pub parent_ca_id: Option<String>,
    pub common_name: String,
    pub key_type: String,
    pub cert_der: Vec<u8>,
    /// The CA's private key, sealed by the server (its Debug shows only the length).
    pub sealed_key: SealedBlob,
    /// Hex.
    pub serial: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// [`CA_ACTIVE`] or [`CA_DISABLED`].
    pub status: String,
    /// The approver of a CSR may not be its submitter.
    pub separation_of_duties: bool,
    /// JSON: path length, name constraints, subject fields, CRL/OCSP URLs. Opaque to the store.
    pub settings: String,
    /// Imported (certificate and key brought in) rather than generated here.
    pub imported: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// An issued (or CSR-signed) certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertRecord {
    /// `cert_...`, unique across tenants.
    pub id: String,
    pub tenant_id: String,
    pub ca_id: String,
    /// Hex, unique per CA.
    pub serial: String,
    pub common_name: String,
    /// `DNS:x`, `IP:x`, `email:x`, `URI:x`.
    pub sans: Vec<String>,
    /// `None` for a CSR-signed certificate whose key type was not recorded.
    pub key_type: Option<String>,
    /// `server`, `client` or `both`.
    pub usage: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub cert_der: Vec<u8>,
    /// Where the certificate and its key are stored as a secret; `None` for CSR-signed ones.
    pub secret_path: Option<String>,
    pub csr_id: Option<String>,
    pub revoked_at: Option<OffsetDateTime>,
    pub revocation_reason: Option<String>,
    /// The actor id of the issuer.
    pub issued_by: String,
    pub created_at: OffsetDateTime,
}

/// A certificate signing request from an external requester (who keeps the key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsrRecord {
    /// `csr_...`, unique across tenants.
    pub id: String,
    pub tenant_id: String,
    pub csr_pem: String,
    pub common_name: String,
    pub sans: Vec<String>,
    pub key_type: Option<String>,
    /// [`CSR_PENDING`], [`CSR_APPROVED`], [`CSR_REJECTED`] or [`CSR_SIGNED`].
    pub status: String,
    pub submitted_by: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<OffsetDateTime>,
    /// The reason given with a rejection (or approval).
    pub reason: Option<String>,
    /// The certificate signed from it.
    pub cert_id: Option<String>,
    pub created_at: OffsetDateTime,
}

/// A CA's certificate revocation list as last generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlRecord {
    pub ca_id: String,
    /// From [`PkiStore::next_crl_number`].
    pub number: u64,
    pub der: Vec<u8>,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
}

/// A certificate's status at a given time, for listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertStatusFilter {
    /// Not revoked and `not_after > now`.
    Valid,
    /// Revoked (expired or not).
    Revoked,
    /// Not revoked and `not_after <= now`.
    Expired,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertQuery {
    pub ca_id: Option<String>,
    pub status: Option<CertStatusFilter>,
    /// Only certificates with `now < not_after <= expiring_before` (`--expiring-within`).
    pub expiring_before: Option<OffsetDateTime>,
    /// The instant the status and expiry filters are evaluated at.
    pub now: OffsetDateTime,
    /// The cursor: the last id of the previous page (exclusive).
    pub after: Option<String>,
    pub limit: u32,
}

/// The PKI part of the [`crate::Store`]. Every mutation takes the request's audit event and
/// commits it (and the outbox event derived from it) in the same transaction.
#[async_trait]
pub trait PkiStore: Send + Sync {
    /// Duplicate when the tenant already has a CA of this name (or the id is taken).
    async fn insert_ca(&self, ca: &CaRecord, audit: Option<&AuditEvent>) -> Result<()>;
    async fn get_ca(&self, tenant_id: &str, id: &str) -> Result<Option<CaRecord>>;
    /// By id alone, for the unauthenticated CRL/OCSP endpoints.
    async fn find_ca(&self, id: &str) -> Result<Option<CaRecord>>;
    /// Ordered by id; `after` is the cursor (exclusive).
    async fn list_cas(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<CaRecord>>;
    /// Sets the status to `disabled` (and `updated_at` to `now`); false when absent.
    async fn disable_ca(
        &self,
        tenant_id: &str,
        id: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    /// Inserts the certificate and, when `secret` is given, writes its secret version
    /// (certificate + key, sealed by `seal` exactly as `write_secret` does; the write's own
    /// `audit`, if any, is recorded as `write_secret` records it) in the SAME transaction with
    /// `audit`; returns the secret write's outcome. The tenant is `cert.tenant_id`; the write's
    /// path must be `cert.secret_path` (`Invalid` otherwise). `Duplicate` when (ca_id, serial)
    /// or the id is taken (the caller retries with a fresh random serial): nothing is written.
    async fn insert_certificate(
        &self,
        cert: &CertRecord,
        secret: Option<(SecretWrite, Box<SealFn>)>,
        audit: Option<&AuditEvent>,
    ) -> Result<Option<WriteOutcome>>;
    async fn get_certificate(&self, tenant_id: &str, id: &str) -> Result<Option<CertRecord>>;
    /// By CA and serial (hex, as stored), for OCSP.
    async fn certificate_by_serial(&self, ca_id: &str, serial: &str) -> Result<Option<CertRecord>>;
    /// Ordered by id; status filter evaluated at `query.now` (expired: `not_after <= now` and
    /// not revoked).
    async fn list_certificates(
        &self,
        tenant_id: &str,
        query: &CertQuery,
    ) -> Result<Page<CertRecord>>;
    /// Sets revoked_at/reason once; false when absent or already revoked.
    async fn revoke_certificate(
        &self,
        tenant_id: &str,
        id: &str,
        at: OffsetDateTime,
        reason: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;
    /// Every revoked certificate of the CA still within validity at `now` (`not_after > now`):
    /// the CRL's contents, ordered by serial.
    async fn revoked_certificates(
        &self,
        ca_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<CertRecord>>;

    /// Duplicate when the id is taken.
    async fn insert_csr(&self, csr: &CsrRecord, audit: Option<&AuditEvent>) -> Result<()>;
    async fn get_csr(&self, tenant_id: &str, id: &str) -> Result<Option<CsrRecord>>;
    /// Ordered by id, optionally only those in `status`; `after` is the cursor (exclusive).
    async fn list_csrs(
        &self,
        tenant_id: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<CsrRecord>>;
    /// Compare-and-set: moves the CSR from `from` to `to` status with decided_by/at/reason;
    /// false when it is not in `from` (or absent).
    #[allow(clippy::too_many_arguments, reason = "the contract of the PKI engine")]
    async fn decide_csr(
        &self,
        tenant_id: &str,
        id: &str,
        from: &str,
        to: &str,
        by: &str,
        at: OffsetDateTime,
        reason: Option<&str>,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;
    /// approved -> signed (with `cert_id`) and inserts `cert` (stored with `csr_id = id`), in
    /// one transaction; false when the CSR is not approved (nothing written). `Duplicate` as
    /// [`PkiStore::insert_certificate`]; `Invalid` when `cert` is another tenant's.
    async fn sign_csr(
        &self,
        tenant_id: &str,
        id: &str,
        cert: &CertRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    /// The next CRL number for the CA (atomically incremented, starts at 1): numbers never
    /// repeat across nodes. `NotFound` when there is no such CA.
    async fn next_crl_number(&self, ca_id: &str) -> Result<u64>;
    /// Stores the CRL unless a higher number is already stored; true when stored.
    async fn store_crl(&self, crl: &CrlRecord) -> Result<bool>;
    async fn latest_crl(&self, ca_id: &str) -> Result<Option<CrlRecord>>;

    /// Valid (not revoked) certificates of every tenant with `not_after` in `(from, to]`,
    /// soonest first (then by id): the expiry events.
    async fn certificates_expiring_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<CertRecord>>;
}

/// The checks both stores make before [`PkiStore::insert_certificate`] opens its transaction.
pub(crate) fn check_certificate_secret(
    cert: &CertRecord,
    secret: Option<&SecretWrite>,
) -> Result<()> {
    match secret {
        Some(write) if cert.secret_path.as_deref() != Some(write.path.as_str()) => Err(
            StoreError::Invalid("the certificate's secret_path is not the path written"),
        ),
        _ => Ok(()),
    }
}
