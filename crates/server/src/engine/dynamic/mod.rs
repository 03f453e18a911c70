//! Dynamic credentials: every operation behind `/v1/dynamic` (docs/dynamic.md).
//!
//! Scopes: `dynamic:read` reads engines, roles and leases (never a credential or an engine's
//! secret); `dynamic:creds` gets credentials on a lease and renews and revokes the caller's own
//! leases (another identity's lease also needs `dynamic:admin`); `dynamic:admin` creates, changes and deletes engines and roles, rotates their root
//! credential and revokes anyone's leases. Path policies narrow them: a lease needs `lease` on
//! `dynamic/<engine>/<role>`, administration `write` on `dynamic/<engine>`. Tenant admins are
//! not restricted by policies (as for secrets and PKI).
//!
//! An engine's secret (root password, secret access key, SSH CA private key) is sealed under the
//! barrier, bound to tenant and engine name, and opened only to talk to the target. Open
//! backends are cached per engine (connection pools are reused) until the engine changes.
//!
//! A lease is recorded (`pending`) before its credential is created, so a crash leaves nothing
//! untracked: the sweeper (`leases.rs`) cleans up what a crashed creation may have left.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use scaivault_core::policy::Permission;
use scaivault_core::{Principal, Scope, parse_duration};
use scaivault_crypto::{SealedValue, secret_aad};
use scaivault_dynamic::{self as dynamic, Backend, DynamicError, EngineKind};
use scaivault_proto::dynamic::*;
use scaivault_proto::{ErrorCode, Timestamp};
use scaivault_store::{AuditEvent, EngineRecord, LeaseRecord, RoleRecord, SealedBlob, StoreError};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::audit;
use crate::auth::require_scope;
use crate::authz;
use crate::error::{ApiError, ApiResult, duration_error};
use crate::state::AppState;

mod engines;
mod leases;
mod roles;

pub use engines::*;
pub use leases::*;
pub use roles::*;

/// Role TTL defaults.
const DEFAULT_TTL_SECS: u64 = 3600;
const MAX_TTL_SECS: u64 = 24 * 3600;
/// The longest any TTL may be (a year).
const TTL_LIMIT_SECS: u64 = 366 * 24 * 3600;
/// How long a pending lease's creation may take before the sweeper cleans it up.
pub const CREATION_GRACE: time::Duration = time::Duration::minutes(2);
/// Revocation retries: 5 s doubling to 10 minutes.
const RETRY_BASE_SECS: i64 = 5;
const RETRY_MAX_SECS: i64 = 600;

// ---------------------------------------------------------------------------------------------
// Errors

pub fn engine_not_found() -> ApiError {
    ApiError::new(ErrorCode::EngineNotFound, "no such dynamic engine")
}

pub fn role_not_found() -> ApiError {
    ApiError::new(ErrorCode::RoleNotFound, "no such role of this engine")
}

pub fn lease_not_found() -> ApiError {
    ApiError::new(ErrorCode::LeaseNotFound, "no such lease")
}

/// The API error of a backend's refusal. Backends scrub secrets from their messages.
pub fn dynamic_error(e: DynamicError) -> ApiError {
    match e {
        e @ (DynamicError::InvalidConfig(_)
        | DynamicError::InvalidRole(_)
        | DynamicError::InvalidRequest(_)) => ApiError::validation(e.to_string()),
        e @ (DynamicError::Unreachable(_) | DynamicError::Refused(_)) => {
            ApiError::new(ErrorCode::EngineUnreachable, e.to_string())
        }
    }
}

/// Engine and role names: `^[a-z0-9][a-z0-9._-]{0,63}$`.
fn check_name(field: &str, name: &str) -> ApiResult<()> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "{field}: 1 to 64 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit"
        )))
    }
}

/// A TTL field in seconds (1 s to a year).
fn parse_ttl(field: &str, value: &str) -> ApiResult<u64> {
    let d = parse_duration(value).map_err(|e| duration_error(field, e))?;
    let secs = d.as_secs();
    if secs == 0 || secs > TTL_LIMIT_SECS {
        return Err(ApiError::validation(format!("{field}: 1s to 366d")));
    }
    Ok(secs)
}

fn kind_of(engine: &EngineRecord) -> ApiResult<EngineKind> {
    EngineKind::parse(&engine.kind)
        .ok_or_else(|| ApiError::internal(format!("engine {} has an unknown type", engine.name)))
}

fn json_of(what: &str, text: &str) -> ApiResult<Value> {
    serde_json::from_str(text).map_err(|_| ApiError::internal(format!("unreadable {what}")))
}

fn to_json(v: &Value) -> ApiResult<String> {
    serde_json::to_string(v).map_err(ApiError::internal)
}

// ---------------------------------------------------------------------------------------------
// Authorization

fn engine_path(engine: &str) -> String {
    format!("dynamic/{engine}")
}

