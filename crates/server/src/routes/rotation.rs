//! `/v1/rotation`: rotation policies (`rot_...`), their assignment to secrets, triggering,
//! the history of runs and the schedule of what rotates when (docs/rotation.md). Each handler
//! extracts the request and calls one function of `engine::rotation`, which holds the rules;
//! the rotations themselves are in `crate::rotation`.

use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use scaivault_proto::ErrorBody;
use scaivault_proto::rotation::*;

use crate::audit::op;
use crate::auth::Authenticated;
use crate::engine::rotation;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, OptionalJsonBody};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/rotation/policies",
            get(list_rotation_policies.layer(op("list", "rotation_policy")))
                .post(create_rotation_policy.layer(op("create", "rotation_policy"))),
        )
        .route(
            "/v1/rotation/policies/{id}",
            get(get_rotation_policy.layer(op("read", "rotation_policy")))
                .put(update_rotation_policy.layer(op("update", "rotation_policy")))
                .delete(delete_rotation_policy.layer(op("delete", "rotation_policy"))),
        )
        .route(
            "/v1/rotation/policies/{id}/assign",
            post(assign.layer(op("assign", "rotation_policy"))),
        )
        .route(
            "/v1/rotation/policies/{id}/unassign",
            post(unassign.layer(op("unassign", "rotation_policy"))),
        )
        .route(
            "/v1/rotation/policies/{id}/trigger",
            post(trigger.layer(op("trigger", "rotation_policy"))),
        )
        .route(
            "/v1/rotation/policies/{id}/history",
            get(history.layer(op("list_runs", "rotation_policy"))),
        )
        .route(
            "/v1/rotation/policies/{id}/secrets",
            get(policy_secrets.layer(op("list_secrets", "rotation_policy"))),
        )
        .route(
            "/v1/rotation/due",
            get(due.layer(op("list_due", "rotation_policy"))),
        )
        .route(
            "/v1/rotation/runs",
            get(runs.layer(op("list_runs", "rotation_policy"))),
        )
}

/// Creates a rotation policy; its id is derived from the name (`quarterly` -> `rot_quarterly`).
#[utoipa::path(post, path = "/v1/rotation/policies", tag = "rotation", request_body = RotationPolicyRequest,
    responses((status = 201, body = RotationPolicy), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn create_rotation_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<RotationPolicyRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<RotationPolicy>)> {
    let created = rotation::create(&state, &p, body.map(|JsonBody(r)| r)).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/v1/rotation/policies", tag = "rotation",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = RotationPolicyList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn list_rotation_policies(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<RotationPolicyList>> {
    Ok(Json(rotation::list(&state, &p, uri.query()).await?))
}

#[utoipa::path(get, path = "/v1/rotation/policies/{id}", tag = "rotation",
    params(("id" = String, Path, description = "rot_...")),
    responses((status = 200, body = RotationPolicy), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn get_rotation_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<RotationPolicy>> {
    Ok(Json(rotation::get(&state, &p, &id).await?))
}

/// Replaces a rotation policy's settings. Secrets keep their scheduled time; the new interval
/// applies from their next rotation (trigger to rotate now).
#[utoipa::path(put, path = "/v1/rotation/policies/{id}", tag = "rotation", request_body = RotationPolicyRequest,
    params(("id" = String, Path, description = "rot_...")),
    responses((status = 200, body = RotationPolicy), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn update_rotation_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<JsonBody<RotationPolicyRequest>, ApiError>,
) -> ApiResult<Json<RotationPolicy>> {
    let request = body.map(|JsonBody(r)| r);
    Ok(Json(rotation::update(&state, &p, &id, request).await?))
}

/// Deletes a rotation policy: its secrets stop rotating (they keep their values).
#[utoipa::path(delete, path = "/v1/rotation/policies/{id}", tag = "rotation",
    params(("id" = String, Path, description = "rot_...")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn delete_rotation_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    rotation::delete(&state, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Attaches the policy to existing secrets (paths or globs) and starts their schedules.
/// Secrets written later get it with `options.rotation_policy_id`.
#[utoipa::path(post, path = "/v1/rotation/policies/{id}/assign", tag = "rotation", request_body = AssignRequest,
    params(("id" = String, Path, description = "rot_...")),
    responses((status = 200, body = AssignResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:write", "secrets:write"])))]
pub async fn assign(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<JsonBody<AssignRequest>, ApiError>,
) -> ApiResult<Json<AssignResponse>> {
    let request = body.map(|JsonBody(r)| r);
    Ok(Json(rotation::assign(&state, &p, &id, request).await?))
}

/// Detaches the policy from the matching secrets; they stop rotating.
#[utoipa::path(post, path = "/v1/rotation/policies/{id}/unassign", tag = "rotation", request_body = AssignRequest,
    params(("id" = String, Path, description = "rot_...")),
    responses((status = 200, body = AssignResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:write", "secrets:write"])))]
pub async fn unassign(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<JsonBody<AssignRequest>, ApiError>,
) -> ApiResult<Json<AssignResponse>> {
    let request = body.map(|JsonBody(r)| r);
    Ok(Json(rotation::unassign(&state, &p, &id, request).await?))
}

/// Rotates the policy's secrets now (all, or those matching `paths`). Secrets without a
/// generator get `rotation.due` and wait for a value, as on schedule.
#[utoipa::path(post, path = "/v1/rotation/policies/{id}/trigger", tag = "rotation", request_body = Option<TriggerRequest>,
    params(("id" = String, Path, description = "rot_...")),
    responses((status = 200, body = TriggerResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:write", "secrets:write"])))]
pub async fn trigger(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<OptionalJsonBody<TriggerRequest>, ApiError>,
) -> ApiResult<Json<TriggerResponse>> {
    let request = body.map(|OptionalJsonBody(r)| r);
    Ok(Json(rotation::trigger(&state, &p, &id, request).await?))
}

/// The policy's runs, newest first.
#[utoipa::path(get, path = "/v1/rotation/policies/{id}/history", tag = "rotation",
    params(("id" = String, Path, description = "rot_..."),
           ("status" = Option<String>, Query, description = "running, awaiting_value, succeeded or failed"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = RotationRunList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn history(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Json<RotationRunList>> {
    Ok(Json(rotation::history(&state, &p, &id, uri.query()).await?))
}

/// Runs of the tenant, newest first, by secret path, policy or status.
#[utoipa::path(get, path = "/v1/rotation/runs", tag = "rotation",
    params(("path" = Option<String>, Query), ("policy_id" = Option<String>, Query),
           ("status" = Option<String>, Query, description = "running, awaiting_value, succeeded or failed"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = RotationRunList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn runs(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<RotationRunList>> {
    Ok(Json(rotation::runs(&state, &p, uri.query()).await?))
}

/// The policy's secrets and when each rotates next, soonest first.
#[utoipa::path(get, path = "/v1/rotation/policies/{id}/secrets", tag = "rotation",
    params(("id" = String, Path, description = "rot_..."),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = ScheduledRotationList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn policy_secrets(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Json<ScheduledRotationList>> {
    Ok(Json(
        rotation::policy_secrets(&state, &p, &id, uri.query()).await?,
    ))
}

/// What rotates within the next `within_hours` hours (default 24; overdue and waiting ones
/// included), soonest first.
#[utoipa::path(get, path = "/v1/rotation/due", tag = "rotation",
    params(("within_hours" = Option<u64>, Query, minimum = 0, maximum = 876000),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = ScheduledRotationList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn due(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<ScheduledRotationList>> {
    Ok(Json(rotation::due(&state, &p, uri.query()).await?))
}
