//! The internal CA: every operation behind `/v1/pki` (docs/pki.md).
//!
//! Scopes: `pki:read` reads CAs, certificates and CSRs (never a private key); `pki:issue`
//! issues, renews and revokes certificates and submits CSRs; `pki:admin` creates, imports and
//! disables CAs and decides and signs CSRs. Path policies narrow them over `pki/<ca slug>/...`:
//! issuing a certificate needs `issue` on `pki/<ca slug>/<name>` for its common name and every
//! SAN, revoking needs `revoke` on its common name's path, CA administration `write` on
//! `pki/<ca slug>`. Tenant admins are not restricted by policies (as for secrets).
//!
//! A CA's private key is sealed under the barrier (bound to tenant and CA id) and opened only
//! to sign; it never leaves through any interface. Every change is one store call carrying its
//! audit entry; an issued certificate and its secret version commit together.

use std::collections::HashMap;
use std::str::FromStr;

use scaivault_core::policy::Permission;
use scaivault_core::{Principal, Scope, SecretPath, parse_duration};
use scaivault_crypto::{SealedValue, secret_aad};
use scaivault_pki::{self as pki, PkiError, ocsp};
use scaivault_proto::pki::*;
use scaivault_proto::{ErrorCode, Timestamp};
use scaivault_store::{
    CaRecord, CertQuery, CertRecord, CertStatusFilter, CrlRecord, CsrRecord, SealedBlob,
    SecretPatch, SecretWrite, StoreError, WriteMode,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit;
use crate::auth::require_scope;
use crate::authz;
use crate::error::{ApiError, ApiResult, duration_error};
use crate::extract::{parse_u64, query_pairs, reject_unknown};
use crate::state::AppState;

mod cas;
mod certificates;
mod csrs;
mod revocation;

pub use cas::*;
pub use certificates::*;
pub use csrs::*;
pub use revocation::*;

/// Default lifetime of a root CA, an intermediate, and a leaf, in days.
const ROOT_DAYS: u32 = 3650;
const INTERMEDIATE_DAYS: u32 = 1825;
const LEAF_DAYS: u32 = 90;
const MAX_DAYS: u32 = 36_500;
/// A CRL is valid this long; it is regenerated on every revocation, and when half of it has
/// passed at the next fetch.
const CRL_LIFETIME: time::Duration = time::Duration::days(7);
/// How long an OCSP answer may be cached by relying parties.
const OCSP_LIFETIME: time::Duration = time::Duration::hours(1);
/// Attempts at a fresh random serial when one is taken (astronomically rare).
const SERIAL_ATTEMPTS: usize = 5;
const MAX_SANS: usize = 100;
const MAX_NAME_CHARS: usize = 255;

// ---------------------------------------------------------------------------------------------
// Errors

fn ca_not_found() -> ApiError {
    ApiError::new(ErrorCode::CaNotFound, "no such certificate authority")
}

fn certificate_not_found() -> ApiError {
    ApiError::new(ErrorCode::CertificateNotFound, "no such certificate")
}

fn csr_not_found() -> ApiError {
    ApiError::new(
        ErrorCode::CsrNotFound,
        "no such certificate signing request",
    )
}

/// The API error of a refusal by the PKI domain. Messages never carry key material.
fn pki_error(e: PkiError) -> ApiError {
    match e {
        PkiError::InvalidCsr(reason) => {
            ApiError::new(ErrorCode::InvalidCsr, format!("invalid CSR: {reason}"))
        }
        PkiError::ValidityExceedsIssuer => ApiError::new(
            ErrorCode::ValidityExceedsCa,
            "the requested validity ends after the issuing CA's",
        ),
        PkiError::NameNotPermitted(name) => ApiError::new(
            ErrorCode::NameNotPermitted,
            format!("{name} is outside the CA's name constraints"),
        ),
        PkiError::InvalidValidity => ApiError::validation("the validity period is empty"),
        PkiError::InvalidName(reason) => ApiError::validation(format!("invalid name: {reason}")),
        PkiError::PathLenExceeded => ApiError::validation(
            "the parent CA's path length constraint allows no further CA below it",
        ),
        e @ (PkiError::InvalidCertificate(_)
        | PkiError::InvalidKey(_)
        | PkiError::KeyMismatch
        | PkiError::NotACa) => ApiError::validation(e.to_string()),
        e @ (PkiError::Ocsp(_) | PkiError::Crypto(_)) => ApiError::internal(e),
    }
}

// ---------------------------------------------------------------------------------------------
// CA settings and names

/// What a CA record keeps beside its columns (`CaRecord.settings`, JSON).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct CaSettings {
    /// Names the CA in policy paths and default secret paths: `pki/<slug>/...`.
    slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path_len: Option<u8>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    permitted_dns_domains: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    excluded_dns_domains: Vec<String>,
}

