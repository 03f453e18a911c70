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
fn ca_key_aad(tenant_id: &str, ca_id: &str) -> Vec<u8> {
    secret_aad(tenant_id, &format!("pki-ca-key/{ca_id}"), 0)
}

fn seal_ca_key(
    state: &AppState,
    tenant_id: &str,
    ca_id: &str,
    key: &pki::PrivateKey,
) -> ApiResult<SealedBlob> {
    let der = key.to_pkcs8_der();
    let sealed = state.keyring.seal(&ca_key_aad(tenant_id, ca_id), &der)?;
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
        .keyring
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

// ---------------------------------------------------------------------------------------------
// Certificate authorities

/// Every CA of the tenant (for slug uniqueness and the separation-of-duties rule).
async fn all_cas(state: &AppState, tenant_id: &str) -> ApiResult<Vec<CaRecord>> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = state
            .store
            .list_cas(tenant_id, after.as_deref(), 200)
            .await?;
        let last = page.items.last().map(|c| c.id.clone());
        out.extend(page.items);
        match (page.has_more, last) {
            (true, Some(last)) => after = Some(last),
            _ => return Ok(out),
        }
    }
}

/// Checks the name and its slug are free in the tenant; returns (name, slug).
async fn new_ca_name(state: &AppState, tenant_id: &str, name: &str) -> ApiResult<(String, String)> {
    let name = crate::extract::check_name("name", name)?.to_owned();
    let slug = slug(&name);
    let taken = all_cas(state, tenant_id)
        .await?
        .into_iter()
        .any(|c| c.name == name || settings_of(&c).is_ok_and(|s| s.slug == slug));
    if taken {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("a CA named {name} (or with the policy name pki/{slug}) exists"),
        ));
    }
    Ok((name, slug))
}

fn check_domains(field: &str, domains: &[String]) -> ApiResult<Vec<String>> {
    let mut out = Vec::with_capacity(domains.len());
    for d in domains {
        let d = d.trim().trim_start_matches('.').to_lowercase();
        let ok = !d.is_empty()
            && d.len() <= 253
            && d.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !ok {
            return Err(ApiError::validation(format!(
                "{field}: {d:?} is not a DNS domain"
            )));
        }
        out.push(d);
    }
    Ok(out)
}

fn insert_failed(e: StoreError, name: &str) -> ApiError {
    match e {
        StoreError::Duplicate => {
            ApiError::new(ErrorCode::Conflict, format!("a CA named {name} exists"))
        }
        e => e.into(),
    }
}

