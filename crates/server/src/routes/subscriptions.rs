//! `/v1/subscriptions`: subscribe to events by path globs and types; receive them by webhook
//! and/or long-poll. Needs `secrets:read`: a subscription hears only about paths its owner may
//! read (checked when it is created and again at every delivery).

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use scaivault_core::{Principal, Scope};
use scaivault_proto::subscriptions::*;
use scaivault_proto::{ErrorBody, Timestamp};
use scaivault_store::{Entity, SealedBlob, StoreError, SubscriptionRecord};

use crate::audit;
use crate::auth::{Authenticated, require_scope};
use crate::error::{ApiError, ApiResult};
use crate::events::{self, EVENT_TYPES, POLL_FALLBACK};
use crate::extract::{JsonBody, parse_u64, query_pairs, reject_unknown, truncate};
use crate::state::AppState;

const MAX_WAIT: Duration = Duration::from_secs(60);

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/subscriptions",
            get(list_subscriptions).post(create_subscription),
        )
        .route(
            "/v1/subscriptions/{id}",
            get(get_subscription).delete(delete_subscription),
        )
        .route("/v1/subscriptions/{id}/poll", get(poll))
        .route("/v1/subscriptions/{id}/dead-letters", get(dead_letters))
        .route(
            "/v1/subscriptions/{id}/rotate-secret",
            axum::routing::post(rotate_secret),
        )
}

fn dto(s: &SubscriptionRecord, secret: Option<String>) -> Subscription {
    Subscription {
        id: s.id.clone(),
        name: s.name.clone(),
        paths: s.paths.clone(),
        events: s.event_types.clone(),
        tenants: s.tenants.clone(),
        webhook_url: s.webhook_url.clone(),
        webhook_secret: secret,
        owner_identity: s.owner_identity.clone(),
        created_at: Timestamp::new(s.created_at),
        delivery_attempts: s.attempts,
        next_attempt_at: s.next_attempt_at.map(Timestamp::new),
        last_error: s.last_error.clone(),
    }
}

