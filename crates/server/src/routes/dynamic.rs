//! `/v1/dynamic`: dynamic credentials on leases (docs/dynamic.md). Each handler extracts the
//! request and calls one function of `engine::dynamic`, which holds the rules.

use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use scaivault_proto::ErrorBody;
use scaivault_proto::dynamic::*;

use crate::audit::op;
use crate::auth::Authenticated;
use crate::engine::dynamic;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, OptionalJsonBody};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/dynamic/engines",
            get(list_engines.layer(op("list", "dynamic_engine")))
                .post(create_engine.layer(op("create", "dynamic_engine"))),
        )
        .route(
            "/v1/dynamic/engines/{engine}",
            get(get_engine.layer(op("read", "dynamic_engine")))
                .patch(update_engine.layer(op("update", "dynamic_engine")))
                .delete(delete_engine.layer(op("delete", "dynamic_engine"))),
        )
        .route(
            "/v1/dynamic/engines/{engine}/rotate-root",
            post(rotate_root.layer(op("rotate_root", "dynamic_engine"))),
        )
        .route(
            "/v1/dynamic/engines/{engine}/ca",
            get(ssh_ca_key.layer(op("read_ca", "dynamic_engine"))),
        )
        .route(
            "/v1/dynamic/engines/{engine}/roles",
            get(list_roles.layer(op("list", "dynamic_role")))
                .post(create_role.layer(op("create", "dynamic_role"))),
        )
        .route(
            "/v1/dynamic/engines/{engine}/roles/{role}",
            get(get_role.layer(op("read", "dynamic_role")))
                .patch(update_role.layer(op("update", "dynamic_role")))
                .delete(delete_role.layer(op("delete", "dynamic_role"))),
        )
        .route(
            "/v1/dynamic/engines/{engine}/creds/{role}",
            post(create_creds.layer(op("create", "lease"))),
        )
        .route(
            "/v1/dynamic/leases",
            get(list_leases.layer(op("list", "lease"))),
        )
        .route(
            "/v1/dynamic/leases/revoke-prefix",
            post(revoke_prefix.layer(op("revoke_prefix", "lease"))),
        )
        .route(
            "/v1/dynamic/leases/{id}",
            get(get_lease.layer(op("read", "lease"))),
        )
        .route(
            "/v1/dynamic/leases/{id}/renew",
            post(renew_lease.layer(op("renew", "lease"))),
        )
        .route(
            "/v1/dynamic/leases/{id}/revoke",
            post(revoke_lease.layer(op("revoke", "lease"))),
        )
}

fn json_body<T>(body: Result<JsonBody<T>, ApiError>) -> ApiResult<T> {
    body.map(|JsonBody(r)| r)
}

fn optional_body<T>(body: Result<OptionalJsonBody<T>, ApiError>) -> ApiResult<T> {
    body.map(|OptionalJsonBody(r)| r)
}

// ---------------------------------------------------------------------------------------------
// Engines

/// Creates an engine. Its connection is checked first: a wrong password or an unreachable
/// target is refused (502 engine_unreachable) and nothing is stored. Secrets are sealed and
/// never returned.
#[utoipa::path(post, path = "/v1/dynamic/engines", tag = "dynamic", request_body = CreateEngineRequest,
    responses((status = 201, body = Engine),
              (status = 409, body = ErrorBody, description = "conflict: the name is taken"),
              (status = 502, body = ErrorBody, description = "engine_unreachable: the connection check failed")),
    security(("bearer" = ["dynamic:admin"])))]
pub async fn create_engine(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<CreateEngineRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<Engine>)> {
    let engine = dynamic::create_engine(&state, &p, json_body(body)).await?;
    Ok((StatusCode::CREATED, Json(engine)))
}

#[utoipa::path(get, path = "/v1/dynamic/engines", tag = "dynamic",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = EngineList)),
    security(("bearer" = ["dynamic:read"])))]
pub async fn list_engines(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<EngineList>> {
    Ok(Json(dynamic::list_engines(&state, &p, uri.query()).await?))
}

#[utoipa::path(get, path = "/v1/dynamic/engines/{engine}", tag = "dynamic",
    params(("engine" = String, Path)),
    responses((status = 200, body = Engine), (status = 404, body = ErrorBody, description = "engine_not_found")),
    security(("bearer" = ["dynamic:read"])))]
pub async fn get_engine(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(engine): Path<String>,
) -> ApiResult<Json<Engine>> {
    Ok(Json(dynamic::get_engine(&state, &p, &engine).await?))
}

/// Changes an engine's settings; a secret left out is kept. The connection is checked again.
#[utoipa::path(patch, path = "/v1/dynamic/engines/{engine}", tag = "dynamic", request_body = UpdateEngineRequest,
    params(("engine" = String, Path)),
    responses((status = 200, body = Engine), (status = 404, body = ErrorBody, description = "engine_not_found"),
              (status = 502, body = ErrorBody, description = "engine_unreachable")),
    security(("bearer" = ["dynamic:admin"])))]
