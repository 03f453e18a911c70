//! The HTTP surface: one module per resource, each exporting its router; this module adds the
//! cross-cutting layers (request id, logging, body limit, panics, fallbacks).

pub mod acme;
pub mod audit;
pub mod auth;
pub mod dynamic;
pub mod health;
pub mod identity;
pub mod openapi;
pub mod pki;
pub mod policies;
pub mod rotation;
pub mod secret_policies;
pub mod secrets;
pub mod service_accounts;
pub mod subscriptions;
pub mod sys_keys;
pub mod sys_metrics;
pub mod test_clock;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use scaivault_proto::ErrorCode;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use crate::error::{ApiError, REQUEST_ID};
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let max_body = state.limits.max_body_bytes;
    Router::new()
        .merge(health::router())
        .merge(auth::router())
        .merge(audit::router())
        .merge(identity::router())
        .merge(service_accounts::router())
        .merge(policies::router())
        .merge(subscriptions::router())
        .merge(secret_policies::router())
        .merge(rotation::router())
        .merge(pki::router())
        .merge(acme::router())
        .merge(dynamic::router())
        .merge(sys_keys::router())
        .merge(sys_metrics::router())
        .merge(test_clock::router(state.test_clock.is_some()))
        .merge(secrets::router())
        .merge(openapi::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(ErrorCode::InternalError, "internal error").into_response()
        }))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::audit::record,
        ))
        .layer(middleware::from_fn(request_context))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this route",
    )
}

/// Assigns the request id (a sane incoming `X-Request-Id` is kept, so ids correlate across
/// services), scopes it for error bodies, echoes it, opens the request's span (its `request_id`
/// is on every log line of the request; a W3C `traceparent` makes it part of the caller's
/// trace), records the request's metrics (route template, never the path) and logs one line
/// per request. The line has the method, path, status and latency: never headers, bodies or
/// query strings.
pub(crate) async fn request_context(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(new_request_id);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{} {}", method, route.as_deref().unwrap_or("unmatched")),
        otel.kind = "server",
        http.request.method = %method,
        http.route = route.as_deref().unwrap_or("unmatched"),
        http.response.status_code = tracing::field::Empty,
        request_id = %request_id,
    );
    crate::tracing_otlp::adopt_remote_parent(&span, request.headers());
    let started = Instant::now();
    let mut response = REQUEST_ID
        .scope(request_id.clone(), next.run(request))
        .instrument(span.clone())
        .await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let status = response.status();
    let elapsed = started.elapsed();
    let route = match response.extensions().get::<crate::metrics::RouteTemplate>() {
        Some(template) => {
            span.record("http.route", template.0);
            crate::tracing_otlp::rename(&span, || format!("{method} {}", template.0));
            Some(template.0.to_owned())
        }
        None => route,
    };
    crate::metrics::record_request(
        route.as_deref(),
        &method,
        status,
        response.extensions().get::<ErrorCode>().copied(),
        elapsed,
    );
    span.record("http.response.status_code", status.as_u16());
    let _entered = span.enter();
    let latency_us = elapsed.as_micros() as u64;
    if status.is_server_error() {
        tracing::warn!(%method, %path, status = status.as_u16(), latency_us, "request failed");
    } else if status != StatusCode::OK || !path.starts_with("/health") {
        tracing::debug!(%method, %path, status = status.as_u16(), latency_us, "request");
    }
    response
}

fn new_request_id() -> String {
    scaivault_crypto::random::random_id("req_").unwrap_or_else(|_| "req_unavailable".to_owned())
}
