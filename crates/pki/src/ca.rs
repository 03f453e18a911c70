//! Certificate authorities: root and intermediate creation, the [`Issuer`], and CA import.

use time::{Duration, OffsetDateTime};

use crate::{CertInfo, PkiError, PrivateKey, San, Serial, Subject};

/// A certificate's validity period. Times are truncated to whole seconds when encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// notBefore.
    pub not_before: OffsetDateTime,
    /// notAfter.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// `days` days starting at `from`.
    pub fn days(from: OffsetDateTime, days: u32) -> Self {
        Validity {
            not_before: from,
            not_after: from + Duration::days(i64::from(days)),
        }
    }

    /// Refuses a period whose end is not after its start (PkiError::InvalidValidity).
    pub fn check(&self) -> Result<(), PkiError> {
        if self.not_after <= self.not_before {
            return Err(PkiError::InvalidValidity);
        }
        Ok(())
    }
}

/// What a new CA certificate says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaSpec {
    /// The CA's subject.
    pub subject: Subject,
    /// The CA's validity; an intermediate's may not end after its parent's.
    pub validity: Validity,
    /// The CA certificate's serial.
    pub serial: Serial,
    /// basicConstraints pathLenConstraint; None = unlimited (bounded by the parent's).
    pub path_len: Option<u8>,
    /// nameConstraints permitted dNSName subtrees ("example.com" covers it and its subdomains).
    pub permitted_dns_domains: Vec<String>,
    /// nameConstraints excluded dNSName subtrees.
    pub excluded_dns_domains: Vec<String>,
    /// CRL distribution point of the *parent* (only for intermediates; ignored for roots).
    pub crl_url: Option<String>,
    /// OCSP responder of the *parent* (only for intermediates; ignored for roots).
    pub ocsp_url: Option<String>,
}

/// A CA able to sign: its certificate and its private key.
///
/// `Debug` shows the CA's [`CertInfo`] and the key type, never the key.
#[derive(Debug)]
pub struct Issuer {
    cert_der: Vec<u8>,
    key: PrivateKey,
    info: CertInfo,
    permitted_dns: Vec<String>,
    excluded_dns: Vec<String>,
}

impl Issuer {
    /// Checks that `key` belongs to the certificate (PkiError::KeyMismatch) and that the
    /// certificate is a CA (PkiError::NotACa).
    pub fn new(cert_der: Vec<u8>, key: PrivateKey) -> Result<Self, PkiError> {
        todo!()
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The CA certificate's details.
    pub fn info(&self) -> &CertInfo {
        &self.info
    }

    /// The CA's private key.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// The dNSName subtrees permitted by the CA certificate's name constraints (empty: no
    /// permitted-subtree constraint).
    pub fn permitted_dns_domains(&self) -> &[String] {
        &self.permitted_dns
    }

    /// The dNSName subtrees excluded by the CA certificate's name constraints.
    pub fn excluded_dns_domains(&self) -> &[String] {
        &self.excluded_dns
    }

    /// Checks a would-be certificate's names against this CA's name constraints: every DNS SAN,
    /// and the common name when it looks like a hostname (as OpenSSL checks it).
    /// PkiError::NameNotPermitted(name) names the first offender.
    pub fn check_names(&self, subject: &Subject, sans: &[San]) -> Result<(), PkiError> {
        todo!()
    }
}

/// A self-signed root CA certificate (DER) for `key`: basicConstraints CA:TRUE (critical, with
/// the path length if given), keyUsage keyCertSign + cRLSign + digitalSignature (critical), SKI,
/// and the name constraints if given.
pub fn create_root_ca(spec: &CaSpec, key: &PrivateKey) -> Result<Vec<u8>, PkiError> {
    todo!()
}

/// An intermediate CA certificate (DER) for `key`, signed by `parent`.
///
/// Refuses validity beyond the parent's not_after (PkiError::ValidityExceedsIssuer) and a parent
/// whose path length is 0 (PkiError::PathLenExceeded); a requested path length is capped to one
/// less than the parent's. Name constraints: the parent's still apply below it; requested
/// permitted domains must lie within the parent's (PkiError::NameNotPermitted), and when none are
/// requested the parent's permitted and excluded domains are copied so that the intermediate's
/// own certificate carries the effective constraints. Carries the parent's CRL DP and OCSP AIA
/// when given, and an AKI.
pub fn create_intermediate_ca(
    spec: &CaSpec,
    key: &PrivateKey,
    parent: &Issuer,
) -> Result<Vec<u8>, PkiError> {
    todo!()
}

/// Import of an existing CA: a PEM certificate (the first CERTIFICATE block is the CA; any
/// further blocks, a chain, are ignored here) and a PEM private key. Verifies the key matches
/// (PkiError::KeyMismatch) and the certificate is a CA (PkiError::NotACa).
pub fn import_ca(
    cert_pem: &str,
    key_pem: &str,
) -> Result<(Vec<u8>, PrivateKey, CertInfo), PkiError> {
    todo!()
}
