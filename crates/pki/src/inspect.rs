//! Reading a certificate back.

use std::net::IpAddr;

use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::error::X509Error;
use x509_parser::extensions::GeneralName;
use x509_parser::x509::X509Name;

use crate::key::key_type_of_spki;
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
    let cert = parse_cert(cert_der)?;
    info_of(&cert, cert_der)
}

/// Parses a DER certificate, refusing trailing bytes.
pub(crate) fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, PkiError> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| PkiError::InvalidCertificate(format!("does not parse: {e}")))?;
    if !rest.is_empty() {
        return Err(PkiError::InvalidCertificate(
            "trailing bytes after the certificate".to_string(),
        ));
    }
    Ok(cert)
}

pub(crate) fn info_of(cert: &X509Certificate<'_>, der: &[u8]) -> Result<CertInfo, PkiError> {
    let bad = |what: &str, e: X509Error| PkiError::InvalidCertificate(format!("{what}: {e}"));
    let sans = match cert
        .subject_alternative_name()
        .map_err(|e| bad("subjectAltName", e))?
    {
        Some(ext) => sans_of(&ext.value.general_names),
        None => Vec::new(),
    };
    let (is_ca, path_len) = match cert
        .basic_constraints()
        .map_err(|e| bad("basicConstraints", e))?
    {
        Some(bc) => (
            bc.value.ca,
            bc.value
                .path_len_constraint
                .map(|n| u8::try_from(n).unwrap_or(u8::MAX)),
        ),
        None => (false, None),
    };
    let fingerprint = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    Ok(CertInfo {
        serial: Serial::from_magnitude(cert.raw_serial()),
        subject: subject_of(cert.subject()),
        issuer_cn: first_attr(cert.issuer().iter_common_name()).unwrap_or_default(),
        sans,
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
        is_ca,
        path_len,
        key_type: key_type_of_spki(cert.public_key()),
        fingerprint_sha256: hex(fingerprint.as_ref()),
    })
}

/// The subject attributes ScaiVault knows, the first of each kind.
pub(crate) fn subject_of(name: &X509Name<'_>) -> Subject {
    Subject {
        common_name: first_attr(name.iter_common_name()).unwrap_or_default(),
        organization: first_attr(name.iter_organization()),
        organizational_unit: first_attr(name.iter_organizational_unit()),
        country: first_attr(name.iter_country()),
        state: first_attr(name.iter_state_or_province()),
        locality: first_attr(name.iter_locality()),
    }
}

fn first_attr<'a>(
    mut it: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
) -> Option<String> {
    it.next().and_then(|a| a.as_str().ok()).map(str::to_string)
}

/// The SANs of the kinds ScaiVault knows, in order.
pub(crate) fn sans_of(names: &[GeneralName<'_>]) -> Vec<San> {
    names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(San::Dns((*d).to_string())),
            GeneralName::RFC822Name(e) => Some(San::Email((*e).to_string())),
            GeneralName::URI(u) => Some(San::Uri((*u).to_string())),
            GeneralName::IPAddress(b) => match b.len() {
                4 => <[u8; 4]>::try_from(*b)
                    .ok()
                    .map(|a| San::Ip(IpAddr::from(a))),
                16 => <[u8; 16]>::try_from(*b)
                    .ok()
                    .map(|a| San::Ip(IpAddr::from(a))),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Lowercase hex without separators.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
