//! `/v1/pki/acme` and `/v1/pki/dns-providers`: certificates from ACME CAs (docs/acme.md).
//! Each handler extracts the request and calls one function of `engine::acme`, which holds the
//! rules. `/.well-known/acme-challenge/{token}` answers the CA's http-01 requests: public by
//! nature, not audited.

use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use scaivault_proto::ErrorBody;
use scaivault_proto::acme::*;

use crate::audit::op;
use crate::auth::Authenticated;
use crate::engine::acme;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/pki/acme/accounts",
            get(list_acme_accounts.layer(op("list", "acme_account")))
                .post(register_acme_account.layer(op("create", "acme_account"))),
        )
        .route(
            "/v1/pki/acme/accounts/{id}",
            get(get_acme_account.layer(op("read", "acme_account"))),
        )
        .route(
            "/v1/pki/acme/accounts/{id}/deactivate",
            post(deactivate_acme_account.layer(op("deactivate", "acme_account"))),
        )
        .route(
            "/v1/pki/dns-providers",
            get(list_dns_providers.layer(op("list", "dns_provider")))
                .post(create_dns_provider.layer(op("create", "dns_provider"))),
        )
        .route(
            "/v1/pki/dns-providers/{id}",
            get(get_dns_provider.layer(op("read", "dns_provider")))
                .delete(delete_dns_provider.layer(op("delete", "dns_provider"))),
        )
        .route(
            "/v1/pki/acme/orders",
            get(list_acme_orders.layer(op("list", "acme_order")))
                .post(create_acme_order.layer(op("create", "acme_order"))),
        )
        .route(
            "/v1/pki/acme/orders/{id}",
            get(get_acme_order.layer(op("read", "acme_order"))),
        )
        .route("/.well-known/acme-challenge/{token}", get(http01_challenge))
}

/// The router of `acme_http01_listen`: only the http-01 answers (port 80 facing the CA).
pub fn http01_router() -> Router<AppState> {
    Router::new().route("/.well-known/acme-challenge/{token}", get(http01_challenge))
}

/// The CA's http-01 request: the key authorization of a published token as `text/plain`, or
/// `404`. No credential (the CA has none), not audited; it answers only what the CA is meant
/// to see, and only while the order's validation lasts.
#[utoipa::path(get, path = "/.well-known/acme-challenge/{token}", tag = "acme",
    params(("token" = String, Path, description = "the challenge token (base64url)")),
    responses((status = 200, body = String, content_type = "text/plain"),
              (status = 404, description = "no such token published")))]
pub async fn http01_challenge(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Response {
    match acme::http01_answer(&state, &token).await {
        Ok(Some(key_authorization)) => {
            ([(header::CONTENT_TYPE, "text/plain")], key_authorization).into_response()
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "reading an http-01 token failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

fn json_body<T>(body: Result<JsonBody<T>, ApiError>) -> ApiResult<T> {
    body.map(|JsonBody(r)| r)
}

// ---------------------------------------------------------------------------------------------
// Accounts

/// Registers an account at the CA: a fresh key generated and sealed here, the terms of
/// service agreed explicitly, external account binding where the CA requires it (ZeroSSL,
/// Google). Nothing is stored unless the CA accepted it.
#[utoipa::path(post, path = "/v1/pki/acme/accounts", tag = "acme", request_body = RegisterAcmeAccountRequest,
    responses((status = 201, body = AcmeAccount),
              (status = 400, body = ErrorBody, description = "validation_error: unknown provider, terms not agreed, EAB missing or malformed"),
              (status = 502, body = ErrorBody, description = "acme_ca_error: the CA refused or could not be reached")),
    security(("bearer" = ["pki:admin"])))]
pub async fn register_acme_account(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<RegisterAcmeAccountRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<AcmeAccount>)> {
    let account = acme::register_account(&state, &p, json_body(body)).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

#[utoipa::path(get, path = "/v1/pki/acme/accounts", tag = "acme",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = AcmeAccountList)),
    security(("bearer" = ["pki:read"])))]
pub async fn list_acme_accounts(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<AcmeAccountList>> {
    Ok(Json(acme::list_accounts(&state, &p, uri.query()).await?))
}

#[utoipa::path(get, path = "/v1/pki/acme/accounts/{id}", tag = "acme",
    params(("id" = String, Path, description = "acme_...")),
    responses((status = 200, body = AcmeAccount), (status = 404, body = ErrorBody, description = "not_found")),
    security(("bearer" = ["pki:read"])))]
