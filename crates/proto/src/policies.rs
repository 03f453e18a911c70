//! `/v1/policies`: path policies, their bindings to identities, and the explain endpoint.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Timestamp;

/// One rule: a path glob, permissions and an effect (docs/policies.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Rule {
    /// `environments/production/**`: `*` within one segment, `**` across segments.
    #[schema(min_length = 1, max_length = 1024)]
    pub path: String,
    /// `read`, `list`, `write`, `delete`, `rotate`, `admin`, `issue`, `revoke`, `lease`,
    /// `subscribe`.
    #[schema(min_items = 1)]
    pub permissions: Vec<String>,
    /// `allow` (default) or `deny`; a matching deny always wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(allow|deny)$")]
    pub effect: Option<String>,
}

/// `POST /v1/policies` and `PUT /v1/policies/{id}`: either `rules`, or the quick form
/// `path` + `permissions` (+ `effect`) for a one-rule policy.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    #[serde(default)]
    pub rules: Option<Vec<Rule>>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    #[serde(default)]
    #[schema(pattern = "^(allow|deny)$")]
    pub effect: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Policy {
    /// `pol_...`
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub rules: Vec<Rule>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PolicyList {
    pub policies: Vec<Policy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// `POST /v1/policies/{id}/bindings`
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindRequest {
    /// `user`, `group` or `service_account`.
    #[schema(pattern = "^(user|group|service_account)$")]
    pub identity_type: String,
    /// `user:alice@acme.example`, `group:developers`, `service_account:sva_...` (the prefix
    /// is added when missing).
    #[schema(min_length = 1, max_length = 256)]
    pub identity_id: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Binding {
    pub policy_id: String,
    pub identity_type: String,
    pub identity_id: String,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BindingList {
    pub bindings: Vec<Binding>,
}

/// `POST /v1/policies/test`: would `identity_id` be allowed `permission` on `path`?
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyTestRequest {
    #[schema(min_length = 1, max_length = 1024)]
    pub path: String,
    pub permission: String,
    /// Defaults to the caller. Its synced groups are included.
    #[serde(default)]
    pub identity_id: Option<String>,
    /// Extra groups to evaluate with (e.g. those a JWT would carry).
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

/// The rule that decided.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DecidingRule {
    pub policy_id: String,
    pub policy_name: String,
    /// Index into the policy's `rules`.
    pub rule_index: usize,
    pub rule_path: String,
    pub effect: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PolicyTestResponse {
    pub allowed: bool,
    pub identity_id: String,
    /// The identities the policies were looked up for (the identity and its groups).
    pub evaluated_identities: Vec<String>,
    /// `tenant_admin` (admins may do everything), `allowed`, `denied` (a deny rule matched) or
    /// `no_match` (nothing matched: denied by default).
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<DecidingRule>,
    /// A sentence for humans.
    pub explanation: String,
}
