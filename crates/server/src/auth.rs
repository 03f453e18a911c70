//! Authentication: bearer credential -> [`Principal`], then the tenant the request acts on.
//!
//! Credentials:
//! - ScaiVault tokens (`skt_...` personal and exchanged tokens, `svk_...` service-account API
//!   keys) are looked up by HMAC-SHA256 under the server pepper.
//! - Anything shaped like a JWT is verified against the configured ScaiKey issuers
//!   (`scaivault-jwt`: signature, `iss`, `aud`, `exp`, `nbf`).
//!
//! Verified credentials are cached for a short time under the HMAC of the token, so a hot client
//! pays neither a database read nor a signature check per request (an ES256 verification costs
//! more than the rest of a read). Revoking a token through this node evicts it at once; other
//! nodes see a revocation within [`CACHE_TTL`].
//!
//! Tenancy (see `tenancy.rs`): the token's tenant, unless the route was `/v1/t/{tenant_id}/...`
//! (partner admins of that tenant's partner only) or `/v1/partner/secrets/...`.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use scaivault_core::identity::MAX_IDENTITY_ID_BYTES;
use scaivault_core::role::scopes_of;
use scaivault_core::{IdentityType, Principal, Role, Scope};
use scaivault_jwt::VerifiedClaims;
use scaivault_proto::ErrorCode;
use scaivault_store::{PartnerRecord, TenantRecord, TokenRecord};
use time::OffsetDateTime;

use crate::audit::Operation;
use crate::error::ApiError;
use crate::state::AppState;
use crate::tenancy::TenantRoute;

/// How long a verified token stays cached.
pub const CACHE_TTL: Duration = Duration::from_secs(30);
const CACHE_MAX_ENTRIES: usize = 10_000;

/// The authenticated caller, with the tenant this request acts on resolved; extracting it
/// rejects the request with 401 (no valid credential) or 403 (tenant out of reach).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let client_ip = crate::extract::client_ip(state, &parts.extensions, &parts.headers);
        let token = match bearer(parts) {
            Ok(token) => token,
            Err(e) => {
                auth_attempt("none", false);
                if let Some(ip) = client_ip {
                    state
                        .rate_limits
                        .check_unauthenticated(ip)
                        .map_err(ApiError::rate_limited)?;
                }
                return Err(e);
            }
        };
        // The credential is always checked: the failure limit slows only refused credentials,
        // so a guesser behind the same address (a proxy, a NAT) never locks out valid clients.
        let kind = if scaivault_jwt::looks_like_jwt(token) {
            "jwt"
        } else {
            "token"
        };
        let principal = match authenticate(state, token).await {
            Ok(p) => {
                auth_attempt(kind, true);
                p
            }
            // A store failure is not the client's failed authentication.
            Err(e) if e.code != ErrorCode::AuthenticationRequired => return Err(e),
            Err(e) => {
                auth_attempt(kind, false);
                if let Some(ip) = client_ip
                    && let Err(refusal) = state.rate_limits.record_auth_failure(ip)
                {
                    return Err(ApiError::rate_limited(refusal));
                }
                return Err(e);
            }
        };
        let route = parts.extensions.get::<TenantRoute>().cloned();
        crate::audit::note_actor(&principal);
        let principal =
            crate::tenancy::resolve(state, principal, route.as_ref(), &parts.method).await?;
        crate::audit::note_target_tenant(&principal.tenant_id);
        state
            .rate_limits
            .check_authenticated(&principal.tenant_id, &principal.identity_id)
            .map_err(ApiError::rate_limited)?;
        Ok(Authenticated(principal))
    }
}

/// `scaivault_auth_attempts_total{kind, result}` (docs/monitoring.md).
fn auth_attempt(kind: &'static str, success: bool) {
    let result = if success { "success" } else { "failure" };
    metrics::counter!("scaivault_auth_attempts_total", "kind" => kind, "result" => result)
        .increment(1);
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthenticated("missing bearer token"))?;
    header
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthenticated("expected 'Authorization: Bearer <token>'"))
}

