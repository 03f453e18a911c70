//! One audit entry per request that touches a resource, allowed or denied.
//!
//! The [`record`] middleware classifies the request by method and route before anything else
//! runs, opens a per-request draft (a task-local), lets authentication and the handler fill in
//! who acted and on what, and after the handler:
//! - if the handler already committed the entry with its mutation (same transaction, see
//!   [`success_event`] and [`committed`]), does nothing more;
//! - otherwise (reads, listings, denials, validation errors, failed mutations) appends the entry
//!   durably and only then lets the response go. If the entry cannot be written the response is
//!   replaced by a 500: nothing is served unaudited (fail closed).
//!
//! Entries never contain secret values, tokens or request bodies: only ids, paths, versions,
//! outcomes and error codes.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use scaivault_core::Principal;
use scaivault_proto::ErrorCode;
use scaivault_store::{AuditEvent, StoreError};

use crate::error::{ApiError, ApiResult, StorageFailure, current_request_id};
use crate::state::AppState;

tokio::task_local! {
    static DRAFT: Arc<Mutex<Draft>>;
}

/// What is known about the request so far.
#[derive(Debug, Default, Clone)]
struct Draft {
    action: String,
    resource_type: &'static str,
    resource_path: Option<String>,
    version: Option<u64>,
    actor: Option<Actor>,
    target_tenant_id: Option<String>,
    client_ip: Option<String>,
    user_agent: Option<String>,
    /// The entry was committed together with the request's mutation.
    committed: bool,
}

#[derive(Debug, Clone)]
struct Actor {
    id: String,
    kind: &'static str,
    tenant_id: String,
    partner_id: String,
    credential_id: String,
}

fn with_draft(f: impl FnOnce(&mut Draft)) {
    let _ = DRAFT.try_with(|draft| f(&mut draft.lock().unwrap_or_else(|p| p.into_inner())));
}

/// The authenticated caller (called by authentication). The target tenant defaults to the
/// caller's own; cross-tenant routes override it with [`note_target_tenant`].
pub fn note_actor(p: &Principal) {
    with_draft(|d| {
        d.actor = Some(Actor {
            id: p.identity_id.clone(),
            kind: p.identity_type.as_str(),
            tenant_id: p.tenant_id.clone(),
            partner_id: p.partner_id.clone(),
            credential_id: p.credential_id.clone(),
        });
        if d.target_tenant_id.is_none() {
            d.target_tenant_id = Some(p.tenant_id.clone());
        }
    });
}

pub fn note_target_tenant(tenant_id: &str) {
    with_draft(|d| d.target_tenant_id = Some(tenant_id.to_owned()));
}

/// Refines the action the route implies (e.g. a permanent delete is `destroy`).
pub fn note_action(action: &str) {
    with_draft(|d| d.action = action.to_owned());
}

/// The id or path of the resource, when the route does not name it (e.g. a created object).
pub fn note_resource(id: &str) {
    with_draft(|d| d.resource_path = Some(id.to_owned()));
}

pub fn note_version(version: u64) {
    with_draft(|d| d.version = Some(version));
}

/// The entry a mutation commits in its own transaction, as a success. `None` outside an audited
/// request (internal calls).
pub fn success_event(state: &AppState) -> Option<AuditEvent> {
    DRAFT
        .try_with(|draft| {
            let d = draft.lock().unwrap_or_else(|p| p.into_inner());
            build(&d, state, "success", None)
        })
        .ok()
        .flatten()
}

/// Says the mutation committed the entry from [`success_event`].
pub fn committed() {
    with_draft(|d| d.committed = true);
}

/// Who performs a rotation step: the caller of the request that caused it, or the scheduler.
#[derive(Debug, Clone, Copy)]
pub enum StepActor<'a> {
    Caller(&'a Principal),
    Scheduler,
}