fn role_path(engine: &str, role: &str) -> String {
    format!("dynamic/{engine}/{role}")
}

/// Administration of an engine (its roles, root credential, anyone's leases): `dynamic:admin`
/// and `write` on `dynamic/<engine>`.
async fn authorize_admin(state: &AppState, p: &Principal, engine: &str) -> ApiResult<()> {
    require_scope(p, Scope::DynamicAdmin)?;
    authz::authorize(state, p, &engine_path(engine), Permission::Write).await
}

/// Acting on one lease (renew, revoke; the caller holds `dynamic:creds`): its holder with
/// `lease` on the role's path, or else an administrator of the engine.
async fn authorize_lease(state: &AppState, p: &Principal, lease: &LeaseRecord) -> ApiResult<()> {
    if lease.identity == p.identity_id {
        return authz::authorize(
            state,
            p,
            &role_path(&lease.engine, &lease.role),
            Permission::Lease,
        )
        .await;
    }
    authorize_admin(state, p, &lease.engine).await
}

// ---------------------------------------------------------------------------------------------
// Sealing and the cache of open backends

/// The AAD binding a sealed engine secret to its tenant and engine.
pub(crate) fn secret_aad_of(tenant_id: &str, engine: &str) -> Vec<u8> {
    secret_aad(tenant_id, &format!("dynamic/{engine}"), 0)
}

fn seal_secret(
    state: &AppState,
    tenant_id: &str,
    engine: &str,
    secret: &str,
) -> ApiResult<SealedBlob> {
    let sealed = state
        .keyring()
        .seal(&secret_aad_of(tenant_id, engine), secret.as_bytes())?;
    Ok(SealedBlob {
        key_id: sealed.key_id,
        ciphertext: sealed.ciphertext,
    })
}

fn open_secret(state: &AppState, engine: &EngineRecord) -> ApiResult<Zeroizing<String>> {
    let sealed = SealedValue {
        key_id: engine.sealed_secret.key_id.clone(),
        ciphertext: engine.sealed_secret.ciphertext.clone(),
    };
    let bytes = state
        .keyring()
        .open(&sealed, &secret_aad_of(&engine.tenant_id, &engine.name))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        ApiError::internal(format!("engine {} has an unreadable secret", engine.name))
    })?;
    Ok(Zeroizing::new(text.to_owned()))
}

type BackendKey = (String, String);
/// A backend and the engine's `updated_at` it was opened at.
type OpenBackend = (OffsetDateTime, Arc<dyn Backend>);

/// Open backends per (tenant, engine), each with the engine's `updated_at` it was opened at: a
/// changed engine (update, rotate-root) is opened again, so connection pools are reused across
/// requests but never outlive the credential they were opened with.
#[derive(Default)]
pub struct Backends {
    open: Mutex<HashMap<BackendKey, OpenBackend>>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends").finish_non_exhaustive()
    }
}

impl Backends {
    fn get(&self, engine: &EngineRecord) -> Option<Arc<dyn Backend>> {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&(engine.tenant_id.clone(), engine.name.clone()))
            .filter(|(at, _)| *at == engine.updated_at)
            .map(|(_, b)| b.clone())
    }

    fn put(&self, engine: &EngineRecord, backend: Arc<dyn Backend>) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.insert(
            (engine.tenant_id.clone(), engine.name.clone()),
            (engine.updated_at, backend),
        );
    }

    fn forget(&self, tenant_id: &str, engine: &str) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.remove(&(tenant_id.to_owned(), engine.to_owned()));
    }
}

/// The engine's backend, opened from its stored settings and unsealed secret (cached).
pub async fn backend_for(state: &AppState, engine: &EngineRecord) -> ApiResult<Arc<dyn Backend>> {
    if let Some(b) = state.dynamic.get(engine) {
        return Ok(b);
    }
    let kind = kind_of(engine)?;
    let config = json_of("engine settings", &engine.config)?;
    let secret = open_secret(state, engine)?;
    let backend: Arc<dyn Backend> =
        Arc::from(dynamic::open(kind, &config, &secret).map_err(dynamic_error)?);
    state.dynamic.put(engine, backend.clone());
    Ok(backend)
}

// ---------------------------------------------------------------------------------------------
// Loading

async fn load_engine(state: &AppState, tenant_id: &str, name: &str) -> ApiResult<EngineRecord> {
    state
        .store
        .get_engine(tenant_id, name)
        .await?
        .ok_or_else(engine_not_found)
}

async fn load_role(
    state: &AppState,
    tenant_id: &str,
    engine: &str,
    name: &str,
) -> ApiResult<RoleRecord> {
    state
        .store
        .get_role(tenant_id, engine, name)
        .await?
        .ok_or_else(role_not_found)
}

