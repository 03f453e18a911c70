//! ACME certificates' storage (issue 21): accounts at ACME CAs, DNS providers for dns-01, and
//! orders that a node works through in steps. Talking to the CA, sealing and the scheduler are
//! the server's (crates/acme is the client); the store keeps strings, JSON text and sealed
//! blobs. An account's credentials, a DNS provider's credentials and an order's checkpoint
//! (which holds the certificate key) arrive sealed by the server, so the store never sees a
//! private key or a TSIG/AWS secret in the clear.
//!
//! Invariants the database enforces, so several nodes can work at once:
//! - a DNS provider's name is unique per tenant (`Duplicate`);
//! - a DNS provider that a non-final order uses cannot be deleted (`Conflict`);
//! - an order is worked on by one node at a time: [`AcmeStore::claim_due_order`] takes one due
//!   order atomically (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single writer on SQLite),
//!   and only the claim's holder may [`AcmeStore::update_order`] it. A claim that expires (the
//!   node died) makes the order claimable again, checkpoint and order URL intact.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::Result;
use crate::audit::AuditEvent;
use crate::model::{Page, SealedBlob};

/// Account statuses.
pub const ACCOUNT_VALID: &str = "valid";
pub const ACCOUNT_DEACTIVATED: &str = "deactivated";

/// Challenge kinds.
pub const CHALLENGE_DNS01: &str = "dns-01";
pub const CHALLENGE_HTTP01: &str = "http-01";

/// Order statuses. [`ORDER_VALID`] and [`ORDER_FAILED`] are final.
pub const ORDER_PENDING: &str = "pending";
/// A certificate's renewal, waiting for its time (claimed like a pending order once due).
pub const ORDER_SCHEDULED: &str = "scheduled";
pub const ORDER_PROCESSING: &str = "processing";
pub const ORDER_VALID: &str = "valid";
pub const ORDER_FAILED: &str = "failed";

/// Whether an order in `status` is finished (nothing more to do, never claimed again).
pub fn order_status_is_final(status: &str) -> bool {
    status == ORDER_VALID || status == ORDER_FAILED
}

/// An account at an ACME CA, of a tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcmeAccountRecord {
    /// `acme_...`, unique across tenants.
    pub id: String,
    pub tenant_id: String,
    /// The provider preset (`letsencrypt`, `zerossl`, ..., `custom`).
    pub provider: String,
    pub directory_url: String,
    /// `mailto:` URLs.
    pub contacts: Vec<String>,
    /// [`ACCOUNT_VALID`] or [`ACCOUNT_DEACTIVATED`].
    pub status: String,
    /// The account URL at the CA (its `kid`).
    pub account_url: String,
    /// The serialised `scaivault_acme::StoredAccount` (holds the account key), sealed by the
    /// server. Opaque to the store.
    pub sealed_credentials: SealedBlob,
    /// The external account binding's key id, when the CA required one (not secret; the HMAC
    /// key is never stored).
    pub eab_kid: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A DNS provider for dns-01 challenges, of a tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsProviderRecord {
    /// `dnsp_...`, unique across tenants.
    pub id: String,
    pub tenant_id: String,
    /// Unique per tenant.
    pub name: String,
    /// `rfc2136`, `route53`, ...
    pub kind: String,
    /// JSON, non-secret: server, zone, key name, hosted zone id, region, endpoint. Opaque to
    /// the store.
    pub settings: String,
    /// TSIG secret, AWS keys, ..., sealed by the server. Opaque to the store.
    pub sealed_credentials: SealedBlob,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// An order for a certificate (a first issue or a renewal), worked on in steps by whichever node
/// holds its claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcmeOrderRecord {
    /// `acmeo_...`, unique across tenants.
    pub id: String,
    pub tenant_id: String,
    /// The tenant's account the order is placed with.
    pub account_id: String,
    pub domains: Vec<String>,
    /// [`CHALLENGE_DNS01`] or [`CHALLENGE_HTTP01`].
    pub challenge: String,
    /// The tenant's DNS provider (dns-01).
    pub dns_provider_id: Option<String>,
    pub key_type: String,
    /// [`ORDER_PENDING`], [`ORDER_SCHEDULED`], [`ORDER_PROCESSING`], [`ORDER_VALID`] or
    /// [`ORDER_FAILED`].
    pub status: String,
    /// The order URL at the CA, once the CA created it.
    pub order_url: Option<String>,
    /// The serialised `scaivault_acme::OrderCheckpoint` (holds the certificate key), sealed
    /// by the server. Opaque to the store.
    pub sealed_checkpoint: Option<SealedBlob>,
    /// The certificate issued from it.
    pub certificate_id: Option<String>,
    /// JSON: the CA's problem document of the last failure.
    pub problem: Option<String>,
    pub attempts: u32,
    /// When the order is next due to be worked on.
    pub next_attempt_at: OffsetDateTime,
    /// The certificate this order renews.
    pub renewal_of: Option<String>,
    /// Where the certificate and its key are stored as a secret (a renewal keeps it).
    pub secret_path: String,
    /// The identity that ordered it (a renewal keeps the first order's).
    pub requested_by: String,
    /// The node holding the order's claim.
    pub claimed_by: Option<String>,
    pub claim_expires_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What the claim holder writes with [`AcmeStore::update_order`]: the order's progress fields,
/// all replaced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderUpdate {
    pub status: String,
    pub order_url: Option<String>,
    pub sealed_checkpoint: Option<SealedBlob>,
    pub certificate_id: Option<String>,
    pub problem: Option<String>,
    pub attempts: u32,
    pub next_attempt_at: OffsetDateTime,
    /// `Some(until)`: keep holding the claim until then; `None`: release it. A final status
    /// always releases it.
    pub claim_until: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
}

