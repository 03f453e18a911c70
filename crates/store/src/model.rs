//! Records the store reads and writes. Plain data: validation happens before it gets here.

use time::OffsetDateTime;

/// A wrapped data key as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    pub key_id: String,
    /// `data` or `token_pepper`.
    pub purpose: String,
    pub provider: String,
    pub wrapped: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub active: bool,
}

/// Ciphertext of one version, as produced by the barrier.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedBlob {
    pub key_id: String,
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedBlob")
            .field("key_id", &self.key_id)
            .field("len", &self.ciphertext.len())
            .finish()
    }
}

/// A secret's record (everything but the values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRecord {
    pub path: String,
    pub secret_type: String,
    pub current_version: u64,
    pub latest_version: u64,
    pub max_versions: u32,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub owner: Option<String>,
    pub expires_at: Option<OffsetDateTime>,
    pub rotation_policy_id: Option<String>,
    pub secret_policy_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub deleted_at: Option<OffsetDateTime>,
    /// Number of live versions; filled by `get_secret`, 0 elsewhere.
    pub version_count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionRecord {
    pub version: u64,
    pub created_at: OffsetDateTime,
    pub retires_at: Option<OffsetDateTime>,
    /// Present when read with its value.
    pub sealed: Option<SealedBlob>,
}

/// Fields that a write or patch sets; `None` leaves the stored value as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretPatch {
    pub secret_type: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub owner: Option<String>,
    pub max_versions: Option<u32>,
    pub expires_at: Option<OffsetDateTime>,
    pub rotation_policy_id: Option<String>,
    pub secret_policy_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// PUT: create the secret or add a version. Refused on a soft-deleted path.
    Put,
    /// Rotate: the secret must exist; the previous version retires at the given time.
    Rotate { retire_previous_at: OffsetDateTime },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretWrite {
    pub path: String,
    pub patch: SecretPatch,
    /// Optimistic concurrency: the write fails with `VersionConflict` unless the current version
    /// is this one (`Some(0)`: the secret must not exist yet).
    pub expected_version: Option<u64>,
    pub mode: WriteMode,
    pub now: OffsetDateTime,
    /// The request's audit entry, committed with the write; its `version` is filled in with
    /// the version the write creates.
    pub audit: Option<crate::audit::AuditEvent>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOutcome {
    pub version: u64,
    pub previous_version: Option<u64>,
    pub created: bool,
    pub record: SecretRecord,
}

/// Default number of versions kept when a write does not say.
pub const DEFAULT_MAX_VERSIONS: u32 = 10;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub prefix: String,
    /// Every tag must be present.
    pub tags: Vec<String>,
    pub secret_type: Option<String>,
    pub expires_before: Option<OffsetDateTime>,
    pub updated_after: Option<OffsetDateTime>,
    /// When false, secrets with `expires_at <= now` are left out.
    pub include_expired: bool,
    pub now: Option<OffsetDateTime>,
    /// Exclusive lower bound on path (the cursor).
    pub after_path: Option<String>,
    pub limit: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiringQuery {
    pub prefix: String,
    pub now: OffsetDateTime,
    pub before: OffsetDateTime,
    /// Exclusive lower bound on (expires_at, path), the cursor.
    pub after: Option<(OffsetDateTime, String)>,
    pub limit: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
    /// Matches across all pages (only where the query computes it).
    pub total_count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessHit {
    pub tenant_id: String,
    pub path: String,
    pub count: u64,
    pub last_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub tenant_id: String,
    pub partner_id: String,
    pub identity_id: String,
    pub identity_type: String,
    /// HMAC-SHA256(pepper, token), hex.
    pub token_hash: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub is_admin: bool,
    /// Partner admins may act on every tenant of their partner and write partner secrets.
    pub is_partner_admin: bool,
    /// `personal`, `api_key` or `exchanged`.
    pub kind: String,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    /// The service-account API key (`key_...`) a token was minted from, directly or through an
    /// exchanged token: revoking the key revokes the token.
    pub parent_key_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartnerRecord {
    pub id: String,
    pub name: String,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantRecord {
    pub id: String,
    pub partner_id: String,
    /// Unique, URL-friendly name (`acme`).
    pub slug: String,
    pub name: String,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceAccountRecord {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub description: Option<String>,
    pub roles: Vec<String>,
    pub created_at: OffsetDateTime,
}

/// A path policy. `rules` is the JSON array of rules, validated by the server before storing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRecord {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub description: Option<String>,
    pub rules: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyBinding {
    pub policy_id: String,
    pub identity_id: String,
    /// `user`, `group` or `service_account`.
    pub identity_type: String,
    pub created_at: OffsetDateTime,
}

/// The kinds of value sealed by the keyring, each in its own table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SealedKind {
    /// `secret_versions.ciphertext`; id = path, version = the version.
    SecretVersion,
    /// `subscriptions.webhook_secret`; id = subscription id, version 0.
    WebhookSecret,
    /// `pki_cas.sealed_key`; id = CA id, version 0.
    CaKey,
    /// `dynamic_engines.sealed_secret`; id = engine name, version 0.
    EngineSecret,
}

impl SealedKind {
    pub const ALL: [SealedKind; 4] = [
        SealedKind::SecretVersion,
        SealedKind::WebhookSecret,
        SealedKind::CaKey,
        SealedKind::EngineSecret,
    ];
}

/// Where a sealed value lives (its associated data is derived from this by the server).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SealedLocator {
    pub tenant_id: String,
    pub id: String,
    pub version: u64,
}

/// One sealed value and where it lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedRow {
    pub kind: SealedKind,
    pub at: SealedLocator,
    pub sealed: SealedBlob,
}