pub async fn create_ca(
    state: &AppState,
    p: &Principal,
    request: ApiResult<CreateCaRequest>,
) -> ApiResult<Ca> {
    require_scope(p, Scope::PkiAdmin)?;
    let request = request?;
    let tenant = p.tenant_id.as_str();
    let (name, slug) = new_ca_name(state, tenant, &request.name).await?;
    authz::authorize(state, p, &format!("pki/{slug}"), Permission::Write).await?;
    let common_name = check_common_name(&request.common_name)?;
    let subject = pki::Subject {
        common_name: common_name.clone(),
        organization: request.organization.clone(),
        organizational_unit: request.organizational_unit.clone(),
        country: request.country.clone(),
        state: request.state.clone(),
        locality: request.locality.clone(),
    };
    for (field, value) in [
        ("organization", &subject.organization),
        ("organizational_unit", &subject.organizational_unit),
        ("country", &subject.country),
        ("state", &subject.state),
        ("locality", &subject.locality),
    ] {
        if let Some(v) = value {
            check_text(field, v)?;
        }
    }
    let key_type = parse_key_type(request.key_type.as_deref())?;
    let permitted = check_domains("permitted_dns_domains", &request.permitted_dns_domains)?;
    let excluded = check_domains("excluded_dns_domains", &request.excluded_dns_domains)?;
    let now = state.clock.now();
    let parent = match &request.parent_ca_id {
        Some(id) => {
            let parent = load_ca(state, tenant, id).await?;
            require_active(&parent)?;
            let parent_slug = settings_of(&parent)?.slug;
            authz::authorize(state, p, &format!("pki/{parent_slug}"), Permission::Issue).await?;
            Some(parent)
        }
        None => None,
    };
    let default_days = if parent.is_some() {
        INTERMEDIATE_DAYS
    } else {
        ROOT_DAYS
    };
    let length = lifetime(request.validity_days, None, default_days)?;
    let validity = match &parent {
        Some(parent) => validity_within(now, length, parent)?,
        None => pki::Validity {
            not_before: now,
            not_after: now + length,
        },
    };
    let id = scaivault_crypto::random::random_id("ca_")?;
    let spec = pki::CaSpec {
        subject,
        validity,
        serial: pki::Serial::random(),
        path_len: request.path_len,
        permitted_dns_domains: permitted.clone(),
        excluded_dns_domains: excluded.clone(),
        crl_url: parent.as_ref().map(|p| crl_url(state, &p.id)),
        ocsp_url: parent.as_ref().map(|p| ocsp_url(state, &p.id)),
    };
    let parent_issuer = match &parent {
        Some(parent) => Some(issuer_of(state, parent)?),
        None => None,
    };
    let (key, cert_der) = blocking(move || {
        let key = pki::PrivateKey::generate(key_type)?;
        let der = match &parent_issuer {
            Some(issuer) => pki::create_intermediate_ca(&spec, &key, issuer)?,
            None => pki::create_root_ca(&spec, &key)?,
        };
        Ok((key, der))
    })
    .await?;
    let info = pki::inspect(&cert_der).map_err(ApiError::internal)?;
    let settings = CaSettings {
        slug,
        path_len: info.path_len,
        permitted_dns_domains: permitted,
        excluded_dns_domains: excluded,
    };
    let record = CaRecord {
        id: id.clone(),
        tenant_id: tenant.to_owned(),
        name: name.clone(),
        parent_ca_id: parent.as_ref().map(|p| p.id.clone()),
        common_name,
        key_type: key_type.to_string(),
        sealed_key: seal_ca_key(state, tenant, &id, &key)?,
        serial: info.serial.to_hex(),
        not_before: info.not_before,
        not_after: info.not_after,
        status: "active".to_owned(),
        separation_of_duties: request.require_separate_approver,
        settings: serde_json::to_string(&settings).map_err(ApiError::internal)?,
        imported: false,
        cert_der,
        created_at: now,
        updated_at: now,
    };
    audit::note_resource(&id);
    state
        .store
        .insert_ca(&record, audit::success_event(state).as_ref())
        .await
        .map_err(|e| insert_failed(e, &name))?;
    audit::committed();
    ca_dto(state, &record)
}

pub async fn import_ca(
    state: &AppState,
    p: &Principal,
    request: ApiResult<ImportCaRequest>,
) -> ApiResult<Ca> {
    require_scope(p, Scope::PkiAdmin)?;
    let request = request?;
    let tenant = p.tenant_id.as_str();
    let (name, slug) = new_ca_name(state, tenant, &request.name).await?;
    authz::authorize(state, p, &format!("pki/{slug}"), Permission::Write).await?;
    let (cert_der, key, info) =
        pki::import_ca(&request.certificate, &request.private_key).map_err(pki_error)?;
    let id = scaivault_crypto::random::random_id("ca_")?;
    let now = state.clock.now();
    // The imported certificate's own constraints are kept in it; ScaiVault checks names
    // against the certificate when it issues (issue_leaf).
    let issuer = pki::Issuer::new(cert_der.clone(), key).map_err(pki_error)?;
    let settings = CaSettings {
        slug,
        path_len: info.path_len,
        permitted_dns_domains: issuer.permitted_dns_domains().to_vec(),
        excluded_dns_domains: issuer.excluded_dns_domains().to_vec(),
    };
    let record = CaRecord {
        id: id.clone(),
        tenant_id: tenant.to_owned(),
        name: name.clone(),
        parent_ca_id: None,
        common_name: info.subject.common_name.clone(),
        key_type: info
            .key_type
            .map(|k| k.to_string())
            .unwrap_or_else(|| "unknown".to_owned()),
        sealed_key: seal_ca_key(state, tenant, &id, issuer.key())?,
        serial: info.serial.to_hex(),
        not_before: info.not_before,
        not_after: info.not_after,
        status: "active".to_owned(),
        separation_of_duties: request.require_separate_approver,
        settings: serde_json::to_string(&settings).map_err(ApiError::internal)?,
        imported: true,
        cert_der,
        created_at: now,
        updated_at: now,
    };
    audit::note_resource(&id);
    state
        .store
        .insert_ca(&record, audit::success_event(state).as_ref())
        .await
        .map_err(|e| insert_failed(e, &name))?;
    audit::committed();
    ca_dto(state, &record)
}