/// An audit entry for one step of work that is not the request's own entry: each secret a
/// trigger rotates, and every step the scheduler takes (`rotation.due`, `succeeded`, ...).
#[allow(clippy::too_many_arguments)] // every field of the entry is a separate fact
pub fn step_event(
    state: &AppState,
    actor: StepActor<'_>,
    tenant_id: &str,
    action: &str,
    resource_type: &str,
    path: &str,
    version: Option<u64>,
    outcome: &str,
    error_code: Option<&str>,
) -> ApiResult<AuditEvent> {
    let (actor_id, actor_type, actor_tenant, partner, credential) = match actor {
        StepActor::Caller(p) => (
            p.identity_id.clone(),
            p.identity_type.as_str().to_owned(),
            Some(p.tenant_id.clone()),
            Some(p.partner_id.clone()),
            Some(p.credential_id.clone()),
        ),
        StepActor::Scheduler => (
            "system:rotation".to_owned(),
            "system".to_owned(),
            None,
            None,
            None,
        ),
    };
    let request_id = match actor {
        StepActor::Caller(_) => current_request_id(),
        StepActor::Scheduler => scaivault_crypto::random::random_id("sched_")?,
    };
    Ok(AuditEvent {
        id: scaivault_crypto::random::random_id("aud_")?,
        occurred_at: state.clock.now(),
        request_id,
        actor_id,
        actor_type,
        actor_tenant_id: actor_tenant,
        target_tenant_id: Some(tenant_id.to_owned()),
        partner_id: partner,
        credential_id: credential,
        action: action.to_owned(),
        resource_type: resource_type.to_owned(),
        resource_path: Some(path.to_owned()),
        version,
        outcome: outcome.to_owned(),
        error_code: error_code.map(str::to_owned),
        client_ip: None,
        user_agent: None,
    })
}

fn build(
    d: &Draft,
    state: &AppState,
    outcome: &str,
    error_code: Option<ErrorCode>,
) -> Option<AuditEvent> {
    let id = scaivault_crypto::random::random_id("aud_").ok()?;
    let (actor_id, actor_type, actor_tenant, partner, credential) = match &d.actor {
        Some(a) => (
            a.id.clone(),
            a.kind,
            Some(a.tenant_id.clone()),
            Some(a.partner_id.clone()),
            Some(a.credential_id.clone()),
        ),
        None => ("anonymous".to_owned(), "anonymous", None, None, None),
    };
    Some(AuditEvent {
        id,
        occurred_at: state.clock.now(),
        request_id: current_request_id(),
        actor_id,
        actor_type: actor_type.to_owned(),
        actor_tenant_id: actor_tenant,
        target_tenant_id: d.target_tenant_id.clone(),
        partner_id: partner,
        credential_id: credential,
        action: d.action.clone(),
        resource_type: d.resource_type.to_owned(),
        resource_path: d.resource_path.clone(),
        version: d.version,
        outcome: outcome.to_owned(),
        error_code: error_code.map(|c| c.as_str().to_owned()),
        client_ip: d.client_ip.clone(),
        user_agent: d.user_agent.clone(),
    })
}

/// The percent-decoded segments of `path` below `prefix` (`None` when it is not below it).
fn segments_under(path: &str, prefix: &str) -> Option<Vec<String>> {
    let rest = path
        .strip_prefix(prefix)
        .filter(|r| r.is_empty() || r.starts_with('/'))?;
    Some(
        rest.split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect(),
    )
}

