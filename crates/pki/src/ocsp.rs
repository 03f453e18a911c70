//! OCSP (RFC 6960): parsing requests and building signed responses.
//!
//! The ASN.1 types are x509-ocsp's (RustCrypto `der`); the signature is the CA key's (rcgen's
//! `SigningKey::sign` over aws-lc-rs); hashes are aws-lc-rs's.

use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine;
use der::asn1::{BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use time::OffsetDateTime;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspResponse, ResponderId,
    ResponseData, RevokedInfo, SingleResponse, Version,
};

use crate::inspect::parse_cert;
use crate::{Issuer, KeyType, PkiError, RevocationReason, Serial};

const OID_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// A parsed OCSP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspRequest {
    /// The serial of each CertID, in request order.
    pub serials: Vec<Serial>,
    /// The nonce extension's value, if any (echoed in the response): the inner OCTET STRING's
    /// bytes (RFC 8954), or the raw extension value when it is not DER-wrapped.
    pub nonce: Option<Vec<u8>>,
    /// The CertIDs as sent, answered verbatim.
    cert_ids: Vec<CertId>,
    /// The nonce extension as sent, echoed verbatim.
    nonce_ext: Option<Extension>,
}

/// The most CertIDs one request may name. The responder is public: this bounds the lookups one
/// request can cause (clients ask about one certificate, rarely a handful).
pub const MAX_CERT_IDS: usize = 64;

/// Parses a DER OCSPRequest (PkiError::Ocsp otherwise, also for no CertID or more than
/// [`MAX_CERT_IDS`]). Request signatures are ignored.
pub fn parse_request(der: &[u8]) -> Result<OcspRequest, PkiError> {
    let req = x509_ocsp::OcspRequest::from_der(der)
        .map_err(|e| PkiError::Ocsp(format!("malformed request: {e}")))?;
    let tbs = req.tbs_request;
    if tbs.request_list.is_empty() {
        return Err(PkiError::Ocsp("request names no certificate".to_string()));
    }
    if tbs.request_list.len() > MAX_CERT_IDS {
        return Err(PkiError::Ocsp(format!(
            "request names more than {MAX_CERT_IDS} certificates"
        )));
    }
    let cert_ids: Vec<CertId> = tbs.request_list.into_iter().map(|r| r.req_cert).collect();
    let serials = cert_ids
        .iter()
        .map(|c| Serial::from_magnitude(c.serial_number.as_bytes()))
        .collect();
    let nonce_ext = tbs
        .request_extensions
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.extn_id == OID_NONCE);
    let nonce = nonce_ext.as_ref().map(|e| {
        let raw = e.extn_value.as_bytes();
        match OctetString::from_der(raw) {
            Ok(inner) => inner.as_bytes().to_vec(),
            Err(_) => raw.to_vec(),
        }
    });
    Ok(OcspRequest {
        serials,
        nonce,
        cert_ids,
        nonce_ext,
    })
}

/// Parses the GET form: the path segment after the responder's URL, i.e. the base64 of the DER
/// request, percent-encoded or not (a leading '/' is ignored, URL-safe base64 is accepted too).
pub fn parse_get_path(path: &str) -> Result<OcspRequest, PkiError> {
    let trimmed = path.trim_start_matches('/');
    let decoded = percent_encoding::percent_decode_str(trimmed)
        .decode_utf8()
        .map_err(|_| PkiError::Ocsp("GET path is not UTF-8".to_string()))?;
    // A '+' that went through form decoding comes back as a space.
    let b64: String = decoded
        .chars()
        .filter(|c| *c != '\n' && *c != '\r')
        .map(|c| if c == ' ' { '+' } else { c })
        .collect();
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let der = engines
        .iter()
        .find_map(|e| e.decode(b64.as_bytes()).ok())
        .ok_or_else(|| PkiError::Ocsp("GET path is not base64".to_string()))?;
    parse_request(&der)
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
    let cert = parse_cert(issuer.cert_der())?;
    let name_der = cert.tbs_certificate.subject.as_raw();
    let key_bits = cert.public_key().subject_public_key.data.as_ref();
    let produced = generalized_time(produced_at)?;
    let next = generalized_time(next_update)?;

    let mut responses = Vec::with_capacity(request.cert_ids.len());
    for cert_id in &request.cert_ids {
        let ours = digest_of(&cert_id.hash_algorithm).is_some_and(|alg| {
            digest::digest(alg, name_der).as_ref() == cert_id.issuer_name_hash.as_bytes()
                && digest::digest(alg, key_bits).as_ref() == cert_id.issuer_key_hash.as_bytes()
        });
        let status = if ours {
            status_of(&Serial::from_magnitude(cert_id.serial_number.as_bytes()))
        } else {
            Status::Unknown
        };
        let cert_status = match status {
            Status::Good => CertStatus::good(),
            Status::Unknown => CertStatus::unknown(),
            Status::Revoked { at, reason } => CertStatus::revoked(RevokedInfo {
                revocation_time: generalized_time(at)?,
                revocation_reason: Some(crl_reason(reason)),
            }),
        };
        responses.push(SingleResponse {
            cert_id: cert_id.clone(),
            cert_status,
            this_update: produced,
            next_update: Some(next),
            single_extensions: None,
        });
    }

    let key_hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, key_bits);
    let tbs_response_data = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(OctetString::new(key_hash.as_ref()).map_err(encoding)?),
        produced_at: produced,
        responses,
        response_extensions: request.nonce_ext.clone().map(|e| vec![e]),
    };
    let tbs_der = tbs_response_data.to_der().map_err(encoding)?;
    let signature = rcgen::SigningKey::sign(&issuer.key().pair, &tbs_der)
        .map_err(|e| PkiError::Crypto(format!("signing the OCSP response: {e}")))?;
    let basic = BasicOcspResponse {
        tbs_response_data,
        signature_algorithm: signature_algorithm(issuer.key().key_type()),
        signature: BitString::from_bytes(&signature).map_err(encoding)?,
        certs: None,
    };
    OcspResponse::successful(basic)
        .and_then(|r| r.to_der())
        .map_err(encoding)
}