pub async fn list_cas(state: &AppState, p: &Principal, query: Option<&str>) -> ApiResult<CaList> {
    require_scope(p, Scope::PkiRead)?;
    let (limit, after) = crate::extract::page_params(query)?;
    let page = state
        .store
        .list_cas(&p.tenant_id, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |c| &c.id);
    Ok(CaList {
        cas: page
            .items
            .iter()
            .map(|c| ca_dto(state, c))
            .collect::<ApiResult<_>>()?,
        cursor,
        has_more: page.has_more,
    })
}

pub async fn get_ca(state: &AppState, p: &Principal, id: &str) -> ApiResult<Ca> {
    require_scope(p, Scope::PkiRead)?;
    ca_dto(state, &load_ca(state, &p.tenant_id, id).await?)
}

/// A CA certificate as served: its content type and body.
pub struct CaCertificate {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// The CA certificate: `format` `pem` (default) or `der`; `chain=true` adds the parents (PEM).
pub async fn ca_certificate(
    state: &AppState,
    p: &Principal,
    id: &str,
    query: Option<&str>,
) -> ApiResult<CaCertificate> {
    require_scope(p, Scope::PkiRead)?;
    let pairs = query_pairs(query);
    reject_unknown(&pairs, &["format", "chain"])?;
    let mut der = false;
    let mut chain = false;
    for (k, v) in &pairs {
        match (k.as_str(), v.as_str()) {
            ("format", "pem") => der = false,
            ("format", "der") => der = true,
            ("format", _) => return Err(ApiError::validation("format: pem or der")),
            (_, v) => chain = crate::extract::parse_bool("chain", v)?,
        }
    }
    if der && chain {
        return Err(ApiError::validation(
            "chain=true is served as PEM only (DER holds one certificate)",
        ));
    }
    let ca = load_ca(state, &p.tenant_id, id).await?;
    if der {
        return Ok(CaCertificate {
            content_type: "application/pkix-cert",
            body: ca.cert_der,
        });
    }
    let pems = if chain {
        chain_of(state, &ca).await?
    } else {
        vec![pki::pem_encode("CERTIFICATE", &ca.cert_der)]
    };
    Ok(CaCertificate {
        content_type: "application/x-pem-file",
        body: pems.concat().into_bytes(),
    })
}

pub async fn disable_ca(state: &AppState, p: &Principal, id: &str) -> ApiResult<Ca> {
    require_scope(p, Scope::PkiAdmin)?;
    let ca = load_ca(state, &p.tenant_id, id).await?;
    let slug = settings_of(&ca)?.slug;
    authz::authorize(state, p, &format!("pki/{slug}"), Permission::Write).await?;
    let now = state.clock.now();
    let disabled = state
        .store
        .disable_ca(&p.tenant_id, id, now, audit::success_event(state).as_ref())
        .await?;
    if !disabled {
        return Err(ca_not_found());
    }
    audit::committed();
    ca_dto(state, &load_ca(state, &p.tenant_id, id).await?)
}

// ---------------------------------------------------------------------------------------------
// Issuance

/// What to issue, checked.
struct Issuance {
    ca: CaRecord,
    subject: pki::Subject,
    sans: Vec<pki::San>,
    key_type: pki::KeyType,
    usage: pki::Usage,
    validity: pki::Validity,
    secret_path: SecretPath,
}

/// Generates the key, signs, and stores certificate and secret in one transaction with the
/// request's audit entry (retrying on a taken serial).
async fn issue_checked(
    state: &AppState,
    p: &Principal,
    it: Issuance,
) -> ApiResult<IssuedCertificate> {
    let tenant = p.tenant_id.as_str();
    let issuer = std::sync::Arc::new(issuer_of(state, &it.ca)?);
    let key_type = it.key_type;
    let key = blocking(move || pki::PrivateKey::generate(key_type)).await?;
    let public_key = key.public_key_der();
    let chain = chain_of(state, &it.ca).await?;
    let now = state.clock.now();
    let sans: Vec<String> = it.sans.iter().map(ToString::to_string).collect();
    let id = scaivault_crypto::random::random_id("cert_")?;
    audit::note_resource(&id);
    for _ in 0..SERIAL_ATTEMPTS {
        let serial = pki::Serial::random();
        let spec = pki::LeafSpec {
            subject: it.subject.clone(),
            sans: it.sans.clone(),
            usage: it.usage,
            validity: it.validity,
            serial: serial.clone(),
            crl_url: Some(crl_url(state, &it.ca.id)),
            ocsp_url: Some(ocsp_url(state, &it.ca.id)),
        };
        let (signer, spki) = (issuer.clone(), public_key.clone());
        let der = blocking(move || pki::issue_leaf(&spec, &spki, &signer)).await?;
        let certificate = pki::pem_encode("CERTIFICATE", &der);
        let private_key = key.to_pkcs8_pem();
        let record = CertRecord {
            id: id.clone(),
            tenant_id: tenant.to_owned(),
            ca_id: it.ca.id.clone(),
            serial: serial.to_hex(),
            common_name: it.subject.common_name.clone(),
            sans: sans.clone(),
            key_type: Some(key_type.to_string()),
            usage: it.usage.to_string(),
            not_before: it.validity.not_before,
            not_after: it.validity.not_after,
            cert_der: der,
            secret_path: Some(it.secret_path.as_str().to_owned()),
            csr_id: None,
            revoked_at: None,
            revocation_reason: None,
            issued_by: p.identity_id.clone(),
            created_at: now,
        };
        let mut data = serde_json::Map::new();
        data.insert("certificate".into(), certificate.clone().into());
        data.insert("private_key".into(), private_key.as_str().into());
        data.insert("chain".into(), chain.clone().into());
        data.insert("serial".into(), record.serial.clone().into());
        let plaintext = crate::secrets::serialize_data(&data)?;
        // The data map holds a copy of the key: clear it as soon as it is serialized.
        if let Some(serde_json::Value::String(s)) = data.get_mut("private_key") {
            zeroize::Zeroize::zeroize(s);
        }
        let write = SecretWrite {
            path: it.secret_path.as_str().to_owned(),
            patch: SecretPatch {
                secret_type: Some("certificate".to_owned()),
                expires_at: Some(it.validity.not_after),
                ..SecretPatch::default()
            },
            expected_version: None,
            mode: WriteMode::Put,
            now,
            // The request's one entry is the certificate's (below), not the secret write's.
            audit: None,
        };
        let seal = crate::secrets::seal_value(state, tenant, it.secret_path.as_str(), plaintext);
        let outcome = state
            .store
            .insert_certificate(
                &record,
                Some((write, seal)),
                audit::success_event(state).as_ref(),
            )
            .await;
        let outcome = match outcome {
            Err(StoreError::Duplicate) => continue,
            other => other?,
        };
        audit::committed();
        let version = outcome.map(|o| o.version).unwrap_or(1);
        return Ok(IssuedCertificate {
            id,
            serial: record.serial,
            certificate,
            private_key: private_key.to_string(),
            chain,
            ca_id: it.ca.id.clone(),
            common_name: record.common_name,
            sans,
            not_before: Timestamp::new(record.not_before),
            not_after: Timestamp::new(record.not_after),
            secret_path: it.secret_path.as_str().to_owned(),
            secret_version: version,
        });
    }
    Err(ApiError::internal(
        "no free certificate serial after retries",
    ))
}

/// The secret path of an issued certificate: `requested` (which also needs `write` on it), or
/// `pki/<ca slug>/<common name>`.
async fn secret_path(
    state: &AppState,
    p: &Principal,
    slug: &str,
    common_name: &str,
    requested: Option<&str>,
) -> ApiResult<SecretPath> {
    match requested {
        Some(path) => {
            let path = SecretPath::parse(path)?;
            authz::authorize(state, p, path.as_str(), Permission::Write).await?;
            Ok(path)
        }
        None => SecretPath::parse(&name_path(slug, common_name)).map_err(|e| {
            ApiError::validation(format!(
                "the default secret path of this common name is not a valid path ({e}): give `path`"
            ))
        }),
    }
}

pub async fn issue(
    state: &AppState,
    p: &Principal,
    request: ApiResult<IssueCertificateRequest>,
) -> ApiResult<IssuedCertificate> {
    require_scope(p, Scope::PkiIssue)?;
    let request = request?;
    let common_name = check_common_name(&request.common_name)?;
    let sans = parse_sans(&request.sans)?;
    let key_type = parse_key_type(request.key_type.as_deref())?;
    let usage = parse_usage(request.usage.as_deref())?;
    let ca = load_ca(state, &p.tenant_id, &request.ca_id).await?;
    require_active(&ca)?;
    let slug = settings_of(&ca)?.slug;
    authorize_names(state, p, &slug, &common_name, &sans, Permission::Issue).await?;
    let secret_path = secret_path(state, p, &slug, &common_name, request.path.as_deref()).await?;
    let now = state.clock.now();
    let length = leaf_lifetime(request.validity_days, request.ttl.as_deref(), now, &ca)?;
    let validity = validity_within(now, length, &ca)?;
    issue_checked(
        state,
        p,
        Issuance {
            ca,
            subject: pki::Subject::cn(common_name),
            sans,
            key_type,
            usage,
            validity,
            secret_path,
        },
    )
    .await
}

/// A fresh certificate with the same subject, SANs, usage, key type and secret path (a new
/// version of the secret); the lifetime is the original's unless the request says otherwise.
pub async fn renew(
    state: &AppState,
    p: &Principal,
    id: &str,
    request: ApiResult<RenewRequest>,
) -> ApiResult<IssuedCertificate> {
    require_scope(p, Scope::PkiIssue)?;
    let request = request?;
    let old = state
        .store
        .get_certificate(&p.tenant_id, id)
        .await?
        .ok_or_else(certificate_not_found)?;
    let ca = load_ca(state, &p.tenant_id, &old.ca_id).await?;
    require_active(&ca)?;
    let slug = settings_of(&ca)?.slug;
    let Some(path) = &old.secret_path else {
        return Err(ApiError::validation(
            "this certificate was signed from a CSR and its key is not held here: submit a new CSR",
        ));
    };
    let sans = old
        .sans
        .iter()
        .map(|s| pki::San::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    authorize_names(state, p, &slug, &old.common_name, &sans, Permission::Issue).await?;
    let secret_path = SecretPath::parse(path)?;
    authz::authorize(state, p, secret_path.as_str(), Permission::Write).await?;
    let original = old.not_after - old.not_before;
    let length = if request.validity_days.is_none() && request.ttl.is_none() {
        original
    } else {
        lifetime(request.validity_days, request.ttl.as_deref(), LEAF_DAYS)?
    };
    let validity = validity_within(state.clock.now(), length, &ca)?;
    let key_type = parse_key_type(old.key_type.as_deref())?;
    let usage = parse_usage(Some(old.usage.as_str()))?;
    issue_checked(
        state,
        p,
        Issuance {
            ca,
            subject: pki::Subject::cn(old.common_name.clone()),
            sans,
            key_type,
            usage,
            validity,
            secret_path,
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Certificates: list, get, revoke

fn cert_query(query: Option<&str>, now: OffsetDateTime) -> ApiResult<CertQuery> {
    let pairs = query_pairs(query);
    reject_unknown(
        &pairs,
        &["ca_id", "status", "expiring_within", "limit", "cursor"],
    )?;
    let mut q = CertQuery {
        ca_id: None,
        status: None,
        expiring_before: None,
        now,
        after: None,
        limit: 50,
    };
    for (k, v) in &pairs {
        match k.as_str() {
            "ca_id" => q.ca_id = Some(v.clone()),
            "status" => {
                q.status = Some(match v.as_str() {
                    "valid" => CertStatusFilter::Valid,
                    "revoked" => CertStatusFilter::Revoked,
                    "expired" => CertStatusFilter::Expired,
                    _ => return Err(ApiError::validation("status: valid, revoked or expired")),
                })
            }
            "expiring_within" => {
                let d = parse_duration(v).map_err(|e| duration_error("expiring_within", e))?;
                q.expiring_before = Some(now + d);
            }
            "limit" => q.limit = parse_u64("limit", v, 1, 200)? as u32,
            _ => q.after = Some(crate::cursor::decode_path(v)?),
        }
    }
    Ok(q)
}

pub async fn list_certificates(
    state: &AppState,
    p: &Principal,
    query: Option<&str>,
) -> ApiResult<CertificateList> {
    require_scope(p, Scope::PkiRead)?;
    let now = state.clock.now();
    let q = cert_query(query, now)?;
    let page = state.store.list_certificates(&p.tenant_id, &q).await?;
    let cursor = crate::cursor::next_page_cursor(&page, |c| &c.id);
    Ok(CertificateList {
        certificates: page.items.iter().map(|c| cert_dto(c, now)).collect(),
        cursor,
        has_more: page.has_more,
    })
}

pub async fn get_certificate(state: &AppState, p: &Principal, id: &str) -> ApiResult<Certificate> {
    require_scope(p, Scope::PkiRead)?;
    let cert = state
        .store
        .get_certificate(&p.tenant_id, id)
        .await?
        .ok_or_else(certificate_not_found)?;
    Ok(cert_dto(&cert, state.clock.now()))
}

pub async fn revoke(
    state: &AppState,
    p: &Principal,
    id: &str,
    request: ApiResult<RevokeRequest>,
) -> ApiResult<Certificate> {
    require_scope(p, Scope::PkiIssue)?;
    let request = request?;
    let reason = parse_reason(request.reason.as_deref())?;
    let cert = state
        .store
        .get_certificate(&p.tenant_id, id)
        .await?
        .ok_or_else(certificate_not_found)?;
    let ca = load_ca(state, &p.tenant_id, &cert.ca_id).await?;
    let slug = settings_of(&ca)?.slug;
    authz::authorize(
        state,
        p,
        &name_path(&slug, &cert.common_name),
        Permission::Revoke,
    )
    .await?;
    if cert.revoked_at.is_some() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the certificate is already revoked",
        ));
    }
    let now = state.clock.now();
    let revoked = state
        .store
        .revoke_certificate(
            &p.tenant_id,
            id,
            now,
            reason.as_str(),
            audit::success_event(state).as_ref(),
        )
        .await?;
    if !revoked {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the certificate is already revoked",
        ));
    }
    audit::committed();
    // The CRL follows at once; if that fails the revocation stands, OCSP already says so,
    // and the next CRL fetch regenerates it.
    if let Err(e) = refresh_crl(state, &ca).await {
        tracing::warn!(ca = %ca.id, error = %e.message, "regenerating the CRL after a revocation failed");
    }
    let cert = state
        .store
        .get_certificate(&p.tenant_id, id)
        .await?
        .ok_or_else(certificate_not_found)?;
    Ok(cert_dto(&cert, now))
}

