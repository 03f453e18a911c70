//! End-entity certificates.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType};
use x509_parser::prelude::FromDer;

use crate::ca::{add_revocation_pointers, distinguished_name};
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
    spec.validity.check()?;
    if spec.validity.not_after > issuer.info().not_after {
        return Err(PkiError::ValidityExceedsIssuer);
    }
    if spec.subject.common_name.trim().is_empty() && spec.sans.is_empty() {
        return Err(PkiError::InvalidName(
            "a certificate needs a common name or a SAN".to_string(),
        ));
    }
    issuer.check_names(&spec.subject, &spec.sans)?;

    let (rest, spki) =
        x509_parser::x509::SubjectPublicKeyInfo::from_der(public_key_der).map_err(|_| {
            PkiError::InvalidKey("public key is not SubjectPublicKeyInfo DER".to_string())
        })?;
    if !rest.is_empty() {
        return Err(PkiError::InvalidKey(
            "trailing bytes after the public key".to_string(),
        ));
    }
    let is_rsa = spki.algorithm.algorithm.to_id_string() == "1.2.840.113549.1.1.1";
    let public_key = rcgen::SubjectPublicKeyInfo::from_der(public_key_der)
        .map_err(|e| PkiError::InvalidKey(format!("unsupported public key: {e}")))?;

    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(&spec.subject)?;
    params.not_before = spec.validity.not_before;
    params.not_after = spec.validity.not_after;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(spec.serial.as_bytes()));
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = if is_rsa {
        vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ]
    } else {
        vec![KeyUsagePurpose::DigitalSignature]
    };
    params.extended_key_usages = match spec.usage {
        Usage::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
        Usage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
        Usage::Both => vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    };
    params.subject_alt_names = spec.sans.iter().map(san_type).collect::<Result<_, _>>()?;
    params.use_authority_key_identifier_extension = true;
    add_revocation_pointers(
        &mut params,
        spec.crl_url.as_deref(),
        spec.ocsp_url.as_deref(),
    )?;
    let cert = params.signed_by(&public_key, &issuer.rcgen_issuer()?)?;
    Ok(cert.der().to_vec())
}

fn san_type(san: &San) -> Result<SanType, PkiError> {
    let ia5 = |s: &str| {
        rcgen::string::Ia5String::try_from(s)
            .map_err(|_| PkiError::InvalidName(format!("{san} is not ASCII")))
    };
    Ok(match san {
        San::Dns(d) => SanType::DnsName(ia5(d)?),
        San::Ip(ip) => SanType::IpAddress(*ip),
        San::Email(e) => SanType::Rfc822Name(ia5(e)?),
        San::Uri(u) => SanType::URI(ia5(u)?),
    })
}
