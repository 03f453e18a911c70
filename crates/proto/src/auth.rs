//! `/v1/auth/*`: who am I, personal access tokens.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Timestamp;

/// `GET /v1/auth/whoami`, exactly the Quickstart's shape.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoAmIResponse {
    /// e.g. `user:alice@acme.example`
    pub identity_id: String,
    /// `user`, `group` or `service_account`
    pub identity_type: String,
    pub tenant_id: String,
    pub partner_id: String,
    pub scopes: Vec<String>,
}

/// `POST /v1/auth/tokens`
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    #[schema(min_length = 1, max_length = 100, pattern = r"^\S(.*\S)?$")]
    pub name: String,
    /// Subset of the caller's own scopes, e.g. `["secrets:read"]`.
    #[schema(min_items = 1, inline, value_type = Vec<ScopeName>)]
    pub scopes: Vec<String>,
    /// Lifetime such as `30d` or `12h`; default `30d`, at most `365d`.
    #[serde(default)]
    #[schema(pattern = r"^([0-9]+(\.[0-9]+)?(s|m|h|d|w))+$", example = "30d")]
    pub ttl: Option<String>,
}

/// The scope catalogue, for the OpenAPI document (docs/auth.md).
#[derive(ToSchema)]
#[allow(dead_code, reason = "schema only")]
enum ScopeName {
    #[schema(rename = "secrets:read")]
    SecretsRead,
    #[schema(rename = "secrets:write")]
    SecretsWrite,
    #[schema(rename = "audit:read")]
    AuditRead,
    #[schema(rename = "policies:read")]
    PoliciesRead,
    #[schema(rename = "policies:write")]
    PoliciesWrite,
}

/// The one response that ever contains the token's plaintext.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateTokenResponse {
    /// `tok_...`, used to list and revoke the token.
    pub id: String,
    /// `skt_...`; shown exactly once and stored only as an HMAC.
    pub token: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub identity_id: String,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenListResponse {
    pub tokens: Vec<TokenInfo>,
    pub cursor: Option<String>,
    pub has_more: bool,
}

impl std::fmt::Debug for CreateTokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateTokenResponse")
            .field("id", &self.id)
            .field("token", &"<redacted>")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}