// ---------------------------------------------------------------------------------------------
// CRL and OCSP (public)

/// Builds, numbers and stores a fresh CRL for the CA.
async fn refresh_crl(state: &AppState, ca: &CaRecord) -> ApiResult<CrlRecord> {
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

// ---------------------------------------------------------------------------------------------
// CSRs

async fn load_csr(state: &AppState, tenant_id: &str, id: &str) -> ApiResult<CsrRecord> {
    state
        .store
        .get_csr(tenant_id, id)
        .await?
        .ok_or_else(csr_not_found)
}

fn csr_names(csr: &pki::Csr) -> ApiResult<String> {
    let cn = csr.subject.common_name.trim();
    if cn.is_empty() && csr.sans.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidCsr,
            "invalid CSR: it names neither a common name nor a SAN",
        ));
    }
    Ok(cn.to_owned())
}

pub async fn submit_csr(
    state: &AppState,
    p: &Principal,
    request: ApiResult<SubmitCsrRequest>,
) -> ApiResult<Csr> {
    require_scope(p, Scope::PkiIssue)?;
    let request = request?;
    let parsed = pki::parse_csr(&request.csr).map_err(pki_error)?;
    let common_name = csr_names(&parsed)?;
    if parsed.key_type.is_none() {
        return Err(ApiError::new(
            ErrorCode::InvalidCsr,
            "invalid CSR: its key is not one ScaiVault signs for (EC P-256/P-384, RSA 2048-4096, \
             Ed25519)",
        ));
    }
    if let Some(ca_id) = &request.ca_id {
        let ca = load_ca(state, &p.tenant_id, ca_id).await?;
        require_active(&ca)?;
        let slug = settings_of(&ca)?.slug;
        authorize_names(
            state,
            p,
            &slug,
            &common_name,
            &parsed.sans,
            Permission::Issue,
        )
        .await?;
        let issuer = issuer_of(state, &ca)?;
        issuer
            .check_names(&parsed.subject, &parsed.sans)
            .map_err(pki_error)?;
    }
    let now = state.clock.now();
    let record = CsrRecord {
        id: scaivault_crypto::random::random_id("csr_")?,
        tenant_id: p.tenant_id.clone(),
        csr_pem: parsed.pem.clone(),
        common_name,
        sans: parsed.sans.iter().map(ToString::to_string).collect(),
        key_type: parsed.key_type.map(|k| k.to_string()),
        status: "pending".to_owned(),
        submitted_by: p.identity_id.clone(),
        decided_by: None,
        decided_at: None,
        reason: None,
        cert_id: None,
        created_at: now,
    };
    audit::note_resource(&record.id);
    state
        .store
        .insert_csr(&record, audit::success_event(state).as_ref())
        .await?;
    audit::committed();
    Ok(csr_dto(&record))
}

