//! OCSP (RFC 6960): parsing requests and building signed responses.

use time::OffsetDateTime;

use crate::{Issuer, PkiError, RevocationReason, Serial};

/// A parsed OCSP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspRequest {
    /// The serial of each CertID, in request order.
    pub serials: Vec<Serial>,
    /// The nonce extension's value, if any (echoed in the response).
    pub nonce: Option<Vec<u8>>,
    /// The CertIDs as sent, answered verbatim.
    cert_ids: Vec<x509_ocsp::CertId>,
}

/// Parses a DER OCSPRequest (PkiError::Ocsp otherwise). Request signatures are ignored.
pub fn parse_request(der: &[u8]) -> Result<OcspRequest, PkiError> {
    todo!()
}

/// Parses the GET form: the path segment after the responder's URL, i.e. the base64 of the DER
/// request, percent-encoded or not (a leading '/' is ignored, URL-safe base64 is accepted too).
pub fn parse_get_path(path: &str) -> Result<OcspRequest, PkiError> {
    todo!()
}

/// The status of one certificate, as the engine knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Issued by this CA and not revoked.
    Good,
    /// Revoked.
    Revoked {
        /// When.
        at: OffsetDateTime,
        /// Why.
        reason: RevocationReason,
    },
    /// Not known to this CA.
    Unknown,
}

/// A successful OCSPResponse (DER) carrying a BasicOCSPResponse signed by the issuer's key
/// (responder id by key hash), one SingleResponse per CertID (Unknown when the CertID's
/// issuer name/key hashes are not this issuer's or use an unsupported hash), thisUpdate =
/// `produced_at`, nextUpdate = `next_update`, echoing the nonce.
pub fn respond(
    issuer: &Issuer,
    request: &OcspRequest,
    status_of: impl Fn(&Serial) -> Status,
    produced_at: OffsetDateTime,
    next_update: OffsetDateTime,
) -> Result<Vec<u8>, PkiError> {
    todo!()
}

/// An OCSPResponse with status malformedRequest (1), DER.
pub fn malformed_request() -> Vec<u8> {
    todo!()
}

/// An OCSPResponse with status unauthorized (6), DER.
pub fn unauthorized() -> Vec<u8> {
    todo!()
}