fn settings_of(ca: &CaRecord) -> ApiResult<CaSettings> {
    serde_json::from_str(&ca.settings)
        .map_err(|_| ApiError::internal(format!("CA {} has unreadable settings", ca.id)))
}

/// The path-safe form of a CA name: lowercase, every run of characters other than
/// `a-z 0-9 . _ -` one `-` ("Acme Root CA" -> `acme-root-ca`).
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
            out.push(c);
            dash = false;
        } else if !dash {
            out.push('-');
            dash = true;
        }
    }
    let trimmed = out.trim_matches('-');
    match trimmed {
        "" | "." | ".." => "ca".to_owned(),
        s => s.to_owned(),
    }
}

/// A name as one path segment: lowercase, a leading `*` wildcard label becomes `wildcard`, and
/// characters a secret path cannot hold become `-` (`*.Example.com` -> `wildcard.example.com`).
pub fn name_segment(name: &str) -> String {
    let lower = name.trim().to_lowercase();
    let lower = match lower.strip_prefix('*') {
        Some(rest) => format!("wildcard{rest}"),
        None => lower,
    };
    let mapped: String = lower
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || ".-_@:+=,~".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    match mapped.as_str() {
        "" | "." | ".." => "-".to_owned(),
        _ => mapped,
    }
}

/// The value part of a SAN (`DNS:api.example.com` -> `api.example.com`).
fn san_value(san: &pki::San) -> String {
    match san {
        pki::San::Dns(v) | pki::San::Email(v) | pki::San::Uri(v) => v.clone(),
        pki::San::Ip(ip) => ip.to_string(),
    }
}

/// The policy path of a name issued by a CA: `pki/<ca slug>/<name segment>`.
fn name_path(slug: &str, name: &str) -> String {
    format!("pki/{slug}/{}", name_segment(name))
}

/// Requires `permission` on the policy path of the common name and of every SAN.
async fn authorize_names(
    state: &AppState,
    p: &Principal,
    slug: &str,
    common_name: &str,
    sans: &[pki::San],
    permission: Permission,
) -> ApiResult<()> {
    if authz::is_unrestricted(p) {
        return Ok(());
    }
    let mut names = vec![common_name.to_owned()];
    names.extend(sans.iter().map(san_value));
    names.sort();
    names.dedup();
    for name in names.iter().filter(|n| !n.is_empty()) {
        authz::authorize(state, p, &name_path(slug, name), permission).await?;
    }
    Ok(())
}

fn check_text(field: &str, value: &str) -> ApiResult<()> {
    if value.chars().count() > MAX_NAME_CHARS || value.chars().any(char::is_control) {
        return Err(ApiError::validation(format!(
            "{field}: at most {MAX_NAME_CHARS} printable characters"
        )));
    }
    Ok(())
}

fn check_common_name(cn: &str) -> ApiResult<String> {
    let cn = cn.trim();
    if cn.is_empty() {
        return Err(ApiError::validation("common_name: required"));
    }
    if cn.chars().count() > 64 {
        return Err(ApiError::validation(
            "common_name: at most 64 characters (RFC 5280)",
        ));
    }
    check_text("common_name", cn)?;
    Ok(cn.to_owned())
}

fn parse_sans(sans: &[String]) -> ApiResult<Vec<pki::San>> {
    if sans.len() > MAX_SANS {
        return Err(ApiError::validation(format!(
            "sans: at most {MAX_SANS} names"
        )));
    }
    let mut out: Vec<pki::San> = Vec::with_capacity(sans.len());
    for (i, s) in sans.iter().enumerate() {
        let san = pki::San::parse(s.trim())
            .map_err(|e| ApiError::validation(format!("sans[{i}]: {e}")))?;
        if !out.contains(&san) {
            out.push(san);
        }
    }
    Ok(out)
}

/// The SANs an issued certificate carries: the requested ones, with the common name first when
/// it is a host name, an IP address or an email address (as Vault does). TLS clients match host
/// names against SANs only, so a certificate whose name is only in its CN would not verify.
fn sans_with_common_name(common_name: &str, mut sans: Vec<pki::San>) -> Vec<pki::San> {
    if let Ok(san @ (pki::San::Dns(_) | pki::San::Ip(_) | pki::San::Email(_))) =
        pki::San::parse(common_name)
        && !sans.contains(&san)
    {
        sans.insert(0, san);
    }
    sans
}

fn parse_key_type(value: Option<&str>) -> ApiResult<pki::KeyType> {
    match value {
        None => Ok(pki::KeyType::default()),
        Some(v) => pki::KeyType::from_str(v).map_err(|_| {
            ApiError::validation(
                "key_type: one of ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096, ed25519",
            )
        }),
    }
}

