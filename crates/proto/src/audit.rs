//! `/v1/audit/*`: the audit trail, its queries and its verification.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Timestamp;

/// One audit entry, as the API returns it and as the SIEM sink writes it (one JSON line each).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// `aud_...`
    pub id: String,
    /// Global commit order; the cursor of queries.
    pub sequence: u64,
    pub timestamp: Timestamp,
    pub request_id: String,
    /// The acting identity (`user:...`, `service_account:...`), or `anonymous`.
    pub identity_id: String,
    pub identity_type: String,
    /// The acting identity's own tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_tenant_id: Option<String>,
    /// The tenant whose resource was targeted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    /// The credential used (`tok_...`, `key_...`): its id, never its value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
    /// `read`, `write`, `update`, `delete`, `destroy`, `delete_version`, `restore`, `rotate`,
    /// `list`, `list_versions`, `list_expiring`, `read_metadata`, `create`, `revoke`, `query`,
    /// `trail`, `summary`, `verify` (docs/audit.md).
    pub action: String,
    /// `secret`, `token`, `audit`, ...
    pub resource_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// `success`, `denied` or `error`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Position in the tenant's hash chain.
    pub chain_sequence: u64,
    /// Hex HMAC of this entry, linking the next one.
    pub hash: String,
    pub prev_hash: String,
}

/// `GET /v1/audit` and `GET /v1/audit/trail/{path}`, newest first.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditListResponse {
    pub entries: Vec<AuditEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
    /// Set when the requested range reaches before the retention window: entries older than
    /// `before` are no longer in the database but in the server's audit archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<AuditArchivedRange>,
}

/// Where entries past the retention window went (`GET /v1/audit`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditArchivedRange {
    /// Entries that occurred before this are archived (now minus `audit_retention`).
    pub before: Timestamp,
    /// The archive directory of the chains queried, on the server.
    pub locations: Vec<String>,
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditCount {
    pub key: String,
    pub count: u64,
}

/// `GET /v1/audit/summary`
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditSummaryResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
    pub total: u64,
    pub by_action: Vec<AuditCount>,
    pub by_outcome: Vec<AuditCount>,
    pub by_identity: Vec<AuditCount>,
    pub top_paths: Vec<AuditCount>,
}

/// The verification of one tenant's chain.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditChainReport {
    pub tenant_id: String,
    pub entries_checked: u64,
    pub last_chain_sequence: u64,
    pub intact: bool,
    /// The first broken link, in words (which entry, and what is wrong with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_break: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken_at_chain_sequence: Option<u64>,
    /// The archive segment where the break was found (`<chain dir>/<file>` under the
    /// server's `audit_archive_dir`); absent when it is in the database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_segment: Option<String>,
    /// How many archive segments were verified before the database's entries.
    #[serde(default)]
    pub archive_segments: u64,
}

/// `POST /v1/audit/verify`
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditVerifyResponse {
    pub intact: bool,
    pub chains: Vec<AuditChainReport>,
}