pub async fn update_engine(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(engine): Path<String>,
    body: Result<JsonBody<UpdateEngineRequest>, ApiError>,
) -> ApiResult<Json<Engine>> {
    Ok(Json(
        dynamic::update_engine(&state, &p, &engine, json_body(body)).await?,
    ))
}

/// Deletes an engine and its roles. Refused while leases are live unless `force=true`, which
/// revokes them first (the engine is kept if any cannot be revoked).
#[utoipa::path(delete, path = "/v1/dynamic/engines/{engine}", tag = "dynamic",
    params(("engine" = String, Path), ("force" = Option<bool>, Query, description = "revoke live leases first")),
    responses((status = 204), (status = 404, body = ErrorBody, description = "engine_not_found"),
              (status = 409, body = ErrorBody, description = "engine_has_leases"),
              (status = 502, body = ErrorBody, description = "engine_unreachable: some leases could not be revoked")),
    security(("bearer" = ["dynamic:admin"])))]
pub async fn delete_engine(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(engine): Path<String>,
    uri: Uri,
) -> ApiResult<StatusCode> {
    dynamic::delete_engine(&state, &p, &engine, uri.query()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the engine's own credential at the target with one only ScaiVault knows.
#[utoipa::path(post, path = "/v1/dynamic/engines/{engine}/rotate-root", tag = "dynamic",
    params(("engine" = String, Path)),
    responses((status = 200, body = Engine), (status = 404, body = ErrorBody, description = "engine_not_found"),
              (status = 502, body = ErrorBody, description = "engine_unreachable")),
    security(("bearer" = ["dynamic:admin"])))]
pub async fn rotate_root(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(engine): Path<String>,
) -> ApiResult<Json<Engine>> {
    Ok(Json(dynamic::rotate_root(&state, &p, &engine).await?))
}

/// An SSH engine's CA public key (OpenSSH format), for `TrustedUserCAKeys`.
#[utoipa::path(get, path = "/v1/dynamic/engines/{engine}/ca", tag = "dynamic",
    params(("engine" = String, Path)),
    responses((status = 200, description = "the CA public key", content((String = "text/plain"))),
              (status = 404, body = ErrorBody, description = "engine_not_found")),
    security(("bearer" = ["dynamic:read"])))]
pub async fn ssh_ca_key(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(engine): Path<String>,
) -> ApiResult<Response> {
    let key = dynamic::ssh_ca_key(&state, &p, &engine).await?;
    let mut response = (StatusCode::OK, key).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Roles

#[utoipa::path(post, path = "/v1/dynamic/engines/{engine}/roles", tag = "dynamic", request_body = CreateRoleRequest,
    params(("engine" = String, Path)),
    responses((status = 201, body = Role), (status = 404, body = ErrorBody, description = "engine_not_found"),
              (status = 409, body = ErrorBody, description = "conflict: the name is taken")),
    security(("bearer" = ["dynamic:admin"])))]
pub async fn create_role(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(engine): Path<String>,
    body: Result<JsonBody<CreateRoleRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<Role>)> {
    let role = dynamic::create_role(&state, &p, &engine, json_body(body)).await?;
    Ok((StatusCode::CREATED, Json(role)))
}

#[utoipa::path(get, path = "/v1/dynamic/engines/{engine}/roles", tag = "dynamic",
    params(("engine" = String, Path),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = RoleList), (status = 404, body = ErrorBody, description = "engine_not_found")),
    security(("bearer" = ["dynamic:read"])))]
pub async fn list_roles(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(engine): Path<String>,
    uri: Uri,
) -> ApiResult<Json<RoleList>> {
    Ok(Json(
        dynamic::list_roles(&state, &p, &engine, uri.query()).await?,
    ))
}

#[utoipa::path(get, path = "/v1/dynamic/engines/{engine}/roles/{role}", tag = "dynamic",
    params(("engine" = String, Path), ("role" = String, Path)),
    responses((status = 200, body = Role),
              (status = 404, body = ErrorBody, description = "engine_not_found, role_not_found")),
    security(("bearer" = ["dynamic:read"])))]
pub async fn get_role(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path((engine, role)): Path<(String, String)>,
) -> ApiResult<Json<Role>> {
    Ok(Json(dynamic::get_role(&state, &p, &engine, &role).await?))
}

#[utoipa::path(patch, path = "/v1/dynamic/engines/{engine}/roles/{role}", tag = "dynamic", request_body = UpdateRoleRequest,
    params(("engine" = String, Path), ("role" = String, Path)),
    responses((status = 200, body = Role),
              (status = 404, body = ErrorBody, description = "engine_not_found, role_not_found")),
    security(("bearer" = ["dynamic:admin"])))]
pub async fn update_role(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path((engine, role)): Path<(String, String)>,
    body: Result<JsonBody<UpdateRoleRequest>, ApiError>,
) -> ApiResult<Json<Role>> {
    Ok(Json(
        dynamic::update_role(&state, &p, &engine, &role, json_body(body)).await?,
    ))
}