/// (action, resource type, resource path) of an audited route; `None` for routes that touch
/// no resource (health, the OpenAPI document, whoami, unknown routes).
pub fn classify(
    method: &Method,
    path: &str,
) -> Option<(&'static str, &'static str, Option<String>)> {
    let decoded = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    if path == "/v1/secrets" || path == "/v1/secrets/" {
        return (method == Method::GET).then_some(("list", "secret", None));
    }
    if let Some(rest) = path.strip_prefix("/v1/secrets/") {
        let rest = decoded(rest);
        let (action, p) = match *method {
            Method::GET if rest == "expiring" => ("list_expiring", None),
            Method::GET => match rest.strip_prefix("metadata/") {
                Some(p) => ("read_metadata", Some(p.to_owned())),
                None => match rest.strip_suffix("/versions") {
                    Some(p) => ("list_versions", Some(p.to_owned())),
                    None => ("read", Some(rest)),
                },
            },
            Method::PUT => ("write", Some(rest)),
            Method::PATCH => ("update", Some(rest)),
            Method::DELETE => ("delete", Some(rest)),
            Method::POST => match (rest.strip_suffix("/restore"), rest.strip_suffix("/rotate")) {
                (Some(p), _) => ("restore", Some(p.to_owned())),
                (_, Some(p)) => ("rotate", Some(p.to_owned())),
                _ => ("write", Some(rest)),
            },
            _ => return None,
        };
        return Some((action, "secret", p));
    }
    if path == "/v1/auth/tokens" {
        return match *method {
            Method::GET => Some(("list", "token", None)),
            Method::POST => Some(("create", "token", None)),
            _ => None,
        };
    }
    if let Some(id) = path.strip_prefix("/v1/auth/tokens/") {
        return (method == Method::DELETE).then(|| ("revoke", "token", Some(decoded(id))));
    }
    if let Some(rest) = path.strip_prefix("/v1/identity/") {
        let read = *method == Method::GET;
        let (segment, id) = match rest.split_once('/') {
            Some((s, id)) => (s, Some(decoded(id))),
            None => (rest, None),
        };
        return Some(match (segment, read) {
            ("partners", true) => ("list", "partner", None),
            ("partners", false) => ("create", "partner", None),
            ("tenants", true) => (if id.is_some() { "read" } else { "list" }, "tenant", id),
            ("tenants", false) => ("create", "tenant", None),
            ("users", true) => (
                "read",
                "groups",
                id.map(|i| i.trim_end_matches("/groups").to_owned()),
            ),
            ("users", false) => (
                "update",
                "groups",
                id.map(|i| i.trim_end_matches("/groups").to_owned()),
            ),
            ("register", _) => ("register", "tenant", None),
            _ => return None,
        });
    }
    if let Some(parts) = segments_under(path, "/v1/service-accounts") {
        let action = |read: &'static str, list: &'static str, one: bool| match *method {
            Method::GET if one => read,
            Method::GET => list,
            Method::POST => "create",
            Method::DELETE => "delete",
            _ => "update",
        };
        return Some(match parts.as_slice() {
            [] => (action("read", "list", false), "service_account", None),
            [id] => (
                action("read", "list", true),
                "service_account",
                Some(id.clone()),
            ),
            [id, keys] if keys == "keys" => {
                (action("read", "list", false), "api_key", Some(id.clone()))
            }
            [id, keys, key] if keys == "keys" => (
                action("read", "list", true),
                "api_key",
                Some(format!("{id}/{key}")),
            ),
            _ => return None,
        });
    }
    if let Some(parts) = segments_under(path, "/v1/policies") {
        let m = method.clone();
        return Some(match (parts.as_slice(), m) {
            ([], Method::GET) => ("list", "policy", None),
            ([], _) => ("create", "policy", None),
            ([t], Method::POST) if t == "test" => ("test", "policy", None),
            ([id], Method::GET) => ("read", "policy", Some(id.clone())),
            ([id], Method::DELETE) => ("delete", "policy", Some(id.clone())),
            ([id], _) => ("update", "policy", Some(id.clone())),
            ([id, b], Method::GET) if b == "bindings" => {
                ("list_bindings", "policy", Some(id.clone()))
            }
            ([id, b], _) if b == "bindings" => ("bind", "policy", Some(id.clone())),
            ([id, b, who], _) if b == "bindings" => {
                ("unbind", "policy", Some(format!("{id}/{who}")))
            }
            _ => return None,
        });
    }
    if let Some(parts) = segments_under(path, "/v1/subscriptions") {
        let m = method.clone();
        return Some(match (parts.as_slice(), m) {
            ([], Method::GET) => ("list", "subscription", None),
            ([], _) => ("create", "subscription", None),
            ([id], Method::GET) => ("read", "subscription", Some(id.clone())),
            ([id], _) => ("delete", "subscription", Some(id.clone())),
            ([id, what], _) if what == "poll" => ("poll", "subscription", Some(id.clone())),
            ([id, what], _) if what == "rotate-secret" => {
                ("rotate_secret", "subscription", Some(id.clone()))
            }
            ([id, _], _) => ("dead_letters", "subscription", Some(id.clone())),
            _ => return None,
        });
    }
    if let Some(parts) = segments_under(path, "/v1/secret-policies") {
        let m = method.clone();
        return Some(match (parts.as_slice(), m) {
            ([], Method::GET) => ("list", "secret_policy", None),
            ([], _) => ("create", "secret_policy", None),
            ([t], Method::GET) if t == "types" => ("types", "secret_policy", None),
            ([id], Method::GET) => ("read", "secret_policy", Some(id.clone())),
            ([id], Method::DELETE) => ("delete", "secret_policy", Some(id.clone())),
            ([id], _) => ("update", "secret_policy", Some(id.clone())),
            ([id, g], _) if g == "generate" => ("generate", "secret_policy", Some(id.clone())),
            _ => return None,
        });
    }
    if let Some(parts) = segments_under(path, "/v1/rotation") {
        let m = method.clone();
        return Some(match (parts.as_slice(), m) {
            ([d], _) if d == "due" => ("list_due", "rotation_policy", None),
            ([r], _) if r == "runs" => ("list_runs", "rotation_policy", None),
            ([p], Method::GET) if p == "policies" => ("list", "rotation_policy", None),
            ([p], _) if p == "policies" => ("create", "rotation_policy", None),
            ([p, id], Method::GET) if p == "policies" => {
                ("read", "rotation_policy", Some(id.clone()))
            }
            ([p, id], Method::DELETE) if p == "policies" => {
                ("delete", "rotation_policy", Some(id.clone()))
            }
            ([p, id], _) if p == "policies" => ("update", "rotation_policy", Some(id.clone())),
            ([p, id, what], _) if p == "policies" => {
                let action = match what.as_str() {
                    "assign" => "assign",
                    "unassign" => "unassign",
                    "trigger" => "trigger",
                    "history" => "list_runs",
                    _ => "list_secrets",
                };
                (action, "rotation_policy", Some(id.clone()))
            }
            _ => return None,
        });
    }
    if path == "/v1/auth/exchange" {
        return Some(("exchange", "token", None));
    }
    if path == "/v1/audit" || path == "/v1/audit/" {
        return Some(("query", "audit", None));
    }
    if let Some(rest) = path.strip_prefix("/v1/audit/") {
        return Some(match rest.split_once('/') {
            Some(("trail", p)) => ("trail", "audit", Some(decoded(p))),
            _ => match rest {
                "summary" => ("summary", "audit", None),
                "verify" => ("verify", "audit", None),
                _ => ("query", "audit", None),
            },
        });
    }
    None
}

