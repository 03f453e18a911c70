//! `/v1/sys/keys` and the seal status: the keyring as operators see it (never key material).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::timestamp::Timestamp;

/// `GET /v1/sys/seal-status` (also answered by a sealed server, without a token).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SealStatus {
    pub sealed: bool,
    /// The configured root key provider: `file`, `awskms`, `pkcs11` or `tpm`.
    pub provider: String,
    /// Why the server is sealed (`root key provider pkcs11 unavailable`); details are in the
    /// server log only, since this endpoint needs no token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One data key of the keyring.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DataKeyInfo {
    pub key_id: String,
    /// `data` (seals values) or `token_pepper` (keys the token digests; never rotated by
    /// `rotate-keys`, which would invalidate every token).
    pub purpose: String,
    /// The active data key seals every new value.
    pub active: bool,
    /// The root key that wraps it, e.g. `pkcs11:scaivault/scaivault-root-key`.
    pub wrapped_by: String,
    pub created_at: Timestamp,
    /// How many stored values it seals (secret versions, webhook secrets, CA keys, engine
    /// secrets).
    pub sealed_values: u64,
}

/// The background rewrap: re-sealing values under the active data key.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct RewrapProgress {
    /// Values still sealed under an older data key.
    pub pending: u64,
    /// Values re-sealed since this server started.
    pub resealed: u64,
    /// Values that could not be opened to be re-sealed (left as they are; see the log).
    pub failed: u64,
    pub running: bool,
}

/// `GET /v1/sys/keys` and the answer of `POST /v1/sys/keys/rotate`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyringStatus {
    pub provider: String,
    pub active_key_id: String,
    pub keys: Vec<DataKeyInfo>,
    pub rewrap: RewrapProgress,
}