pub async fn list_csrs(state: &AppState, p: &Principal, query: Option<&str>) -> ApiResult<CsrList> {
    require_scope(p, Scope::PkiRead)?;
    let pairs = query_pairs(query);
    reject_unknown(&pairs, &["status", "limit", "cursor"])?;
    let mut status = None;
    let mut limit = 50;
    let mut after = None;
    for (k, v) in &pairs {
        match k.as_str() {
            "status" => {
                if !["pending", "approved", "rejected", "signed"].contains(&v.as_str()) {
                    return Err(ApiError::validation(
                        "status: pending, approved, rejected or signed",
                    ));
                }
                status = Some(v.clone());
            }
            "limit" => limit = parse_u64("limit", v, 1, 200)? as u32,
            _ => after = Some(crate::cursor::decode_path(v)?),
        }
    }
    let page = state
        .store
        .list_csrs(&p.tenant_id, status.as_deref(), after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |c| &c.id);
    Ok(CsrList {
        csrs: page.items.iter().map(csr_dto).collect(),
        cursor,
        has_more: page.has_more,
    })
}

pub async fn get_csr(state: &AppState, p: &Principal, id: &str) -> ApiResult<Csr> {
    require_scope(p, Scope::PkiRead)?;
    Ok(csr_dto(&load_csr(state, &p.tenant_id, id).await?))
}

