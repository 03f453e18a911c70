//! The tools: their names, descriptions, annotations, input schemas (generated from the
//! argument types below) and output schemas.

use std::sync::Arc;

use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use rmcp::schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// One tool of this server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToolName {
    Whoami,
    ListSecrets,
    SecretMetadata,
    SecretVersions,
    ReadSecret,
    WriteSecret,
    PatchSecretMetadata,
    DeleteSecret,
    RestoreSecret,
    RotateSecret,
    ExpiringSecrets,
    AuditTrail,
    TestPolicy,
    RotationDue,
    ListCertificates,
    IssueCertificate,
    ListLeases,
    DynamicCredentials,
    RevokeLease,
}

impl ToolName {
    pub const ALL: [ToolName; 19] = [
        ToolName::Whoami,
        ToolName::ListSecrets,
        ToolName::SecretMetadata,
        ToolName::SecretVersions,
        ToolName::ReadSecret,
        ToolName::WriteSecret,
        ToolName::PatchSecretMetadata,
        ToolName::DeleteSecret,
        ToolName::RestoreSecret,
        ToolName::RotateSecret,
        ToolName::ExpiringSecrets,
        ToolName::AuditTrail,
        ToolName::TestPolicy,
        ToolName::RotationDue,
        ToolName::ListCertificates,
        ToolName::IssueCertificate,
        ToolName::ListLeases,
        ToolName::DynamicCredentials,
        ToolName::RevokeLease,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ToolName::Whoami => "whoami",
            ToolName::ListSecrets => "list_secrets",
            ToolName::SecretMetadata => "secret_metadata",
            ToolName::SecretVersions => "secret_versions",
            ToolName::ReadSecret => "read_secret",
            ToolName::WriteSecret => "write_secret",
            ToolName::PatchSecretMetadata => "patch_secret_metadata",
            ToolName::DeleteSecret => "delete_secret",
            ToolName::RestoreSecret => "restore_secret",
            ToolName::RotateSecret => "rotate_secret",
            ToolName::ExpiringSecrets => "expiring_secrets",
            ToolName::AuditTrail => "audit_trail",
            ToolName::TestPolicy => "test_policy",
            ToolName::RotationDue => "rotation_due",
            ToolName::ListCertificates => "list_certificates",
            ToolName::IssueCertificate => "issue_certificate",
            ToolName::ListLeases => "list_leases",
            ToolName::DynamicCredentials => "dynamic_credentials",
            ToolName::RevokeLease => "revoke_lease",
        }
    }

    pub fn parse(name: &str) -> Option<ToolName> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether the tool changes anything on the server (removed by `--read-only`).
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            ToolName::WriteSecret
                | ToolName::PatchSecretMetadata
                | ToolName::DeleteSecret
                | ToolName::RestoreSecret
                | ToolName::RotateSecret
                | ToolName::IssueCertificate
                | ToolName::DynamicCredentials
                | ToolName::RevokeLease
        )
    }

    /// `(destructive, idempotent)` of a mutating tool, as MCP defines them: destructive when
    /// it may overwrite or remove what is there (not only add), idempotent when repeating the
    /// call with the same arguments has no further effect.
    fn mutation_hints(self) -> (bool, bool) {
        match self {
            // A new current version replaces what readers get, and the oldest version beyond
            // max_versions is pruned; every call makes a new version.
            ToolName::WriteSecret => (true, false),
            // Overwrites description/tags/owner/options; the same patch twice changes nothing.
            ToolName::PatchSecretMetadata => (true, true),
            // Soft delete (restorable during retention) but the secret stops being readable.
            ToolName::DeleteSecret => (true, true),
            // Brings a soft-deleted secret back; adds, removes nothing.
            ToolName::RestoreSecret => (false, true),
            // A new version every call; the old one retires after the grace period.
            ToolName::RotateSecret => (true, false),
            // Adds a certificate or a lease; each call adds another.
            ToolName::IssueCertificate | ToolName::DynamicCredentials => (false, false),
            // Tears the credential down; revoking a revoked lease changes nothing.
            ToolName::RevokeLease => (true, true),
            _ => (false, true),
        }
    }

    fn description(self) -> &'static str {
        match self {
            ToolName::Whoami => {
                "Who the ScaiVault token of this MCP server is: identity, tenant, partner, scopes."
            }
            ToolName::ListSecrets => {
                "List secret paths and their metadata (never values), one page at a time. Filter by path prefix and tags; pass the returned cursor to get the next page."
            }
            ToolName::SecretMetadata => {
                "A secret's metadata: type, versions, description, tags, owner, expiry, rotation policy, access counts. Never the value."
            }
            ToolName::SecretVersions => {
                "A secret's versions, newest first (numbers and dates, no values)."
            }
            ToolName::ReadSecret => {
                "Read a secret: metadata and field names. Values are masked as \"********\" unless the operator started the server with --allow-reveal AND this call passes reveal: true."
            }
            ToolName::WriteSecret => {
                "Create a secret or write a new version of it. `data` is the whole payload (a JSON object). The response names the new version; the values are never echoed back."
            }
            ToolName::PatchSecretMetadata => {
                "Change a secret's metadata (description, tags, owner) or options (max_versions, expires_in, rotation/secret policy) without a new version."
            }
            ToolName::DeleteSecret => {
                "Soft-delete a secret: it stops being readable but can be restored with restore_secret during the retention window."
            }
            ToolName::RestoreSecret => "Restore a soft-deleted secret.",
            ToolName::RotateSecret => {
                "Rotate a secret: a new version from `new_value` or from the secret's generator policy; the previous version stays readable for the grace period. Values are never echoed back."
            }
            ToolName::ExpiringSecrets => {
                "Secrets that expire within `days` days (server default 30), soonest first."
            }
            ToolName::AuditTrail => {
                "The audit trail of one secret path, newest first: who did what, when, from which client."
            }
            ToolName::TestPolicy => {
                "Explain access: would an identity (default: this server's token) be allowed a permission (read, write, delete, list, rotate, admin) on a path, and which policy rule decides?"
            }
            ToolName::RotationDue => {
                "Secrets whose scheduled rotation is due within `within_hours` hours, soonest first."
            }
            ToolName::ListCertificates => {
                "Certificates issued by the tenant's internal CAs (never keys), one page at a time. Filter by CA, status (valid, revoked, expired) and expiring_within (e.g. 30d)."
            }
            ToolName::IssueCertificate => {
                "Issue a certificate from an internal CA. The private key is masked as \"********\" unless the operator started the server with --allow-reveal AND this call passes reveal: true; it is stored, sealed, as the secret at `secret_path` either way."
            }
            ToolName::ListLeases => {
                "Dynamic-credential leases (never their credentials), one page at a time. Filter by engine and role; live_only leaves out revoked ones."
            }
            ToolName::DynamicCredentials => {
                "Get a short-lived credential from a dynamic engine's role, on a lease. Its values are masked as \"********\" unless the operator started the server with --allow-reveal AND this call passes reveal: true (a masked credential is still issued: revoke it with revoke_lease if it is not needed)."
            }
            ToolName::RevokeLease => {
                "Revoke a lease now: its credential is torn down on the target."
            }
        }
    }

    fn input_schema(self) -> Arc<JsonObject> {
        match self {
            ToolName::Whoami => schema_for_type::<NoArgs>(),
            ToolName::ListSecrets => schema_for_type::<ListSecretsArgs>(),
            ToolName::SecretMetadata
            | ToolName::SecretVersions
            | ToolName::DeleteSecret
            | ToolName::RestoreSecret => schema_for_type::<PathArgs>(),
            ToolName::ReadSecret => schema_for_type::<ReadSecretArgs>(),
            ToolName::WriteSecret => schema_for_type::<WriteSecretArgs>(),
            ToolName::PatchSecretMetadata => schema_for_type::<PatchSecretArgs>(),
            ToolName::RotateSecret => schema_for_type::<RotateSecretArgs>(),
            ToolName::ExpiringSecrets => schema_for_type::<ExpiringArgs>(),
            ToolName::AuditTrail => schema_for_type::<AuditTrailArgs>(),
            ToolName::TestPolicy => schema_for_type::<TestPolicyArgs>(),
            ToolName::RotationDue => schema_for_type::<RotationDueArgs>(),
            ToolName::ListCertificates => schema_for_type::<ListCertificatesArgs>(),
            ToolName::IssueCertificate => schema_for_type::<IssueCertificateArgs>(),
            ToolName::ListLeases => schema_for_type::<ListLeasesArgs>(),
            ToolName::DynamicCredentials => schema_for_type::<DynamicCredentialsArgs>(),
            ToolName::RevokeLease => schema_for_type::<LeaseArgs>(),
        }
    }

    fn output_schema(self) -> Value {
        let page = |item_required: &[&str]| {
            json!({
                "type": "object",
                "properties": {
                    "secrets": {
                        "type": "array",
                        "items": {"type": "object", "required": item_required,
                                  "properties": {"path": {"type": "string"}}}
                    },
                    "cursor": {"type": ["string", "null"]},
                    "has_more": {"type": "boolean"}
                },
                "required": ["secrets", "has_more"]
            })
        };
        match self {
            ToolName::Whoami => object(
                &["identity_id", "tenant_id", "scopes"],
                json!({"identity_id": {"type": "string"}, "tenant_id": {"type": "string"},
                       "scopes": {"type": "array", "items": {"type": "string"}}}),
            ),
            ToolName::ListSecrets | ToolName::ExpiringSecrets => page(&["path"]),
            ToolName::RotationDue => page(&["path", "next_rotation"]),
            ToolName::SecretMetadata | ToolName::PatchSecretMetadata => object(
                &["path", "current_version"],
                json!({"path": {"type": "string"}, "current_version": {"type": "integer"}}),
            ),
            ToolName::SecretVersions => object(
                &["path", "versions"],
                json!({"path": {"type": "string"}, "versions": {"type": "array"}}),
            ),
            ToolName::ReadSecret => object(
                &["path", "version", "data", "fields", "masked"],
                json!({
                    "path": {"type": "string"},
                    "version": {"type": "integer"},
                    "data": {"type": "object"},
                    "fields": {"type": "array", "items": {"type": "string"}},
                    "masked": {"type": "boolean"}
                }),
            ),
            ToolName::WriteSecret => object(
                &["path", "version", "created"],
                json!({"path": {"type": "string"}, "version": {"type": "integer"},
                       "created": {"type": "boolean"}}),
            ),
            ToolName::DeleteSecret => object(
                &["path", "deleted"],
                json!({"path": {"type": "string"}, "deleted": {"type": "boolean"}}),
            ),
            ToolName::RestoreSecret => object(
                &["path", "restored"],
                json!({"path": {"type": "string"}, "restored": {"type": "boolean"}}),
            ),
            ToolName::RotateSecret => object(
                &["path", "version", "previous_version"],
                json!({"path": {"type": "string"}, "version": {"type": "integer"},
                       "previous_version": {"type": "integer"}}),
            ),
            ToolName::AuditTrail => object(
                &["entries"],
                json!({"entries": {"type": "array", "items": {"type": "object"}},
                       "cursor": {"type": ["string", "null"]}}),
            ),
            ToolName::TestPolicy => object(&["allowed"], json!({"allowed": {"type": "boolean"}})),
            ToolName::ListCertificates => object(
                &["certificates", "has_more"],
                json!({"certificates": {"type": "array", "items": {"type": "object"}},
                       "cursor": {"type": ["string", "null"]}, "has_more": {"type": "boolean"}}),
            ),
            ToolName::IssueCertificate => object(
                &["id", "certificate", "private_key", "masked"],
                json!({"id": {"type": "string"}, "certificate": {"type": "string"},
                       "private_key": {"type": "string"}, "masked": {"type": "boolean"}}),
            ),
            ToolName::ListLeases => object(
                &["leases", "has_more"],
                json!({"leases": {"type": "array", "items": {"type": "object"}},
                       "cursor": {"type": ["string", "null"]}, "has_more": {"type": "boolean"}}),
            ),
            ToolName::DynamicCredentials => object(
                &["lease_id", "expires_at", "data", "fields", "masked"],
                json!({"lease_id": {"type": "string"}, "expires_at": {"type": "string"},
                       "data": {"type": "object"},
                       "fields": {"type": "array", "items": {"type": "string"}},
                       "masked": {"type": "boolean"}}),
            ),
            ToolName::RevokeLease => object(
                &["id", "status"],
                json!({"id": {"type": "string"}, "status": {"type": "string"}}),
            ),
        }
    }

    /// The MCP tool definition.
    pub fn tool(self) -> Tool {
        let read_only = !self.is_mutating();
        let (destructive, idempotent) = self.mutation_hints();
        let annotations = ToolAnnotations::new()
            .read_only(read_only)
            .destructive(destructive)
            .idempotent(idempotent)
            .open_world(false);
        let mut tool = Tool::new(self.as_str(), self.description(), self.input_schema())
            .with_annotations(annotations);
        if let Value::Object(schema) = self.output_schema() {
            tool = tool.with_raw_output_schema(Arc::new(schema));
        }
        tool
    }
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

