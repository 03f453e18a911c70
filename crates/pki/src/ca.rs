//! Certificate authorities: root and intermediate creation, the [`Issuer`], and CA import.

use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName,
    DnType, GeneralSubtree, IsCa, KeyUsagePurpose, NameConstraints,
};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;

use crate::inspect::{info_of, parse_cert};
use crate::name::{dns_hits_excluded, dns_within, is_hostname, normalize_constraint};
use crate::{CertInfo, PkiError, PrivateKey, San, Serial, Subject};

/// A certificate's validity period. Times are truncated to whole seconds when encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// notBefore.
    pub not_before: OffsetDateTime,
    /// notAfter.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// `days` days starting at `from`.
    pub fn days(from: OffsetDateTime, days: u32) -> Self {
        Validity {
            not_before: from,
            not_after: from + Duration::days(i64::from(days)),
        }
    }

    /// Refuses a period whose end is not after its start (PkiError::InvalidValidity).
    pub fn check(&self) -> Result<(), PkiError> {
        if self.not_after <= self.not_before {
            return Err(PkiError::InvalidValidity);
        }
        Ok(())
    }
}

/// What a new CA certificate says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaSpec {
    /// The CA's subject.
    pub subject: Subject,
    /// The CA's validity; an intermediate's may not end after its parent's.
    pub validity: Validity,
    /// The CA certificate's serial.
    pub serial: Serial,
    /// basicConstraints pathLenConstraint; None = unlimited (bounded by the parent's).
    pub path_len: Option<u8>,
    /// nameConstraints permitted dNSName subtrees ("example.com" covers it and its subdomains).
    pub permitted_dns_domains: Vec<String>,
    /// nameConstraints excluded dNSName subtrees.
    pub excluded_dns_domains: Vec<String>,
    /// CRL distribution point of the *parent* (only for intermediates; ignored for roots).
    pub crl_url: Option<String>,
    /// OCSP responder of the *parent* (only for intermediates; ignored for roots).
    pub ocsp_url: Option<String>,
}

/// A CA able to sign: its certificate and its private key.
///
/// `Debug` shows the CA's [`CertInfo`], its name constraints and the key type, never the key.
pub struct Issuer {
    cert_der: Vec<u8>,
    key: PrivateKey,
    info: CertInfo,
    permitted_dns: Vec<String>,
    excluded_dns: Vec<String>,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("info", &self.info)
            .field("key", &self.key)
            .field("permitted_dns", &self.permitted_dns)
            .field("excluded_dns", &self.excluded_dns)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// Checks that `key` belongs to the certificate (PkiError::KeyMismatch) and that the
    /// certificate is a CA (PkiError::NotACa).
    pub fn new(cert_der: Vec<u8>, key: PrivateKey) -> Result<Self, PkiError> {
        let cert = parse_cert(&cert_der)?;
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(PkiError::KeyMismatch);
        }
        let bad = |what: &str, e: x509_parser::error::X509Error| {
            PkiError::InvalidCertificate(format!("{what}: {e}"))
        };
        let is_ca = cert
            .basic_constraints()
            .map_err(|e| bad("basicConstraints", e))?
            .is_some_and(|bc| bc.value.ca);
        let can_sign = cert
            .key_usage()
            .map_err(|e| bad("keyUsage", e))?
            .is_none_or(|ku| ku.value.key_cert_sign());
        if !is_ca || !can_sign {
            return Err(PkiError::NotACa);
        }
        let mut permitted_dns = Vec::new();
        let mut excluded_dns = Vec::new();
        if let Some(nc) = cert
            .name_constraints()
            .map_err(|e| bad("nameConstraints", e))?
        {
            let dns = |subtrees: &Option<Vec<x509_parser::extensions::GeneralSubtree<'_>>>| {
                subtrees
                    .iter()
                    .flatten()
                    .filter_map(|t| match t.base {
                        GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            };
            permitted_dns = dns(&nc.value.permitted_subtrees);
            excluded_dns = dns(&nc.value.excluded_subtrees);
        }
        let info = info_of(&cert, &cert_der)?;
        Ok(Issuer {
            cert_der,
            key,
            info,
            permitted_dns,
            excluded_dns,
        })
    }

