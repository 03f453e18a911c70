//! Service accounts and their API keys: the one function per operation that authorizes
//! (scope, tenant admin, grantable scopes), validates, and commits the change with its audit
//! entry. No HTTP here: `routes/service_accounts.rs` parses requests and maps results.
//!
//! A service account (`sva_...`) acts as the identity `service_account:sva_...` with the scopes
//! of its roles. Its API keys (`key_...` ids, `svk_...` plaintext shown once) are used directly
//! as bearer tokens or exchanged for a short-lived token (`POST /v1/auth/exchange`). Keys are
//! stored as HMACs like every other token. Managing accounts and keys needs a tenant admin with
//! `service-accounts:read` / `service-accounts:write`, and an account or key is never given
//! scopes the calling token does not have.

use scaivault_core::role::scopes_of;
use scaivault_core::{Principal, Role, Scope, parse_duration};
use scaivault_proto::Timestamp;
use scaivault_proto::identity::*;
use scaivault_store::Entity;
use scaivault_store::{ServiceAccountRecord, TokenRecord};

use crate::audit;
use crate::auth::{require_admin, require_grantable, require_scope};
use crate::error::{ApiError, ApiResult, duration_error};
use crate::state::AppState;

fn identity_of(id: &str) -> String {
    format!("service_account:{id}")
}

fn parse_roles(roles: &[String]) -> ApiResult<Vec<Role>> {
    if roles.is_empty() {
        return Err(ApiError::validation("roles: at least one role is required"));
    }
    let mut out = Vec::new();
    for (i, r) in roles.iter().enumerate() {
        let role = Role::parse(r)
            .filter(|r| *r != Role::PartnerAdmin)
            .ok_or_else(|| {
                ApiError::validation(format!(
                    "roles[{i}]: unknown role '{}' (known: secrets-reader, secrets-writer, auditor, tenant-admin)",
                    crate::extract::truncate(r)
                ))
            })?;
        if !out.contains(&role) {
            out.push(role);
        }
    }
    Ok(out)
}

fn roles_of(record: &ServiceAccountRecord) -> Vec<Role> {
    record.roles.iter().filter_map(|r| Role::parse(r)).collect()
}

fn account_dto(record: ServiceAccountRecord) -> ServiceAccount {
    let scopes = scopes_of(&roles_of(&record))
        .into_iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    ServiceAccount {
        identity_id: identity_of(&record.id),
        id: record.id,
        name: record.name,
        description: record.description,
        roles: record.roles,
        scopes,
        created_at: Timestamp::new(record.created_at),
    }
}

async fn account(state: &AppState, p: &Principal, id: &str) -> ApiResult<ServiceAccountRecord> {
    state
        .store
        .get_service_account(&p.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(Entity::ServiceAccount))
}

/// Creates a service account with roles.
pub async fn create_account(
    state: &AppState,
    p: &Principal,
    request: CreateServiceAccountRequest,
) -> ApiResult<ServiceAccount> {
    require_scope(p, Scope::ServiceAccountsWrite)?;
    require_admin(p, "creating a service account")?;
    let name = crate::extract::check_name("name", &request.name)?;
    crate::extract::check_description(request.description.as_deref())?;
    let roles = parse_roles(&request.roles)?;
    require_grantable(p, &scopes_of(&roles))?;
    let record = ServiceAccountRecord {
        id: scaivault_crypto::random::random_id("sva_")?,
        tenant_id: p.tenant_id.clone(),
        name: name.to_owned(),
        description: request.description,
        roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
        created_at: state.clock.now(),
    };
    audit::note_resource(&record.id);
    state
        .store
        .insert_service_account(&record, audit::success_event(state).as_ref())
        .await?;
    audit::committed();
    Ok(account_dto(record))
}

/// The tenant's service accounts.
pub async fn list_accounts(
    state: &AppState,
    p: &Principal,
    limit: u32,
    after: Option<String>,
) -> ApiResult<ServiceAccountList> {
    require_scope(p, Scope::ServiceAccountsRead)?;
    require_admin(p, "listing service accounts")?;
    let page = state
        .store
        .list_service_accounts(&p.tenant_id, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |item| &item.id);
    Ok(ServiceAccountList {
        service_accounts: page.items.into_iter().map(account_dto).collect(),
        cursor,
        has_more: page.has_more,
    })
}

/// One service account of the tenant.
pub async fn get_account(state: &AppState, p: &Principal, id: &str) -> ApiResult<ServiceAccount> {
    require_scope(p, Scope::ServiceAccountsRead)?;
    require_admin(p, "reading a service account")?;
    Ok(account_dto(account(state, p, id).await?))
}

