//! Personal access tokens and API-key exchange: the one function per operation that
//! authorizes (scope, grantable scopes), validates, and commits the token with its audit
//! entry. No HTTP here: `routes/auth.rs` parses requests and maps results.

use scaivault_core::{Principal, Scope, parse_duration};
use scaivault_proto::Timestamp;
use scaivault_proto::auth::*;
use scaivault_proto::identity::ExchangeRequest;
use scaivault_store::Entity;
use scaivault_store::TokenRecord;

use crate::auth::{require_grantable, require_scope};
use crate::error::{ApiError, ApiResult, duration_error};
use crate::state::AppState;

const DEFAULT_TOKEN_TTL: &str = "30d";
const MAX_TOKEN_TTL_DAYS: i64 = 365;
const EXCHANGE_DEFAULT_TTL: &str = "15m";
const EXCHANGE_MAX_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Creates a personal access token for the caller's identity, with a subset of its scopes.
/// The plaintext token is in this response only. A token minted with an API key (or a token
/// exchanged for one) dies with that key.
pub async fn create_token(
    state: &AppState,
    p: &Principal,
    request: CreateTokenRequest,
) -> ApiResult<CreateTokenResponse> {
    require_scope(p, Scope::TokensWrite)?;
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
    require_grantable(p, &scopes)?;
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
        .insert_token(&record, crate::audit::success_event(state).as_ref())
        .await?;
    crate::audit::committed();
    Ok(CreateTokenResponse {
        id: record.id,
        token: token.to_string(),
        name: record.name,
        scopes: record.scopes,
        created_at: Timestamp::new(now),
        expires_at: record.expires_at.map(Timestamp::new),
    })
}

/// The caller's own active tokens, without their values.
pub async fn list_tokens(
    state: &AppState,
    p: &Principal,
    limit: u32,
    after: Option<String>,
) -> ApiResult<TokenListResponse> {
    let page = state
        .store
        .list_tokens(&p.home_tenant_id, &p.identity_id, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |item| &item.id);
    Ok(TokenListResponse {
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
    })
}

/// Revokes one of the caller's tokens; effective immediately on this node.
pub async fn revoke_token(state: &AppState, p: &Principal, id: &str) -> ApiResult<()> {
    require_scope(p, Scope::TokensWrite)?;
    let now = state.clock.now();
    if !state
        .store
        .revoke_token(
            &p.home_tenant_id,
            &p.identity_id,
            id,
            now,
            crate::audit::success_event(state).as_ref(),
        )
        .await?
    {
        return Err(ApiError::not_found(Entity::Token));
    }
    crate::audit::committed();
    crate::changes::credential_revoked(state, id).await;
    Ok(())
}

/// Exchanges the service-account API key given as the bearer for a short-lived token with the
/// same identity and scopes, so the long-lived key need not travel with every request.
pub async fn exchange(
    state: &AppState,
    p: &Principal,
    request: ExchangeRequest,
) -> ApiResult<CreateTokenResponse> {
    if !p.credential_id.starts_with("key_") {
        return Err(ApiError::access_denied(
            "only a service-account API key can be exchanged",
        ));
    }
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
        .insert_token(&record, crate::audit::success_event(state).as_ref())
        .await?;
    crate::audit::committed();
    Ok(CreateTokenResponse {
        id: record.id,
        token: token.to_string(),
        name: record.name,
        scopes: record.scopes,
        created_at: Timestamp::new(now),
        expires_at: record.expires_at.map(Timestamp::new),
    })
}
