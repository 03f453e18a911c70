//! `/v1/policies`: path policies per tenant, their bindings, and explain (`POST /v1/policies/test`).
//! Each handler extracts the request and calls one function of `engine::policies`, which holds
//! the rules (who may, validation, the store call and its audit entry).

use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::{StatusCode, Uri};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use scaivault_proto::ErrorBody;
use scaivault_proto::policies::*;

use crate::audit::op;
use crate::auth::Authenticated;
use crate::engine::policies;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/policies",
            get(list_policies.layer(op("list", "policy")))
                .post(create_policy.layer(op("create", "policy"))),
        )
        .route(
            "/v1/policies/test",
            post(test_policy.layer(op("test", "policy"))),
        )
        .route(
            "/v1/policies/{id}",
            get(get_policy.layer(op("read", "policy")))
                .put(update_policy.layer(op("update", "policy")))
                .delete(delete_policy.layer(op("delete", "policy"))),
        )
        .route(
            "/v1/policies/{id}/bindings",
            get(list_bindings.layer(op("list_bindings", "policy")))
                .post(bind.layer(op("bind", "policy"))),
        )
        .route(
            "/v1/policies/{id}/bindings/{identity_id}",
            delete(unbind.layer(op("unbind", "policy"))),
        )
}

/// Creates a policy from `rules`, or from `path` + `permissions` (+ `effect`).
#[utoipa::path(post, path = "/v1/policies", tag = "policies", request_body = PolicyRequest,
    responses((status = 201, body = Policy), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn create_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<PolicyRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<Policy>)> {
    let policy = policies::create(&state, &p, body.map(|JsonBody(r)| r)).await?;
    Ok((StatusCode::CREATED, Json(policy)))
}

/// The tenant's policies.
#[utoipa::path(get, path = "/v1/policies", tag = "policies",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = PolicyList), (status = 403, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn list_policies(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<PolicyList>> {
    Ok(Json(policies::list(&state, &p, uri.query()).await?))
}

#[utoipa::path(get, path = "/v1/policies/{id}", tag = "policies",
    params(("id" = String, Path, description = "pol_...")),
    responses((status = 200, body = Policy), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn get_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Policy>> {
    Ok(Json(policies::get(&state, &p, &id).await?))
}

/// Replaces a policy's name, description and rules; takes effect on the next request.
#[utoipa::path(put, path = "/v1/policies/{id}", tag = "policies", request_body = PolicyRequest,
    params(("id" = String, Path, description = "pol_...")),
    responses((status = 200, body = Policy), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn update_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<JsonBody<PolicyRequest>, ApiError>,
) -> ApiResult<Json<Policy>> {
    let request = body.map(|JsonBody(r)| r);
    Ok(Json(policies::update(&state, &p, &id, request).await?))
}

/// Deletes a policy and its bindings.
#[utoipa::path(delete, path = "/v1/policies/{id}", tag = "policies",
    params(("id" = String, Path, description = "pol_...")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn delete_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    policies::delete(&state, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Binds the policy to a user, group or service account.
#[utoipa::path(post, path = "/v1/policies/{id}/bindings", tag = "policies", request_body = BindRequest,
    params(("id" = String, Path, description = "pol_...")),
    responses((status = 201, body = Binding), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn bind(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<JsonBody<BindRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<Binding>)> {
    let binding = policies::bind(&state, &p, &id, body.map(|JsonBody(r)| r)).await?;
    Ok((StatusCode::CREATED, Json(binding)))
}

#[utoipa::path(get, path = "/v1/policies/{id}/bindings", tag = "policies",
    params(("id" = String, Path, description = "pol_...")),
    responses((status = 200, body = BindingList), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn list_bindings(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<BindingList>> {
    Ok(Json(policies::list_bindings(&state, &p, &id).await?))
}

#[utoipa::path(delete, path = "/v1/policies/{id}/bindings/{identity_id}", tag = "policies",
    params(("id" = String, Path, description = "pol_..."),
           ("identity_id" = String, Path, description = "e.g. group:developers")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn unbind(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path((id, identity)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    policies::unbind(&state, &p, &id, &identity).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Explains a decision: allowed or not, and which policy and rule decided.
#[utoipa::path(post, path = "/v1/policies/test", tag = "policies", request_body = PolicyTestRequest,
    responses((status = 200, body = PolicyTestResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn test_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    JsonBody(request): JsonBody<PolicyTestRequest>,
) -> ApiResult<Json<PolicyTestResponse>> {
    Ok(Json(policies::explain(&state, &p, request).await?))
}
