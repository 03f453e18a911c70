//! Partners, tenants, synced group membership and ScaiKey registration: the one function per
//! operation that authorizes (scope and role), validates, and commits the change with its audit
//! entry. No HTTP here: `routes/identity.rs` parses requests and maps results.
//!
//! Who may do what (and the token scope each needs, whatever the role):
//! - operators (partner admins of the bootstrap partner) create partners and tenants anywhere
//!   (`tenants:admin`);
//! - partner admins create (`tenants:admin`) and list (`identity:read`) the tenants of their
//!   partner;
//! - tenant admins read (`identity:read`) and set (`identity:write`) the synced groups of
//!   identities of their tenant; anyone reads their own.

use scaivault_core::{Principal, Scope};
use scaivault_proto::identity::*;
use scaivault_proto::{ErrorCode, Timestamp};
use scaivault_store::Entity;
use scaivault_store::{AuditEvent, PartnerRecord, StoreError, TenantRecord, TokenRecord};

use crate::audit::{self, Operation};
use crate::auth::{require_admin, require_grantable, require_partner_admin, require_scope};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Lifetime of the first admin's token created by registration.
const REGISTER_TOKEN_TTL: time::Duration = time::Duration::days(30);

fn is_operator(state: &AppState, p: &Principal) -> bool {
    p.is_partner_admin && p.partner_id == state.limits.operator_partner_id
}

fn require_operator(state: &AppState, p: &Principal, action: &str) -> ApiResult<()> {
    if is_operator(state, p) {
        Ok(())
    } else {
        Err(ApiError::access_denied(format!(
            "{action} requires an operator (a partner admin of the installation's partner)"
        )))
    }
}

fn partner_dto(p: PartnerRecord) -> Partner {
    Partner {
        id: p.id,
        name: p.name,
        created_at: Timestamp::new(p.created_at),
    }
}

fn tenant_dto(t: TenantRecord) -> Tenant {
    Tenant {
        id: t.id,
        partner_id: t.partner_id,
        slug: t.slug,
        name: t.name,
        created_at: Timestamp::new(t.created_at),
    }
}

fn check_slug(slug: &str) -> ApiResult<()> {
    let ok = !slug.is_empty()
        && slug.len() <= 63
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::validation(
            "slug: lowercase letters, digits and '-', 1 to 63 characters, not starting with '-'",
        ))
    }
}

fn duplicate(what: &str) -> impl FnOnce(StoreError) -> ApiError {
    move |e| match e {
        // Slugs are unique within a partner only (ids are random), so a conflict never tells
        // about another partner's tenants.
        StoreError::Duplicate => {
            ApiError::new(ErrorCode::Conflict, format!("{what} already exists"))
        }
        e => e.into(),
    }
}

/// Partners of the installation (operators only).
pub async fn list_partners(
    state: &AppState,
    p: &Principal,
    limit: u32,
    after: Option<String>,
) -> ApiResult<PartnerList> {
    require_scope(p, Scope::TenantsAdmin)?;
    require_operator(state, p, "listing partners")?;
    let page = state.store.list_partners(after.as_deref(), limit).await?;
    let cursor = crate::cursor::next_page_cursor(&page, |item| &item.id);
    Ok(PartnerList {
        partners: page.items.into_iter().map(partner_dto).collect(),
        cursor,
        has_more: page.has_more,
    })
}

/// Creates a partner (operators only).
pub async fn create_partner(
    state: &AppState,
    p: &Principal,
    request: CreatePartnerRequest,
) -> ApiResult<Partner> {
    require_scope(p, Scope::TenantsAdmin)?;
    require_operator(state, p, "creating a partner")?;
    let record = new_partner(state, request.id, &request.name)?;
    state
        .store
        .insert_partner(&record, audit::success_event(state).as_ref())
        .await
        .map_err(duplicate("a partner with this id"))?;
    audit::committed();
    Ok(partner_dto(record))
}

