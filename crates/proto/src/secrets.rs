//! `/v1/secrets/*`: the shapes of the Managing Secrets page and the Quickstart.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::Timestamp;

/// The kind of payload a secret holds. Informational today; later issues attach behaviour
/// (certificate parsing, SSH key fingerprints) to some types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecretType {
    #[default]
    Kv,
    Json,
    Certificate,
    SshKey,
    ApiKey,
}

impl SecretType {
    pub const ALL: [SecretType; 5] = [
        Self::Kv,
        Self::Json,
        Self::Certificate,
        Self::SshKey,
        Self::ApiKey,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kv => "kv",
            Self::Json => "json",
            Self::Certificate => "certificate",
            Self::SshKey => "ssh_key",
            Self::ApiKey => "api_key",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Non-secret metadata. Stored unencrypted so it can be filtered on; never put secrets here.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// At most 50 tags of 1 to 64 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 50)]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 256)]
    pub owner: Option<String>,
}

/// Secret-level settings given on write or patch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretOptions {
    /// Version retention cap, 1 to 100 (default 10). Older versions are pruned on write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 100)]
    pub max_versions: Option<u32>,
    /// Relative expiration such as `90d` or `24h`; exclusive with `expires_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^([0-9]+(\.[0-9]+)?(s|m|h|d|w))+$", example = "90d")]
    pub expires_in: Option<String>,
    /// Absolute expiration; must be in the future; exclusive with `expires_in`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,128}$", example = "rot_quarterly")]
    pub rotation_policy_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,128}$", example = "sp_strong_password")]
    pub secret_policy_id: Option<String>,
}

/// `PUT /v1/secrets/{path}`
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteSecretRequest {
    /// The secret payload: a JSON object.
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
    /// Defaults to `kv` on create; kept as it was on update when omitted.
    #[serde(default)]
    pub secret_type: Option<SecretType>,
    #[serde(default)]
    pub metadata: Option<SecretMetadata>,
    #[serde(default)]
    pub options: Option<SecretOptions>,
}

/// Response of a write: metadata only, never the data. 201 with `created: true` for a new
/// secret, 200 with `previous_version` for an update.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct WriteSecretResponse {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_type: Option<SecretType>,
    pub version: u64,
    pub created: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

/// `GET /v1/secrets/{path}[?version=N]`
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct ReadSecretResponse {
    pub path: String,
    pub secret_type: SecretType,
    pub version: u64,
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
    pub metadata: SecretMetadata,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

/// `PATCH /v1/secrets/{path}`: metadata and options only; no new version.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchSecretRequest {
    #[serde(default)]
    pub metadata: Option<SecretMetadata>,
    #[serde(default)]
    pub options: Option<SecretOptions>,
}

/// One row of `GET /v1/secrets`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SecretSummary {
    pub path: String,
    pub secret_type: SecretType,
    pub version: u64,
    pub updated_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub tags: Vec<String>,
    /// The fields below only with `include_metadata=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_versions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_policy_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_policy_id: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ListSecretsResponse {
    pub secrets: Vec<SecretSummary>,
    /// Opaque; pass back as `cursor` for the next page. `null` on the last page.
    pub cursor: Option<String>,
    pub has_more: bool,
    /// Number of secrets matching the filters across all pages.
    pub total_count: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionInfo {
    pub version: u64,
    pub created_at: Timestamp,
    pub is_current: bool,
    /// Set on a version superseded by a rotation: readable until then, retired after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retires_at: Option<Timestamp>,
}

/// `GET /v1/secrets/{path}/versions`, newest first.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionsResponse {
    pub path: String,
    pub versions: Vec<VersionInfo>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RotationPolicyRef {
    pub id: String,
    /// When the scheduler rotates it next (`null` while no schedule exists yet).
    pub next_rotation: Option<Timestamp>,
}

/// `GET /v1/secrets/metadata/{path}` (also the response of PATCH and restore).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SecretMetadataResponse {
    pub path: String,
    pub secret_type: SecretType,
    pub current_version: u64,
    pub version_count: u64,
    pub metadata: SecretMetadata,
    pub max_versions: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_accessed_at: Option<Timestamp>,
    pub access_count_30d: u64,
    pub rotation_policy: Option<RotationPolicyRef>,
    pub secret_policy_id: Option<String>,
}

/// `POST /v1/secrets/{path}/rotate`
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecretRequest {
    #[serde(default)]
    pub reason: Option<String>,
    /// The new payload. Optional when the secret's rotation policy has `auto_generate` and the
    /// secret has a secret policy (the value is generated); required otherwise.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub new_value: Option<Map<String, Value>>,
    /// How long the previous version stays readable, e.g. `1h`. Default: the rotation
    /// policy's grace period, or retired at once without one.
    #[serde(default)]
    #[schema(pattern = r"^([0-9]+(\.[0-9]+)?(s|m|h|d|w))+$", example = "1h")]
    pub grace_period: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RotateSecretResponse {
    pub path: String,
    pub version: u64,
    pub previous_version: u64,
    pub rotated_at: Timestamp,
    /// When the previous version stops being readable.
    pub previous_version_retires_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ExpiringSecret {
    pub path: String,
    pub expires_at: Timestamp,
    /// Whole days left, rounded up.
    pub days_remaining: u64,
}

/// `GET /v1/secrets/expiring?days=N`, soonest first.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ExpiringSecretsResponse {
    pub secrets: Vec<ExpiringSecret>,
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// Response of `POST /v1/secrets/{path}/restore`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RestoreSecretResponse {
    pub path: String,
    pub restored: bool,
    pub current_version: u64,
}

/// Writes `field: <redacted>` so that `{:?}` of a type holding secret values never prints them.
struct Redacted;

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::fmt::Debug for WriteSecretRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteSecretRequest")
            .field("data", &Redacted)
            .field("secret_type", &self.secret_type)
            .field("metadata", &self.metadata)
            .field("options", &self.options)
            .finish()
    }
}

impl std::fmt::Debug for ReadSecretResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadSecretResponse")
            .field("path", &self.path)
            .field("secret_type", &self.secret_type)
            .field("version", &self.version)
            .field("data", &Redacted)
            .field("metadata", &self.metadata)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl std::fmt::Debug for RotateSecretRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotateSecretRequest")
            .field("reason", &self.reason)
            .field("new_value", &self.new_value.as_ref().map(|_| Redacted))
            .field("grace_period", &self.grace_period)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_secret_values() {
        let data: Map<String, Value> =
            serde_json::from_str(r#"{"password": "hunter2-debug-marker"}"#).unwrap();
        let write = WriteSecretRequest {
            data: data.clone(),
            secret_type: None,
            metadata: None,
            options: None,
        };
        let rotate = RotateSecretRequest {
            new_value: Some(data.clone()),
            ..RotateSecretRequest::default()
        };
        let read: ReadSecretResponse = serde_json::from_value(serde_json::json!({
            "path": "a/b", "secret_type": "kv", "version": 1, "data": data,
            "metadata": {}, "created_at": "2026-04-23T14:00:00Z", "updated_at": "2026-04-23T14:00:00Z"
        }))
        .unwrap();
        for text in [
            format!("{write:?}"),
            format!("{rotate:?}"),
            format!("{read:?}"),
        ] {
            assert!(!text.contains("hunter2"), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
    }
}
