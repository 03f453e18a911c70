//! ACME: certificates from public and private ACME CAs (docs/acme.md), every operation behind
//! `/v1/pki/acme` and `/v1/pki/dns-providers`, and the worker that drives orders.
//!
//! Scopes and policies are the PKI's: `pki:read` reads accounts, DNS providers and orders
//! (never a key or a credential); `pki:issue` orders certificates; `pki:admin` registers and
//! deactivates accounts and creates and deletes DNS providers. Path policies narrow them over
//! `pki/acme/...` as over an internal CA's `pki/<ca slug>/...`: ordering needs `issue` on
//! `pki/acme/<name>` for every name (and `write` on a chosen secret path), account and DNS
//! provider administration `write` on `pki/acme`.
//!
//! The protocol is `scaivault-acme`'s (instant-acme underneath). What is secret is sealed under
//! the barrier, bound to the tenant and the object's id: an account's key, a DNS provider's
//! credentials, an order's checkpoint (the certificate key). The order worker
//! ([`worker`]) runs on every node; an order is worked on by the node holding its claim in the
//! store, so a restart resumes it and two nodes never duplicate it.

use scaivault_acme::{AcmeAccount, AcmeError, StoredAccount};
use scaivault_core::policy::Permission;
use scaivault_core::{Principal, Scope};
use scaivault_crypto::{SealedValue, secret_aad};
use scaivault_proto::ErrorCode;
use scaivault_proto::Timestamp;
use scaivault_proto::pki::CertificateRenewal;
use scaivault_store::{AcmeAccountRecord, CertRecord, SealedBlob};
use zeroize::Zeroizing;

use crate::auth::require_scope;
use crate::authz;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

mod accounts;
mod dns_providers;
mod orders;
mod responders;
pub mod worker;

pub use accounts::*;
pub use dns_providers::*;
pub use orders::*;
pub use responders::http01_answer;

/// Certificates from ACME CAs are named in policies as `pki/acme/<name>`, the way an internal
/// CA's are `pki/<ca slug>/<name>` (so no internal CA may take the slug `acme`).
pub const POLICY_SLUG: &str = "acme";

/// What the worker shares across the process: a wake-up for new orders and the moved test
/// clock, and how long to wait on the CA.
#[derive(Debug)]
pub struct AcmeRuntime {
    pub wake: tokio::sync::Notify,
    pub poll: scaivault_acme::PollPolicy,
}

