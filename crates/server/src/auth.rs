//! Authentication: bearer token -> [`Principal`].
//!
//! Personal access tokens (`skt_...`) are looked up by HMAC-SHA256 under the server pepper.
//! Verified tokens are cached for a short time so a hot client does not cost a database read
//! per request; revoking a token through this node evicts it at once, and other nodes (when
//! there are several, PostgreSQL issue) see a revocation within [`CACHE_TTL`].
//! ScaiKey JWTs, service accounts and API keys plug in here in the identities issue.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use scaivault_core::{IdentityType, Principal, Scope};
use scaivault_store::TokenRecord;
use time::OffsetDateTime;

use crate::error::ApiError;
use crate::state::AppState;

/// How long a verified token stays cached.
pub const CACHE_TTL: Duration = Duration::from_secs(30);
const CACHE_MAX_ENTRIES: usize = 10_000;

/// The authenticated caller; extracting it rejects the request with 401 when there is none.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthenticated("missing bearer token"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthenticated("expected 'Authorization: Bearer <token>'"))?;
        let principal = authenticate(state, token).await?;
        crate::audit::note_actor(&principal);
        Ok(Authenticated(principal))
    }
}

async fn authenticate(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let digest = state.hasher.digest(token);
    let now = state.clock.now();
    if let Some(principal) = state.tokens.get(&digest, now) {
        return Ok(principal);
    }
    let record = state
        .store
        .find_token(&digest)
        .await?
        .ok_or_else(invalid_token)?;
    if record.revoked_at.is_some() || record.expires_at.is_some_and(|e| e <= now) {
        return Err(invalid_token());
    }
    let principal = principal_from_record(&record)?;
    state
        .tokens
        .put(digest, principal.clone(), record.expires_at);
    Ok(principal)
}

fn invalid_token() -> ApiError {
    ApiError::unauthenticated("the token is invalid, revoked or expired")
}

pub fn principal_from_record(record: &TokenRecord) -> Result<Principal, ApiError> {
    let identity_type = IdentityType::parse(&record.identity_type)
        .ok_or_else(|| ApiError::internal("token record has an unknown identity type"))?;
    Ok(Principal {
        identity_id: record.identity_id.clone(),
        identity_type,
        tenant_id: record.tenant_id.clone(),
        partner_id: record.partner_id.clone(),
        scopes: record
            .scopes
            .iter()
            .filter_map(|s| Scope::parse(s))
            .collect(),
        is_tenant_admin: record.is_admin,
        credential_id: record.id.clone(),
    })
}

/// Requires a token scope.
pub fn require_scope(principal: &Principal, scope: Scope) -> Result<(), ApiError> {
    if principal.has_scope(scope) {
        Ok(())
    } else {
        Err(ApiError::access_denied(format!(
            "the token lacks the scope {scope}"
        )))
    }
}

/// Requires the tenant admin role.
pub fn require_admin(principal: &Principal, action: &str) -> Result<(), ApiError> {
    if principal.is_tenant_admin {
        Ok(())
    } else {
        Err(ApiError::access_denied(format!(
            "{action} requires a tenant admin"
        )))
    }
}

#[derive(Debug, Default)]
pub struct TokenCache {
    entries: RwLock<HashMap<String, CachedToken>>,
}

#[derive(Debug, Clone)]
struct CachedToken {
    principal: Principal,
    cached_at: Instant,
    expires_at: Option<OffsetDateTime>,
}

impl TokenCache {
    fn get(&self, digest: &str, now: OffsetDateTime) -> Option<Principal> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let hit = entries.get(digest)?;
        let fresh = hit.cached_at.elapsed() < CACHE_TTL && hit.expires_at.is_none_or(|e| e > now);
        fresh.then(|| hit.principal.clone())
    }

    fn put(&self, digest: String, principal: Principal, expires_at: Option<OffsetDateTime>) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CACHE_MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            digest,
            CachedToken {
                principal,
                cached_at: Instant::now(),
                expires_at,
            },
        );
    }

    /// Evicts every cached entry of one credential (on revocation).
    pub fn evict_credential(&self, credential_id: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, e| e.principal.credential_id != credential_id);
    }
}
