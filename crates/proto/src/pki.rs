//! `/v1/pki`: the internal certificate authority: CAs, issued certificates, revocation (the
//! CRL and OCSP endpoints answer in DER, not JSON) and the CSR workflow. docs/pki.md.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Timestamp;

/// `POST /v1/pki/cas`: a root CA, or with `parent_ca_id` an intermediate signed by that CA.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCaRequest {
    /// Unique in the tenant; its slug names the CA in policy paths (`pki/<slug>/...`).
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    pub common_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizational_unit: Option<String>,
    /// Two-letter country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// `ec-p256` (default), `ec-p384`, `rsa-2048`, `rsa-3072`, `rsa-4096` or `ed25519`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// Default 3650 for a root, 1825 for an intermediate (never beyond its parent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 36500)]
    pub validity_days: Option<u32>,
    /// `ca_...` of a CA of the same tenant: makes this an intermediate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_ca_id: Option<String>,
    /// basicConstraints pathLenConstraint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_len: Option<u8>,
    /// Name constraints: DNS names must be within one of these (e.g. `example.com`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permitted_dns_domains: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_dns_domains: Vec<String>,
    /// Separation of duties: a CSR submitted by someone cannot be approved by them.
    #[serde(default)]
    pub require_separate_approver: bool,
}

/// `POST /v1/pki/cas/import`: an existing CA (certificate and its key, PEM), e.g. from OpenSSL.
/// Its `Debug` leaves the key out.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportCaRequest {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// PEM: the CA certificate first, then optionally its chain.
    pub certificate: String,
    /// PEM private key (PKCS#8, or SEC1 EC / PKCS#1 RSA). Sealed at once; never returned.
    pub private_key: String,
    #[serde(default)]
    pub require_separate_approver: bool,
}

/// A certificate authority. Its private key never leaves the server.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Ca {
    /// `ca_...`
    pub id: String,
    pub name: String,
    pub common_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_ca_id: Option<String>,
    pub key_type: String,
    /// Hex, lowercase.
    pub serial: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// `active` or `disabled` (a disabled CA issues nothing; its CRL and OCSP keep answering).
    pub status: String,
    pub require_separate_approver: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_len: Option<u8>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permitted_dns_domains: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_dns_domains: Vec<String>,
    pub imported: bool,
    /// Where this CA's CRL is published (unauthenticated).
    pub crl_url: String,
    /// This CA's OCSP responder (unauthenticated).
    pub ocsp_url: String,
    /// The policy path prefix of this CA: `pki/<slug>`.
    pub policy_path: String,
    /// PEM of the CA certificate.
    pub certificate: String,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CaList {
    pub cas: Vec<Ca>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// `POST /v1/pki/certs`: ScaiVault generates the key pair and issues the certificate.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueCertificateRequest {
    /// `ca_...`
    pub ca_id: String,
    pub common_name: String,
    /// `DNS:x`, `IP:x`, `email:x`, `URI:x`, or unprefixed (guessed: IP, email, URI, else DNS).
    #[serde(default)]
    pub sans: Vec<String>,
    /// Either this or `ttl`; default 90 days. Never beyond the CA's own expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_days: Option<u32>,
    /// A duration such as `72h` or `30d`, instead of `validity_days`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// Default `ec-p256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// `server` (default), `client` or `both`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    /// Where the certificate and key are stored as a secret; default `pki/<ca slug>/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// The answer to an issuance or a renewal: the only time the private key is returned (it is
/// also stored, sealed, as the secret at `secret_path`). Its `Debug` leaves the key out.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct IssuedCertificate {
    /// `cert_...`
    pub id: String,
    pub serial: String,
    /// PEM.
    pub certificate: String,
    /// PKCS#8 PEM.
    pub private_key: String,
    /// PEM of the issuing CA and its parents, issuer first.
    pub chain: Vec<String>,
    pub ca_id: String,
    pub common_name: String,
    pub sans: Vec<String>,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub secret_path: String,
    pub secret_version: u64,
}