fn parse_usage(value: Option<&str>) -> ApiResult<pki::Usage> {
    match value {
        None => Ok(pki::Usage::default()),
        Some(v) => pki::Usage::from_str(v)
            .map_err(|_| ApiError::validation("usage: one of server, client, both")),
    }
}

fn parse_reason(value: Option<&str>) -> ApiResult<pki::RevocationReason> {
    match value {
        None => Ok(pki::RevocationReason::Unspecified),
        Some(v) => pki::RevocationReason::from_str(v).map_err(|_| {
            ApiError::validation(
                "reason: one of unspecified, key_compromise, ca_compromise, affiliation_changed, \
                 superseded, cessation_of_operation",
            )
        }),
    }
}

/// The lifetime asked for: `validity_days` or `ttl` (not both), else `default_days`.
fn lifetime(
    validity_days: Option<u32>,
    ttl: Option<&str>,
    default_days: u32,
) -> ApiResult<time::Duration> {
    match (validity_days, ttl) {
        (Some(_), Some(_)) => Err(ApiError::validation(
            "validity_days and ttl are mutually exclusive",
        )),
        (Some(days), None) => {
            if days == 0 || days > MAX_DAYS {
                return Err(ApiError::validation(format!(
                    "validity_days: 1 to {MAX_DAYS}"
                )));
            }
            Ok(time::Duration::days(i64::from(days)))
        }
        (None, Some(ttl)) => {
            let d = parse_duration(ttl).map_err(|e| duration_error("ttl", e))?;
            let d =
                time::Duration::try_from(d).map_err(|_| ApiError::validation("ttl: too long"))?;
            if d < time::Duration::minutes(1) || d > time::Duration::days(i64::from(MAX_DAYS)) {
                return Err(ApiError::validation("ttl: 1m to 100 years"));
            }
            Ok(d)
        }
        (None, None) => Ok(time::Duration::days(i64::from(default_days))),
    }
}

/// The lifetime of a leaf: as asked (`validity_days` or `ttl`), else the default of 90 days
/// shortened to what the CA has left (only an explicit request beyond the CA is refused).
fn leaf_lifetime(
    validity_days: Option<u32>,
    ttl: Option<&str>,
    now: OffsetDateTime,
    ca: &CaRecord,
) -> ApiResult<time::Duration> {
    let length = lifetime(validity_days, ttl, LEAF_DAYS)?;
    if validity_days.is_none() && ttl.is_none() {
        return Ok(length.min(ca.not_after - now));
    }
    Ok(length)
}

/// A validity period starting now; refused when it ends after the CA's.
fn validity_within(
    now: OffsetDateTime,
    length: time::Duration,
    ca: &CaRecord,
) -> ApiResult<pki::Validity> {
    let validity = pki::Validity {
        not_before: now,
        not_after: now + length,
    };
    if validity.not_after > ca.not_after {
        return Err(ApiError::new(
            ErrorCode::ValidityExceedsCa,
            format!(
                "the requested validity ends after the CA's own ({})",
                Timestamp::new(ca.not_after)
            ),
        ));
    }
    Ok(validity)
}

// ---------------------------------------------------------------------------------------------
// URLs, sealing, loading

fn public_url(state: &AppState) -> &str {
    state
        .public_url
        .get()
        .map(String::as_str)
        .unwrap_or("http://127.0.0.1:8200")
}

pub fn crl_url(state: &AppState, ca_id: &str) -> String {
    format!("{}/v1/pki/crl/{ca_id}", public_url(state))
}

pub fn ocsp_url(state: &AppState, ca_id: &str) -> String {
    format!("{}/v1/pki/ocsp/{ca_id}", public_url(state))
}

/// The AAD binding a sealed CA key to its tenant and CA.
pub(crate) fn ca_key_aad(tenant_id: &str, ca_id: &str) -> Vec<u8> {
    secret_aad(tenant_id, &format!("pki-ca-key/{ca_id}"), 0)
}

fn seal_ca_key(
    state: &AppState,
    tenant_id: &str,
    ca_id: &str,
    key: &pki::PrivateKey,
) -> ApiResult<SealedBlob> {
    let der = key.to_pkcs8_der();
    let sealed = state.keyring().seal(&ca_key_aad(tenant_id, ca_id), &der)?;
    Ok(SealedBlob {
        key_id: sealed.key_id,
        ciphertext: sealed.ciphertext,
    })
}

