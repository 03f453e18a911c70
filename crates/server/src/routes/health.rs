//! Liveness and readiness. Unauthenticated, as the docs say, and revealing nothing.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use scaivault_proto::health::{HealthResponse, ReadyResponse};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/v1/health", get(health))
        .route("/health/ready", get(ready))
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "system",
    responses((status = 200, body = HealthResponse)))]
pub async fn health() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

/// The store answers and the keyring is unsealed.
#[utoipa::path(get, path = "/health/ready", tag = "system",
    responses((status = 200, body = ReadyResponse), (status = 503, body = ReadyResponse)))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<ReadyResponse>) {
    let mut checks = BTreeMap::new();
    let store_ok = match state.store.ping().await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "readiness: store unavailable");
            false
        }
    };
    checks.insert(
        "store".to_owned(),
        if store_ok { "ok" } else { "unavailable" }.to_owned(),
    );
    // The keyring is loaded before the listener opens; its presence is the check.
    checks.insert("keys".to_owned(), "ok".to_owned());
    let (status, word) = if store_ok {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    (
        status,
        Json(ReadyResponse {
            status: word.to_owned(),
            checks,
        }),
    )
}