/// The ACME part of the [`crate::Store`]. Every mutation takes the request's audit event and
/// commits it (and the outbox event derived from it) in the same transaction.
#[async_trait]
pub trait AcmeStore: Send + Sync {
    /// Duplicate when the id is taken.
    async fn insert_acme_account(
        &self,
        account: &AcmeAccountRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;
    async fn get_acme_account(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<AcmeAccountRecord>>;
    /// Ordered by id; `after` is the cursor (exclusive).
    async fn list_acme_accounts(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<AcmeAccountRecord>>;
    /// Sets the status (and `updated_at` to `now`). `NotFound` when absent.
    async fn set_acme_account_status(
        &self,
        tenant_id: &str,
        id: &str,
        status: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;

    /// Duplicate when the tenant already has a provider of this name (or the id is taken).
    async fn insert_dns_provider(
        &self,
        provider: &DnsProviderRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;
    async fn get_dns_provider(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<DnsProviderRecord>>;
    /// Ordered by id; `after` is the cursor (exclusive).
    async fn list_dns_providers(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<DnsProviderRecord>>;
    /// `NotFound` when absent; `Conflict` while a non-final order uses it (nothing deleted).
    async fn delete_dns_provider(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;

    /// Duplicate when the id is taken; `NotFound` when the account or the DNS provider is not
    /// the tenant's.
    async fn insert_acme_order(
        &self,
        order: &AcmeOrderRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;
    async fn get_acme_order(&self, tenant_id: &str, id: &str) -> Result<Option<AcmeOrderRecord>>;
    /// Ordered by id, optionally only those in `status`; `after` is the cursor (exclusive).
    async fn list_acme_orders(
        &self,
        tenant_id: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<AcmeOrderRecord>>;
    /// Atomically takes ONE order of any tenant that is not final, is due
    /// (`next_attempt_at <= now`) and that nobody holds (no claim, or an expired one): sets
    /// `claimed_by = node` and `claim_expires_at = claim_until`, and returns it as updated.
    /// The most overdue order first. No two callers (on any node) get the same order while
    /// the claim lasts.
    async fn claim_due_order(
        &self,
        node: &str,
        now: OffsetDateTime,
        claim_until: OffsetDateTime,
    ) -> Result<Option<AcmeOrderRecord>>;
    /// Writes the order's progress, only when `node` holds its claim (`claimed_by = node`; an
    /// expired claim nobody took since still counts): `Conflict` otherwise (another node took
    /// it, it was released, or the order is final), `NotFound` when the tenant has no such
    /// order. Releases the claim when `update.claim_until` is `None` or the status is final.
    async fn update_order(
        &self,
        tenant_id: &str,
        id: &str,
        node: &str,
        update: &OrderUpdate,
        audit: Option<&AuditEvent>,
    ) -> Result<AcmeOrderRecord>;
    /// The latest order renewing `certificate_id`, if any.
    async fn renewal_order_of(
        &self,
        tenant_id: &str,
        certificate_id: &str,
    ) -> Result<Option<AcmeOrderRecord>>;

    /// Publishes an http-01 answer (replacing one with the same token).
    async fn put_http01_token(&self, token: &Http01Token) -> Result<()>;
    /// The key authorization for `token`, unless absent or expired at `now`.
    async fn http01_key_authorization(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>>;
    /// Withdraws an http-01 answer (absent is fine), and every answer expired at `now`.
    async fn delete_http01_token(&self, token: &str, now: OffsetDateTime) -> Result<()>;
}

/// An http-01 answer every node serves at `/.well-known/acme-challenge/{token}`. Not secret:
/// the CA fetches it over plain HTTP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Http01Token {
    pub token: String,
    pub tenant_id: String,
    pub order_id: String,
    pub key_authorization: String,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}