async fn existing(state: &AppState, p: &Principal, id: &str) -> ApiResult<SubscriptionRecord> {
    require_scope(p, Scope::SecretsRead)?;
    let sub = state
        .store
        .get_subscription(&p.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::from(StoreError::NotFound(Entity::Subscription)))?;
    // The owner, or an admin of the tenant.
    if sub.owner_identity != p.identity_id && !p.is_tenant_admin {
        return Err(ApiError::from(StoreError::NotFound(Entity::Subscription)));
    }
    Ok(sub)
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
    require_scope(&p, Scope::SecretsRead)?;
    let JsonBody(request) = body?;
    let name = crate::extract::check_name("name", &request.name)?;
    if request.paths.is_empty() || request.paths.len() > 100 {
        return Err(ApiError::validation("paths: 1 to 100 globs"));
    }
    events::compile_paths(&request.paths)?;
    if request.events.is_empty() {
        return Err(ApiError::validation(
            "events: at least one event type (or *)",
        ));
    }
    for (i, e) in request.events.iter().enumerate() {
        if e != "*" && !EVENT_TYPES.contains(&e.as_str()) {
            return Err(ApiError::validation(format!(
                "events[{i}]: unknown event type '{}' (known: {})",
                truncate(e),
                EVENT_TYPES.join(", ")
            )));
        }
    }
    let tenants = match request.tenants {
        None => vec![p.tenant_id.clone()],
        Some(list) if list.is_empty() => {
            return Err(ApiError::validation("tenants: at least one tenant"));
        }
        Some(list) => {
            for t in &list {
                if *t == p.tenant_id {
                    continue;
                }
                let reachable = p.is_partner_admin
                    && state
                        .store
                        .get_tenant(t)
                        .await?
                        .is_some_and(|r| r.partner_id == p.partner_id);
                if !reachable {
                    return Err(ApiError::access_denied(
                        "tenants: only partner admins subscribe to other tenants, of their partner",
                    ));
                }
            }
            let mut list = list;
            list.sort();
            list.dedup();
            list
        }
    };
    let id = scaivault_crypto::random::random_id("sub_")?;
    let (webhook_url, secret, sealed) = match request.webhook {
        None => (None, None, None),
        Some(url) => {
            state
                .webhooks
                .check_url(&url)
                .await
                .map_err(|e| ApiError::validation(format!("webhook: {e}")))?;
            let secret = crate::webhooks::new_secret()?;
            let sealed = state.keyring.seal(
                &events::webhook_secret_aad(&p.tenant_id, &id),
                secret.as_bytes(),
            )?;
            (
                Some(url),
                Some(secret.to_string()),
                Some(SealedBlob {
                    key_id: sealed.key_id,
                    ciphertext: sealed.ciphertext,
                }),
            )
        }
    };
    let start = state.store.last_event_seq().await?;
    let record = SubscriptionRecord {
        id,
        tenant_id: p.tenant_id.clone(),
        name: name.to_owned(),
        paths: request.paths,
        event_types: request.events,
        tenants,
        webhook_url,
        webhook_secret: sealed,
        owner_identity: p.identity_id.clone(),
        owner_groups: p.groups.clone(),
        owner_is_admin: p.is_tenant_admin,
        owner_is_partner_admin: p.is_partner_admin,
        created_at: state.clock.now(),
        start_seq: start,
        delivered_seq: start,
        attempts: 0,
        next_attempt_at: None,
        last_error: None,
    };
    audit::note_resource(&record.id);
    state
        .store
        .insert_subscription(&record, audit::success_event(&state).as_ref())
        .await?;
    audit::committed();
    Ok((StatusCode::CREATED, Json(dto(&record, secret))))
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
    require_scope(&p, Scope::SecretsRead)?;
    let (limit, after) = crate::extract::page_params(uri.query())?;
    let page = state
        .store
        .list_subscriptions(&p.tenant_id, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |item| &item.id);
    Ok(Json(SubscriptionList {
        subscriptions: page
            .items
            .iter()
            .filter(|s| s.owner_identity == p.identity_id || p.is_tenant_admin)
            .map(|s| dto(s, None))
            .collect(),
        cursor,
        has_more: page.has_more,
    }))
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
    Ok(Json(dto(&existing(&state, &p, &id).await?, None)))
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
    existing(&state, &p, &id).await?;
    if !state
        .store
        .delete_subscription(&p.tenant_id, &id, audit::success_event(&state).as_ref())
        .await?
    {
        return Err(ApiError::from(StoreError::NotFound(Entity::Subscription)));
    }
    audit::committed();
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
    let sub = existing(&state, &p, &id).await?;
    let pairs = query_pairs(uri.query());
    reject_unknown(&pairs, &["cursor", "wait", "limit"])?;
    let mut cursor = sub.start_seq;
    let mut wait = Duration::from_secs(30);
    let mut limit = 100;
    for (k, v) in &pairs {
        match k.as_str() {
            "cursor" => cursor = crate::cursor::decode_seq(v)?,
            "wait" => {
                wait = if v == "0" || v == "0s" {
                    Duration::ZERO
                } else {
                    scaivault_core::parse_duration(v)
                        .map_err(|e| crate::error::duration_error("wait", e))?
                };
                if wait > MAX_WAIT {
                    return Err(ApiError::validation("wait: at most 60s"));
                }
            }
            _ => limit = parse_u64("limit", v, 1, 500)? as usize,
        }
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let (found, next, has_more) = events::next_events(&state, &sub, cursor, limit).await?;
        cursor = next;
        let now = tokio::time::Instant::now();
        if !found.is_empty() || now >= deadline {
            return Ok(Json(PollResponse {
                events: found.iter().map(events::envelope).collect(),
                cursor: crate::cursor::encode_seq(cursor),
                has_more,
            }));
        }
        state.events.wait(POLL_FALLBACK.min(deadline - now)).await;
    }
}

/// Replaces the webhook signing secret; the new one is in this response only and signs every
/// delivery from now on (receivers should accept both while they switch).
#[utoipa::path(post, path = "/v1/subscriptions/{id}/rotate-secret", tag = "subscriptions",
    params(("id" = String, Path, description = "sub_...")),
    responses((status = 200, body = Subscription), (status = 404, body = ErrorBody)),
    security(("bearer" = ["secrets:read"])))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Subscription>> {
    let sub = existing(&state, &p, &id).await?;
    if sub.webhook_url.is_none() {
        return Err(ApiError::validation(
            "the subscription has no webhook, so no signing secret",
        ));
    }
    let secret = crate::webhooks::new_secret()?;
    let sealed = state.keyring.seal(
        &events::webhook_secret_aad(&sub.tenant_id, &sub.id),
        secret.as_bytes(),
    )?;
    let sealed = SealedBlob {
        key_id: sealed.key_id,
        ciphertext: sealed.ciphertext,
    };
    if !state
        .store
        .set_webhook_secret(
            &p.tenant_id,
            &id,
            &sealed,
            audit::success_event(&state).as_ref(),
        )
        .await?
    {
        return Err(ApiError::from(StoreError::NotFound(Entity::Subscription)));
    }
    audit::committed();
    Ok(Json(dto(&sub, Some(secret.to_string()))))
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
    existing(&state, &p, &id).await?;
    let dead = state.store.dead_letters(&id).await?;
    Ok(Json(DeadLetterList {
        dead_letters: dead
            .into_iter()
            .map(|d| DeadLetterInfo {
                event_id: d.event_id,
                attempts: d.attempts,
                last_error: d.last_error,
                failed_at: Timestamp::new(d.failed_at),
            })
            .collect(),
    }))
}
