//! Certificate signing requests.

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;

use crate::inspect::{sans_of, subject_of};
use crate::key::key_type_of_spki;
use crate::{KeyType, PkiError, San, Subject};

/// A parsed and signature-verified CSR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csr {
    /// The requested subject (missing attributes are None; a missing CN is "").
    pub subject: Subject,
    /// The requested SANs (from the extensionRequest attribute), validated and normalised as
    /// [`San::parse`] does (DNS names lowercased); name kinds ScaiVault does not issue (e.g.
    /// otherName) are dropped.
    pub sans: Vec<San>,
    /// The requester's SubjectPublicKeyInfo, DER.
    pub public_key_der: Vec<u8>,
    /// The key's type when it is one ScaiVault issues for; None for others (e.g. RSA-1024).
    pub key_type: Option<KeyType>,
    /// The CSR as submitted, normalised to a single PEM block.
    pub pem: String,
}

/// Parses a PEM CSR ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST") and verifies its
/// self-signature; PkiError::InvalidCsr(reason) otherwise (also for a malformed SAN). The key
/// type and the names are not judged here: the caller checks `key_type` (None = a key ScaiVault
/// does not issue for) and the CA's constraints ([`crate::Issuer::check_names`]).
pub fn parse_csr(pem: &str) -> Result<Csr, PkiError> {
    let invalid = |why: &str| PkiError::InvalidCsr(why.to_string());
    let mut der = None;
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|_| invalid("malformed PEM"))?;
        match block.label.as_str() {
            "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => {
                der = Some(block.contents);
                break;
            }
            "CERTIFICATE" => return Err(invalid("a certificate, not a certificate request")),
            _ => continue,
        }
    }
    let der = der.ok_or_else(|| invalid("no PEM CERTIFICATE REQUEST block"))?;
    let (rest, csr) = X509CertificationRequest::from_der(&der)
        .map_err(|_| invalid("not a PKCS#10 certificate request"))?;
    if !rest.is_empty() {
        return Err(invalid("trailing bytes after the request"));
    }
    csr.verify_signature()
        .map_err(|_| invalid("the request's signature does not verify"))?;
    let info = &csr.certification_request_info;
    let mut sans = Vec::new();
    if let Some(exts) = csr.requested_extensions() {
        for ext in exts {
            match ext {
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in sans_of(&san.general_names) {
                        // Validated and normalised as a SAN given through the API would be.
                        let checked = San::parse(&name.to_string())
                            .map_err(|_| invalid(&format!("invalid subjectAltName {name}")))?;
                        sans.push(checked);
                    }
                }
                ParsedExtension::UnsupportedExtension { .. } => {}
                ParsedExtension::ParseError { .. } => {
                    return Err(invalid("a requested extension does not parse"));
                }
                _ => {}
            }
        }
    }
    Ok(Csr {
        subject: subject_of(&info.subject),
        sans,
        public_key_der: info.subject_pki.raw.to_vec(),
        key_type: key_type_of_spki(&info.subject_pki),
        pem: crate::pem_encode("CERTIFICATE REQUEST", &der),
    })
}
