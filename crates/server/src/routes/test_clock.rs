//! `/v1/sys/test-clock`: the dev test clock (`scaivault server --dev --dev-test-clock`). Moving
//! it also runs the background work that became due (the rotation scheduler's round, the lease
//! sweeper's round, the expiry notices, the audit and outbox maintenance), so a test can walk
//! through a year of schedules in milliseconds. Mounted only with that flag, never in production, and left out of the OpenAPI
//! document (docs/rotation.md).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use scaivault_core::Clock;
use scaivault_proto::Timestamp;
use serde::{Deserialize, Serialize};

use crate::auth::{Authenticated, require_admin};
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router(enabled: bool) -> Router<AppState> {
    if !enabled {
        return Router::new();
    }
    Router::new().route("/v1/sys/test-clock", get(now).post(advance))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceRequest {
    /// How far to move the clock, e.g. `1h` or `90d`.
    pub advance: String,
}

#[derive(Debug, Serialize)]
pub struct ClockState {
    pub now: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<crate::rotation::Round>,
    /// Audit entries archived and pruned by this move (past `audit_retention`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_archived: Option<u64>,
    /// Outbox events pruned by this move (no subscriber, or past the replay window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_pruned: Option<u64>,
    /// `secret.expiring` / `secret.expired` notices emitted by this move.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_notices: Option<u64>,
    /// Leases the sweeper revoked in this move (expired, or retried after a failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leases_revoked: Option<u64>,
}

fn clock(state: &AppState) -> ApiResult<&scaivault_core::ManualClock> {
    state
        .test_clock
        .as_deref()
        .ok_or_else(|| ApiError::internal("the test clock is not enabled"))
}

async fn now(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
) -> ApiResult<Json<ClockState>> {
    require_admin(&p, "reading the test clock")?;
    Ok(Json(ClockState {
        now: Timestamp::new(clock(&state)?.now()),
        rotation: None,
        audit_archived: None,
        events_pruned: None,
        expiry_notices: None,
        leases_revoked: None,
    }))
}

async fn advance(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    JsonBody(request): JsonBody<AdvanceRequest>,
) -> ApiResult<Json<ClockState>> {
    require_admin(&p, "moving the test clock")?;
    let by = scaivault_core::parse_duration(&request.advance)
        .map_err(|e| ApiError::validation(format!("advance: {e}")))?;
    let by = time::Duration::try_from(by).map_err(|_| ApiError::validation("advance: too long"))?;
    let clock = clock(&state)?;
    clock.advance(by);
    let rotation = crate::rotation::run_round(&state, true).await?;
    let sweep = crate::leases::run_round(&state).await?;
    let expiry_notices =
        crate::events::emit_expiry_notices(&state, state.limits.expiry_warning).await?;
    // The audit maintenance round: checkpoint, then archive what fell out of the window.
    state.store.checkpoint_audit(clock.now()).await?;
    let archived = crate::retention::run_round(&state).await?;
    let events_pruned = crate::retention::prune_outbox(&state).await?;
    // ACME renewals that came due run on the order worker (real network time, not here).
    state.acme.wake.notify_one();
    Ok(Json(ClockState {
        now: Timestamp::new(clock.now()),
        rotation: Some(rotation),
        audit_archived: Some(archived.entries()),
        events_pruned: Some(events_pruned),
        expiry_notices: Some(expiry_notices),
        leases_revoked: Some(sweep.revoked),
    }))
}
