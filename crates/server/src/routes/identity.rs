//! `/v1/identity`: partners, tenants, synced group membership and ScaiKey registration.
//! Each handler parses the request, calls one function of `engine::identity` (which
//! authorizes, validates and commits with the audit entry) and maps the result.

use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use scaivault_core::Scope;
use scaivault_proto::ErrorBody;
use scaivault_proto::identity::*;

use crate::audit::op;
use crate::auth::{Authenticated, require_scope};
use crate::engine::identity as engine;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/identity/partners",
            get(list_partners.layer(op("list", "partner")))
                .post(create_partner.layer(op("create", "partner"))),
        )
        .route(
            "/v1/identity/tenants",
            get(list_tenants.layer(op("list", "tenant")))
                .post(create_tenant.layer(op("create", "tenant"))),
        )
        .route(
            "/v1/identity/tenants/{id}",
            get(get_tenant.layer(op("read", "tenant"))),
        )
        .route(
            "/v1/identity/users/{identity_id}/groups",
            get(get_groups.layer(op("read", "groups")))
                .put(set_groups.layer(op("update", "groups"))),
        )
        .route(
            "/v1/identity/register",
            post(register.layer(op("register", "tenant"))),
        )
}

/// Partners of the installation (operators only).
#[utoipa::path(get, path = "/v1/identity/partners", tag = "identity",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = PartnerList), (status = 403, body = ErrorBody)),
    security(("bearer" = ["tenants:admin"])))]
pub async fn list_partners(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<PartnerList>> {
    let (limit, after) = crate::extract::page_params(uri.query())?;
    Ok(Json(engine::list_partners(&state, &p, limit, after).await?))
}

/// Creates a partner (operators only).
#[utoipa::path(post, path = "/v1/identity/partners", tag = "identity", request_body = CreatePartnerRequest,
    responses((status = 201, body = Partner), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["tenants:admin"])))]
pub async fn create_partner(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<CreatePartnerRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<Partner>)> {
    // The scope before the body: without it, 403 whatever is sent (the engine checks again).
    require_scope(&p, Scope::TenantsAdmin)?;
    let JsonBody(request) = body?;
    let partner = engine::create_partner(&state, &p, request).await?;
    Ok((StatusCode::CREATED, Json(partner)))
}

/// Tenants in reach: a partner admin's partner; a tenant admin sees its own tenant.
#[utoipa::path(get, path = "/v1/identity/tenants", tag = "identity",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = TenantList), (status = 403, body = ErrorBody)),
    security(("bearer" = ["identity:read"])))]
pub async fn list_tenants(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<TenantList>> {
    let (limit, after) = crate::extract::page_params(uri.query())?;
    Ok(Json(engine::list_tenants(&state, &p, limit, after).await?))
}

/// One tenant in reach: operators see every tenant, partner admins their partner's, tenant
/// admins their own (404 for any other, existing or not).
#[utoipa::path(get, path = "/v1/identity/tenants/{id}", tag = "identity",
    params(("id" = String, Path, description = "tnt_...")),
    responses((status = 200, body = Tenant), (status = 404, body = ErrorBody)),
    security(("bearer" = ["identity:read"])))]
pub async fn get_tenant(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Tenant>> {
    Ok(Json(engine::get_tenant(&state, &p, &id).await?))
}

/// Creates a tenant in the caller's partner (operators: in any partner).
#[utoipa::path(post, path = "/v1/identity/tenants", tag = "identity", request_body = CreateTenantRequest,
    responses((status = 201, body = Tenant), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["tenants:admin"])))]
pub async fn create_tenant(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<CreateTenantRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<Tenant>)> {
    require_scope(&p, Scope::TenantsAdmin)?;
    let JsonBody(request) = body?;
    let tenant = engine::create_tenant(&state, &p, request).await?;
    Ok((StatusCode::CREATED, Json(tenant)))
}

/// The synced groups of one identity of the tenant.
#[utoipa::path(get, path = "/v1/identity/users/{identity_id}/groups", tag = "identity",
    params(("identity_id" = String, Path, description = "user:alice@acme.example")),
    responses((status = 200, body = GroupsResponse), (status = 403, body = ErrorBody)),
    security(("bearer" = ["identity:read"])))]
pub async fn get_groups(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(identity_id): Path<String>,
) -> ApiResult<Json<GroupsResponse>> {
    Ok(Json(engine::groups(&state, &p, identity_id).await?))
}

/// Replaces the groups of one identity of the tenant (as an identity sync does).
#[utoipa::path(put, path = "/v1/identity/users/{identity_id}/groups", tag = "identity",
    params(("identity_id" = String, Path, description = "user:alice@acme.example")),
    request_body = SetGroupsRequest,
    responses((status = 200, body = GroupsResponse), (status = 403, body = ErrorBody)),
    security(("bearer" = ["identity:write"])))]
pub async fn set_groups(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(identity_id): Path<String>,
    body: Result<JsonBody<SetGroupsRequest>, ApiError>,
) -> ApiResult<Json<GroupsResponse>> {
    require_scope(&p, Scope::IdentityWrite)?;
    let JsonBody(request) = body?;
    Ok(Json(
        engine::set_groups(&state, &p, identity_id, request).await?,
    ))
}

/// ScaiKey onboarding for a self-hosted installation: creates a tenant (or a partner) and its
/// first admin, `user:{email}`, and returns that admin's personal token (shown once). With a
/// hosted ScaiKey the same identities then sign in with ScaiKey JWTs.
#[utoipa::path(post, path = "/v1/identity/register", tag = "identity", request_body = RegisterRequest,
    responses((status = 201, body = RegisterResponse), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["tenants:admin"])))]
pub async fn register(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<RegisterRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<RegisterResponse>)> {
    require_scope(&p, Scope::TenantsAdmin)?;
    let JsonBody(request) = body?;
    let registered = engine::register(&state, &p, request).await?;
    Ok((StatusCode::CREATED, Json(registered)))
}
