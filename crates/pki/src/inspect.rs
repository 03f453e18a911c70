//! Reading a certificate back.

use time::OffsetDateTime;

use crate::{KeyType, PkiError, San, Serial, Subject};

/// What a certificate says, as ScaiVault shows and stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Serial number.
    pub serial: Serial,
    /// Subject.
    pub subject: Subject,
    /// The issuer's common name ("" if it has none).
    pub issuer_cn: String,
    /// SANs of the kinds ScaiVault knows (others are skipped).
    pub sans: Vec<San>,
    /// notBefore.
    pub not_before: OffsetDateTime,
    /// notAfter.
    pub not_after: OffsetDateTime,
    /// basicConstraints CA:TRUE.
    pub is_ca: bool,
    /// basicConstraints pathLenConstraint.
    pub path_len: Option<u8>,
    /// The subject key's type, None when it is not one ScaiVault issues for.
    pub key_type: Option<KeyType>,
    /// SHA-256 of the certificate DER, lowercase hex without separators.
    pub fingerprint_sha256: String,
}

/// Parses a DER certificate (PkiError::InvalidCertificate otherwise).
pub fn inspect(cert_der: &[u8]) -> Result<CertInfo, PkiError> {
    todo!()
}
