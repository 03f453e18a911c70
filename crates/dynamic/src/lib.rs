//! Dynamic credentials (issue 17): short-lived database users, AWS credentials and SSH
//! certificates, each created for one lease and torn down when it ends.
//!
//! One [`Backend`] per engine type ([`EngineKind`]); adding a type is adding an implementation
//! and a row to the conformance tests. This crate talks to the targets (databases, AWS, nothing
//! for SSH: it signs locally) but knows nothing of tenants' storage, leases' bookkeeping,
//! policies or HTTP: the server records a lease BEFORE calling [`Backend::create`] (with the
//! handle from [`initial_handle`]), so revocation can always find what a creation may have left.
//!
//! Secrets (root passwords, secret keys, CA private keys, leased passwords) travel in
//! [`Zeroizing`] strings or [`Credential::data`], never in an error message or a `Debug`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use zeroize::Zeroizing;

mod aws;
mod mysql;
pub mod names;
mod postgres;
mod sql;
mod ssh;

pub use names::{initial_handle, username};

/// The engine types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// PostgreSQL users (`CREATE ROLE ... LOGIN PASSWORD ... VALID UNTIL ...`).
    Postgres,
    /// MySQL and MariaDB users.
    Mysql,
    /// AWS IAM users with access keys, or STS assumed-role / federation-token credentials.
    Aws,
    /// OpenSSH user certificates signed by the engine's own SSH CA.
    Ssh,
}

impl EngineKind {
    pub const ALL: [EngineKind; 4] = [Self::Postgres, Self::Mysql, Self::Aws, Self::Ssh];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
            Self::Aws => "aws",
            Self::Ssh => "ssh",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a backend refused. Messages never carry a password, key or token: a driver's error text
/// is scrubbed of the engine's and the lease's secrets before it lands here.
#[derive(Debug, thiserror::Error)]
pub enum DynamicError {
    /// The engine's settings are malformed or incomplete (400 `validation_error`).
    #[error("invalid engine settings: {0}")]
    InvalidConfig(String),
    /// The role's settings are malformed for this engine type (400 `validation_error`).
    #[error("invalid role: {0}")]
    InvalidRole(String),
    /// The credential request is malformed (a bad SSH public key, a TTL the target refuses).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The target could not be reached or refused the engine's credential (502
    /// `engine_unreachable`). Revocation retries these.
    #[error("the target could not be reached: {0}")]
    Unreachable(String),
    /// The target was reached but refused an operation (a statement failed, an API call was
    /// denied) (502 `engine_unreachable`).
    #[error("the target refused: {0}")]
    Refused(String),
}

/// An engine's settings split as the store keeps them: `config` is shown to readers (a
/// connection URL with its password removed, region, the SSH CA's public key), `secret` is
/// sealed (root password, secret access key, CA private key) and never shown.
#[derive(Debug)]
pub struct PreparedEngine {
    pub config: Value,
    pub secret: Zeroizing<String>,
}

/// What [`Backend::create`] needs for one lease.
#[derive(Debug)]
pub struct CreateRequest<'a> {
    /// The role's settings, as [`validate_role`] returned them.
    pub role: &'a Value,
    /// The handle recorded with the lease ([`initial_handle`]): the user name to create.
    pub handle: &'a Value,
    /// The lease's end; a database user's `VALID UNTIL`, a certificate's `valid_before`.
    pub expires_at: OffsetDateTime,
    /// The lease's issue time (a certificate's `valid_after`).
    pub now: OffsetDateTime,
    /// SSH: the caller's public key (OpenSSH format); when absent a key pair is generated and
    /// its private key returned in the data.
    pub public_key: Option<&'a str>,
}