    /// The CA certificate parsed for rcgen, signing with this CA's key.
    pub(crate) fn rcgen_issuer(&self) -> Result<rcgen::Issuer<'static, &rcgen::KeyPair>, PkiError> {
        let der = rustls_pki_types::CertificateDer::from(self.cert_der.as_slice());
        rcgen::Issuer::from_ca_cert_der(&der, &self.key.pair).map_err(PkiError::from)
    }

    /// The CA certificate's subjectKeyIdentifier, if it has one.
    pub(crate) fn subject_key_id(&self) -> Option<Vec<u8>> {
        let cert = parse_cert(&self.cert_der).ok()?;
        cert.iter_extensions()
            .find_map(|ext| match ext.parsed_extension() {
                x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(id) => {
                    Some(id.0.to_vec())
                }
                _ => None,
            })
    }

    fn into_key(self) -> PrivateKey {
        self.key
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The CA certificate's details.
    pub fn info(&self) -> &CertInfo {
        &self.info
    }

    /// The CA's private key.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// The dNSName subtrees permitted by the CA certificate's name constraints (empty: no
    /// permitted-subtree constraint).
    pub fn permitted_dns_domains(&self) -> &[String] {
        &self.permitted_dns
    }

    /// The dNSName subtrees excluded by the CA certificate's name constraints.
    pub fn excluded_dns_domains(&self) -> &[String] {
        &self.excluded_dns
    }

    /// Checks a would-be certificate's names against this CA's name constraints: every DNS SAN,
    /// and the common name when it looks like a hostname (as OpenSSL checks it).
    /// PkiError::NameNotPermitted(name) names the first offender.
    pub fn check_names(&self, subject: &Subject, sans: &[San]) -> Result<(), PkiError> {
        let cn = subject.common_name.to_ascii_lowercase();
        let cn_as_host = (is_hostname(cn.strip_prefix("*.").unwrap_or(&cn)) && cn.contains('.'))
            .then_some(cn.as_str());
        let dns_sans = sans.iter().filter_map(|s| match s {
            San::Dns(d) => Some(d.as_str()),
            _ => None,
        });
        for name in cn_as_host.into_iter().chain(dns_sans) {
            let permitted = self.permitted_dns.is_empty()
                || self.permitted_dns.iter().any(|c| dns_within(name, c));
            let excluded = self.excluded_dns.iter().any(|c| dns_hits_excluded(name, c));
            if !permitted || excluded {
                return Err(PkiError::NameNotPermitted(name.to_string()));
            }
        }
        Ok(())
    }
}

/// A self-signed root CA certificate (DER) for `key`: basicConstraints CA:TRUE (critical, with
/// the path length if given), keyUsage keyCertSign + cRLSign + digitalSignature (critical), SKI,
/// and the name constraints if given.
pub fn create_root_ca(spec: &CaSpec, key: &PrivateKey) -> Result<Vec<u8>, PkiError> {
    let permitted = normalize_all(&spec.permitted_dns_domains)?;
    let excluded = normalize_all(&spec.excluded_dns_domains)?;
    let params = ca_params(spec, spec.path_len, &permitted, &excluded)?;
    let cert = params.self_signed(&key.pair)?;
    Ok(cert.der().to_vec())
}

/// An intermediate CA certificate (DER) for `key`, signed by `parent`.
///
/// Refuses validity beyond the parent's not_after (PkiError::ValidityExceedsIssuer), a parent
/// whose path length is 0, and a requested path length not below the parent's
/// (PkiError::PathLenExceeded); with no requested path length, a constrained parent's minus one
/// is used. Name constraints: the parent's still apply below it; requested
/// permitted domains must lie within the parent's (PkiError::NameNotPermitted), and when none are
/// requested the parent's permitted and excluded domains are copied so that the intermediate's
/// own certificate carries the effective constraints. Carries the parent's CRL DP and OCSP AIA
/// when given, and an AKI.
pub fn create_intermediate_ca(
    spec: &CaSpec,
    key: &PrivateKey,
    parent: &Issuer,
) -> Result<Vec<u8>, PkiError> {
    spec.validity.check()?;
    if spec.validity.not_after > parent.info.not_after {
        return Err(PkiError::ValidityExceedsIssuer);
    }
    let path_len = match parent.info.path_len {
        None => spec.path_len,
        Some(0) => return Err(PkiError::PathLenExceeded),
        Some(n) => match spec.path_len {
            None => Some(n - 1),
            Some(p) if p < n => Some(p),
            Some(_) => return Err(PkiError::PathLenExceeded),
        },
    };
    let mut permitted = normalize_all(&spec.permitted_dns_domains)?;
    let mut excluded = normalize_all(&spec.excluded_dns_domains)?;
    for domain in &permitted {
        let host = domain.trim_start_matches('.');
        let inside = parent.permitted_dns.is_empty()
            || parent.permitted_dns.iter().any(|c| dns_within(host, c));
        let hits = parent.excluded_dns.iter().any(|c| dns_within(host, c));
        if !inside || hits {
            return Err(PkiError::NameNotPermitted(domain.clone()));
        }
    }
    if permitted.is_empty() {
        permitted.clone_from(&parent.permitted_dns);
    }
    for domain in &parent.excluded_dns {
        if !excluded.contains(domain) {
            excluded.push(domain.clone());
        }
    }
    let mut params = ca_params(spec, path_len, &permitted, &excluded)?;
    params.use_authority_key_identifier_extension = true;
    add_revocation_pointers(
        &mut params,
        spec.crl_url.as_deref(),
        spec.ocsp_url.as_deref(),
    )?;
    let cert = params.signed_by(&key.pair, &parent.rcgen_issuer()?)?;
    Ok(cert.der().to_vec())
}

fn normalize_all(domains: &[String]) -> Result<Vec<String>, PkiError> {
    domains.iter().map(|d| normalize_constraint(d)).collect()
}

