//! End-entity certificates.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Issuer, PkiError, San, Serial, Subject, Validity};

/// What an end-entity certificate is for (its extendedKeyUsage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Usage {
    /// serverAuth (the default).
    #[default]
    Server,
    /// clientAuth.
    Client,
    /// serverAuth and clientAuth.
    Both,
}

impl Usage {
    /// "server" | "client" | "both".
    pub fn as_str(self) -> &'static str {
        match self {
            Usage::Server => "server",
            Usage::Client => "client",
            Usage::Both => "both",
        }
    }
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Usage {
    type Err = PkiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "server" => Ok(Usage::Server),
            "client" => Ok(Usage::Client),
            "both" => Ok(Usage::Both),
            other => Err(PkiError::InvalidName(format!(
                "unknown usage {other:?} (server, client or both)"
            ))),
        }
    }
}

/// What an end-entity certificate says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafSpec {
    /// The subject. The common name is not copied into the SANs: callers that want it there
    /// put it in `sans`.
    pub subject: Subject,
    /// Subject alternative names.
    pub sans: Vec<San>,
    /// Server, client or both.
    pub usage: Usage,
    /// Must lie within the issuer's validity's end.
    pub validity: Validity,
    /// The serial.
    pub serial: Serial,
    /// CRL distribution point URL of the issuing CA.
    pub crl_url: Option<String>,
    /// OCSP responder URL of the issuing CA (authorityInfoAccess).
    pub ocsp_url: Option<String>,
}

/// Issues a leaf (DER) for `public_key_der` (SubjectPublicKeyInfo DER).
///
/// Checks: validity well-formed (InvalidValidity) and ending no later than the issuer's
/// (ValidityExceedsIssuer); names within the issuer's name constraints (NameNotPermitted(name)).
/// The leaf: basicConstraints CA:FALSE, keyUsage digitalSignature (+ keyEncipherment for RSA
/// keys), EKU serverAuth/clientAuth per usage, SKI/AKI, CRL DP and OCSP AIA when given.
pub fn issue_leaf(
    spec: &LeafSpec,
    public_key_der: &[u8],
    issuer: &Issuer,
) -> Result<Vec<u8>, PkiError> {
    todo!()
}