/// The audit middleware (see the module docs).
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some((action, resource_type, resource_path)) =
        classify(request.method(), request.uri().path())
    else {
        return next.run(request).await;
    };
    let draft = Arc::new(Mutex::new(Draft {
        action: action.to_owned(),
        resource_type,
        resource_path,
        client_ip: crate::extract::client_ip(&state, request.extensions(), request.headers())
            .map(|ip| ip.to_string()),
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect()),
        ..Draft::default()
    }));
    let response = DRAFT.scope(draft.clone(), next.run(request)).await;
    let d = draft.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if d.committed {
        // A change committed (with its outbox event): wake long-polls and webhook delivery.
        state.events.committed();
        state.storage_health.succeeded();
        return response;
    }
    let storage_failure = response.extensions().get::<StorageFailure>().copied();
    let status = response.status();
    let (outcome, code) = if status.is_success() || status.is_redirection() {
        ("success", None)
    } else if status.as_u16() == 401 || status.as_u16() == 403 {
        ("denied", response.extensions().get::<ErrorCode>().copied())
    } else {
        ("error", response.extensions().get::<ErrorCode>().copied())
    };
    let Some(event) = build(&d, &state, outcome, code) else {
        return ApiError::internal("could not create an audit entry id").into_response();
    };
    match state.store.append_audit(vec![event]).await {
        Ok(()) => {
            match storage_failure {
                Some(StorageFailure(cause)) => state.storage_health.failed(cause),
                None => state.storage_health.succeeded(),
            }
            response
        }
        // Fail closed: the response (maybe a secret value) is dropped unsent.
        Err(e) if e.is_unavailable() => {
            if let StoreError::Unavailable { cause, .. } = &e {
                state.storage_health.failed(cause);
            }
            ApiError::storage_unavailable(&e).into_response()
        }
        Err(e) => {
            ApiError::internal(format!("audit entry could not be written: {e}")).into_response()
        }
    }
}

