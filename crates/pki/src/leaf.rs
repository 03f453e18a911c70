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

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::{CaSpec, KeyType, PrivateKey, create_root_ca};

    fn ca() -> Issuer {
        let key = PrivateKey::generate(KeyType::EcP256).unwrap();
        let spec = CaSpec {
            subject: Subject::cn("Unit CA"),
            validity: Validity::days(datetime!(2030-01-01 0:00 UTC), 365),
            serial: Serial::random(),
            path_len: None,
            permitted_dns_domains: Vec::new(),
            excluded_dns_domains: Vec::new(),
            crl_url: None,
            ocsp_url: None,
        };
        Issuer::new(create_root_ca(&spec, &key).unwrap(), key).unwrap()
    }

    fn spec() -> LeafSpec {
        LeafSpec {
            subject: Subject::cn("svc.example.com"),
            sans: vec![San::Dns("svc.example.com".into())],
            usage: Usage::Server,
            validity: Validity::days(datetime!(2030-01-02 0:00 UTC), 30),
            serial: Serial::random(),
            crl_url: None,
            ocsp_url: None,
        }
    }

    #[test]
    fn refusals() {
        let ca = ca();
        let key = PrivateKey::generate(KeyType::EcP256)
            .unwrap()
            .public_key_der();
        issue_leaf(&spec(), &key, &ca).unwrap();

        assert!(matches!(
            issue_leaf(&spec(), b"not a key", &ca),
            Err(PkiError::InvalidKey(_))
        ));
        let mut s = spec();
        s.subject = Subject::default();
        s.sans.clear();
        assert!(matches!(
            issue_leaf(&s, &key, &ca),
            Err(PkiError::InvalidName(_))
        ));
        let mut s = spec();
        s.subject.country = Some("Netherlands".into());
        assert!(matches!(
            issue_leaf(&s, &key, &ca),
            Err(PkiError::InvalidName(_))
        ));
        let mut s = spec();
        s.crl_url = Some("ftp://x".into());
        assert!(matches!(
            issue_leaf(&s, &key, &ca),
            Err(PkiError::InvalidName(_))
        ));
        let mut s = spec();
        s.validity.not_after = s.validity.not_before;
        assert_eq!(issue_leaf(&s, &key, &ca), Err(PkiError::InvalidValidity));
        let mut s = spec();
        s.validity = Validity::days(datetime!(2030-06-01 0:00 UTC), 365);
        assert_eq!(
            issue_leaf(&s, &key, &ca),
            Err(PkiError::ValidityExceedsIssuer)
        );
    }

    #[test]
    fn ca_spec_refusals_and_debug() {
        let key = PrivateKey::generate(KeyType::EcP256).unwrap();
        let mut spec = CaSpec {
            subject: Subject::cn(""),
            validity: Validity::days(datetime!(2030-01-01 0:00 UTC), 365),
            serial: Serial::random(),
            path_len: None,
            permitted_dns_domains: Vec::new(),
            excluded_dns_domains: Vec::new(),
            crl_url: None,
            ocsp_url: None,
        };
        assert!(matches!(
            create_root_ca(&spec, &key),
            Err(PkiError::InvalidName(_))
        ));
        spec.subject = Subject::cn("CA");
        spec.permitted_dns_domains = vec!["not a domain".into()];
        assert!(matches!(
            create_root_ca(&spec, &key),
            Err(PkiError::InvalidName(_))
        ));
        spec.permitted_dns_domains = vec![".Example.COM".into()];
        let ca = Issuer::new(create_root_ca(&spec, &key).unwrap(), key).unwrap();
        assert_eq!(ca.permitted_dns_domains(), [".example.com"]);

        // A non-CA certificate and a foreign key are refused as issuers.
        let leaf_key = PrivateKey::generate(KeyType::EcP256).unwrap();
        let mut s = self::spec();
        s.sans = vec![San::Dns("a.example.com".into())];
        s.subject = Subject::cn("a.example.com");
        let leaf = issue_leaf(&s, &leaf_key.public_key_der(), &ca).unwrap();
        assert_eq!(
            Issuer::new(leaf, leaf_key).map(|_| ()),
            Err(PkiError::NotACa)
        );
        let other = PrivateKey::generate(KeyType::EcP256).unwrap();
        assert_eq!(
            Issuer::new(ca.cert_der().to_vec(), other).map(|_| ()),
            Err(PkiError::KeyMismatch)
        );

        // Debug never shows the key: an Ed25519 PKCS#8 v1 ends with the 32-byte seed, which
        // appears nowhere else.
        let ed = PrivateKey::generate(KeyType::Ed25519).unwrap();
        spec.permitted_dns_domains.clear();
        let ca = Issuer::new(create_root_ca(&spec, &ed).unwrap(), ed).unwrap();
        let debug = format!("{ca:?} {:?}", ca.key());
        let pkcs8 = ca.key().to_pkcs8_der();
        let seed = &pkcs8[pkcs8.len() - 32..];
        for window in seed.windows(4) {
            let decimal = format!("{window:?}");
            let hex: String = window.iter().map(|b| format!("{b:02x}")).collect();
            assert!(!debug.contains(decimal.trim_matches(['[', ']'])), "{debug}");
            assert!(!debug.to_lowercase().contains(&hex), "{debug}");
        }
        assert!(
            debug.contains("PrivateKey { key_type: Ed25519, .. }"),
            "{debug}"
        );
    }
}
