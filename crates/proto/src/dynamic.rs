//! `/v1/dynamic`: dynamic credentials. Engines (a tenant's connection to a database, an AWS
//! account or an SSH CA), their roles, and leases on short-lived credentials. docs/dynamic.md.
//!
//! Routes (engine and role are names, unique per tenant and per engine):
//! - `POST/GET /v1/dynamic/engines`, `GET/PATCH/DELETE /v1/dynamic/engines/{engine}`
//!   (`?force=true` revokes live leases first), `POST /v1/dynamic/engines/{engine}/rotate-root`,
//!   `GET /v1/dynamic/engines/{engine}/ca` (SSH: the CA public key, OpenSSH format, text)
//! - `POST/GET /v1/dynamic/engines/{engine}/roles`, `GET/PATCH/DELETE .../roles/{role}`
//! - `POST /v1/dynamic/engines/{engine}/creds/{role}`: a new lease
//! - `GET /v1/dynamic/leases` (`engine`, `role`, `identity`, `status=live`, `cursor`, `limit`),
//!   `GET /v1/dynamic/leases/{id}`, `POST .../{id}/renew`, `POST .../{id}/revoke`,
//!   `POST /v1/dynamic/leases/revoke-prefix` (`{"engine", "role"?}`)

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::Timestamp;

/// `POST /v1/dynamic/engines`. Besides `name` and `type`, the type's settings: databases
/// `connection_url` (its password may be inline or given as `password`), `username`,
/// `password`, `max_open_connections`; `aws`: `region`, `access_key_id`,
/// `secret_access_key`, `endpoint_url` (moto, LocalStack), `sts_endpoint_url`; `ssh`:
/// `key_type` (`ed25519` default), or an existing CA as `private_key` (OpenSSH PEM). Secrets
/// are sealed at once and never returned. The connection is checked before anything is stored.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateEngineRequest {
    #[schema(min_length = 1, max_length = 64, pattern = "^[a-z0-9][a-z0-9._-]*$")]
    pub name: String,
    /// `postgres`, `mysql` (MySQL and MariaDB), `aws` or `ssh`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The type's settings (see above).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
}

impl std::fmt::Debug for CreateEngineRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateEngineRequest")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field(
                "settings",
                &format_args!("<{} fields>", self.settings.len()),
            )
            .finish()
    }
}

/// `PATCH /v1/dynamic/engines/{engine}`: settings to change (the type's fields, as on
/// create); a secret left out is kept. The connection is checked again before it is stored.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateEngineRequest {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
}

impl std::fmt::Debug for UpdateEngineRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateEngineRequest")
            .field(
                "settings",
                &format_args!("<{} fields>", self.settings.len()),
            )
            .finish()
    }
}

/// An engine. Never carries its password or key: a database engine's `connection_url` has its
/// password masked (`postgres://vault:*****@db:5432/app`).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Engine {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The type's settings without secrets (an SSH engine's `public_key` included).
    #[schema(value_type = Object)]
    pub config: Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_rotated_at: Option<Timestamp>,
    /// Live leases (not yet revoked).
    pub live_leases: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EngineList {
    pub engines: Vec<Engine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// `POST /v1/dynamic/engines/{engine}/roles`. Besides `name` and the TTLs, the engine type's
/// settings: databases `creation_statements` (string or list, with `{{name}}`,
/// `{{password}}`, `{{expiration}}`), `revocation_statements`, `renew_statements`; `aws`:
/// `credential_type` (`iam_user`, `assumed_role`, `federation_token`), `policy_arns`,
/// `policy_document`, `role_arns`; `ssh`: `allowed_users`, `default_user`, `extensions`,
/// `allowed_key_types`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateRoleRequest {
    #[schema(min_length = 1, max_length = 64, pattern = "^[a-z0-9][a-z0-9._-]*$")]
    pub name: String,
    /// Lease length when a request names none, e.g. `1h` (default `1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_ttl: Option<String>,
    /// The longest a lease may live from issue, renewals included (default `24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ttl: Option<String>,
    /// Cap on this role's live leases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_leases: Option<u32>,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
}

/// `PATCH .../roles/{role}`: fields to change, as on create (without `name`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateRoleRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_ttl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ttl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_leases: Option<u32>,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Role {
    pub name: String,
    pub engine: String,
    /// Seconds.
    pub default_ttl: u64,
    /// Seconds.
    pub max_ttl: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_leases: Option<u32>,
    /// The type's settings as normalised (statements as lists).
    #[schema(value_type = Object)]
    pub config: Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RoleList {
    pub roles: Vec<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// `POST /v1/dynamic/engines/{engine}/creds/{role}`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredsRequest {
    /// e.g. `2h`; default the role's `default_ttl`, never past its `max_ttl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// SSH: the public key to sign (OpenSSH format); without it a key pair is generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// A new lease and its credential: the only time the credential is shown.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct LeaseCreated {
    /// `lease_...`
    pub lease_id: String,
    /// Seconds.
    pub lease_duration: u64,
    pub renewable: bool,
    pub expires_at: Timestamp,
    /// Databases: `connection_url`, `username`, `password`; AWS: `access_key_id`,
    /// `secret_access_key`, `session_token` (STS); SSH: `signed_key`, `serial`,
    /// `private_key` and `public_key` (when generated).
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
}

impl std::fmt::Debug for LeaseCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseCreated")
            .field("lease_id", &self.lease_id)
            .field("lease_duration", &self.lease_duration)
            .field("expires_at", &self.expires_at)
            .field(
                "data",
                &format_args!("<{} redacted fields>", self.data.len()),
            )
            .finish()
    }
}

/// A lease as listed: never its credential.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Lease {
    /// `lease_...`
    pub id: String,
    pub engine: String,
    pub role: String,
    /// Who requested it (`user:...`, `sa:...`).
    pub identity: String,
    /// `pending`, `active`, `revoking`, `revocation_failed` or `revoked`.
    pub status: String,
    pub renewable: bool,
    /// The user name (or key id) at the target; no password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    /// Renewals never go past this.
    pub max_expires_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// Failed revocation attempts (retried with back-off).
    #[serde(default)]
    pub revocation_attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct LeaseList {
    pub leases: Vec<Lease>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// `POST /v1/dynamic/leases/{id}/renew`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaseRenewRequest {
    /// From now, e.g. `1h`; default the role's `default_ttl`; cut at the lease's
    /// `max_expires_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
}

/// `POST /v1/dynamic/leases/revoke-prefix`: every live lease of an engine, or of one role.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokePrefixRequest {
    pub engine: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// The answer of a prefix revocation (and of an engine deletion with `force`).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RevokePrefixResult {
    /// Leases torn down now.
    pub revoked: u64,
    /// Leases whose target refused or was down: retried with back-off by the sweeper.
    pub pending: u64,
}
