//! When to renew a certificate: a pure decision (no I/O, the clock is a parameter) from its
//! validity and, when the CA offers it, its ARI suggested window (RFC 9773).

use std::time::Duration;

use instant_acme::CertificateIdentifier;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;

use crate::AcmeError;

/// A CA's suggested renewal window (RFC 9773 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AriWindow {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub explanation_url: Option<String>,
    /// The CA's Retry-After: when to ask again.
    pub retry_after: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalReason {
    /// Two thirds of the lifetime have passed.
    TwoThirdsOfLifetime,
    /// The CA's ARI window says so (e.g. the certificate is to be revoked early).
    AriWindow,
    /// Already expired.
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalDecision {
    /// Renew now.
    Renew(RenewalReason),
    /// Not yet; decide again at `next_check` (the earlier of the two-thirds point and the
    /// chosen point in the ARI window).
    NotYet { next_check: OffsetDateTime },
}

/// Decides whether to renew at `now`. `ari_jitter` in [0, 1] picks the point inside the ARI
/// window (RFC 9773 §4.2 asks clients to pick a random time in it so renewals spread out);
/// pass a per-certificate value (e.g. derived from the serial) so repeated checks agree.
/// A window whose end is not after its start is ignored, as the RFC says of invalid windows.
pub fn renewal_decision(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    now: OffsetDateTime,
    ari: Option<(OffsetDateTime, OffsetDateTime)>,
    ari_jitter: f64,
) -> RenewalDecision {
    if now >= not_after {
        return RenewalDecision::Renew(RenewalReason::Expired);
    }
    let lifetime = not_after - not_before;
    let two_thirds = not_before + lifetime * 2 / 3;
    let ari_point = ari.filter(|(s, e)| e > s).map(|(start, end)| {
        let jitter = if ari_jitter.is_finite() {
            ari_jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        start + (end - start) * jitter
    });
    if let Some(point) = ari_point
        && now >= point
    {
        return RenewalDecision::Renew(RenewalReason::AriWindow);
    }
    if now >= two_thirds {
        return RenewalDecision::Renew(RenewalReason::TwoThirdsOfLifetime);
    }
    let next_check = match ari_point {
        Some(point) if point < two_thirds => point,
        _ => two_thirds,
    };
    RenewalDecision::NotYet { next_check }
}

fn leaf_der(certificate_pem: &str) -> Result<CertificateDer<'static>, AcmeError> {
    CertificateDer::pem_slice_iter(certificate_pem.as_bytes())
        .next()
        .ok_or_else(|| AcmeError::Crypto("no certificate in the PEM".into()))?
        .map_err(|e| AcmeError::Crypto(format!("certificate PEM: {e}")))
}

/// The leaf's (notBefore, notAfter).
pub fn certificate_validity(
    certificate_pem: &str,
) -> Result<(OffsetDateTime, OffsetDateTime), AcmeError> {
    let der = leaf_der(certificate_pem)?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| AcmeError::Crypto(format!("certificate: {e}")))?;
    let validity = cert.validity();
    Ok((
        validity.not_before.to_datetime(),
        validity.not_after.to_datetime(),
    ))
}

/// The ARI certificate identifier (authority key id + serial) of the leaf.
pub fn certificate_id(certificate_pem: &str) -> Result<CertificateIdentifier<'static>, AcmeError> {
    let der = leaf_der(certificate_pem)?;
    CertificateIdentifier::try_from(&der)
        .map(CertificateIdentifier::into_owned)
        .map_err(AcmeError::Crypto)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NB: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);
    const NA: OffsetDateTime = datetime!(2026-04-01 00:00 UTC); // 90 days

    #[test]
    fn two_thirds_rule() {
        // 60 days in: the boundary.
        let at = datetime!(2026-03-02 00:00 UTC);
        assert_eq!(
            renewal_decision(NB, NA, at, None, 0.5),
            RenewalDecision::Renew(RenewalReason::TwoThirdsOfLifetime)
        );
        let before = datetime!(2026-03-01 23:59 UTC);
        assert_eq!(
            renewal_decision(NB, NA, before, None, 0.5),
            RenewalDecision::NotYet { next_check: at }
        );
        assert_eq!(
            renewal_decision(NB, NA, NA, None, 0.5),
            RenewalDecision::Renew(RenewalReason::Expired)
        );
    }

    #[test]
    fn ari_window_can_bring_renewal_forward() {
        let window = Some((
            datetime!(2026-01-10 00:00 UTC),
            datetime!(2026-01-12 00:00 UTC),
        ));
        let chosen = datetime!(2026-01-11 00:00 UTC);
        assert_eq!(
            renewal_decision(NB, NA, datetime!(2026-01-09 00:00 UTC), window, 0.5),
            RenewalDecision::NotYet { next_check: chosen }
        );
        assert_eq!(
            renewal_decision(NB, NA, chosen, window, 0.5),
            RenewalDecision::Renew(RenewalReason::AriWindow)
        );
        // Jitter outside [0, 1] or NaN is clamped, never a panic.
        assert_eq!(
            renewal_decision(NB, NA, datetime!(2026-01-10 00:00 UTC), window, f64::NAN),
            RenewalDecision::Renew(RenewalReason::AriWindow)
        );
        assert_eq!(
            renewal_decision(NB, NA, datetime!(2026-01-11 23:00 UTC), window, 7.0),
            RenewalDecision::NotYet {
                next_check: datetime!(2026-01-12 00:00 UTC)
            }
        );
    }

    #[test]
    fn late_or_invalid_ari_window_keeps_two_thirds() {
        let late = Some((
            datetime!(2026-03-20 00:00 UTC),
            datetime!(2026-03-25 00:00 UTC),
        ));
        assert_eq!(
            renewal_decision(NB, NA, datetime!(2026-03-02 00:00 UTC), late, 0.0),
            RenewalDecision::Renew(RenewalReason::TwoThirdsOfLifetime)
        );
        let inverted = Some((
            datetime!(2026-01-12 00:00 UTC),
            datetime!(2026-01-10 00:00 UTC),
        ));
        assert!(matches!(
            renewal_decision(NB, NA, datetime!(2026-01-11 00:00 UTC), inverted, 0.5),
            RenewalDecision::NotYet { .. }
        ));
    }
}
