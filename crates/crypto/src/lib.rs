//! The barrier between ScaiVault and its storage. Everything secret that reaches the store goes
//! through here first and comes out as ciphertext; the store is treated as untrusted.
//!
//! - [`provider`]: the root key (KEK) behind a [`KeyProvider`]: a key file here; AWS KMS, PKCS#11
//!   and TPM 2.0 providers implement the same trait in `scaivault-keys`.
//! - [`keyring`]: data keys (DEKs) wrapped by the root key; AES-256-GCM sealing with AAD that binds
//!   each ciphertext to its tenant, path and version, so a ciphertext moved to another row fails
//!   to open.
//! - [`token`]: bearer tokens and their HMAC-SHA256 digests (tokens are never stored in clear).
//!
//! All primitives come from aws-lc-rs; nothing here implements cryptography itself.

pub mod keyring;
pub mod provider;
pub mod random;
pub mod token;

pub use keyring::{Keyring, SealedValue, secret_aad};
pub use provider::{FileKeyProvider, KeyProvider};
pub use token::TokenHasher;

/// Errors of the barrier. None of them carries key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// Decryption failed: wrong key, tampered ciphertext, or a ciphertext moved to another
    /// tenant/path/version. Likely at fault: the storage (tampering) or the operator (wrong key).
    #[error("ciphertext failed to authenticate (tampered, moved, or wrong key)")]
    OpenFailed,
    /// The ciphertext names a key id the keyring does not hold. Likely at fault: the operator
    /// (a keyring entry was removed) or the storage.
    #[error("unknown data key id {0}")]
    UnknownKey(String),
    /// Stored bytes are not in the expected framing. Likely at fault: the storage.
    #[error("malformed ciphertext")]
    Malformed,
    /// The root key could not be read or created. Likely at fault: the operator's setup.
    #[error("root key: {0}")]
    RootKey(String),
    /// The root key provider cannot be reached now (KMS unreachable, HSM token missing, TPM
    /// absent). The server starts sealed and retries. Likely at fault: the environment.
    #[error("root key provider unavailable: {0}")]
    Unavailable(String),
    /// The root key provider refused: wrong PIN, access denied, key disabled or missing.
    /// Retrying cannot help (and could lock a PIN). Likely at fault: the operator's setup.
    #[error("root key provider refused: {0}")]
    Refused(String),
    /// The crypto library refused an operation; should never happen with valid inputs.
    #[error("cryptographic operation failed")]
    Internal,
}