impl Default for AcmeRuntime {
    fn default() -> Self {
        AcmeRuntime {
            wake: tokio::sync::Notify::new(),
            poll: scaivault_acme::PollPolicy {
                initial_delay: std::time::Duration::from_millis(500),
                backoff: 1.5,
                timeout: std::time::Duration::from_secs(120),
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

fn account_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such ACME account")
}

fn dns_provider_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such DNS provider")
}

fn order_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such ACME order")
}

/// The API error of an ACME failure during a request (registration, revocation): the caller's
/// mistakes are 400, the CA's refusals and the network 502 with the CA's problem in the
/// message. Messages never carry a key.
pub(crate) fn acme_error(e: AcmeError) -> ApiError {
    match e {
        e @ (AcmeError::EabRequired { .. }
        | AcmeError::DirectoryUrl(_)
        | AcmeError::TermsNotAgreed
        | AcmeError::InvalidRequest(_)
        | AcmeError::CaBundle(_)) => ApiError::validation(e.to_string()),
        AcmeError::Crypto(m) => ApiError::internal(format!("ACME key or certificate: {m}")),
        e => ApiError::new(ErrorCode::AcmeCaError, e.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Authorization

/// `pki/acme/<name segment>` of a DNS name (a wildcard's is `wildcard.<rest>`).
pub fn name_path(name: &str) -> String {
    format!(
        "pki/{POLICY_SLUG}/{}",
        crate::engine::pki::name_segment(name)
    )
}

/// Account and DNS provider administration: `pki:admin` and `write` on `pki/acme`.
async fn authorize_admin(state: &AppState, p: &Principal) -> ApiResult<()> {
    require_scope(p, Scope::PkiAdmin)?;
    authz::authorize(state, p, &format!("pki/{POLICY_SLUG}"), Permission::Write).await
}

// ---------------------------------------------------------------------------------------------
// Sealing: each blob bound to its tenant and object id.

fn aad(tenant_id: &str, object: &str) -> Vec<u8> {
    secret_aad(tenant_id, &format!("pki/acme/{object}"), 0)
}

pub(crate) fn seal(
    state: &AppState,
    tenant_id: &str,
    object: &str,
    plaintext: &[u8],
) -> ApiResult<SealedBlob> {
    let sealed = state.keyring().seal(&aad(tenant_id, object), plaintext)?;
    Ok(SealedBlob {
        key_id: sealed.key_id,
        ciphertext: sealed.ciphertext,
    })
}

pub(crate) fn open(
    state: &AppState,
    tenant_id: &str,
    object: &str,
    blob: &SealedBlob,
) -> ApiResult<Zeroizing<Vec<u8>>> {
    let sealed = SealedValue {
        key_id: blob.key_id.clone(),
        ciphertext: blob.ciphertext.clone(),
    };
    Ok(state.keyring().open(&sealed, &aad(tenant_id, object))?)
}

/// Seals a serializable value (an account, a checkpoint) as JSON.
pub(crate) fn seal_json<T: serde::Serialize>(
    state: &AppState,
    tenant_id: &str,
    object: &str,
    value: &T,
) -> ApiResult<SealedBlob> {
    let json = Zeroizing::new(serde_json::to_vec(value).map_err(ApiError::internal)?);
    seal(state, tenant_id, object, &json)
}

pub(crate) fn open_json<T: serde::de::DeserializeOwned>(
    state: &AppState,
    tenant_id: &str,
    object: &str,
    blob: &SealedBlob,
) -> ApiResult<T> {
    let bytes = open(state, tenant_id, object, blob)?;
    serde_json::from_slice(&bytes)
        .map_err(|_| ApiError::internal(format!("{object} has unreadable sealed data")))
}

/// The live account of a stored record (its key unsealed).
pub(crate) async fn live_account(
    state: &AppState,
    record: &AcmeAccountRecord,
) -> ApiResult<AcmeAccount> {
    let stored: StoredAccount = open_json(
        state,
        &record.tenant_id,
        &record.id,
        &record.sealed_credentials,
    )?;
    AcmeAccount::load(&stored).await.map_err(acme_error)
}

// ---------------------------------------------------------------------------------------------
// ACME certificates in the PKI's listing

/// Whether a tracked certificate came from an ACME CA (its `ca_id` is the account).
pub fn is_acme_certificate(cert: &CertRecord) -> bool {
    cert.ca_id.starts_with("acme_")
}

/// The renewal of an ACME certificate, for `pki certs list` and `get`; `None` for others.
pub async fn renewal_of(
    state: &AppState,
    cert: &CertRecord,
) -> ApiResult<Option<CertificateRenewal>> {
    if !is_acme_certificate(cert) {
        return Ok(None);
    }
    let Some(order) = state
        .store
        .renewal_order_of(&cert.tenant_id, &cert.id)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(CertificateRenewal {
        order_id: order.id,
        status: order.status,
        next_attempt_at: Timestamp::new(order.next_attempt_at),
        attempts: order.attempts,
        certificate_id: order.certificate_id,
        problem: order
            .problem
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok()),
    }))
}

/// Revokes an ACME certificate at its CA, with the account that ordered it.
pub async fn revoke_at_ca(state: &AppState, cert: &CertRecord, reason: &str) -> ApiResult<()> {
    let record = state
        .store
        .get_acme_account(&cert.tenant_id, &cert.ca_id)
        .await?
        .ok_or_else(account_not_found)?;
    let account = live_account(state, &record).await?;
    let code = reason
        .parse::<scaivault_pki::RevocationReason>()
        .map(|r| r.code())
        .unwrap_or(0);
    account
        .revoke(&cert.cert_der, code)
        .await
        .map_err(acme_error)
}

/// One JSON problem document (RFC 7807) of ScaiVault's own, for failures that are not the
/// CA's (a DNS provider that failed, a propagation timeout, a deactivated account).
pub(crate) fn own_problem(kind: &str, detail: &str) -> scaivault_acme::ProblemDocument {
    scaivault_acme::ProblemDocument {
        kind: Some(format!("urn:scaivault:acme:{kind}")),
        detail: Some(detail.to_owned()),
        status: None,
        subproblems: Vec::new(),
    }
}