fn not_pending(csr: &CsrRecord) -> ApiError {
    ApiError::new(
        ErrorCode::CsrNotApproved,
        format!("the CSR is {}, not pending", csr.status),
    )
}

fn self_approval() -> ApiError {
    ApiError::new(
        ErrorCode::SeparationOfDuties,
        "separation of duties: the submitter of a CSR cannot approve it",
    )
}

/// Approves a pending CSR. When any CA of the tenant requires separation of duties, the
/// submitter cannot approve their own CSR (signing checks the signing CA's flag again).
pub async fn approve_csr(state: &AppState, p: &Principal, id: &str) -> ApiResult<Csr> {
    require_scope(p, Scope::PkiAdmin)?;
    let csr = load_csr(state, &p.tenant_id, id).await?;
    if csr.status != "pending" {
        return Err(not_pending(&csr));
    }
    if csr.submitted_by == p.identity_id
        && all_cas(state, &p.tenant_id)
            .await?
            .iter()
            .any(|c| c.separation_of_duties)
    {
        return Err(self_approval());
    }
    decide(state, p, &csr, "approved", None).await
}

pub async fn reject_csr(
    state: &AppState,
    p: &Principal,
    id: &str,
    request: ApiResult<RejectCsrRequest>,
) -> ApiResult<Csr> {
    require_scope(p, Scope::PkiAdmin)?;
    let request = request?;
    if let Some(reason) = &request.reason
        && (reason.chars().count() > 1000 || reason.chars().any(|c| c.is_control() && c != '\n'))
    {
        return Err(ApiError::validation(
            "reason: at most 1000 printable characters",
        ));
    }
    let csr = load_csr(state, &p.tenant_id, id).await?;
    if csr.status != "pending" {
        return Err(not_pending(&csr));
    }
    decide(state, p, &csr, "rejected", request.reason.as_deref()).await
}