/// The HMAC of the audit chains, under a key derived from the token pepper (HKDF), so the key
/// lives (wrapped by the root key) wherever the keyring does.
pub fn chain_mac(hasher: &scaivault_crypto::TokenHasher) -> scaivault_store::ChainMac {
    let key = hasher.derive_key(b"scaivault audit chain v1");
    Arc::new(move |bytes: &[u8]| {
        let tag = aws_lc_rs::hmac::sign(&key, bytes);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_classified() {
        let c = |m: Method, p: &str| classify(&m, p);
        assert_eq!(
            c(Method::GET, "/v1/secrets"),
            Some(("list", "secret", None))
        );
        assert_eq!(
            c(Method::GET, "/v1/secrets/a/b"),
            Some(("read", "secret", Some("a/b".into())))
        );
        assert_eq!(
            c(Method::GET, "/v1/secrets/metadata/a/b"),
            Some(("read_metadata", "secret", Some("a/b".into())))
        );
        assert_eq!(
            c(Method::GET, "/v1/secrets/a/versions"),
            Some(("list_versions", "secret", Some("a".into())))
        );
        assert_eq!(
            c(Method::POST, "/v1/secrets/a/rotate"),
            Some(("rotate", "secret", Some("a".into())))
        );
        assert_eq!(
            c(Method::PUT, "/v1/secrets/caf%C3%A9/x"),
            Some(("write", "secret", Some("café/x".into())))
        );
        assert_eq!(
            c(Method::POST, "/v1/rotation/policies/rot_q/assign"),
            Some(("assign", "rotation_policy", Some("rot_q".into())))
        );
        assert_eq!(
            c(Method::GET, "/v1/rotation/due"),
            Some(("list_due", "rotation_policy", None))
        );
        assert_eq!(
            c(Method::POST, "/v1/secret-policies/sp_x/generate"),
            Some(("generate", "secret_policy", Some("sp_x".into())))
        );
        assert_eq!(
            c(Method::GET, "/v1/secret-policies/types"),
            Some(("types", "secret_policy", None))
        );
        assert_eq!(c(Method::GET, "/v1/secret-policiesx"), None);
        assert_eq!(
            c(Method::DELETE, "/v1/auth/tokens/tok_1"),
            Some(("revoke", "token", Some("tok_1".into())))
        );
        assert_eq!(
            c(Method::GET, "/v1/audit/trail/a/b"),
            Some(("trail", "audit", Some("a/b".into())))
        );
        assert_eq!(c(Method::GET, "/health"), None);
        assert_eq!(c(Method::GET, "/v1/auth/whoami"), None);
    }
}