/// A created credential.
pub struct Credential {
    /// What the caller receives (`connection_url`, `username`, `password`; `access_key_id`,
    /// `secret_access_key`, `session_token`; `signed_key`, `private_key`, ...). Secret.
    pub data: Map<String, Value>,
    /// The handle revocation needs, to store with the lease (the initial handle plus what the
    /// target assigned, e.g. the access key id). Never a secret.
    pub handle: Value,
    /// Whether renewing extends the credential (a database user's validity) or cannot (an STS
    /// session, an SSH certificate).
    pub renewable: bool,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field(
                "data",
                &format_args!("<{} redacted fields>", self.data.len()),
            )
            .field("handle", &self.handle)
            .field("renewable", &self.renewable)
            .finish()
    }
}

/// One engine, open: the connection to its target.
#[async_trait]
pub trait Backend: Send + Sync {
    fn kind(&self) -> EngineKind;
    /// Connects and checks that the engine's credential works (engine create and update).
    async fn verify(&self) -> Result<(), DynamicError>;
    /// Creates the lease's credential. The user name (or key id) is the handle's, recorded
    /// with the lease before this call.
    async fn create(&self, request: &CreateRequest<'_>) -> Result<Credential, DynamicError>;
    /// Extends a renewable credential to `expires_at` (a database user's `VALID UNTIL`).
    async fn renew(
        &self,
        role: &Value,
        handle: &Value,
        expires_at: OffsetDateTime,
    ) -> Result<(), DynamicError>;
    /// Tears the credential down: terminates sessions and drops the user, deletes access
    /// keys and the IAM user. Idempotent: what never was created or is gone already counts as
    /// revoked. A credential that cannot be revoked (an STS session, an SSH certificate) ends
    /// by itself at `expires_at`; revoking it succeeds.
    async fn revoke(&self, role: &Value, handle: &Value) -> Result<(), DynamicError>;
    /// Replaces the engine's own credential at the target with a fresh one only ScaiVault
    /// knows, and returns the new secret for the server to seal.
    async fn rotate_root(&self) -> Result<Zeroizing<String>, DynamicError>;
    /// The engine's shown settings when this backend has changed them since [`open`]: after
    /// [`Backend::rotate_root`], AWS has a new `access_key_id` and SSH a new CA `public_key`.
    /// The server stores it with the new secret. `None` (the default): nothing changed.
    fn current_config(&self) -> Option<Value> {
        None
    }
}

/// Splits the API's engine settings (`connection_url` with or without a password,
/// `username`, `password`, `region`, `access_key_id`, `secret_access_key`, `endpoint_url`,
/// ...) into what is shown and what is sealed. `existing` is the engine's current settings on
/// an update: a secret not given again is kept. An SSH engine without a CA key gets a new one.
pub fn prepare_engine(
    kind: EngineKind,
    input: &Value,
    existing: Option<(&Value, &str)>,
) -> Result<PreparedEngine, DynamicError> {
    match kind {
        EngineKind::Postgres => postgres::prepare_engine(input, existing),
        EngineKind::Mysql => mysql::prepare_engine(input, existing),
        EngineKind::Aws => aws::prepare_engine(input, existing),
        EngineKind::Ssh => ssh::prepare_engine(input, existing),
    }
}

/// Checks a role's settings for the engine type and returns them normalised (statements as
/// a list, defaults filled in).
pub fn validate_role(kind: EngineKind, role: &Value) -> Result<Value, DynamicError> {
    match kind {
        EngineKind::Postgres => postgres::validate_role(role),
        EngineKind::Mysql => mysql::validate_role(role),
        EngineKind::Aws => aws::validate_role(role),
        EngineKind::Ssh => ssh::validate_role(role),
    }
}

/// Opens an engine from its stored settings and unsealed secret. Connecting is lazy:
/// [`Backend::verify`] connects.
pub fn open(
    kind: EngineKind,
    config: &Value,
    secret: &str,
) -> Result<Box<dyn Backend>, DynamicError> {
    match kind {
        EngineKind::Postgres => postgres::open(config, secret),
        EngineKind::Mysql => mysql::open(config, secret),
        EngineKind::Aws => Ok(Box::new(aws::Aws::open(config, secret)?)),
        EngineKind::Ssh => Ok(Box::new(ssh::Ssh::open(config, secret)?)),
    }
}
