//! `/v1/subscriptions`: subscribe to events by path globs and types; receive them by webhook
//! and/or long-poll. Each handler extracts the request and calls one function of
//! `engine::subscriptions`, which holds the rules.

use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use scaivault_proto::ErrorBody;
use scaivault_proto::subscriptions::*;

use crate::audit::op;
use crate::auth::Authenticated;
use crate::engine::subscriptions;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/subscriptions",
            get(list_subscriptions.layer(op("list", "subscription")))
                .post(create_subscription.layer(op("create", "subscription"))),
        )
        .route(
            "/v1/subscriptions/{id}",
            get(get_subscription.layer(op("read", "subscription")))
                .delete(delete_subscription.layer(op("delete", "subscription"))),
        )
        .route(
            "/v1/subscriptions/{id}/poll",
            get(poll.layer(op("poll", "subscription"))),
        )
        .route(
            "/v1/subscriptions/{id}/dead-letters",
            get(dead_letters.layer(op("dead_letters", "subscription"))),
        )
        .route(
            "/v1/subscriptions/{id}/rotate-secret",
            axum::routing::post(rotate_secret.layer(op("rotate_secret", "subscription"))),
        )
}

/// Creates a subscription; with a webhook, the signing secret is in this response only.
#[utoipa::path(post, path = "/v1/subscriptions", tag = "subscriptions",
    request_body = CreateSubscriptionRequest,
    responses((status = 201, body = Subscription), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = ["secrets:read"])))]
pub async fn create_subscription(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<CreateSubscriptionRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<Subscription>)> {
    let created = subscriptions::create(&state, &p, body.map(|JsonBody(r)| r)).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/v1/subscriptions", tag = "subscriptions",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = SubscriptionList)),
    security(("bearer" = ["secrets:read"])))]
pub async fn list_subscriptions(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<SubscriptionList>> {
    Ok(Json(subscriptions::list(&state, &p, uri.query()).await?))
}

#[utoipa::path(get, path = "/v1/subscriptions/{id}", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_...")),
    responses((status = 200, body = Subscription), (status = 404, body = ErrorBody)),
    security(("bearer" = ["secrets:read"])))]
pub async fn get_subscription(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Subscription>> {
    Ok(Json(subscriptions::get(&state, &p, &id).await?))
}

#[utoipa::path(delete, path = "/v1/subscriptions/{id}", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_...")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = ["secrets:read"])))]
pub async fn delete_subscription(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    subscriptions::delete(&state, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Long-poll: returns at once when events are pending after `cursor`, otherwise holds the
/// request until one arrives or `wait` (default `30s`, at most `60s`) ends. Without a cursor it
/// starts at the subscription's creation. At-least-once: resume with the returned cursor.
#[utoipa::path(get, path = "/v1/subscriptions/{id}/poll", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_..."),
           ("cursor" = Option<String>, Query, description = "from the previous poll"),
           ("wait" = Option<String>, Query, description = "e.g. 30s; 0s answers at once"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "default 100")),
    responses((status = 200, body = PollResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = ["secrets:read"])))]
pub async fn poll(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Json<PollResponse>> {
    Ok(Json(
        subscriptions::poll(&state, &p, &id, uri.query()).await?,
    ))
}

/// Replaces the webhook signing secret; the new one is in this response only and signs every
/// delivery from now on (receivers should accept both while they switch).
#[utoipa::path(post, path = "/v1/subscriptions/{id}/rotate-secret", tag = "subscriptions", operation_id = "rotate_subscription_secret",
    params(("id" = String, Path, description = "sub_...")),
    responses((status = 200, body = Subscription), (status = 404, body = ErrorBody)),
    security(("bearer" = ["secrets:read"])))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Subscription>> {
    Ok(Json(subscriptions::rotate_secret(&state, &p, &id).await?))
}

/// Events given up on after the retry window, with the last error.
#[utoipa::path(get, path = "/v1/subscriptions/{id}/dead-letters", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_...")),
    responses((status = 200, body = DeadLetterList), (status = 404, body = ErrorBody)),
    security(("bearer" = ["secrets:read"])))]
pub async fn dead_letters(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<DeadLetterList>> {
    Ok(Json(subscriptions::dead_letters(&state, &p, &id).await?))
}
