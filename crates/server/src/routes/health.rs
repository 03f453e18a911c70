//! Liveness and readiness. Unauthenticated, as the docs say, and revealing nothing.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use scaivault_proto::health::{HealthResponse, ReadyResponse};
use scaivault_store::StoreError;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/v1/health", get(health))
        .route("/health/ready", get(ready))
}

/// `ok`, or `low: N MiB free` when the data or archive disk is below `min_free_disk`.
fn disk_check(state: &AppState) -> String {
    let storage = &state.storage;
    let mut worst: Option<crate::disk::Space> = None;
    for dir in [storage.data_dir.as_path(), storage.archive.dir()] {
        match crate::disk::space(dir) {
            Ok(space) if storage.min_free_disk.is_low(space) => {
                if worst.is_none_or(|w| space.free < w.free) {
                    worst = Some(space);
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, dir = %dir.display(), "cannot measure free space")
            }
        }
    }
    match worst {
        None => "ok".to_owned(),
        Some(space) => {
            tracing::warn!(free = space.free, "readiness: disk space low");
            format!("low: {} MiB free", space.free / (1 << 20))
        }
    }
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

/// The store answers, can commit a write, and the keyring is unsealed.
///
/// `checks.store` is `ok`, `unavailable` (no answer) or `unwritable: <cause>` (it answers but a
/// write cannot commit: disk full, read-only, I/O error, lost primary). While requests fail for
/// lack of storage (within the last 10 s, none committed since) that decides; otherwise one
/// tiny committed probe write per call does, so a recovered store is ready again at once.
/// `checks.disk` is `ok` or `low: N MiB free` (below `min_free_disk`): a warning that leaves
/// the status `ready`, so operators act before writes start failing.
#[utoipa::path(get, path = "/health/ready", tag = "system",
    responses((status = 200, body = ReadyResponse), (status = 503, body = ReadyResponse)))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<ReadyResponse>) {
    let mut checks = BTreeMap::new();
    let store = match state.store.ping().await {
        Err(e) => {
            tracing::warn!(error = %e, "readiness: store unavailable");
            Err("unavailable".to_owned())
        }
        // Requests failing for lack of storage decide (see `storage_health`).
        Ok(()) if let Some(cause) = state.storage_health.recent_failure() => {
            Err(format!("unwritable: {cause}"))
        }
        Ok(()) => match state.store.probe_write(state.clock.now()).await {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "readiness: store cannot write");
                Err(match e {
                    StoreError::Unavailable { cause, .. } => format!("unwritable: {cause}"),
                    _ => "unwritable".to_owned(),
                })
            }
        },
    };
    let store_ok = store.is_ok();
    checks.insert(
        "store".to_owned(),
        store.err().unwrap_or_else(|| "ok".to_owned()),
    );
    // The keyring is loaded before the listener opens; its presence is the check.
    checks.insert("keys".to_owned(), "ok".to_owned());
    // A warning, not a failure: the server still serves, but writes will fail when the disk
    // fills (min_free_disk). Space is checked where the data and the archive live.
    checks.insert("disk".to_owned(), disk_check(&state));
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