/// The parameters shared by root and intermediate CA certificates.
fn ca_params(
    spec: &CaSpec,
    path_len: Option<u8>,
    permitted: &[String],
    excluded: &[String],
) -> Result<CertificateParams, PkiError> {
    spec.validity.check()?;
    if spec.subject.common_name.trim().is_empty() {
        return Err(PkiError::InvalidName(
            "a CA needs a common name".to_string(),
        ));
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(&spec.subject)?;
    params.not_before = spec.validity.not_before;
    params.not_after = spec.validity.not_after;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(spec.serial.as_bytes()));
    params.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    if !permitted.is_empty() || !excluded.is_empty() {
        let subtrees = |v: &[String]| v.iter().cloned().map(GeneralSubtree::DnsName).collect();
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: subtrees(permitted),
            excluded_subtrees: subtrees(excluded),
        });
    }
    Ok(params)
}

/// The subject as an rcgen distinguished name (C, ST, L, O, OU, CN order).
pub(crate) fn distinguished_name(subject: &Subject) -> Result<DistinguishedName, PkiError> {
    let mut dn = DistinguishedName::new();
    if let Some(c) = &subject.country {
        let valid = c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic());
        if !valid {
            return Err(PkiError::InvalidName(format!(
                "country must be two letters, not {c:?}"
            )));
        }
        let c = rcgen::string::PrintableString::try_from(c.to_ascii_uppercase())
            .map_err(|_| PkiError::InvalidName(format!("invalid country {c:?}")))?;
        dn.push(DnType::CountryName, rcgen::DnValue::PrintableString(c));
    }
    let fields = [
        (DnType::StateOrProvinceName, &subject.state),
        (DnType::LocalityName, &subject.locality),
        (DnType::OrganizationName, &subject.organization),
        (DnType::OrganizationalUnitName, &subject.organizational_unit),
    ];
    for (ty, value) in fields {
        if let Some(v) = value {
            check_attr(v)?;
            dn.push(ty, v.as_str());
        }
    }
    if !subject.common_name.is_empty() {
        check_attr(&subject.common_name)?;
        dn.push(DnType::CommonName, subject.common_name.as_str());
    }
    Ok(dn)
}

fn check_attr(v: &str) -> Result<(), PkiError> {
    if v.trim().is_empty() || v.chars().count() > 64 || v.chars().any(char::is_control) {
        return Err(PkiError::InvalidName(format!(
            "subject attribute {v:?} must be 1 to 64 printable characters"
        )));
    }
    Ok(())
}

const OID_AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
const OID_AD_OCSP: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");

/// CRL distribution point and OCSP authorityInfoAccess, when given.
pub(crate) fn add_revocation_pointers(
    params: &mut CertificateParams,
    crl_url: Option<&str>,
    ocsp_url: Option<&str>,
) -> Result<(), PkiError> {
    if let Some(url) = crl_url {
        check_url(url)?;
        params.crl_distribution_points = vec![CrlDistributionPoint {
            uris: vec![url.to_string()],
        }];
    }
    if let Some(url) = ocsp_url {
        check_url(url)?;
        use der::Encode;
        use x509_cert::ext::pkix::name::GeneralName as DerGeneralName;
        use x509_cert::ext::pkix::{AccessDescription, AuthorityInfoAccessSyntax};
        let location = der::asn1::Ia5String::new(url)
            .map_err(|_| PkiError::InvalidName(format!("invalid OCSP URL {url:?}")))?;
        let aia = AuthorityInfoAccessSyntax(vec![AccessDescription {
            access_method: OID_AD_OCSP,
            access_location: DerGeneralName::UniformResourceIdentifier(location),
        }]);
        let content = aia
            .to_der()
            .map_err(|e| PkiError::Crypto(format!("encoding authorityInfoAccess: {e}")))?;
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                OID_AUTHORITY_INFO_ACCESS,
                content,
            ));
    }
    Ok(())
}

fn check_url(url: &str) -> Result<(), PkiError> {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(PkiError::InvalidName(format!(
            "revocation URL must be http(s) and printable ASCII: {url:?}"
        )))
    }
}

/// Import of an existing CA: a PEM certificate (the first CERTIFICATE block is the CA; any
/// further blocks, a chain, are ignored here) and a PEM private key. Verifies the key matches
/// (PkiError::KeyMismatch) and the certificate is a CA (PkiError::NotACa).
pub fn import_ca(
    cert_pem: &str,
    key_pem: &str,
) -> Result<(Vec<u8>, PrivateKey, CertInfo), PkiError> {
    let cert_der = crate::pem_decode_cert(cert_pem)?
        .into_iter()
        .next()
        .ok_or_else(|| PkiError::InvalidCertificate("no certificate".to_string()))?;
    let key = PrivateKey::from_pem(key_pem)?;
    let issuer = Issuer::new(cert_der.clone(), key)?;
    let info = issuer.info.clone();
    Ok((cert_der, issuer.into_key(), info))
}