/// Deletes a role; refused while it has live leases.
#[utoipa::path(delete, path = "/v1/dynamic/engines/{engine}/roles/{role}", tag = "dynamic",
    params(("engine" = String, Path), ("role" = String, Path)),
    responses((status = 204),
              (status = 404, body = ErrorBody, description = "engine_not_found, role_not_found"),
              (status = 409, body = ErrorBody, description = "engine_has_leases: the role has live leases")),
    security(("bearer" = ["dynamic:admin"])))]
pub async fn delete_role(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path((engine, role)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    dynamic::delete_role(&state, &p, &engine, &role).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Leases

/// A new lease on a credential of the role: the only time the credential is shown. The TTL is
/// the request's or the role's default, cut at the role's max TTL.
#[utoipa::path(post, path = "/v1/dynamic/engines/{engine}/creds/{role}", tag = "dynamic", request_body = CredsRequest,
    params(("engine" = String, Path), ("role" = String, Path)),
    responses((status = 201, body = LeaseCreated),
              (status = 404, body = ErrorBody, description = "engine_not_found, role_not_found"),
              (status = 429, body = ErrorBody, description = "lease_limit_reached: the role's or the tenant's cap"),
              (status = 502, body = ErrorBody, description = "engine_unreachable")),
    security(("bearer" = ["dynamic:creds"])))]
pub async fn create_creds(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path((engine, role)): Path<(String, String)>,
    body: Result<OptionalJsonBody<CredsRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<LeaseCreated>)> {
    let created = dynamic::create_creds(&state, &p, &engine, &role, optional_body(body)).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/v1/dynamic/leases", tag = "dynamic",
    params(("engine" = Option<String>, Query), ("role" = Option<String>, Query, description = "with engine"),
           ("identity" = Option<String>, Query, description = "who requested them"),
           ("status" = Option<String>, Query, description = "live (not revoked) or all (default)"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = LeaseList)),
    security(("bearer" = ["dynamic:read"])))]
pub async fn list_leases(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<LeaseList>> {
    Ok(Json(dynamic::list_leases(&state, &p, uri.query()).await?))
}

#[utoipa::path(get, path = "/v1/dynamic/leases/{id}", tag = "dynamic",
    params(("id" = String, Path, description = "lease_...")),
    responses((status = 200, body = Lease), (status = 404, body = ErrorBody, description = "lease_not_found")),
    security(("bearer" = ["dynamic:read"])))]
pub async fn get_lease(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Lease>> {
    Ok(Json(dynamic::get_lease(&state, &p, &id).await?))
}

/// Extends a lease by `ttl` from now, never past its `max_expires_at`. The holder with
/// `dynamic:creds`, or an administrator with `dynamic:admin`.
#[utoipa::path(post, path = "/v1/dynamic/leases/{id}/renew", tag = "dynamic", request_body = LeaseRenewRequest,
    params(("id" = String, Path, description = "lease_...")),
    responses((status = 200, body = Lease), (status = 404, body = ErrorBody, description = "lease_not_found"),
              (status = 409, body = ErrorBody, description = "lease_not_renewable"),
              (status = 502, body = ErrorBody, description = "engine_unreachable")),
    security(("bearer" = ["dynamic:creds"])))]
pub async fn renew_lease(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<OptionalJsonBody<LeaseRenewRequest>, ApiError>,
) -> ApiResult<Json<Lease>> {
    Ok(Json(
        dynamic::renew_lease(&state, &p, &id, optional_body(body)).await?,
    ))
}

/// Revokes a lease now: 200 when torn down; 202 with `revocation_failed` and `last_error`
/// when the target refused or is down (the sweeper retries with back-off).
#[utoipa::path(post, path = "/v1/dynamic/leases/{id}/revoke", tag = "dynamic",
    params(("id" = String, Path, description = "lease_...")),
    responses((status = 200, body = Lease), (status = 202, body = Lease, description = "revocation_failed: retried"),
              (status = 404, body = ErrorBody, description = "lease_not_found")),
    security(("bearer" = ["dynamic:creds"])))]
pub async fn revoke_lease(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Lease>)> {
    let outcome = dynamic::revoke_lease(&state, &p, &id).await?;
    let status = if outcome.completed {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(outcome.lease)))
}

/// Revokes every live lease of an engine, or of one of its roles.
#[utoipa::path(post, path = "/v1/dynamic/leases/revoke-prefix", tag = "dynamic", request_body = RevokePrefixRequest,
    responses((status = 200, body = RevokePrefixResult),
              (status = 404, body = ErrorBody, description = "engine_not_found, role_not_found")),
    security(("bearer" = ["dynamic:admin"])))]
pub async fn revoke_prefix(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<RevokePrefixRequest>, ApiError>,
) -> ApiResult<Json<RevokePrefixResult>> {
    Ok(Json(
        dynamic::revoke_prefix(&state, &p, json_body(body)).await?,
    ))
}