async fn load_lease(state: &AppState, tenant_id: &str, id: &str) -> ApiResult<LeaseRecord> {
    state
        .store
        .get_lease(tenant_id, id)
        .await?
        .ok_or_else(lease_not_found)
}

// ---------------------------------------------------------------------------------------------
// DTOs

async fn engine_dto(state: &AppState, e: &EngineRecord) -> ApiResult<Engine> {
    let live = state
        .store
        .count_live_leases(&e.tenant_id, Some(&e.name), None)
        .await?;
    Ok(Engine {
        name: e.name.clone(),
        kind: e.kind.clone(),
        config: json_of("engine settings", &e.config)?,
        created_at: Timestamp::new(e.created_at),
        updated_at: Timestamp::new(e.updated_at),
        root_rotated_at: e.root_rotated_at.map(Timestamp::new),
        live_leases: live,
    })
}

fn role_dto(r: &RoleRecord) -> ApiResult<Role> {
    Ok(Role {
        name: r.name.clone(),
        engine: r.engine.clone(),
        default_ttl: r.default_ttl_secs,
        max_ttl: r.max_ttl_secs,
        max_leases: r.max_leases,
        config: json_of("role settings", &r.config)?,
        created_at: Timestamp::new(r.created_at),
        updated_at: Timestamp::new(r.updated_at),
    })
}

/// The user name (or key id) a lease's handle names; never a secret.
fn handle_name(handle: &str) -> Option<String> {
    let v: Value = serde_json::from_str(handle).ok()?;
    ["username", "key_id", "access_key_id"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_owned))
}

