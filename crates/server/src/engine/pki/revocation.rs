//! The public, unauthenticated revocation endpoints: each CA's CRL and its OCSP responder.

use super::*;

// ---------------------------------------------------------------------------------------------
// CRL and OCSP (public)

/// Builds, numbers and stores a fresh CRL for the CA.
pub(super) async fn refresh_crl(state: &AppState, ca: &CaRecord) -> ApiResult<CrlRecord> {
    let now = state.clock.now();
    let revoked = state.store.revoked_certificates(&ca.id, now).await?;
    let entries = revoked
        .iter()
        .map(|c| {
            Ok(pki::RevokedCert {
                serial: pki::Serial::from_hex(&c.serial).map_err(ApiError::internal)?,
                revoked_at: c.revoked_at.unwrap_or(now),
                reason: parse_reason(c.revocation_reason.as_deref())?,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let issuer = issuer_of(state, ca)?;
    let number = state.store.next_crl_number(&ca.id).await?;
    let next_update = now + CRL_LIFETIME;
    let der = blocking(move || pki::build_crl(&issuer, number, now, next_update, &entries)).await?;
    let record = CrlRecord {
        ca_id: ca.id.clone(),
        number,
        der,
        this_update: now,
        next_update,
    };
    if !state.store.store_crl(&record).await? {
        // Another node stored a newer one meanwhile: serve that.
        if let Some(newer) = state.store.latest_crl(&ca.id).await? {
            return Ok(newer);
        }
    }
    Ok(record)
}

/// A public PKI answer: content type and body.
pub struct PublicBody {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// The CA's current CRL (DER, or PEM with `format=pem`), regenerated when none is stored or
/// half of the stored one's lifetime has passed. Unauthenticated: it states nothing beyond
/// what a CRL states.
pub async fn crl(state: &AppState, ca_id: &str, query: Option<&str>) -> ApiResult<PublicBody> {
    let pairs = query_pairs(query);
    reject_unknown(&pairs, &["format"])?;
    let mut pem = false;
    for (_, v) in &pairs {
        pem = match v.as_str() {
            "pem" => true,
            "der" => false,
            _ => return Err(ApiError::validation("format: der or pem")),
        };
    }
    let ca = state.store.find_ca(ca_id).await?.ok_or_else(ca_not_found)?;
    let now = state.clock.now();
    let current = state.store.latest_crl(&ca.id).await?;
    let crl = match current {
        Some(c) if now < c.this_update + (c.next_update - c.this_update) / 2 => c,
        _ => refresh_crl(state, &ca).await?,
    };
    Ok(if pem {
        PublicBody {
            content_type: "application/x-pem-file",
            body: pki::pem_encode("X509 CRL", &crl.der).into_bytes(),
        }
    } else {
        PublicBody {
            content_type: "application/pkix-crl",
            body: crl.der,
        }
    })
}

pub const OCSP_RESPONSE: &str = "application/ocsp-response";

/// An OCSP answer for the CA: `request` is the DER request (POST) or `Err` with the GET path.
/// Problems are answered in-band (malformedRequest, unauthorized) as RFC 6960 wants.
pub async fn ocsp(state: &AppState, ca_id: &str, request: OcspInput<'_>) -> ApiResult<PublicBody> {
    let answer = |body: Vec<u8>| PublicBody {
        content_type: OCSP_RESPONSE,
        body,
    };
    let parsed = match request {
        OcspInput::Der(der) => ocsp::parse_request(der),
        OcspInput::GetPath(path) => ocsp::parse_get_path(path),
    };
    let Ok(parsed) = parsed else {
        return Ok(answer(ocsp::malformed_request()));
    };
    let Some(ca) = state.store.find_ca(ca_id).await? else {
        return Ok(answer(ocsp::unauthorized()));
    };
    let mut statuses = HashMap::new();
    for serial in &parsed.serials {
        let hex = serial.to_hex();
        let status = match state.store.certificate_by_serial(&ca.id, &hex).await? {
            None => ocsp::Status::Unknown,
            Some(c) => match c.revoked_at {
                Some(at) => ocsp::Status::Revoked {
                    at,
                    reason: parse_reason(c.revocation_reason.as_deref())
                        .unwrap_or(pki::RevocationReason::Unspecified),
                },
                None => ocsp::Status::Good,
            },
        };
        statuses.insert(hex, status);
    }
    let issuer = issuer_of(state, &ca)?;
    let now = state.clock.now();
    let der = blocking(move || {
        ocsp::respond(
            &issuer,
            &parsed,
            |s| {
                statuses
                    .get(&s.to_hex())
                    .copied()
                    .unwrap_or(ocsp::Status::Unknown)
            },
            now,
            now + OCSP_LIFETIME,
        )
    })
    .await?;
    Ok(answer(der))
}

/// An OCSP request as it arrived.
pub enum OcspInput<'a> {
    /// POST body.
    Der(&'a [u8]),
    /// GET: the base64 request of the path.
    GetPath(&'a str),
}