/// Deletes the account; its keys stop working at once.
pub async fn delete_account(state: &AppState, p: &Principal, id: &str) -> ApiResult<()> {
    require_scope(p, Scope::ServiceAccountsWrite)?;
    require_admin(p, "deleting a service account")?;
    let now = state.clock.now();
    if !state
        .store
        .delete_service_account(&p.tenant_id, id, now, audit::success_event(state).as_ref())
        .await?
    {
        return Err(ApiError::not_found(Entity::ServiceAccount));
    }
    audit::committed();
    crate::changes::identity_changed(state, &p.tenant_id, &identity_of(id)).await;
    Ok(())
}

/// Creates an API key for the account; the plaintext is in this response only.
pub async fn create_key(
    state: &AppState,
    p: &Principal,
    id: &str,
    request: CreateApiKeyRequest,
) -> ApiResult<CreateApiKeyResponse> {
    require_scope(p, Scope::ServiceAccountsWrite)?;
    require_admin(p, "creating an API key")?;
    let sa = account(state, p, id).await?;
    let roles = roles_of(&sa);
    let scopes = scopes_of(&roles);
    // The key acts with the account's scopes: the caller must hold them all.
    require_grantable(p, &scopes)?;
    let name = crate::extract::check_name("name", &request.name)?;
    let now = state.clock.now();
    let expires_at = match &request.ttl {
        Some(ttl) => Some(now + parse_duration(ttl).map_err(|e| duration_error("ttl", e))?),
        None => None,
    };
    let key = scaivault_crypto::token::generate_api_key()?;
    let record = TokenRecord {
        id: scaivault_crypto::random::random_id("key_")?,
        tenant_id: sa.tenant_id.clone(),
        // The partner of the tenant the account lives in (a partner admin may be acting on it).
        partner_id: p.partner_id.clone(),
        identity_id: identity_of(&sa.id),
        identity_type: "service_account".to_owned(),
        token_hash: state.hasher.digest(&key),
        name: name.to_owned(),
        scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
        is_admin: roles.contains(&Role::TenantAdmin),
        is_partner_admin: false,
        kind: "api_key".to_owned(),
        created_at: now,
        expires_at,
        revoked_at: None,
        parent_key_id: None,
    };
    audit::note_resource(&format!("{}/{}", sa.id, record.id));
    state
        .store
        .insert_token(&record, audit::success_event(state).as_ref())
        .await?;
    audit::committed();
    Ok(CreateApiKeyResponse {
        id: record.id,
        key: key.to_string(),
        name: record.name,
        service_account_id: sa.id,
        created_at: Timestamp::new(now),
        expires_at: expires_at.map(Timestamp::new),
    })
}

/// The account's active keys, without their values.
pub async fn list_keys(
    state: &AppState,
    p: &Principal,
    id: &str,
    limit: u32,
    after: Option<String>,
) -> ApiResult<ApiKeyList> {
    require_scope(p, Scope::ServiceAccountsRead)?;
    require_admin(p, "listing API keys")?;
    let sa = account(state, p, id).await?;
    let page = state
        .store
        .list_tokens(&p.tenant_id, &identity_of(&sa.id), after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |item| &item.id);
    Ok(ApiKeyList {
        keys: page
            .items
            .into_iter()
            .filter(|t| t.kind == "api_key")
            .map(|t| ApiKeyInfo {
                id: t.id,
                name: t.name,
                created_at: Timestamp::new(t.created_at),
                expires_at: t.expires_at.map(Timestamp::new),
            })
            .collect(),
        cursor,
        has_more: page.has_more,
    })
}

/// Deletes (revokes) one key; it is refused from the next request on.
pub async fn delete_key(state: &AppState, p: &Principal, id: &str, key_id: &str) -> ApiResult<()> {
    require_scope(p, Scope::ServiceAccountsWrite)?;
    require_admin(p, "deleting an API key")?;
    let sa = account(state, p, id).await?;
    let now = state.clock.now();
    if !state
        .store
        .revoke_token(
            &p.tenant_id,
            &identity_of(&sa.id),
            key_id,
            now,
            audit::success_event(state).as_ref(),
        )
        .await?
    {
        return Err(ApiError::not_found(Entity::ApiKey));
    }
    audit::committed();
    // Evicts the key and the tokens minted from it, on every node.
    crate::changes::credential_revoked(state, key_id).await;
    Ok(())
}
