//! `/v1/identity/*` and `/v1/service-accounts/*`: partners, tenants, group membership, service
//! accounts and their API keys, and ScaiKey registration.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Timestamp;

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePartnerRequest {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// `ptn_...`; generated when absent.
    #[serde(default)]
    #[schema(pattern = r"^ptn_[A-Za-z0-9_-]{1,60}$")]
    pub id: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Partner {
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PartnerList {
    pub partners: Vec<Partner>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    /// Lowercase letters, digits and `-`, unique across the installation (e.g. `acme`).
    #[schema(pattern = r"^[a-z0-9][a-z0-9-]{0,62}$")]
    pub slug: String,
    #[serde(default)]
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// Defaults to the caller's partner; another partner only for operators.
    #[serde(default)]
    pub partner_id: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Tenant {
    pub id: String,
    pub partner_id: String,
    pub slug: String,
    pub name: String,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TenantList {
    pub tenants: Vec<Tenant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// `PUT /v1/identity/users/{identity_id}/groups`: membership synced from the IdP.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetGroupsRequest {
    /// `group:developers` (the `group:` prefix is added when missing).
    #[schema(max_items = 100)]
    pub groups: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GroupsResponse {
    pub identity_id: String,
    pub groups: Vec<String>,
}

/// `POST /v1/identity/register` (`scaivault scaikey register`).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// `tenant` (a new tenant in a partner, with its first tenant admin) or `partner` (a new
    /// partner with its first partner admin; operators only).
    #[schema(pattern = "^(tenant|partner)$")]
    pub scope: String,
    /// Required for `tenant`.
    #[serde(default)]
    #[schema(pattern = r"^[a-z0-9][a-z0-9-]{0,62}$")]
    pub tenant_slug: Option<String>,
    /// Required for `partner`.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub partner_name: Option<String>,
    /// The first admin: becomes the identity `user:{email}`.
    #[schema(max_length = 254)]
    pub email: String,
    /// For `tenant`: the partner to create it in (defaults to the caller's).
    #[serde(default)]
    pub partner_id: Option<String>,
}

/// The one response that carries the new admin's token.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct RegisterResponse {
    pub partner_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    pub identity_id: String,
    /// `tok_...`
    pub token_id: String,
    /// `skt_...`, shown once.
    pub token: String,
    pub expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for RegisterResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterResponse")
            .field("partner_id", &self.partner_id)
            .field("tenant_id", &self.tenant_id)
            .field("identity_id", &self.identity_id)
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceAccountRequest {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Roles from the catalogue: `secrets-reader`, `secrets-writer`, `auditor`, `tenant-admin`.
    #[schema(min_items = 1)]
    pub roles: Vec<String>,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ServiceAccount {
    /// `sva_...`
    pub id: String,
    /// `service_account:sva_...`, the identity its keys act as (bind policies to it).
    pub identity_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ServiceAccountList {
    pub service_accounts: Vec<ServiceAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Lifetime such as `90d`; never expires when absent.
    #[serde(default)]
    #[schema(pattern = r"^([0-9]+(\.[0-9]+)?(s|m|h|d|w))+$", example = "90d")]
    pub ttl: Option<String>,
}

/// The one response that contains an API key's plaintext.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateApiKeyResponse {
    /// `key_...`
    pub id: String,
    /// `svk_...`; shown exactly once and stored only as an HMAC.
    pub key: String,
    pub name: String,
    pub service_account_id: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for CreateApiKeyResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateApiKeyResponse")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyInfo {
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyList {
    pub keys: Vec<ApiKeyInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// `POST /v1/auth/exchange`: an API key (the bearer) for a short-lived token.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// Lifetime, default `15m`, at most `1h`.
    #[serde(default)]
    #[schema(pattern = r"^([0-9]+(\.[0-9]+)?(s|m|h|d|w))+$", example = "15m")]
    pub ttl: Option<String>,
}
