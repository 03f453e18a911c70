//! `/v1/secret-policies` (value generation) and `/v1/rotation` (rotation policies, their
//! assignment to secrets, runs and the schedule). See docs/rotation.md.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::Timestamp;

/// One generated field of a secret policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GeneratorField {
    /// The key in the secret's `data` (`[A-Za-z0-9_.-]`, 1-64 characters).
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// `random`, `uuid`, `bytes`, `passphrase`, `rsa_key_pair`, `ec_key_pair`,
    /// `ed25519_key_pair`, `ssh_key_pair`, `static`, `template` (see `GET
    /// /v1/secret-policies/types`).
    #[schema(min_length = 1, max_length = 64)]
    pub generator: String,
    /// The generator's settings; `{}` takes every default.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
}

/// `POST /v1/secret-policies` and `PUT /v1/secret-policies/{id}`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretPolicyRequest {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// What it generates, a label such as `password`, `api_key` or `database` (default
    /// `password`); a secret's own `secret_type` does not change when its value is generated.
    #[serde(default)]
    pub secret_type: Option<String>,
    #[schema(min_items = 1, max_items = 32)]
    pub fields: Vec<GeneratorField>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SecretPolicy {
    /// `sp_...`, derived from the name at creation (`Strong Password` -> `sp_strong_password`).
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub secret_type: String,
    pub fields: Vec<GeneratorField>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SecretPolicyList {
    pub secret_policies: Vec<SecretPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// `POST /v1/secret-policies/{id}/generate`: a preview, never stored.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct GeneratedValue {
    pub secret_policy_id: String,
    pub secret_type: String,
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
}

impl std::fmt::Debug for GeneratedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedValue")
            .field("secret_policy_id", &self.secret_policy_id)
            .field("secret_type", &self.secret_type)
            .field("data", &"<redacted>")
            .finish()
    }
}

/// `POST /v1/rotation/policies` and `PUT /v1/rotation/policies/{id}`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotationPolicyRequest {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// How often, e.g. `90d` (at least 1 minute).
    #[schema(example = "90d")]
    pub interval: String,
    /// How long the previous version stays readable after a rotation, e.g. `48h`
    /// (default 0: retired at once; less than the interval).
    #[serde(default)]
    #[schema(example = "48h")]
    pub grace_period: Option<String>,
    /// When `rotation.due` warnings go out before the due time, e.g. `["7d", "1d"]`.
    #[serde(default)]
    pub warn_before: Vec<String>,
    /// Generate the new value with the secret's secret policy (default true). Without one,
    /// the rotation waits for a `new_value` through `POST /v1/secrets/{path}/rotate`.
    #[serde(default)]
    pub auto_generate: Option<bool>,
    /// Rotate only at times matching this cron expression (`minute hour day-of-month month
    /// day-of-week`, UTC), e.g. `0 2-4 * * 1-5`: a due rotation waits for the next match.
    #[serde(default)]
    pub window: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RotationPolicy {
    /// `rot_...`, derived from the name at creation (`quarterly` -> `rot_quarterly`).
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub interval: String,
    pub grace_period: String,
    pub warn_before: Vec<String>,
    pub auto_generate: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RotationPolicyList {
    pub rotation_policies: Vec<RotationPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// `POST /v1/rotation/policies/{id}/assign` and `/unassign`: secret paths or globs
/// (`environments/production/**`) of existing secrets.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    #[schema(min_items = 1, max_items = 100)]
    pub paths: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AssignResponse {
    pub policy_id: String,
    /// The secrets whose policy changed, in path order.
    pub paths: Vec<String>,
    pub count: u64,
}

/// `POST /v1/rotation/policies/{id}/trigger`: rotate its secrets now (all, or those matching
/// `paths`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerRequest {
    #[serde(default)]
    pub paths: Option<Vec<String>>,
}

/// One rotation run.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RotationRun {
    /// `rrun_...`
    pub id: String,
    pub policy_id: Option<String>,
    pub path: String,
    /// `schedule`, `trigger` or `manual`.
    pub trigger: String,
    /// `running`, `awaiting_value`, `succeeded` or `failed`.
    pub status: String,
    pub attempt: u32,
    pub old_version: Option<u64>,
    pub new_version: Option<u64>,
    pub error: Option<String>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TriggerResponse {
    pub policy_id: String,
    pub runs: Vec<RotationRun>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RotationRunList {
    pub runs: Vec<RotationRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// A secret's place in the rotation schedule.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ScheduledRotation {
    pub path: String,
    pub policy_id: String,
    /// `scheduled`, `awaiting_value` or `retrying`.
    pub state: String,
    pub next_rotation: Timestamp,
    pub last_rotated_at: Option<Timestamp>,
    /// Failed attempts since the last success.
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// `GET /v1/rotation/due?within_hours=168` (and `GET /v1/rotation/policies/{id}/secrets`).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ScheduledRotationList {
    pub secrets: Vec<ScheduledRotation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// `GET /v1/secret-policies/types`: the generator and charset catalogue.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GeneratorCatalogue {
    #[schema(value_type = Vec<Object>)]
    pub generators: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub charsets: Vec<Value>,
}