async fn decide(
    state: &AppState,
    p: &Principal,
    csr: &CsrRecord,
    to: &str,
    reason: Option<&str>,
) -> ApiResult<Csr> {
    let now = state.clock.now();
    let moved = state
        .store
        .decide_csr(
            &p.tenant_id,
            &csr.id,
            "pending",
            to,
            &p.identity_id,
            now,
            reason,
            audit::success_event(state).as_ref(),
        )
        .await?;
    if !moved {
        return Err(ApiError::new(
            ErrorCode::CsrNotApproved,
            "the CSR was decided meanwhile",
        ));
    }
    audit::committed();
    Ok(csr_dto(&load_csr(state, &p.tenant_id, &csr.id).await?))
}

/// Signs an approved CSR with the CA; the certificate is tracked like an issued one (without a
/// secret: the key stays with the requester).
pub async fn sign_csr(
    state: &AppState,
    p: &Principal,
    id: &str,
    request: ApiResult<SignCsrRequest>,
) -> ApiResult<SignedCertificate> {
    require_scope(p, Scope::PkiAdmin)?;
    let request = request?;
    let usage = parse_usage(request.usage.as_deref())?;
    lifetime(request.validity_days, request.ttl.as_deref(), LEAF_DAYS)?;
    let csr = load_csr(state, &p.tenant_id, id).await?;
    if csr.status != "approved" {
        return Err(ApiError::new(
            ErrorCode::CsrNotApproved,
            format!("the CSR is {}; only an approved CSR is signed", csr.status),
        ));
    }
    let ca = load_ca(state, &p.tenant_id, &request.ca_id).await?;
    require_active(&ca)?;
    if ca.separation_of_duties && csr.decided_by.as_deref() == Some(csr.submitted_by.as_str()) {
        return Err(self_approval());
    }
    let parsed = pki::parse_csr(&csr.csr_pem).map_err(pki_error)?;
    let common_name = csr_names(&parsed)?;
    let slug = settings_of(&ca)?.slug;
    authorize_names(
        state,
        p,
        &slug,
        &common_name,
        &parsed.sans,
        Permission::Issue,
    )
    .await?;
    let now = state.clock.now();
    let length = leaf_lifetime(request.validity_days, request.ttl.as_deref(), now, &ca)?;
    let validity = validity_within(now, length, &ca)?;
    let issuer = std::sync::Arc::new(issuer_of(state, &ca)?);
    issuer
        .check_names(&parsed.subject, &parsed.sans)
        .map_err(pki_error)?;
    let chain = chain_of(state, &ca).await?;
    let cert_id = scaivault_crypto::random::random_id("cert_")?;
    for _ in 0..SERIAL_ATTEMPTS {
        let serial = pki::Serial::random();
        let spec = pki::LeafSpec {
            subject: parsed.subject.clone(),
            sans: parsed.sans.clone(),
            usage,
            validity,
            serial: serial.clone(),
            crl_url: Some(crl_url(state, &ca.id)),
            ocsp_url: Some(ocsp_url(state, &ca.id)),
        };
        let (signer, spki) = (issuer.clone(), parsed.public_key_der.clone());
        let der = blocking(move || pki::issue_leaf(&spec, &spki, &signer)).await?;
        let record = CertRecord {
            id: cert_id.clone(),
            tenant_id: p.tenant_id.clone(),
            ca_id: ca.id.clone(),
            serial: serial.to_hex(),
            common_name: common_name.clone(),
            sans: csr.sans.clone(),
            key_type: csr.key_type.clone(),
            usage: usage.to_string(),
            not_before: validity.not_before,
            not_after: validity.not_after,
            cert_der: der,
            secret_path: None,
            csr_id: Some(csr.id.clone()),
            revoked_at: None,
            revocation_reason: None,
            issued_by: p.identity_id.clone(),
            created_at: now,
        };
        let signed = state
            .store
            .sign_csr(
                &p.tenant_id,
                id,
                &record,
                audit::success_event(state).as_ref(),
            )
            .await;
        let signed = match signed {
            Err(StoreError::Duplicate) => continue,
            other => other?,
        };
        if !signed {
            return Err(ApiError::new(
                ErrorCode::CsrNotApproved,
                "the CSR is no longer approved (signed or decided meanwhile)",
            ));
        }
        audit::committed();
        return Ok(SignedCertificate {
            id: cert_id,
            csr_id: csr.id.clone(),
            serial: record.serial,
            certificate: pki::pem_encode("CERTIFICATE", &record.cert_der),
            chain,
            ca_id: ca.id.clone(),
            not_before: Timestamp::new(validity.not_before),
            not_after: Timestamp::new(validity.not_after),
        });
    }
    Err(ApiError::internal(
        "no free certificate serial after retries",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_name_segments_are_path_safe() {
        assert_eq!(slug("Acme Root CA"), "acme-root-ca");
        assert_eq!(slug("  int/2026 "), "int-2026");
        assert_eq!(slug(".."), "ca");
        assert_eq!(name_segment("*.Example.com"), "wildcard.example.com");
        assert_eq!(name_segment("api.svc"), "api.svc");
        assert_eq!(name_segment("Billing Service"), "billing-service");
        assert!(SecretPath::parse(&name_path("acme-root-ca", "*.example.com")).is_ok());
    }
}
