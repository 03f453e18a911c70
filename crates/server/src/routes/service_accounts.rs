//! `/v1/service-accounts`: machine identities of a tenant and their API keys.
//!
//! A service account (`sva_...`) acts as the identity `service_account:sva_...` with the scopes
//! of its roles. Its API keys (`key_...` ids, `svk_...` plaintext shown once) are used directly
//! as bearer tokens or exchanged for a short-lived token (`POST /v1/auth/exchange`). Keys are
//! stored as HMACs like every other token. Managing accounts and keys needs a tenant admin with
//! `service-accounts:read` / `service-accounts:write`, and an account or key is never given
//! scopes the calling token does not have.
//!
//! Each handler parses the request, calls one function of `engine::service_accounts` and maps
//! the result.

use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::{StatusCode, Uri};
use axum::routing::{delete, get};
use axum::{Json, Router};
use scaivault_core::Scope;
use scaivault_proto::ErrorBody;
use scaivault_proto::identity::*;

use crate::audit::op;
use crate::auth::{Authenticated, require_scope};
use crate::engine::service_accounts as engine;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/service-accounts",
            get(list_accounts.layer(op("list", "service_account")))
                .post(create_account.layer(op("create", "service_account"))),
        )
        .route(
            "/v1/service-accounts/{id}",
            get(get_account.layer(op("read", "service_account")))
                .delete(delete_account.layer(op("delete", "service_account"))),
        )
        .route(
            "/v1/service-accounts/{id}/keys",
            get(list_keys.layer(op("list", "api_key")))
                .post(create_key.layer(op("create", "api_key"))),
        )
        .route(
            "/v1/service-accounts/{id}/keys/{key_id}",
            delete(delete_key.layer(op("delete", "api_key"))),
        )
}

/// Creates a service account with roles.
#[utoipa::path(post, path = "/v1/service-accounts", tag = "service-accounts",
    request_body = CreateServiceAccountRequest,
    responses((status = 201, body = ServiceAccount), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = ["service-accounts:write"])))]
pub async fn create_account(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<CreateServiceAccountRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<ServiceAccount>)> {
    // The scope before the body: without it, 403 whatever is sent (the engine checks again).
    require_scope(&p, Scope::ServiceAccountsWrite)?;
    let JsonBody(request) = body?;
    let account = engine::create_account(&state, &p, request).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// The tenant's service accounts.
#[utoipa::path(get, path = "/v1/service-accounts", tag = "service-accounts",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = ServiceAccountList), (status = 403, body = ErrorBody)),
    security(("bearer" = ["service-accounts:read"])))]
pub async fn list_accounts(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<ServiceAccountList>> {
    let (limit, after) = crate::extract::page_params(uri.query())?;
    Ok(Json(engine::list_accounts(&state, &p, limit, after).await?))
}

#[utoipa::path(get, path = "/v1/service-accounts/{id}", tag = "service-accounts",
    params(("id" = String, Path, description = "sva_...")),
    responses((status = 200, body = ServiceAccount), (status = 404, body = ErrorBody)),
    security(("bearer" = ["service-accounts:read"])))]
pub async fn get_account(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<ServiceAccount>> {
    Ok(Json(engine::get_account(&state, &p, &id).await?))
}

/// Deletes the account; its keys stop working at once.
#[utoipa::path(delete, path = "/v1/service-accounts/{id}", tag = "service-accounts",
    params(("id" = String, Path, description = "sva_...")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = ["service-accounts:write"])))]
pub async fn delete_account(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    engine::delete_account(&state, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates an API key for the account; the plaintext is in this response only.
#[utoipa::path(post, path = "/v1/service-accounts/{id}/keys", tag = "service-accounts",
    params(("id" = String, Path, description = "sva_...")),
    request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreateApiKeyResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = ["service-accounts:write"])))]
pub async fn create_key(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<JsonBody<CreateApiKeyRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<CreateApiKeyResponse>)> {
    require_scope(&p, Scope::ServiceAccountsWrite)?;
    let JsonBody(request) = body?;
    let key = engine::create_key(&state, &p, &id, request).await?;
    Ok((StatusCode::CREATED, Json(key)))
}

/// The account's active keys, without their values.
#[utoipa::path(get, path = "/v1/service-accounts/{id}/keys", tag = "service-accounts",
    params(("id" = String, Path, description = "sva_..."),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = ApiKeyList), (status = 404, body = ErrorBody)),
    security(("bearer" = ["service-accounts:read"])))]
pub async fn list_keys(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Json<ApiKeyList>> {
    let (limit, after) = crate::extract::page_params(uri.query())?;
    Ok(Json(
        engine::list_keys(&state, &p, &id, limit, after).await?,
    ))
}

/// Deletes (revokes) one key; it is refused from the next request on.
#[utoipa::path(delete, path = "/v1/service-accounts/{id}/keys/{key_id}", tag = "service-accounts",
    params(("id" = String, Path, description = "sva_..."), ("key_id" = String, Path, description = "key_...")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = ["service-accounts:write"])))]
pub async fn delete_key(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path((id, key_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    engine::delete_key(&state, &p, &id, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