/// The CA able to sign: its certificate and its unsealed key.
fn issuer_of(state: &AppState, ca: &CaRecord) -> ApiResult<pki::Issuer> {
    let sealed = SealedValue {
        key_id: ca.sealed_key.key_id.clone(),
        ciphertext: ca.sealed_key.ciphertext.clone(),
    };
    let der = state
        .keyring()
        .open(&sealed, &ca_key_aad(&ca.tenant_id, &ca.id))?;
    let key = pki::PrivateKey::from_pkcs8_der(&der).map_err(ApiError::internal)?;
    pki::Issuer::new(ca.cert_der.clone(), key).map_err(ApiError::internal)
}

async fn load_ca(state: &AppState, tenant_id: &str, id: &str) -> ApiResult<CaRecord> {
    state
        .store
        .get_ca(tenant_id, id)
        .await?
        .ok_or_else(ca_not_found)
}

fn require_active(ca: &CaRecord) -> ApiResult<()> {
    if ca.status != "active" {
        return Err(ApiError::new(
            ErrorCode::CaDisabled,
            format!("CA {} is disabled and issues nothing", ca.id),
        ));
    }
    Ok(())
}

/// PEM of the CA and its parents, the CA first.
async fn chain_of(state: &AppState, ca: &CaRecord) -> ApiResult<Vec<String>> {
    let mut chain = vec![pki::pem_encode("CERTIFICATE", &ca.cert_der)];
    let mut parent = ca.parent_ca_id.clone();
    // A chain is short; the bound only guards against a corrupt loop.
    for _ in 0..16 {
        let Some(id) = parent else { break };
        let Some(p) = state.store.get_ca(&ca.tenant_id, &id).await? else {
            break;
        };
        chain.push(pki::pem_encode("CERTIFICATE", &p.cert_der));
        parent = p.parent_ca_id.clone();
    }
    Ok(chain)
}

/// Runs CPU-heavy key generation and signing off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PkiError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
        .map_err(pki_error)
}

// ---------------------------------------------------------------------------------------------
// DTOs

fn ca_dto(state: &AppState, ca: &CaRecord) -> ApiResult<Ca> {
    let settings = settings_of(ca)?;
    Ok(Ca {
        id: ca.id.clone(),
        name: ca.name.clone(),
        common_name: ca.common_name.clone(),
        parent_ca_id: ca.parent_ca_id.clone(),
        key_type: ca.key_type.clone(),
        serial: ca.serial.clone(),
        not_before: Timestamp::new(ca.not_before),
        not_after: Timestamp::new(ca.not_after),
        status: ca.status.clone(),
        require_separate_approver: ca.separation_of_duties,
        path_len: settings.path_len,
        permitted_dns_domains: settings.permitted_dns_domains,
        excluded_dns_domains: settings.excluded_dns_domains,
        imported: ca.imported,
        crl_url: crl_url(state, &ca.id),
        ocsp_url: ocsp_url(state, &ca.id),
        policy_path: format!("pki/{}", settings.slug),
        certificate: pki::pem_encode("CERTIFICATE", &ca.cert_der),
        created_at: Timestamp::new(ca.created_at),
    })
}

fn cert_status(c: &CertRecord, now: OffsetDateTime) -> &'static str {
    if c.revoked_at.is_some() {
        "revoked"
    } else if c.not_after <= now {
        "expired"
    } else {
        "valid"
    }
}

fn cert_dto(c: &CertRecord, now: OffsetDateTime) -> Certificate {
    Certificate {
        id: c.id.clone(),
        ca_id: c.ca_id.clone(),
        serial: c.serial.clone(),
        common_name: c.common_name.clone(),
        sans: c.sans.clone(),
        key_type: c.key_type.clone(),
        usage: c.usage.clone(),
        not_before: Timestamp::new(c.not_before),
        not_after: Timestamp::new(c.not_after),
        status: cert_status(c, now).to_owned(),
        revoked_at: c.revoked_at.map(Timestamp::new),
        revocation_reason: c.revocation_reason.clone(),
        secret_path: c.secret_path.clone(),
        csr_id: c.csr_id.clone(),
        issued_by: c.issued_by.clone(),
        certificate: pki::pem_encode("CERTIFICATE", &c.cert_der),
        created_at: Timestamp::new(c.created_at),
        renewal: None,
    }
}

fn csr_dto(c: &CsrRecord) -> Csr {
    Csr {
        id: c.id.clone(),
        common_name: c.common_name.clone(),
        sans: c.sans.clone(),
        key_type: c.key_type.clone(),
        status: c.status.clone(),
        submitted_by: c.submitted_by.clone(),
        decided_by: c.decided_by.clone(),
        decided_at: c.decided_at.map(Timestamp::new),
        reason: c.reason.clone(),
        cert_id: c.cert_id.clone(),
        csr: c.csr_pem.clone(),
        created_at: Timestamp::new(c.created_at),
    }
}
