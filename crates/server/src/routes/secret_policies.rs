//! `/v1/secret-policies`: value-generation policies (`sp_...`) per tenant, the generator
//! catalogue, and previews. Each handler extracts the request and calls one function of
//! `engine::secret_policies`, which holds the rules.

use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use scaivault_proto::ErrorBody;
use scaivault_proto::rotation::*;

use crate::audit::op;
use crate::auth::Authenticated;
use crate::engine::secret_policies;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/secret-policies",
            get(list_secret_policies.layer(op("list", "secret_policy")))
                .post(create_secret_policy.layer(op("create", "secret_policy"))),
        )
        .route(
            "/v1/secret-policies/types",
            get(generator_types.layer(op("types", "secret_policy"))),
        )
        .route(
            "/v1/secret-policies/{id}",
            get(get_secret_policy.layer(op("read", "secret_policy")))
                .put(update_secret_policy.layer(op("update", "secret_policy")))
                .delete(delete_secret_policy.layer(op("delete", "secret_policy"))),
        )
        .route(
            "/v1/secret-policies/{id}/generate",
            post(generate_preview.layer(op("generate", "secret_policy"))),
        )
}

/// Creates a secret policy; its id is derived from the name (`sp_strong_password`).
#[utoipa::path(post, path = "/v1/secret-policies", tag = "secret-policies", request_body = SecretPolicyRequest,
    responses((status = 201, body = SecretPolicy), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn create_secret_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<SecretPolicyRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<SecretPolicy>)> {
    let created = secret_policies::create(&state, &p, body.map(|JsonBody(r)| r)).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The tenant's secret policies, by id.
#[utoipa::path(get, path = "/v1/secret-policies", tag = "secret-policies",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = SecretPolicyList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn list_secret_policies(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<SecretPolicyList>> {
    Ok(Json(secret_policies::list(&state, &p, uri.query()).await?))
}

/// The generators (with their settings) and the named character sets.
#[utoipa::path(get, path = "/v1/secret-policies/types", tag = "secret-policies",
    responses((status = 200, body = GeneratorCatalogue), (status = 403, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn generator_types(
    Authenticated(p): Authenticated,
) -> ApiResult<Json<GeneratorCatalogue>> {
    Ok(Json(secret_policies::generator_types(&p)?))
}

#[utoipa::path(get, path = "/v1/secret-policies/{id}", tag = "secret-policies",
    params(("id" = String, Path, description = "sp_...")),
    responses((status = 200, body = SecretPolicy), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn get_secret_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<SecretPolicy>> {
    Ok(Json(secret_policies::get(&state, &p, &id).await?))
}

/// Replaces a secret policy (the id stays); the next generated value uses the new fields.
#[utoipa::path(put, path = "/v1/secret-policies/{id}", tag = "secret-policies", request_body = SecretPolicyRequest,
    params(("id" = String, Path, description = "sp_...")),
    responses((status = 200, body = SecretPolicy), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn update_secret_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<JsonBody<SecretPolicyRequest>, ApiError>,
) -> ApiResult<Json<SecretPolicy>> {
    let request = body.map(|JsonBody(r)| r);
    Ok(Json(
        secret_policies::update(&state, &p, &id, request).await?,
    ))
}

/// Deletes a secret policy. Secrets that name it keep the id: their next automatic rotation
/// fails (recorded, retried) until they get another one.
#[utoipa::path(delete, path = "/v1/secret-policies/{id}", tag = "secret-policies",
    params(("id" = String, Path, description = "sp_...")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn delete_secret_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    secret_policies::delete(&state, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Generates a value with the policy and returns it without storing it anywhere.
#[utoipa::path(post, path = "/v1/secret-policies/{id}/generate", tag = "secret-policies",
    params(("id" = String, Path, description = "sp_...")),
    responses((status = 200, body = GeneratedValue), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn generate_preview(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<GeneratedValue>> {
    Ok(Json(
        secret_policies::generate_preview(&state, &p, &id).await?,
    ))
}
