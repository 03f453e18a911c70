//! The crate's error type.

/// Errors of the PKI domain. No variant ever carries key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PkiError {
    /// A CSR that does not parse, is not a CSR, or whose self-signature does not verify.
    /// Likely at fault: the requester.
    #[error("invalid CSR: {0}")]
    InvalidCsr(String),
    /// A certificate that does not parse or is unusable. Likely at fault: the caller (import) or
    /// the storage.
    #[error("invalid certificate: {0}")]
    InvalidCertificate(String),
    /// A private key that does not parse or is of an unsupported type. Likely at fault: the caller
    /// (import) or the storage. The message never contains key bytes.
    #[error("invalid private key: {0}")]
    InvalidKey(String),
    /// The private key does not belong to the certificate. Likely at fault: the caller (import).
    #[error("the private key does not match the certificate")]
    KeyMismatch,
    /// The certificate is not a CA (no basicConstraints CA:TRUE). Likely at fault: the caller.
    #[error("the certificate is not a CA")]
    NotACa,
    /// The requested validity ends after the issuing CA's. Likely at fault: the caller.
    #[error("validity exceeds the issuing CA's")]
    ValidityExceedsIssuer,
    /// not_after is not after not_before. Likely at fault: the caller.
    #[error("invalid validity period")]
    InvalidValidity,
    /// A name lies outside the issuing CA's name constraints. Likely at fault: the caller.
    #[error("name not permitted by the CA's name constraints: {0}")]
    NameNotPermitted(String),
    /// A subject field or SAN that is malformed. Likely at fault: the caller.
    #[error("invalid name: {0}")]
    InvalidName(String),
    /// The parent CA's path length constraint forbids another CA below it. Likely at fault: the
    /// caller.
    #[error("the parent CA's path length constraint forbids this CA")]
    PathLenExceeded,
    /// An OCSP request that does not parse, or a response that could not be encoded.
    #[error("OCSP: {0}")]
    Ocsp(String),
    /// The crypto or certificate library refused an operation; should not happen with valid inputs.
    #[error("crypto: {0}")]
    Crypto(String),
}

impl From<rcgen::Error> for PkiError {
    fn from(e: rcgen::Error) -> Self {
        // rcgen's messages name algorithms and structures, never key bytes.
        PkiError::Crypto(e.to_string())
    }
}
