//! One audit entry per request that touches a resource, allowed or denied.
//!
//! Each audited route declares its operation where it is routed: `get(list.layer(op("list",
//! "policy")))` names the action and resource type, and the route's path parameters name the
//! resource (`/v1/service-accounts/{id}/keys/{key_id}` -> `id/key_id`). The secrets wildcard
//! route declares from its dispatch rule ([`declare`]). Routes that touch no resource declare
//! nothing and are not audited.
//!
//! The [`record`] middleware opens a per-request draft (a task-local) before anything else
//! runs; the declaration fills it in before authentication and body extraction run (so their
//! 401s and 400s are audited too), authentication and the handler add who acted and on what,
//! and after the handler:
//! - if the handler already committed the entry with its mutation (same transaction, see
//!   [`success_event`] and [`committed`]), does nothing more;
//! - otherwise (reads, listings, denials, validation errors, failed mutations) appends the entry
//!   durably and only then lets the response go. If the entry cannot be written the response is
//!   replaced by a 500: nothing is served unaudited (fail closed).
//!
//! Entries never contain secret values, tokens or request bodies: only ids, paths, versions,
//! outcomes and error codes.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use scaivault_core::Principal;
use scaivault_proto::ErrorCode;
use scaivault_store::{AuditEvent, StoreError};
use tracing::Instrument;

use crate::error::{ApiError, ApiResult, StorageFailure, current_request_id};
use crate::state::AppState;

tokio::task_local! {
    static DRAFT: Arc<Mutex<Draft>>;
}

/// What an audited route does: the entry's `action` and `resource_type` (docs/audit.md lists
/// them; they are a contract with the readers of the trail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub action: &'static str,
    pub resource_type: &'static str,
}

impl Operation {
    pub const fn new(action: &'static str, resource_type: &'static str) -> Self {
        Self {
            action,
            resource_type,
        }
    }
}

/// What is known about the request so far.
#[derive(Debug, Default, Clone)]
struct Draft {
    /// `None` until the route declares its operation; a request without one is not audited.
    operation: Option<Operation>,
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

/// Declares the request's operation and the resource it names (before authentication runs).
/// Routes declare through [`op`]; the secrets dispatch calls this itself.
pub fn declare(operation: Operation, resource_path: Option<String>) {
    with_draft(|d| {
        d.operation = Some(operation);
        d.resource_path = resource_path;
    });
}

/// Refines the action the route declared (e.g. a permanent delete is `destroy`).
pub fn note_action(action: &'static str) {
    with_draft(|d| {
        if let Some(operation) = &mut d.operation {
            operation.action = action;
        }
    });
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

/// The entry of a change a request makes beside the one its route declares (a registration's
/// admin token, a tenant first seen in a JWT), committed with that change. `target_tenant_id`
/// names the chain it goes on; the origin (client address, user agent) is the request's.
pub fn change_event(
    state: &AppState,
    actor: &Principal,
    target_tenant_id: &str,
    operation: Operation,
    resource_path: &str,
) -> ApiResult<AuditEvent> {
    let (client_ip, user_agent) = DRAFT
        .try_with(|draft| {
            let d = draft.lock().unwrap_or_else(|p| p.into_inner());
            (d.client_ip.clone(), d.user_agent.clone())
        })
        .unwrap_or_default();
    Ok(AuditEvent {
        id: scaivault_crypto::random::random_id("aud_")?,
        occurred_at: state.clock.now(),
        request_id: current_request_id(),
        actor_id: actor.identity_id.clone(),
        actor_type: actor.identity_type.as_str().to_owned(),
        actor_tenant_id: Some(actor.home_tenant_id.clone()),
        target_tenant_id: Some(target_tenant_id.to_owned()),
        partner_id: Some(actor.partner_id.clone()),
        credential_id: Some(actor.credential_id.clone()),
        action: operation.action.to_owned(),
        resource_type: operation.resource_type.to_owned(),
        resource_path: Some(resource_path.to_owned()),
        version: None,
        outcome: "success".to_owned(),
        error_code: None,
        client_ip,
        user_agent,
    })
}

/// Who performs a rotation step: the caller of the request that caused it, or the scheduler.
#[derive(Debug, Clone, Copy)]
pub enum StepActor<'a> {
    Caller(&'a Principal),
    Scheduler,
    /// The ACME order worker (issuance and renewal of ACME certificates).
    Acme,
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
        StepActor::Acme => (
            "system:acme".to_owned(),
            "system".to_owned(),
            None,
            None,
            None,
        ),
    };
    let request_id = match actor {
        StepActor::Caller(_) => current_request_id(),
        StepActor::Scheduler | StepActor::Acme => scaivault_crypto::random::random_id("sched_")?,
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
    let operation = d.operation?;
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
        action: operation.action.to_owned(),
        resource_type: operation.resource_type.to_owned(),
        resource_path: d.resource_path.clone(),
        version: d.version,
        outcome: outcome.to_owned(),
        error_code: error_code.map(|c| c.as_str().to_owned()),
        client_ip: d.client_ip.clone(),
        user_agent: d.user_agent.clone(),
    })
}

/// The declaration layer of one route's method handler: `get(handler.layer(op("read",
/// "policy")))`. The resource path is the route's path parameters joined with `/`, none when
/// the route has none; services refine it ([`note_resource`], e.g. a created object's id).
pub const fn op(action: &'static str, resource_type: &'static str) -> Declare {
    Declare(Operation::new(action, resource_type))
}

/// See [`op`].
#[derive(Debug, Clone, Copy)]
pub struct Declare(Operation);

impl<S> tower::Layer<S> for Declare {
    type Service = Declared<S>;

    fn layer(&self, inner: S) -> Declared<S> {
        Declared {
            operation: self.0,
            inner,
        }
    }
}

/// A handler with its declared operation (see [`op`]).
#[derive(Debug, Clone)]
pub struct Declared<S> {
    operation: Operation,
    inner: S,
}

impl<S> tower::Service<Request> for Declared<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let operation = self.operation;
        // The service that was polled ready is the one called (tower's clone-and-swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            // A parameter that is not UTF-8 names no resource; the handler refuses it.
            let resource_path = RawPathParams::from_request_parts(&mut parts, &())
                .await
                .ok()
                .map(|params| {
                    params
                        .iter()
                        .map(|(_, value)| value)
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .filter(|path| !path.is_empty());
            declare(operation, resource_path);
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}

/// The audit middleware (see the module docs).
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let draft = Arc::new(Mutex::new(Draft {
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
    if state.metrics.per_tenant
        && d.operation.is_some()
        && let Some(tenant) = &d.target_tenant_id
    {
        let outcome = crate::metrics::status_label(response.status());
        metrics::counter!(
            "scaivault_tenant_requests_total",
            "tenant" => tenant.clone(),
            "status" => outcome,
        )
        .increment(1);
    }
    if d.operation.is_none() {
        // The route touches no resource (health, the OpenAPI document, whoami, unknown routes).
        return response;
    }
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
    let started = std::time::Instant::now();
    let appended = state
        .store
        .append_audit(vec![event])
        .instrument(tracing::debug_span!("audit.append"))
        .await;
    metrics::histogram!("scaivault_audit_append_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    if appended.is_err() {
        metrics::counter!("scaivault_audit_append_failures_total").increment(1);
    }
    match appended {
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
