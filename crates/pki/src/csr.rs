//! Certificate signing requests.

use crate::{KeyType, PkiError, San, Subject};

/// A parsed and signature-verified CSR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csr {
    /// The requested subject (missing attributes are None; a missing CN is "").
    pub subject: Subject,
    /// The requested SANs (from the extensionRequest attribute).
    pub sans: Vec<San>,
    /// The requester's SubjectPublicKeyInfo, DER.
    pub public_key_der: Vec<u8>,
    /// The key's type when it is one ScaiVault issues for; None for others (e.g. RSA-1024).
    pub key_type: Option<KeyType>,
    /// The CSR as submitted, normalised to a single PEM block.
    pub pem: String,
}

/// Parses a PEM CSR ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST") and verifies its
/// self-signature; PkiError::InvalidCsr(reason) otherwise.
pub fn parse_csr(pem: &str) -> Result<Csr, PkiError> {
    todo!()
}