pub async fn get_acme_account(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<AcmeAccount>> {
    Ok(Json(acme::get_account(&state, &p, &id).await?))
}

/// Deactivates the account at the CA and here, for good. Certificates it ordered stay valid;
/// their renewals fail.
#[utoipa::path(post, path = "/v1/pki/acme/accounts/{id}/deactivate", tag = "acme",
    params(("id" = String, Path, description = "acme_...")),
    responses((status = 200, body = AcmeAccount), (status = 404, body = ErrorBody, description = "not_found"),
              (status = 409, body = ErrorBody, description = "conflict: already deactivated"),
              (status = 502, body = ErrorBody, description = "acme_ca_error")),
    security(("bearer" = ["pki:admin"])))]
pub async fn deactivate_acme_account(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<AcmeAccount>> {
    Ok(Json(acme::deactivate_account(&state, &p, &id).await?))
}

// ---------------------------------------------------------------------------------------------
// DNS providers

/// Creates a DNS provider for dns-01 (docs/dns-providers.md). Settings and credentials are
/// checked (unknown fields refused); credentials are sealed and never returned.
#[utoipa::path(post, path = "/v1/pki/dns-providers", tag = "acme", request_body = CreateDnsProviderRequest,
    responses((status = 201, body = DnsProvider),
              (status = 400, body = ErrorBody, description = "validation_error"),
              (status = 409, body = ErrorBody, description = "conflict: the name is taken")),
    security(("bearer" = ["pki:admin"])))]
pub async fn create_dns_provider(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<CreateDnsProviderRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<DnsProvider>)> {
    let provider = acme::create_dns_provider(&state, &p, json_body(body)).await?;
    Ok((StatusCode::CREATED, Json(provider)))
}

#[utoipa::path(get, path = "/v1/pki/dns-providers", tag = "acme",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = DnsProviderList)),
    security(("bearer" = ["pki:read"])))]
pub async fn list_dns_providers(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<DnsProviderList>> {
    Ok(Json(
        acme::list_dns_providers(&state, &p, uri.query()).await?,
    ))
}

#[utoipa::path(get, path = "/v1/pki/dns-providers/{id}", tag = "acme",
    params(("id" = String, Path, description = "dnsp_...")),
    responses((status = 200, body = DnsProvider), (status = 404, body = ErrorBody, description = "not_found")),
    security(("bearer" = ["pki:read"])))]
pub async fn get_dns_provider(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<DnsProvider>> {
    Ok(Json(acme::get_dns_provider(&state, &p, &id).await?))
}

/// Deletes a DNS provider; refused while an unfinished order or a scheduled renewal uses it.
#[utoipa::path(delete, path = "/v1/pki/dns-providers/{id}", tag = "acme",
    params(("id" = String, Path, description = "dnsp_...")),
    responses((status = 204), (status = 404, body = ErrorBody, description = "not_found"),
              (status = 409, body = ErrorBody, description = "conflict: in use")),
    security(("bearer" = ["pki:admin"])))]
pub async fn delete_dns_provider(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    acme::delete_dns_provider(&state, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Orders

/// Places an order. It runs in the background (`status` moves from `pending` through
/// `processing` to `valid` or `failed`); the certificate and key are stored as a
/// `certificate` secret at `secret_path` and tracked under `/v1/pki/certs`, and renewed
/// automatically.
#[utoipa::path(post, path = "/v1/pki/acme/orders", tag = "acme", request_body = CreateAcmeOrderRequest,
    responses((status = 202, body = AcmeOrder),
              (status = 400, body = ErrorBody, description = "validation_error: names, challenge, key type, DNS provider"),
              (status = 404, body = ErrorBody, description = "not_found: the account or DNS provider"),
              (status = 409, body = ErrorBody, description = "conflict: the account is deactivated")),
    security(("bearer" = ["pki:issue"])))]
pub async fn create_acme_order(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<CreateAcmeOrderRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<AcmeOrder>)> {
    let order = acme::create_order(&state, &p, json_body(body)).await?;
    Ok((StatusCode::ACCEPTED, Json(order)))
}

#[utoipa::path(get, path = "/v1/pki/acme/orders", tag = "acme",
    params(("status" = Option<String>, Query, description = "pending, scheduled, processing, valid or failed"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = AcmeOrderList)),
    security(("bearer" = ["pki:read"])))]
pub async fn list_acme_orders(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<AcmeOrderList>> {
    Ok(Json(acme::list_orders(&state, &p, uri.query()).await?))
}

#[utoipa::path(get, path = "/v1/pki/acme/orders/{id}", tag = "acme",
    params(("id" = String, Path, description = "acmeo_...")),
    responses((status = 200, body = AcmeOrder), (status = 404, body = ErrorBody, description = "not_found")),
    security(("bearer" = ["pki:read"])))]
pub async fn get_acme_order(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<AcmeOrder>> {
    Ok(Json(acme::get_order(&state, &p, &id).await?))
}
