//! `/v1/auth`: whoami and personal access tokens. Each handler parses the request, calls one
//! function of `engine::tokens` and maps the result.

use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::{StatusCode, Uri};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use scaivault_core::Scope;
use scaivault_proto::ErrorBody;
use scaivault_proto::auth::*;
use scaivault_proto::identity::ExchangeRequest;

use crate::audit::op;
use crate::auth::{Authenticated, require_scope};
use crate::engine::tokens as engine;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/whoami", get(whoami))
        .route(
            "/v1/auth/tokens",
            get(list_tokens.layer(op("list", "token")))
                .post(create_token.layer(op("create", "token"))),
        )
        .route(
            "/v1/auth/tokens/{id}",
            delete(revoke_token.layer(op("revoke", "token"))),
        )
        .route(
            "/v1/auth/exchange",
            post(exchange.layer(op("exchange", "token"))),
        )
}

/// The identity behind the bearer token.
#[utoipa::path(get, path = "/v1/auth/whoami", tag = "auth",
    responses((status = 200, body = WhoAmIResponse), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn whoami(Authenticated(p): Authenticated) -> Json<WhoAmIResponse> {
    Json(WhoAmIResponse {
        identity_id: p.identity_id,
        identity_type: p.identity_type.as_str().to_owned(),
        tenant_id: p.tenant_id,
        partner_id: p.partner_id,
        scopes: p.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
    })
}

/// Creates a personal access token for the caller's identity, with a subset of its scopes.
/// The plaintext token is in this response only. A token minted with an API key (or a token
/// exchanged for one) dies with that key.
#[utoipa::path(post, path = "/v1/auth/tokens", tag = "auth", request_body = CreateTokenRequest,
    responses((status = 201, body = CreateTokenResponse), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("bearer" = ["tokens:write"])))]
pub async fn create_token(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<CreateTokenRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<CreateTokenResponse>)> {
    // The scope before the body: without it, 403 whatever is sent (the engine checks again).
    require_scope(&p, Scope::TokensWrite)?;
    let JsonBody(request) = body?;
    let token = engine::create_token(&state, &p, request).await?;
    Ok((StatusCode::CREATED, Json(token)))
}

/// The caller's own active tokens, without their values.
#[utoipa::path(get, path = "/v1/auth/tokens", tag = "auth",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "1-200, default 50"),
           ("cursor" = Option<String>, Query, description = "from a previous page")),
    responses((status = 200, body = TokenListResponse)),
    security(("bearer" = [])))]
pub async fn list_tokens(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<TokenListResponse>> {
    let (limit, after) = crate::extract::page_params(uri.query())?;
    Ok(Json(engine::list_tokens(&state, &p, limit, after).await?))
}

/// Revokes one of the caller's tokens; effective immediately on this node.
#[utoipa::path(delete, path = "/v1/auth/tokens/{id}", tag = "auth",
    params(("id" = String, Path, description = "tok_...")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = ["tokens:write"])))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    engine::revoke_token(&state, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Exchanges the service-account API key given as the bearer for a short-lived token with the
/// same identity and scopes, so the long-lived key need not travel with every request.
#[utoipa::path(post, path = "/v1/auth/exchange", tag = "auth", request_body = ExchangeRequest,
    responses((status = 201, body = CreateTokenResponse), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn exchange(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: crate::extract::OptionalJsonBody<ExchangeRequest>,
) -> ApiResult<(StatusCode, Json<CreateTokenResponse>)> {
    let token = engine::exchange(&state, &p, body.0).await?;
    Ok((StatusCode::CREATED, Json(token)))
}