/// An issued (or CSR-signed) certificate as tracked; never a private key.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Certificate {
    /// `cert_...`
    pub id: String,
    pub ca_id: String,
    pub serial: String,
    pub common_name: String,
    pub sans: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    pub usage: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// `valid`, `revoked` or `expired`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csr_id: Option<String>,
    pub issued_by: String,
    /// PEM.
    pub certificate: String,
    pub created_at: Timestamp,
    /// A certificate from an ACME CA (its `ca_id` is the ACME account, `acme_...`): its
    /// automatic renewal, scheduled or under way, and the last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal: Option<CertificateRenewal>,
}

/// The renewal order of an ACME certificate.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CertificateRenewal {
    /// `acmeo_...`
    pub order_id: String,
    /// `scheduled`, `processing`, `valid` (renewed: see `certificate_id`) or `failed`.
    pub status: String,
    /// When it is next worked on (the renewal time while `scheduled`).
    pub next_attempt_at: Timestamp,
    pub attempts: u32,
    /// The renewed certificate, once `valid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<String>,
    /// The last failure's problem document (RFC 7807); retried while the certificate lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub problem: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CertificateList {
    pub certificates: Vec<Certificate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// `POST /v1/pki/certs/{id}/revoke`
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// RFC 5280: `unspecified` (default), `key_compromise`, `ca_compromise`,
    /// `affiliation_changed`, `superseded`, `cessation_of_operation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /v1/pki/certs/{id}/renew`: optional body; default the original validity length.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertRenewRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
}

/// `POST /v1/pki/csrs`: a PEM CSR made by the requester, whose key never reaches the server.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitCsrRequest {
    /// PEM (`-----BEGIN CERTIFICATE REQUEST-----`); its signature is verified.
    pub csr: String,
    /// Optional: the CA meant to sign it; its name constraints are checked at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_id: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Csr {
    /// `csr_...`
    pub id: String,
    pub common_name: String,
    pub sans: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// `pending`, `approved`, `rejected` or `signed`.
    pub status: String,
    pub submitted_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The certificate signed from it (`cert_...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_id: Option<String>,
    /// PEM.
    pub csr: String,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CsrList {
    pub csrs: Vec<Csr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// `POST /v1/pki/csrs/{id}/reject`
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectCsrRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

/// `POST /v1/pki/csrs/{id}/sign`: only once approved.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignCsrRequest {
    /// `ca_...`
    pub ca_id: String,
    /// Either this or `ttl`; default 90 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// `server` (default), `client` or `both`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
}

/// The answer to a CSR signing: the certificate and its chain (the key stays with the requester).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SignedCertificate {
    /// `cert_...`
    pub id: String,
    pub csr_id: String,
    pub serial: String,
    /// PEM.
    pub certificate: String,
    pub chain: Vec<String>,
    pub ca_id: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
}

const REDACTED: &str = "[REDACTED]";

impl std::fmt::Debug for ImportCaRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportCaRequest")
            .field("name", &self.name)
            .field("certificate", &self.certificate)
            .field("private_key", &REDACTED)
            .field("require_separate_approver", &self.require_separate_approver)
            .finish()
    }
}

impl std::fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("id", &self.id)
            .field("serial", &self.serial)
            .field("certificate", &self.certificate)
            .field("private_key", &REDACTED)
            .field("chain", &self.chain)
            .field("ca_id", &self.ca_id)
            .field("common_name", &self.common_name)
            .field("sans", &self.sans)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("secret_path", &self.secret_path)
            .field("secret_version", &self.secret_version)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_private_key() {
        let import = ImportCaRequest {
            name: "n".into(),
            certificate: "CERT".into(),
            private_key: "-----BEGIN PRIVATE KEY-----SECRETKEY".into(),
            require_separate_approver: false,
        };
        assert!(!format!("{import:?}").contains("SECRETKEY"));
        let issued: IssuedCertificate = serde_json::from_value(serde_json::json!({
            "id": "cert_1", "serial": "01", "certificate": "C", "private_key": "SECRETKEY",
            "chain": [], "ca_id": "ca_1", "common_name": "x", "sans": [],
            "not_before": "2026-01-01T00:00:00Z", "not_after": "2026-02-01T00:00:00Z",
            "secret_path": "pki/a/x", "secret_version": 1
        }))
        .unwrap();
        assert!(!format!("{issued:?}").contains("SECRETKEY"));
    }
}