fn new_partner(state: &AppState, id: Option<String>, name: &str) -> ApiResult<PartnerRecord> {
    crate::extract::check_name("name", name)?;
    let id = match id {
        Some(id) => {
            let ok = id.len() <= 64
                && id.starts_with("ptn_")
                && id.len() > 4
                && id[4..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !ok {
                return Err(ApiError::validation(
                    "id: 'ptn_' followed by letters, digits, '_' or '-'",
                ));
            }
            id
        }
        None => scaivault_crypto::random::random_id("ptn_")?,
    };
    audit::note_resource(&id);
    Ok(PartnerRecord {
        id,
        name: name.trim().to_owned(),
        created_at: state.clock.now(),
    })
}

/// Tenants in reach: a partner admin's partner; a tenant admin sees its own tenant.
pub async fn list_tenants(
    state: &AppState,
    p: &Principal,
    limit: u32,
    after: Option<String>,
) -> ApiResult<TenantList> {
    require_scope(p, Scope::IdentityRead)?;
    if !p.is_partner_admin {
        require_admin(p, "listing tenants")?;
        let own = state.store.get_tenant(&p.home_tenant_id).await?;
        return Ok(TenantList {
            tenants: own.into_iter().map(tenant_dto).collect(),
            cursor: None,
            has_more: false,
        });
    }
    let page = state
        .store
        .list_tenants(&p.partner_id, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |item| &item.id);
    Ok(TenantList {
        tenants: page.items.into_iter().map(tenant_dto).collect(),
        cursor,
        has_more: page.has_more,
    })
}

/// One tenant in reach: operators see every tenant, partner admins their partner's, tenant
/// admins their own (404 for any other, existing or not).
pub async fn get_tenant(state: &AppState, p: &Principal, id: &str) -> ApiResult<Tenant> {
    require_scope(p, Scope::IdentityRead)?;
    let tenant = state.store.get_tenant(id).await?;
    match tenant {
        Some(t)
            if is_operator(state, p)
                || (p.is_partner_admin && t.partner_id == p.partner_id)
                || (p.is_tenant_admin && t.id == p.home_tenant_id) =>
        {
            Ok(tenant_dto(t))
        }
        _ => Err(ApiError::not_found(Entity::Tenant)),
    }
}

/// Creates a tenant in the caller's partner (operators: in any partner).
pub async fn create_tenant(
    state: &AppState,
    p: &Principal,
    request: CreateTenantRequest,
) -> ApiResult<Tenant> {
    require_scope(p, Scope::TenantsAdmin)?;
    let record = new_tenant(state, p, &request.slug, request.name, request.partner_id).await?;
    state
        .store
        .insert_tenant(&record, audit::success_event(state).as_ref())
        .await
        .map_err(duplicate("a tenant with this slug in the partner"))?;
    audit::committed();
    Ok(tenant_dto(record))
}

async fn new_tenant(
    state: &AppState,
    p: &Principal,
    slug: &str,
    name: Option<String>,
    partner_id: Option<String>,
) -> ApiResult<TenantRecord> {
    require_partner_admin(p, "creating a tenant")?;
    check_slug(slug)?;
    if let Some(name) = &name {
        crate::extract::check_name("name", name)?;
    }
    let partner_id = match partner_id {
        Some(id) if id != p.partner_id => {
            require_operator(state, p, "creating a tenant in another partner")?;
            if state.store.get_partner(&id).await?.is_none() {
                return Err(ApiError::validation("partner_id: no such partner"));
            }
            id
        }
        _ => p.partner_id.clone(),
    };
    let id = scaivault_crypto::random::random_id("tnt_")?;
    audit::note_resource(&id);
    Ok(TenantRecord {
        id,
        partner_id,
        slug: slug.to_owned(),
        name: name.map_or_else(|| slug.to_owned(), |n| n.trim().to_owned()),
        created_at: state.clock.now(),
    })
}

fn group_id(g: &str) -> ApiResult<String> {
    let id = if g.starts_with("group:") {
        g.to_owned()
    } else {
        format!("group:{g}")
    };
    let name = &id["group:".len()..];
    if name.is_empty() || name.len() > 128 || name.chars().any(|c| c.is_control() || c == ' ') {
        return Err(ApiError::validation(
            "groups: each group is 'group:' and 1 to 128 characters without spaces",
        ));
    }
    Ok(id)
}

fn check_identity_id(id: &str) -> ApiResult<()> {
    let ok = ["user:", "service_account:"]
        .iter()
        .any(|p| id.strip_prefix(p).is_some_and(|rest| !rest.is_empty()))
        && id.len() <= 256
        && !id.chars().any(|c| c.is_control() || c == ' ');
    if ok {
        Ok(())
    } else {
        Err(ApiError::validation(
            "identity_id: 'user:...' or 'service_account:...'",
        ))
    }
}

/// The synced groups of one identity of the tenant; anyone reads their own.
pub async fn groups(
    state: &AppState,
    p: &Principal,
    identity_id: String,
) -> ApiResult<GroupsResponse> {
    // Anyone reads their own groups (like whoami); another identity's need the scope.
    if identity_id != p.identity_id {
        require_scope(p, Scope::IdentityRead)?;
    }
    check_identity_id(&identity_id)?;
    if identity_id != p.identity_id {
        require_admin(p, "reading another identity's groups")?;
    }
    let groups = state
        .store
        .identity_groups(&p.tenant_id, &identity_id)
        .await?;
    Ok(GroupsResponse {
        identity_id,
        groups,
    })
}

/// Replaces the groups of one identity of the tenant (as an identity sync does).
pub async fn set_groups(
    state: &AppState,
    p: &Principal,
    identity_id: String,
    request: SetGroupsRequest,
) -> ApiResult<GroupsResponse> {
    require_scope(p, Scope::IdentityWrite)?;
    require_admin(p, "setting groups")?;
    check_identity_id(&identity_id)?;
    if request.groups.len() > 100 {
        return Err(ApiError::validation("groups: at most 100"));
    }
    let mut groups = request
        .groups
        .iter()
        .map(|g| group_id(g))
        .collect::<ApiResult<Vec<_>>>()?;
    groups.sort();
    groups.dedup();
    state
        .store
        .set_identity_groups(
            &p.tenant_id,
            &identity_id,
            &groups,
            audit::success_event(state).as_ref(),
        )
        .await?;
    audit::committed();
    crate::changes::identity_changed(state, &p.tenant_id, &identity_id).await;
    Ok(GroupsResponse {
        identity_id,
        groups,
    })
}

/// Registration: a tenant (or a partner with its admin tenant) and its first admin's personal
/// token, in one transaction with their audit entries.
pub async fn register(
    state: &AppState,
    p: &Principal,
    request: RegisterRequest,
) -> ApiResult<RegisterResponse> {
    require_scope(p, Scope::TenantsAdmin)?;
    let email = request.email.trim();
    let valid_email = email.len() <= 254
        && email.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid_email {
        return Err(ApiError::validation(
            "email: an address such as admin@acme.example",
        ));
    }
    let identity_id = format!("user:{email}");
    let now = state.clock.now();
    let token = scaivault_crypto::token::generate_token()?;
    let mut record = TokenRecord {
        id: scaivault_crypto::random::random_id("tok_")?,
        tenant_id: String::new(),
        partner_id: String::new(),
        identity_id: identity_id.clone(),
        identity_type: "user".to_owned(),
        token_hash: state.hasher.digest(&token),
        name: "registration admin token".to_owned(),
        // Set by scope below: the scopes of the new admin's role.
        scopes: Vec::new(),
        is_admin: true,
        is_partner_admin: false,
        kind: "personal".to_owned(),
        created_at: now,
        expires_at: Some(now + REGISTER_TOKEN_TTL),
        revoked_at: None,
        parent_key_id: None,
    };
    // The new admin's token gets its role's scopes, which the caller's token must hold itself.
    let granted: &[Scope] = match request.scope.as_str() {
        "tenant" => &Scope::TENANT,
        "partner" => &Scope::ALL,
        _ => return Err(ApiError::validation("scope: expected tenant or partner")),
    };
    require_grantable(p, granted)?;
    record.scopes = granted.iter().map(|s| s.as_str().to_owned()).collect();
    let (partner, tenant) = match request.scope.as_str() {
        "tenant" => {
            let slug = request
                .tenant_slug
                .as_deref()
                .ok_or_else(|| ApiError::validation("tenant_slug is required for scope tenant"))?;
            let tenant = new_tenant(state, p, slug, None, request.partner_id).await?;
            (None, tenant)
        }
        "partner" => {
            require_operator(state, p, "registering a partner")?;
            let name = request.partner_name.as_deref().ok_or_else(|| {
                ApiError::validation("partner_name is required for scope partner")
            })?;
            let partner = new_partner(state, request.partner_id, name)?;
            // The partner admin's home tenant: the partner's first tenant, named after it.
            let tenant = TenantRecord {
                id: scaivault_crypto::random::random_id("tnt_")?,
                partner_id: partner.id.clone(),
                slug: format!("{}-admin", partner.id.replace('_', "-")),
                name: format!("{} administration", partner.name),
                created_at: now,
            };
            (Some(partner), tenant)
        }
        _ => return Err(ApiError::validation("scope: expected tenant or partner")),
    };
    record.tenant_id = tenant.id.clone();
    record.partner_id = tenant.partner_id.clone();
    record.is_partner_admin = partner.is_some();
    // The request's own entry (`register`, naming the tenant or partner) on the caller's chain;
    // on the new tenant's chain, what was created in it (its admin tenant for a partner, and
    // the admin's token), so its trail starts with how it came to be.
    let mut entries: Vec<AuditEvent> = audit::success_event(state).into_iter().collect();
    if partner.is_some() {
        entries.push(audit::change_event(
            state,
            p,
            &tenant.id,
            Operation::new("create", "tenant"),
            &tenant.id,
        )?);
    }
    entries.push(audit::change_event(
        state,
        p,
        &tenant.id,
        Operation::new("create", "token"),
        &record.id,
    )?);
    let conflict = match &partner {
        Some(_) => "a partner with this id",
        None => "a tenant with this slug in the partner",
    };
    state
        .store
        .register_tenant(partner.as_ref(), &tenant, &record, &entries)
        .await
        .map_err(duplicate(conflict))?;
    audit::committed();
    let tenant_id = partner.is_none().then_some(tenant.id);
    Ok(RegisterResponse {
        partner_id: record.partner_id,
        tenant_id,
        identity_id,
        token_id: record.id,
        token: token.to_string(),
        expires_at: record.expires_at.map(Timestamp::new),
    })
}