fn lease_dto(l: &LeaseRecord) -> Lease {
    Lease {
        id: l.id.clone(),
        engine: l.engine.clone(),
        role: l.role.clone(),
        identity: l.identity.clone(),
        status: l.status.clone(),
        renewable: l.renewable,
        username: handle_name(&l.handle),
        issued_at: Timestamp::new(l.issued_at),
        expires_at: Timestamp::new(l.expires_at),
        max_expires_at: Timestamp::new(l.max_expires_at),
        revoked_at: l.revoked_at.map(Timestamp::new),
        revocation_attempts: l.attempts,
        last_error: l.last_error.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Revocation, shared by the API, engine deletion and the sweeper

/// Who revokes: the caller of a request, or the sweeper.
#[derive(Clone, Copy)]
pub enum Revoker<'a> {
    Caller(&'a Principal),
    Sweeper,
}

/// How one revocation attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Revoked,
    /// The target refused or was down: retried from `retry_at` by the sweeper.
    Failed {
        error: String,
        /// The target itself could not be reached (not one statement refused): the other
        /// leases of the engine would fail alike, so a round skips them.
        target_down: bool,
    },
}

/// The delay before retry `attempts + 1`: 5 s doubling, at most 10 minutes.
pub fn retry_delay(attempts: u32) -> time::Duration {
    let secs = RETRY_BASE_SECS.saturating_mul(1_i64 << attempts.min(16));
    time::Duration::seconds(secs.min(RETRY_MAX_SECS))
}

/// The audit entry of one lease's revocation step (`revoke` on success: `lease.revoked`).
fn revocation_event(
    state: &AppState,
    who: Revoker<'_>,
    lease: &LeaseRecord,
    outcome: &str,
) -> ApiResult<AuditEvent> {
    let mut event = match who {
        Revoker::Caller(p) => audit::change_event(
            state,
            p,
            &lease.tenant_id,
            audit::Operation::new("revoke", "lease"),
            &lease.id,
        )?,
        Revoker::Sweeper => AuditEvent {
            id: scaivault_crypto::random::random_id("aud_")?,
            occurred_at: state.clock.now(),
            request_id: scaivault_crypto::random::random_id("sweep_")?,
            actor_id: "system:leases".to_owned(),
            actor_type: "system".to_owned(),
            actor_tenant_id: None,
            target_tenant_id: Some(lease.tenant_id.clone()),
            partner_id: None,
            credential_id: None,
            action: "revoke".to_owned(),
            resource_type: "lease".to_owned(),
            resource_path: Some(lease.id.clone()),
            version: None,
            outcome: "success".to_owned(),
            error_code: None,
            client_ip: None,
            user_agent: None,
        },
    };
    if outcome != "success" {
        event.outcome = outcome.to_owned();
        event.error_code = Some(ErrorCode::EngineUnreachable.as_str().to_owned());
    }
    Ok(event)
}

/// One attempt at tearing a lease's credential down: on success the lease is `revoked`
/// (audited, `lease.revoked`); on failure `revocation_failed` with back-off (audited as a
/// failure, `lease.revocation_failed`). A lease whose engine is gone is closed with a note.
/// `known_down` is the error of an earlier attempt in the same round at this lease's engine's
/// target: the target is not contacted again (each attempt at a silent host costs seconds), the
/// lease is failed with that error and retried later.
pub async fn attempt_revocation(
    state: &AppState,
    who: Revoker<'_>,
    lease: &LeaseRecord,
    known_down: Option<&str>,
) -> ApiResult<Attempt> {
    let now = state.clock.now();
    let Some(engine) = state
        .store
        .get_engine(&lease.tenant_id, &lease.engine)
        .await?
    else {
        let note = "the engine was deleted; nothing left to revoke through it";
        state
            .store
            .fail_revocation(&lease.id, note, now, now, None)
            .await?;
        let event = revocation_event(state, who, lease, "success")?;
        state
            .store
            .complete_revocation(&lease.id, now, Some(&event))
            .await?;
        state.events.committed();
        return Ok(Attempt::Revoked);
    };
    let role = match state
        .store
        .get_role(&lease.tenant_id, &lease.engine, &lease.role)
        .await?
    {
        Some(r) => json_of("role settings", &r.config)?,
        // A deleted role: revoke with the type's default statements.
        None => Value::Object(Map::new()),
    };
    let handle = json_of("lease handle", &lease.handle)?;
    let result = match (known_down, backend_for(state, &engine).await) {
        (Some(error), _) => Err((error.to_owned(), true)),
        (None, Ok(backend)) => backend.revoke(&role, &handle).await.map_err(|e| {
            let down = matches!(e, DynamicError::Unreachable(_));
            (e.to_string(), down)
        }),
        (None, Err(e)) => Err((e.message, true)),
    };
    match result {
        Ok(()) => {
            let event = revocation_event(state, who, lease, "success")?;
            state
                .store
                .complete_revocation(&lease.id, state.clock.now(), Some(&event))
                .await?;
            state.events.committed();
            Ok(Attempt::Revoked)
        }
        Err((error, target_down)) => {
            let attempt = lease.attempts.saturating_add(1);
            let retry_at = now + retry_delay(lease.attempts);
            let event = revocation_event(state, who, lease, "failure")?;
            state
                .store
                .fail_revocation(&lease.id, &error, retry_at, now, Some(&event))
                .await?;
            failed_event(state, lease, attempt, &error, retry_at).await?;
            metrics::counter!("scaivault_lease_revocation_failures_total").increment(1);
            tracing::warn!(lease = %lease.id, engine = %lease.engine, attempt, error = %error,
                "lease revocation failed; retried later");
            Ok(Attempt::Failed { error, target_down })
        }
    }
}

/// `lease.revocation_failed`, once per (lease, attempt): its id is derived from both.
async fn failed_event(
    state: &AppState,
    lease: &LeaseRecord,
    attempt: u32,
    error: &str,
    retry_at: OffsetDateTime,
) -> ApiResult<()> {
    let key = format!("lease.revocation_failed\n{}\n{attempt}", lease.id);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
    let id = crate::engine::audit::hex(&digest.as_ref()[..12]);
    let event = scaivault_store::NewEvent {
        id: format!("evt_l{id}"),
        tenant_id: lease.tenant_id.clone(),
        event_type: "lease.revocation_failed".to_owned(),
        path: None,
        occurred_at: state.clock.now(),
        data: json!({
            "lease_id": lease.id,
            "engine": lease.engine,
            "role": lease.role,
            "attempt": attempt,
            "error": error,
            "retry_at": Timestamp::new(retry_at),
        })
        .to_string(),
    };
    if state.store.insert_events(&[event]).await? > 0 {
        state.events.committed();
    }
    Ok(())
}

/// Maps a duplicate insert to a 409 naming what exists.
fn duplicate(e: StoreError, what: String) -> ApiError {
    match e {
        StoreError::Duplicate => ApiError::new(ErrorCode::Conflict, format!("{what} exists")),
        e => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_five_seconds_to_ten_minutes() {
        assert_eq!(retry_delay(0), time::Duration::seconds(5));
        assert_eq!(retry_delay(1), time::Duration::seconds(10));
        assert_eq!(retry_delay(6), time::Duration::seconds(320));
        assert_eq!(retry_delay(7), time::Duration::minutes(10));
        assert_eq!(retry_delay(u32::MAX), time::Duration::minutes(10));
    }

    #[test]
    fn names_are_checked() {
        for ok in ["pg", "postgres-prod", "a.b_c-1", &"a".repeat(64)] {
            assert!(check_name("name", ok).is_ok(), "{ok}");
        }
        for bad in ["", "-pg", "PG", "pg/x", "pg prod", &"a".repeat(65)] {
            assert!(check_name("name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_lease_shows_its_user_name_never_more() {
        let handle = r#"{"username":"v_t_r_x","access_key_id":"AKIA1"}"#;
        assert_eq!(handle_name(handle).as_deref(), Some("v_t_r_x"));
        assert_eq!(handle_name("not json"), None);
    }
}