// --- Arguments ----------------------------------------------------------------------------

/// No arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// A secret path.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct PathArgs {
    /// The secret path, e.g. `app/db/credentials`.
    pub path: String,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct ListSecretsArgs {
    /// Only paths starting with this prefix, e.g. `app/`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Only secrets carrying all these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The `cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page size (server default 50, at most 200).
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct ReadSecretArgs {
    /// The secret path.
    pub path: String,
    /// A version number (default: the current version).
    #[serde(default)]
    pub version: Option<u64>,
    /// Ask for the values. Honoured only when the operator started the server with
    /// --allow-reveal; otherwise values stay masked.
    #[serde(default)]
    pub reveal: bool,
}

/// Non-secret metadata. Never put secret values here.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct MetadataArgs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// Secret-level settings.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct OptionsArgs {
    /// Version retention cap, 1 to 100 (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_versions: Option<u32>,
    /// Relative expiry such as `90d` or `24h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_policy_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_policy_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct WriteSecretArgs {
    /// The secret path.
    pub path: String,
    /// The whole payload, e.g. `{"username": "admin", "password": "..."}`.
    pub data: Map<String, Value>,
    /// `kv` (default on create), `password`, `certificate`, `ssh_key` or `api_key`.
    #[serde(default)]
    pub secret_type: Option<String>,
    #[serde(default)]
    pub metadata: Option<MetadataArgs>,
    #[serde(default)]
    pub options: Option<OptionsArgs>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct PatchSecretArgs {
    /// The secret path.
    pub path: String,
    #[serde(default)]
    pub metadata: Option<MetadataArgs>,
    #[serde(default)]
    pub options: Option<OptionsArgs>,
}

#[derive(Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct RotateSecretArgs {
    /// The secret path.
    pub path: String,
    /// The new payload; without it the secret's generator policy makes one.
    #[serde(default)]
    pub new_value: Option<Map<String, Value>>,
    /// Why (recorded in the audit trail).
    #[serde(default)]
    pub reason: Option<String>,
    /// How long the previous version stays readable, e.g. `1h` (server default applies).
    #[serde(default)]
    pub grace_period: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct ExpiringArgs {
    /// Within this many days (server default 30).
    #[serde(default)]
    pub days: Option<u32>,
    /// Only paths starting with this prefix.
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct AuditTrailArgs {
    /// The secret path.
    pub path: String,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct TestPolicyArgs {
    /// The secret path to test.
    pub path: String,
    /// `read`, `write`, `delete`, `list`, `rotate` or `admin`.
    pub permission: String,
    /// The identity to test (default: this server's token), e.g. `user:alice@acme.example`.
    #[serde(default)]
    pub identity_id: Option<String>,
    /// Extra groups to evaluate with.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct RotationDueArgs {
    /// Due within this many hours (server default applies).
    #[serde(default)]
    pub within_hours: Option<u32>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct ListCertificatesArgs {
    /// Only certificates of this CA (`ca_...`).
    #[serde(default)]
    pub ca_id: Option<String>,
    /// `valid`, `revoked` or `expired`.
    #[serde(default)]
    pub status: Option<String>,
    /// Only certificates expiring within this duration, e.g. `30d`.
    #[serde(default)]
    pub expiring_within: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct IssueCertificateArgs {
    /// The issuing CA (`ca_...`).
    pub ca_id: String,
    pub common_name: String,
    /// Subject alternative names: `DNS:x`, `IP:x`, `email:x`, `URI:x`, or unprefixed.
    #[serde(default)]
    pub sans: Vec<String>,
    /// A lifetime such as `72h` or `30d` (default 90 days, never beyond the CA's).
    #[serde(default)]
    pub ttl: Option<String>,
    /// `ec-p256` (default), `ec-p384`, `rsa-2048`, ...
    #[serde(default)]
    pub key_type: Option<String>,
    /// `server` (default), `client` or `both`.
    #[serde(default)]
    pub usage: Option<String>,
    /// Return the private key (only when the operator allowed it with --allow-reveal).
    #[serde(default)]
    pub reveal: bool,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct ListLeasesArgs {
    #[serde(default)]
    pub engine: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    /// Leave out revoked leases.
    #[serde(default)]
    pub live_only: bool,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct DynamicCredentialsArgs {
    /// The engine's name.
    pub engine: String,
    /// The role's name.
    pub role: String,
    /// The lease's lifetime, e.g. `1h` (default the role's, never past its max).
    #[serde(default)]
    pub ttl: Option<String>,
    /// Return the credential's values (only when the operator allowed it with --allow-reveal).
    #[serde(default)]
    pub reveal: bool,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct LeaseArgs {
    /// `lease_...`
    pub lease_id: String,
}

/// The field names of a payload, never its values.
struct FieldNames<'a>(&'a Map<String, Value>);

impl std::fmt::Debug for FieldNames<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

// The payloads an agent writes are secret values: Debug shows their field names only.
impl std::fmt::Debug for WriteSecretArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteSecretArgs")
            .field("path", &self.path)
            .field("data", &FieldNames(&self.data))
            .field("secret_type", &self.secret_type)
            .field("metadata", &self.metadata)
            .field("options", &self.options)
            .finish()
    }
}

impl std::fmt::Debug for RotateSecretArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotateSecretArgs")
            .field("path", &self.path)
            .field("new_value", &self.new_value.as_ref().map(FieldNames))
            .field("reason", &self.reason)
            .field("grace_period", &self.grace_period)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_values_never_show_in_debug() {
        let write: WriteSecretArgs =
            serde_json::from_value(json!({"path": "app/x", "data": {"password": "hunter2-debug"}}))
                .unwrap();
        let rotate: RotateSecretArgs = serde_json::from_value(
            json!({"path": "app/x", "new_value": {"password": "hunter2-debug"}}),
        )
        .unwrap();
        for shown in [format!("{write:?}"), format!("{rotate:?}")] {
            assert!(!shown.contains("hunter2-debug"), "{shown}");
            assert!(
                shown.contains("password") && shown.contains("app/x"),
                "{shown}"
            );
        }
    }

    #[test]
    fn names_round_trip_and_annotations_are_truthful() {
        for t in ToolName::ALL {
            assert_eq!(ToolName::parse(t.as_str()), Some(t));
            let tool = t.tool();
            let a = tool.annotations.unwrap();
            assert_eq!(a.read_only_hint, Some(!t.is_mutating()), "{t:?}");
            if !t.is_mutating() {
                assert_eq!(a.destructive_hint, Some(false), "{t:?}");
                assert_eq!(a.idempotent_hint, Some(true), "{t:?}");
            }
            assert_eq!(
                tool.input_schema.get("type"),
                Some(&json!("object")),
                "{t:?}"
            );
            assert!(tool.output_schema.is_some(), "{t:?}");
        }
        assert_eq!(ToolName::parse("nope"), None);
        let read = ToolName::ReadSecret.tool();
        let props = read.input_schema["properties"].as_object().unwrap();
        assert!(props.contains_key("reveal"));
        assert_eq!(read.input_schema["required"], json!(["path"]));
    }
}
