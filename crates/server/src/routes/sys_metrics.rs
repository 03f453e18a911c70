//! `GET /v1/sys/metrics`: the Prometheus scrape (docs/monitoring.md). Needs a token with
//! `metrics:read` of the installation's partner (the numbers are installation-wide), or the
//! separate unauthenticated listener `metrics_listen` on an internal address, as Vault's
//! `unauthenticated_metrics_access` and Kubernetes components' metrics ports do. Scrapes are
//! not audited (every 15 s, they would bury the trail); a refused scrape is logged.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use scaivault_core::{Principal, Scope};
use scaivault_proto::ErrorCode;

use crate::StartupError;
use crate::auth::{Authenticated, require_scope};
use crate::error::{ApiError, ApiResult};
use crate::metrics::{self, Metrics};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/sys/metrics", get(scrape))
}

/// Every series of docs/monitoring.md in the Prometheus text format, or OpenMetrics when the
/// `Accept` header asks for `application/openmetrics-text`. `404 not_found` with metrics off.
#[utoipa::path(get, path = "/v1/sys/metrics", tag = "system",
    responses(
        (status = 200, description = "Prometheus text exposition (text/plain; version=0.0.4), or OpenMetrics text on request", content_type = "text/plain"),
        (status = 403, body = scaivault_proto::ErrorBody),
        (status = 404, body = scaivault_proto::ErrorBody, description = "not_found: metrics are off (metrics_enabled = false)")),
    security(("bearer" = ["metrics:read"])))]
pub async fn scrape(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    headers: HeaderMap,
) -> ApiResult<Response> {
    require_metrics_reader(&state, &p)?;
    exposition(&state.metrics, &headers).ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            "metrics are off (metrics_enabled = false)",
        )
    })
}

fn require_metrics_reader(state: &AppState, p: &Principal) -> ApiResult<()> {
    require_scope(p, Scope::MetricsRead)?;
    if p.partner_id == state.limits.operator_partner_id {
        Ok(())
    } else {
        Err(ApiError::access_denied(
            "metrics are installation-wide: only identities of the installation's partner read them",
        ))
    }
}

/// The rendered scrape in the format `headers` ask for; `None` with metrics off.
fn exposition(metrics: &Metrics, headers: &HeaderMap) -> Option<Response> {
    let text = metrics.render()?;
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let (body, content_type) = if metrics::wants_openmetrics(accept) {
        (
            metrics::to_openmetrics(&text),
            metrics::OPENMETRICS_CONTENT_TYPE,
        )
    } else {
        (text, metrics::TEXT_CONTENT_TYPE)
    };
    Some(
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response(),
    )
}

/// Serves `GET /metrics` (no token) on `listen` until the process ends.
pub async fn spawn_listener(
    listen: &str,
    metrics: Metrics,
) -> Result<tokio::task::JoinHandle<()>, StartupError> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        StartupError::Io(format!("cannot listen on {listen} (metrics_listen): {e}"))
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartupError::Io(e.to_string()))?;
    tracing::info!(%addr, "metrics listener (no authentication) serving /metrics");
    let app = Router::new()
        .route(
            "/metrics",
            get(|State(m): State<Metrics>, headers: HeaderMap| async move {
                exposition(&m, &headers).unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
            }),
        )
        .with_state(metrics);
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    }))
}
