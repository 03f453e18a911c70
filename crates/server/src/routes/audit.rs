//! `/v1/audit`: query, trail, summary and verification of the audit trail. Each handler
//! extracts the request and calls one function of `engine::audit`, which decides who may read
//! what.

use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::Uri;
use axum::routing::{get, post};
use axum::{Json, Router};
use scaivault_proto::ErrorBody;
use scaivault_proto::audit::*;

use crate::audit::op;
use crate::auth::Authenticated;
use crate::engine::audit;
use crate::error::ApiResult;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/audit", get(query.layer(op("query", "audit"))))
        .route(
            "/v1/audit/summary",
            get(summary.layer(op("summary", "audit"))),
        )
        .route(
            "/v1/audit/verify",
            post(verify.layer(op("verify", "audit"))),
        )
        .route(
            "/v1/audit/trail/{*path}",
            get(trail.layer(op("trail", "audit"))),
        )
}

/// Audit entries, newest first, filtered.
#[utoipa::path(get, path = "/v1/audit", tag = "audit",
    params(("action" = Option<String>, Query, description = "e.g. read, write, delete, rotate"),
           ("identity" = Option<String>, Query, description = "acting identity, e.g. user:alice@acme.example"),
           ("resource_type" = Option<String>, Query, description = "secret, token, audit, ..."),
           ("path_prefix" = Option<String>, Query, description = "resource paths starting with this"),
           ("outcome" = Option<String>, Query, description = "success, denied or error"),
           ("start" = Option<String>, Query, description = "inclusive; date or RFC 3339"),
           ("end" = Option<String>, Query, description = "exclusive; date or RFC 3339"),
           ("tenant_id" = Option<String>, Query, description = "one target tenant within your reach"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "1-500, default 50"),
           ("cursor" = Option<String>, Query, description = "from a previous page")),
    responses((status = 200, body = AuditListResponse), (status = 403, body = ErrorBody)),
    security(("bearer" = ["audit:read"])))]
pub async fn query(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<AuditListResponse>> {
    Ok(Json(audit::query(&state, &p, uri.query()).await?))
}

/// The full history of one secret path, newest first.
#[utoipa::path(get, path = "/v1/audit/trail/{path}", tag = "audit",
    params(("path" = String, Path, description = "secret path"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "1-500, default 50"),
           ("cursor" = Option<String>, Query, description = "from a previous page")),
    responses((status = 200, body = AuditListResponse), (status = 403, body = ErrorBody)),
    security(("bearer" = ["audit:read"])))]
pub async fn trail(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(path): Path<String>,
    uri: Uri,
) -> ApiResult<Json<AuditListResponse>> {
    Ok(Json(audit::trail(&state, &p, path, uri.query()).await?))
}

/// Counts by action, outcome and identity, and the most used paths, over a window
/// (default: the last 24 hours).
#[utoipa::path(get, path = "/v1/audit/summary", tag = "audit",
    params(("start" = Option<String>, Query, description = "inclusive; date or RFC 3339; default 24 hours ago"),
           ("end" = Option<String>, Query, description = "exclusive; date or RFC 3339"),
           ("tenant_id" = Option<String>, Query, description = "one target tenant within your reach")),
    responses((status = 200, body = AuditSummaryResponse), (status = 403, body = ErrorBody)),
    security(("bearer" = ["audit:read"])))]
pub async fn summary(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<AuditSummaryResponse>> {
    Ok(Json(audit::summary(&state, &p, uri.query()).await?))
}

/// Walks the hash chain of every tenant in reach and reports the first broken link of each.
#[utoipa::path(post, path = "/v1/audit/verify", tag = "audit",
    responses((status = 200, body = AuditVerifyResponse), (status = 403, body = ErrorBody)),
    security(("bearer" = ["audit:read"])))]
pub async fn verify(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
) -> ApiResult<Json<AuditVerifyResponse>> {
    Ok(Json(audit::verify(&state, &p).await?))
}
