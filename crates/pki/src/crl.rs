//! Certificate revocation lists.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Issuer, PkiError, Serial};

/// RFC 5280 revocation reasons ScaiVault accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// unspecified (0).
    #[default]
    Unspecified,
    /// keyCompromise (1).
    KeyCompromise,
    /// cACompromise (2).
    CaCompromise,
    /// affiliationChanged (3).
    AffiliationChanged,
    /// superseded (4).
    Superseded,
    /// cessationOfOperation (5).
    CessationOfOperation,
}

impl RevocationReason {
    /// Every reason, in code order.
    pub const ALL: [RevocationReason; 6] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::CaCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
    ];

    /// The wire name: "unspecified", "key_compromise", ...
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "key_compromise",
            RevocationReason::CaCompromise => "ca_compromise",
            RevocationReason::AffiliationChanged => "affiliation_changed",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessation_of_operation",
        }
    }

    /// The RFC 5280 CRLReason code.
    pub fn code(self) -> u8 {
        match self {
            RevocationReason::Unspecified => 0,
            RevocationReason::KeyCompromise => 1,
            RevocationReason::CaCompromise => 2,
            RevocationReason::AffiliationChanged => 3,
            RevocationReason::Superseded => 4,
            RevocationReason::CessationOfOperation => 5,
        }
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RevocationReason {
    type Err = PkiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RevocationReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| PkiError::InvalidName(format!("unknown revocation reason {s:?}")))
    }
}

/// One entry of a CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedCert {
    /// The revoked certificate's serial.
    pub serial: Serial,
    /// When it was revoked.
    pub revoked_at: OffsetDateTime,
    /// Why (written as a reasonCode entry extension).
    pub reason: RevocationReason,
}

/// A CRL (DER) signed by the issuer, with CRL number `number`, an AKI, and each entry's reason as
/// a reasonCode extension. InvalidValidity when next_update is not after this_update.
pub fn build_crl(
    issuer: &Issuer,
    number: u64,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    revoked: &[RevokedCert],
) -> Result<Vec<u8>, PkiError> {
    if next_update <= this_update {
        return Err(PkiError::InvalidValidity);
    }
    let number_bytes = number.to_be_bytes();
    let params = rcgen::CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: rcgen::SerialNumber::from_slice(trim_leading_zeros(&number_bytes)),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|r| rcgen::RevokedCertParams {
                serial_number: rcgen::SerialNumber::from_slice(r.serial.as_bytes()),
                revocation_time: r.revoked_at,
                reason_code: Some(rcgen_reason(r.reason)),
                invalidity_date: None,
            })
            .collect(),
        // The AKI must name the CA certificate's own SKI so verifiers find the issuer.
        key_identifier_method: match issuer.subject_key_id() {
            Some(ski) => rcgen::KeyIdMethod::PreSpecified(ski),
            None => rcgen::KeyIdMethod::Sha256,
        },
    };
    let crl = params.signed_by(&issuer.rcgen_issuer()?)?;
    Ok(crl.der().to_vec())
}

fn trim_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    &bytes[start..]
}

fn rcgen_reason(r: RevocationReason) -> rcgen::RevocationReason {
    match r {
        RevocationReason::Unspecified => rcgen::RevocationReason::Unspecified,
        RevocationReason::KeyCompromise => rcgen::RevocationReason::KeyCompromise,
        RevocationReason::CaCompromise => rcgen::RevocationReason::CaCompromise,
        RevocationReason::AffiliationChanged => rcgen::RevocationReason::AffiliationChanged,
        RevocationReason::Superseded => rcgen::RevocationReason::Superseded,
        RevocationReason::CessationOfOperation => rcgen::RevocationReason::CessationOfOperation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_strings() {
        for r in RevocationReason::ALL {
            assert_eq!(r.as_str().parse::<RevocationReason>().unwrap(), r);
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
        assert_eq!(
            RevocationReason::KeyCompromise.to_string(),
            "key_compromise"
        );
        assert!("keyCompromise".parse::<RevocationReason>().is_err());
    }

    #[test]
    fn crl_number_bytes() {
        assert_eq!(trim_leading_zeros(&0u64.to_be_bytes()), &[0]);
        assert_eq!(trim_leading_zeros(&258u64.to_be_bytes()), &[1, 2]);
    }
}
