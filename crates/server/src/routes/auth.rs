//! `/v1/auth`: whoami and personal access tokens.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use scaivault_core::{Scope, parse_duration};
use scaivault_proto::auth::*;
use scaivault_proto::identity::ExchangeRequest;
use scaivault_proto::{ErrorBody, Timestamp};
use scaivault_store::{Entity, StoreError, TokenRecord};

use crate::auth::{Authenticated, require_grantable, require_scope};
use crate::error::{ApiError, ApiResult, duration_error};
use crate::extract::JsonBody;
use crate::state::AppState;

const DEFAULT_TOKEN_TTL: &str = "30d";
const MAX_TOKEN_TTL_DAYS: i64 = 365;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/whoami", get(whoami))
        .route("/v1/auth/tokens", get(list_tokens).post(create_token))
        .route("/v1/auth/tokens/{id}", delete(revoke_token))
        .route("/v1/auth/exchange", post(exchange))
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
    require_scope(&p, Scope::TokensWrite)?;
    let JsonBody(request) = body?;
    let name = crate::extract::check_name("name", &request.name)?;
    if request.scopes.is_empty() {
        return Err(ApiError::validation(
            "scopes: at least one scope is required",
        ));
    }
    let mut scopes = Vec::new();
    for s in &request.scopes {
        let scope = Scope::parse(s).ok_or_else(|| {
            ApiError::validation(format!(
                "scopes: unknown scope '{}' (known: {})",
                crate::extract::truncate(s),
                Scope::ALL.map(|s| s.as_str()).join(", ")
            ))
        })?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    require_grantable(&p, &scopes)?;
    let ttl = parse_duration(request.ttl.as_deref().unwrap_or(DEFAULT_TOKEN_TTL))
        .map_err(|e| duration_error("ttl", e))?;
    if ttl > std::time::Duration::from_secs(MAX_TOKEN_TTL_DAYS as u64 * 86_400) {
        return Err(ApiError::validation(format!(
            "ttl: at most {MAX_TOKEN_TTL_DAYS}d"
        )));
    }
    let now = state.clock.now();
    let token = scaivault_crypto::token::generate_token()?;
    let record = TokenRecord {
        id: scaivault_crypto::random::random_id("tok_")?,
        tenant_id: p.home_tenant_id.clone(),
        partner_id: p.partner_id.clone(),
        identity_id: p.identity_id.clone(),
        identity_type: p.identity_type.as_str().to_owned(),
        token_hash: state.hasher.digest(&token),
        name: name.to_owned(),
        scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        // A personal token acts as its identity (its roles included), narrowed by its scopes.
        is_admin: p.has_role(scaivault_core::Role::TenantAdmin),
        is_partner_admin: p.is_partner_admin,
        kind: "personal".to_owned(),
        created_at: now,
        expires_at: Some(now + ttl),
        revoked_at: None,
        parent_key_id: p.api_key_id.clone(),
    };
    state
        .store
        .insert_token(&record, crate::audit::success_event(&state).as_ref())
        .await?;
    crate::audit::committed();
    Ok((
        StatusCode::CREATED,
        Json(CreateTokenResponse {
            id: record.id,
            token: token.to_string(),
            name: record.name,
            scopes: record.scopes,
            created_at: Timestamp::new(now),
            expires_at: record.expires_at.map(Timestamp::new),
        }),
    ))
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
    let page = state
        .store
        .list_tokens(&p.home_tenant_id, &p.identity_id, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |item| &item.id);
    Ok(Json(TokenListResponse {
        tokens: page
            .items
            .into_iter()
            .map(|t| TokenInfo {
                id: t.id,
                name: t.name,
                identity_id: t.identity_id,
                scopes: t.scopes,
                created_at: Timestamp::new(t.created_at),
                expires_at: t.expires_at.map(Timestamp::new),
            })
            .collect(),
        cursor,
        has_more: page.has_more,
    }))
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
    require_scope(&p, Scope::TokensWrite)?;
    let now = state.clock.now();
    if !state
        .store
        .revoke_token(
            &p.home_tenant_id,
            &p.identity_id,
            &id,
            now,
            crate::audit::success_event(&state).as_ref(),
        )
        .await?
    {
        return Err(ApiError::from(StoreError::NotFound(Entity::Token)));
    }
    crate::audit::committed();
    crate::changes::credential_revoked(&state, &id).await;
    Ok(StatusCode::NO_CONTENT)
}

const EXCHANGE_DEFAULT_TTL: &str = "15m";
const EXCHANGE_MAX_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

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
    if !p.credential_id.starts_with("key_") {
        return Err(ApiError::access_denied(
            "only a service-account API key can be exchanged",
        ));
    }
    let request = body.0;
    let ttl = parse_duration(request.ttl.as_deref().unwrap_or(EXCHANGE_DEFAULT_TTL))
        .map_err(|e| duration_error("ttl", e))?;
    if ttl > EXCHANGE_MAX_TTL {
        return Err(ApiError::validation("ttl: at most 1h"));
    }
    let now = state.clock.now();
    let token = scaivault_crypto::token::generate_token()?;
    let record = TokenRecord {
        id: scaivault_crypto::random::random_id("tok_")?,
        tenant_id: p.home_tenant_id.clone(),
        partner_id: p.partner_id.clone(),
        identity_id: p.identity_id.clone(),
        identity_type: p.identity_type.as_str().to_owned(),
        token_hash: state.hasher.digest(&token),
        name: format!("exchanged from {}", p.credential_id),
        scopes: p.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        is_admin: p.has_role(scaivault_core::Role::TenantAdmin),
        is_partner_admin: false,
        kind: "exchanged".to_owned(),
        created_at: now,
        expires_at: Some(now + ttl),
        revoked_at: None,
        parent_key_id: p.api_key_id.clone(),
    };
    crate::audit::note_resource(&record.id);
    state
        .store
        .insert_token(&record, crate::audit::success_event(&state).as_ref())
        .await?;
    crate::audit::committed();
    Ok((
        StatusCode::CREATED,
        Json(CreateTokenResponse {
            id: record.id,
            token: token.to_string(),
            name: record.name,
            scopes: record.scopes,
            created_at: Timestamp::new(now),
            expires_at: record.expires_at.map(Timestamp::new),
        }),
    ))
}