/// The identity behind a credential, acting in its own tenant.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let digest = state.hasher.digest(token);
    let now = state.clock.now();
    if let Some(principal) = state.tokens.get(&digest, now) {
        return Ok(principal);
    }
    let (principal, expires_at) = if scaivault_jwt::looks_like_jwt(token) {
        let verifier = state
            .jwt
            .as_ref()
            .ok_or_else(|| ApiError::unauthenticated("no JWT issuer is configured"))?;
        let claims = verifier.verify(token).await.map_err(|e| {
            tracing::debug!(error = %e, "JWT refused");
            ApiError::unauthenticated(format!("the JWT is not valid here: {e}"))
        })?;
        let expires_at = OffsetDateTime::from_unix_timestamp(claims.expires_at).ok();
        (principal_from_jwt(state, claims).await?, expires_at)
    } else {
        let record = state
            .store
            .find_token(&digest)
            .await?
            .ok_or_else(invalid_token)?;
        if !is_live(&record, now) {
            return Err(invalid_token());
        }
        let mut expires_at = record.expires_at;
        // A token minted from an API key lives only as long as the key. Revoking the key
        // revokes it too (same transaction); this also covers a key that expired.
        if let Some(key_id) = &record.parent_key_id {
            let key = state.store.get_token(key_id).await?;
            match key {
                Some(key) if is_live(&key, now) && key.identity_id == record.identity_id => {
                    expires_at = earliest(expires_at, key.expires_at);
                }
                _ => return Err(invalid_token()),
            }
        }
        let mut principal = principal_from_record(&record)?;
        principal.groups = state
            .store
            .identity_groups(&record.tenant_id, &record.identity_id)
            .await?;
        (principal, expires_at)
    };
    state.tokens.put(digest, principal.clone(), expires_at);
    Ok(principal)
}

fn is_live(record: &TokenRecord, now: OffsetDateTime) -> bool {
    record.revoked_at.is_none() && record.expires_at.is_none_or(|e| e > now)
}