/// An OCSPResponse with status malformedRequest (1), DER.
pub fn malformed_request() -> Vec<u8> {
    // Encoding a bare status cannot fail; an empty body would only make the client report an
    // unparsable response.
    OcspResponse::malformed_request()
        .to_der()
        .unwrap_or_default()
}

/// An OCSPResponse with status unauthorized (6), DER.
pub fn unauthorized() -> Vec<u8> {
    OcspResponse::unauthorized().to_der().unwrap_or_default()
}

fn encoding(e: der::Error) -> PkiError {
    PkiError::Ocsp(format!("encoding the response: {e}"))
}

fn generalized_time(t: OffsetDateTime) -> Result<OcspGeneralizedTime, PkiError> {
    let secs = u64::try_from(t.unix_timestamp())
        .map_err(|_| PkiError::Ocsp("time before 1970".to_string()))?;
    GeneralizedTime::from_unix_duration(Duration::from_secs(secs))
        .map(OcspGeneralizedTime)
        .map_err(encoding)
}

fn digest_of(alg: &AlgorithmIdentifierOwned) -> Option<&'static digest::Algorithm> {
    match alg.oid {
        OID_SHA1 => Some(&digest::SHA1_FOR_LEGACY_USE_ONLY),
        OID_SHA256 => Some(&digest::SHA256),
        OID_SHA384 => Some(&digest::SHA384),
        OID_SHA512 => Some(&digest::SHA512),
        _ => None,
    }
}

fn signature_algorithm(kt: KeyType) -> AlgorithmIdentifierOwned {
    let (oid, parameters) = match kt {
        KeyType::EcP256 => (OID_ECDSA_SHA256, None),
        KeyType::EcP384 => (OID_ECDSA_SHA384, None),
        KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => {
            (OID_RSA_SHA256, Some(Null.into()))
        }
        KeyType::Ed25519 => (OID_ED25519, None),
    };
    AlgorithmIdentifierOwned { oid, parameters }
}

fn crl_reason(r: RevocationReason) -> CrlReason {
    match r {
        RevocationReason::Unspecified => CrlReason::Unspecified,
        RevocationReason::KeyCompromise => CrlReason::KeyCompromise,
        RevocationReason::CaCompromise => CrlReason::CaCompromise,
        RevocationReason::AffiliationChanged => CrlReason::AffiliationChanged,
        RevocationReason::Superseded => CrlReason::Superseded,
        RevocationReason::CessationOfOperation => CrlReason::CessationOfOperation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_only_responses_parse() {
        for (der, status) in [
            (
                malformed_request(),
                x509_ocsp::OcspResponseStatus::MalformedRequest,
            ),
            (unauthorized(), x509_ocsp::OcspResponseStatus::Unauthorized),
        ] {
            let r = OcspResponse::from_der(&der).unwrap();
            assert_eq!(r.response_status, status);
            assert!(r.response_bytes.is_none());
        }
    }

    #[test]
    fn garbage_requests_refused() {
        assert!(matches!(parse_request(b"nope"), Err(PkiError::Ocsp(_))));
        assert!(matches!(parse_get_path("/%%%"), Err(PkiError::Ocsp(_))));
        assert!(matches!(parse_get_path("/AAAA"), Err(PkiError::Ocsp(_))));
    }
}