fn earliest(a: Option<OffsetDateTime>, b: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn invalid_token() -> ApiError {
    ApiError::unauthenticated("the token is invalid, revoked or expired")
}

pub fn principal_from_record(record: &TokenRecord) -> Result<Principal, ApiError> {
    let identity_type = IdentityType::parse(&record.identity_type)
        .ok_or_else(|| ApiError::internal("token record has an unknown identity type"))?;
    let mut roles = Vec::new();
    if record.is_admin {
        roles.push(Role::TenantAdmin);
    }
    if record.is_partner_admin {
        roles.push(Role::PartnerAdmin);
    }
    Ok(Principal {
        identity_id: record.identity_id.clone(),
        identity_type,
        tenant_id: record.tenant_id.clone(),
        home_tenant_id: record.tenant_id.clone(),
        partner_id: record.partner_id.clone(),
        scopes: record
            .scopes
            .iter()
            .filter_map(|s| Scope::parse(s))
            .collect(),
        groups: Vec::new(),
        roles,
        is_tenant_admin: record.is_admin || record.is_partner_admin,
        is_partner_admin: record.is_partner_admin,
        credential_id: record.id.clone(),
        api_key_id: if record.kind == "api_key" {
            Some(record.id.clone())
        } else {
            record.parent_key_id.clone()
        },
    })
}

/// Maps verified ScaiKey claims to a principal. The tenant must be named; its partner comes
/// from the token or from the tenant's record. Tenants first seen in a token are registered
/// (ScaiKey is their source of truth); a token whose partner does not own its tenant is refused.
async fn principal_from_jwt(state: &AppState, c: VerifiedClaims) -> Result<Principal, ApiError> {
    let identity_type = match c.identity_type.as_deref() {
        None => IdentityType::User,
        Some(t) => IdentityType::parse(t)
            .filter(|t| *t != IdentityType::Group)
            .ok_or_else(|| ApiError::unauthenticated("the JWT's identity_type is not supported"))?,
    };
    // Checked before anything is registered. The identity id ends up in audit records and
    // logs, and its prefix must agree with the type the token claims (a `service_account:` id
    // acting as a user would confuse every later check).
    let identity_id = identity_type.qualify(&c.subject).ok_or_else(|| {
        ApiError::unauthenticated(format!(
            "the JWT's sub is not a valid {} id (printable, at most {MAX_IDENTITY_ID_BYTES} bytes, no other type's prefix)",
            identity_type.as_str()
        ))
    })?;
    let credential_id = match &c.jwt_id {
        Some(jti) if !valid_claim_text(jti) => {
            return Err(ApiError::unauthenticated(format!(
                "the JWT's jti is not printable text of at most {MAX_CLAIM_BYTES} bytes"
            )));
        }
        Some(jti) => format!("jwt:{jti}"),
        None => format!("jwt:{}", c.issuer),
    };
    // Partner-scoped secrets are stored under the partner's id, so a tenant may never be named
    // like a partner (it would reach the partner's secrets as its own).
    let tenant_id = c
        .tenant_id
        .filter(|t| valid_id(t) && !t.starts_with("ptn_"))
        .ok_or_else(|| ApiError::unauthenticated("the JWT has no valid tenant_id claim"))?;
    let (partner_id, first_seen) =
        resolve_partner(state, &tenant_id, c.partner_id.as_deref()).await?;
    let roles: Vec<Role> = c.roles.iter().filter_map(|r| Role::parse(r)).collect();
    let mut scopes: Vec<Scope> = c.scopes.iter().filter_map(|s| Scope::parse(s)).collect();
    if c.scopes.is_empty() {
        scopes = scopes_of(&roles);
    }
    let groups = c
        .groups
        .iter()
        .map(|g| {
            if g.starts_with("group:") {
                g.clone()
            } else {
                format!("group:{g}")
            }
        })
        .collect();
    let is_partner_admin = roles.contains(&Role::PartnerAdmin);
    let principal = Principal {
        identity_id,
        identity_type,
        home_tenant_id: tenant_id.clone(),
        tenant_id,
        partner_id,
        scopes,
        groups,
        is_tenant_admin: is_partner_admin || roles.contains(&Role::TenantAdmin),
        is_partner_admin,
        roles,
        credential_id,
        api_key_id: None,
    };
    if let Some(first_seen) = first_seen {
        register_first_seen(state, &principal, first_seen).await?;
    }
    Ok(principal)
}

/// The longest `jti` accepted, in bytes.
const MAX_CLAIM_BYTES: usize = 256;

/// A claim copied into audit records: printable (no control characters) and bounded.
fn valid_claim_text(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_CLAIM_BYTES && !s.chars().any(char::is_control)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A tenant named by a JWT that the store does not know yet (ScaiKey is the source of truth).
struct FirstSeen {
    tenant_id: String,
    partner_id: String,
    /// The partner is unknown too.
    new_partner: bool,
}

/// The partner of the JWT's tenant, and what must be registered first if the tenant is new.
/// Nothing is written here: the token's principal must exist first, to be named in the entries.
async fn resolve_partner(
    state: &AppState,
    tenant_id: &str,
    claimed: Option<&str>,
) -> Result<(String, Option<FirstSeen>), ApiError> {
    if let Some(known) = state.store.get_tenant(tenant_id).await? {
        return match claimed {
            Some(p) if p != known.partner_id => Err(ApiError::unauthenticated(
                "the JWT's partner_id does not own its tenant_id",
            )),
            _ => Ok((known.partner_id, None)),
        };
    }
    // Partner ids are `ptn_...`: partner secrets live under the partner id, which must never
    // be a tenant's id.
    let partner_id = claimed
        .filter(|p| valid_id(p) && p.starts_with("ptn_"))
        .ok_or_else(|| ApiError::unauthenticated("the JWT names an unknown tenant and no partner"))?
        .to_owned();
    let new_partner = state.store.get_partner(&partner_id).await?.is_none();
    let first_seen = FirstSeen {
        tenant_id: tenant_id.to_owned(),
        partner_id: partner_id.clone(),
        new_partner,
    };
    Ok((partner_id, Some(first_seen)))
}

/// Registers a tenant first seen in a JWT, and its partner when that is new too: each commits
/// with its audit entry (`create`, on the chain of the partner or tenant created), whose actor
/// is the token's identity.
async fn register_first_seen(
    state: &AppState,
    principal: &Principal,
    seen: FirstSeen,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    if seen.new_partner {
        let partner = PartnerRecord {
            id: seen.partner_id.clone(),
            name: seen.partner_id.clone(),
            created_at: now,
        };
        let entry = crate::audit::change_event(
            state,
            principal,
            &partner.id,
            Operation::new("create", "partner"),
            &partner.id,
        )?;
        match state.store.insert_partner(&partner, Some(&entry)).await {
            // A concurrent request registered it.
            Ok(()) | Err(scaivault_store::StoreError::Duplicate) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let tenant = TenantRecord {
        id: seen.tenant_id.clone(),
        partner_id: seen.partner_id.clone(),
        slug: seen.tenant_id.clone(),
        name: seen.tenant_id.clone(),
        created_at: now,
    };
    let entry = crate::audit::change_event(
        state,
        principal,
        &tenant.id,
        Operation::new("create", "tenant"),
        &tenant.id,
    )?;
    match state.store.insert_tenant(&tenant, Some(&entry)).await {
        Ok(()) => {
            tracing::info!(
                tenant_id = %seen.tenant_id,
                partner_id = %seen.partner_id,
                "registered a tenant first seen in a JWT"
            );
            Ok(())
        }
        // A concurrent request registered it (or the slug is taken): trust the stored record.
        Err(scaivault_store::StoreError::Duplicate) => {
            match state.store.get_tenant(&seen.tenant_id).await? {
                Some(t) if t.partner_id == seen.partner_id => Ok(()),
                _ => Err(ApiError::unauthenticated(
                    "the JWT's tenant cannot be registered under its partner",
                )),
            }
        }
        Err(e) => Err(e.into()),
    }
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

/// Requires that the caller's token holds every scope a credential it creates will get: a token
/// never makes a credential that can do more than itself.
pub fn require_grantable(principal: &Principal, scopes: &[Scope]) -> Result<(), ApiError> {
    match scopes.iter().find(|s| !principal.has_scope(**s)) {
        None => Ok(()),
        Some(scope) => Err(ApiError::access_denied(format!(
            "cannot grant {scope}: the calling token does not have it"
        ))),
    }
}

/// Requires the tenant admin role (partner admins have it in every tenant of their partner).
pub fn require_admin(principal: &Principal, action: &str) -> Result<(), ApiError> {
    if principal.is_tenant_admin {
        Ok(())
    } else {
        Err(ApiError::access_denied(format!(
            "{action} requires a tenant admin"
        )))
    }
}

/// Requires the partner admin role.
pub fn require_partner_admin(principal: &Principal, action: &str) -> Result<(), ApiError> {
    if principal.is_partner_admin {
        Ok(())
    } else {
        Err(ApiError::access_denied(format!(
            "{action} requires a partner admin"
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

    /// Evicts every cached entry of one credential (on revocation), and of the tokens minted
    /// from it when it is an API key.
    pub fn evict_credential(&self, credential_id: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, e| {
            e.principal.credential_id != credential_id
                && e.principal.api_key_id.as_deref() != Some(credential_id)
        });
    }

    /// Forgets every cached credential (changes may have been missed).
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Evicts every cached entry of one identity (on group or account changes).
    pub fn evict_identity(&self, tenant_id: &str, identity_id: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, e| {
            e.principal.identity_id != identity_id || e.principal.home_tenant_id != tenant_id
        });
    }
}
