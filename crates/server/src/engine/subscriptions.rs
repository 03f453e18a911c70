//! Event subscriptions: every operation behind `/v1/subscriptions`.
//!
//! Needs `secrets:read`: a subscription hears only about paths its owner may read (checked when
//! it is created and again at every delivery). A subscription is visible to its owner and to
//! the tenant's admins; to anyone else it does not exist.

use std::time::Duration;

use scaivault_core::{Principal, Scope};
use scaivault_proto::Timestamp;
use scaivault_proto::subscriptions::*;
use scaivault_store::Entity;
use scaivault_store::{SealedBlob, SubscriptionRecord};
use zeroize::Zeroizing;

use crate::audit;
use crate::auth::require_scope;
use crate::error::{ApiError, ApiResult};
use crate::events::{self, EVENT_TYPES, POLL_FALLBACK};
use crate::extract::{parse_u64, query_pairs, reject_unknown, truncate};
use crate::state::AppState;

const MAX_WAIT: Duration = Duration::from_secs(60);

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

/// The subscription, if the caller holds the scope and owns it or administers the tenant.
async fn existing(state: &AppState, p: &Principal, id: &str) -> ApiResult<SubscriptionRecord> {
    require_scope(p, Scope::SecretsRead)?;
    let sub = state
        .store
        .get_subscription(&p.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(Entity::Subscription))?;
    // The owner, or an admin of the tenant.
    if sub.owner_identity != p.identity_id && !p.is_tenant_admin {
        return Err(ApiError::not_found(Entity::Subscription));
    }
    Ok(sub)
}

/// A fresh webhook signing secret and its sealed form, bound to the subscription.
fn new_signing_secret(
    state: &AppState,
    tenant_id: &str,
    subscription_id: &str,
) -> ApiResult<(Zeroizing<String>, SealedBlob)> {
    let secret = crate::webhooks::new_secret()?;
    let sealed = state.keyring().seal(
        &events::webhook_secret_aad(tenant_id, subscription_id),
        secret.as_bytes(),
    )?;
    let sealed = SealedBlob {
        key_id: sealed.key_id,
        ciphertext: sealed.ciphertext,
    };
    Ok((secret, sealed))
}

/// Checks the path globs and event types of a new subscription.
fn check_filters(request: &CreateSubscriptionRequest) -> ApiResult<()> {
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
    Ok(())
}

/// The tenants a subscription listens to: the caller's own by default; others only for a
/// partner admin, and only tenants of the partner.
async fn listened_tenants(
    state: &AppState,
    p: &Principal,
    requested: Option<Vec<String>>,
) -> ApiResult<Vec<String>> {
    let mut list = match requested {
        None => return Ok(vec![p.tenant_id.clone()]),
        Some(list) if list.is_empty() => {
            return Err(ApiError::validation("tenants: at least one tenant"));
        }
        Some(list) => list,
    };
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
    list.sort();
    list.dedup();
    Ok(list)
}

/// The webhook of a new subscription: (url, signing secret, sealed secret), all `None`
/// without one. The URL must pass the webhook egress rules.
async fn new_webhook(
    state: &AppState,
    tenant_id: &str,
    subscription_id: &str,
    url: Option<String>,
) -> ApiResult<(Option<String>, Option<String>, Option<SealedBlob>)> {
    let Some(url) = url else {
        return Ok((None, None, None));
    };
    state
        .webhooks
        .check_url(&url)
        .await
        .map_err(|e| ApiError::validation(format!("webhook: {e}")))?;
    let (secret, sealed) = new_signing_secret(state, tenant_id, subscription_id)?;
    Ok((Some(url), Some(secret.to_string()), Some(sealed)))
}

/// Creates a subscription; with a webhook, the signing secret is in this result only.
/// `request` is the body as parsed: its error counts only after the scope check.
pub async fn create(
    state: &AppState,
    p: &Principal,
    request: ApiResult<CreateSubscriptionRequest>,
) -> ApiResult<Subscription> {
    require_scope(p, Scope::SecretsRead)?;
    let request = request?;
    let name = crate::extract::check_name("name", &request.name)?.to_owned();
    check_filters(&request)?;
    let tenants = listened_tenants(state, p, request.tenants).await?;
    let id = scaivault_crypto::random::random_id("sub_")?;
    let (webhook_url, secret, sealed) =
        new_webhook(state, &p.tenant_id, &id, request.webhook).await?;
    let start = state.store.last_event_seq().await?;
    let record = SubscriptionRecord {
        id,
        tenant_id: p.tenant_id.clone(),
        name,
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
        .insert_subscription(&record, audit::success_event(state).as_ref())
        .await?;
    audit::committed();
    Ok(dto(&record, secret))
}

/// One page of the tenant's subscriptions the caller may see; `query` holds `limit` and
/// `cursor`.
pub async fn list(
    state: &AppState,
    p: &Principal,
    query: Option<&str>,
) -> ApiResult<SubscriptionList> {
    require_scope(p, Scope::SecretsRead)?;
    let (limit, after) = crate::extract::page_params(query)?;
    let page = state
        .store
        .list_subscriptions(&p.tenant_id, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |item| &item.id);
    Ok(SubscriptionList {
        subscriptions: page
            .items
            .iter()
            .filter(|s| s.owner_identity == p.identity_id || p.is_tenant_admin)
            .map(|s| dto(s, None))
            .collect(),
        cursor,
        has_more: page.has_more,
    })
}

pub async fn get(state: &AppState, p: &Principal, id: &str) -> ApiResult<Subscription> {
    Ok(dto(&existing(state, p, id).await?, None))
}

pub async fn delete(state: &AppState, p: &Principal, id: &str) -> ApiResult<()> {
    existing(state, p, id).await?;
    let deleted = state
        .store
        .delete_subscription(&p.tenant_id, id, audit::success_event(state).as_ref())
        .await?;
    if !deleted {
        return Err(ApiError::not_found(Entity::Subscription));
    }
    audit::committed();
    Ok(())
}

/// A poll's `cursor`, `wait` and `limit`.
struct PollQuery {
    cursor: u64,
    wait: Duration,
    limit: usize,
}

fn poll_query(query: Option<&str>, start_seq: u64) -> ApiResult<PollQuery> {
    let pairs = query_pairs(query);
    reject_unknown(&pairs, &["cursor", "wait", "limit"])?;
    let mut q = PollQuery {
        cursor: start_seq,
        wait: Duration::from_secs(30),
        limit: 100,
    };
    for (k, v) in &pairs {
        match k.as_str() {
            "cursor" => q.cursor = crate::cursor::decode_seq(v)?,
            "wait" => {
                q.wait = if v == "0" || v == "0s" {
                    Duration::ZERO
                } else {
                    scaivault_core::parse_duration(v)
                        .map_err(|e| crate::error::duration_error("wait", e))?
                };
                if q.wait > MAX_WAIT {
                    return Err(ApiError::validation("wait: at most 60s"));
                }
            }
            _ => q.limit = parse_u64("limit", v, 1, 500)? as usize,
        }
    }
    Ok(q)
}

/// Long-poll: returns at once when events are pending after the cursor, otherwise waits until
/// one arrives or `wait` ends. Without a cursor it starts at the subscription's creation.
pub async fn poll(
    state: &AppState,
    p: &Principal,
    id: &str,
    query: Option<&str>,
) -> ApiResult<PollResponse> {
    let sub = existing(state, p, id).await?;
    let PollQuery {
        mut cursor,
        wait,
        limit,
    } = poll_query(query, sub.start_seq)?;
    let deadline = tokio::time::Instant::now() + wait;
    let _waiting = crate::metrics::GaugeGuard::new("scaivault_longpoll_waiters");
    loop {
        let (found, next, has_more) = events::next_events(state, &sub, cursor, limit).await?;
        cursor = next;
        let now = tokio::time::Instant::now();
        if !found.is_empty() || now >= deadline {
            return Ok(PollResponse {
                events: found.iter().map(events::envelope).collect(),
                cursor: crate::cursor::encode_seq(cursor),
                has_more,
            });
        }
        state.events.wait(POLL_FALLBACK.min(deadline - now)).await;
    }
}

/// Replaces the webhook signing secret; the new one is in this result only.
pub async fn rotate_secret(state: &AppState, p: &Principal, id: &str) -> ApiResult<Subscription> {
    let sub = existing(state, p, id).await?;
    if sub.webhook_url.is_none() {
        return Err(ApiError::validation(
            "the subscription has no webhook, so no signing secret",
        ));
    }
    let (secret, sealed) = new_signing_secret(state, &sub.tenant_id, &sub.id)?;
    let replaced = state
        .store
        .set_webhook_secret(
            &p.tenant_id,
            id,
            &sealed,
            audit::success_event(state).as_ref(),
        )
        .await?;
    if !replaced {
        return Err(ApiError::not_found(Entity::Subscription));
    }
    audit::committed();
    Ok(dto(&sub, Some(secret.to_string())))
}

/// Events given up on after the retry window, with the last error.
pub async fn dead_letters(state: &AppState, p: &Principal, id: &str) -> ApiResult<DeadLetterList> {
    existing(state, p, id).await?;
    let dead = state.store.dead_letters(id).await?;
    Ok(DeadLetterList {
        dead_letters: dead
            .into_iter()
            .map(|d| DeadLetterInfo {
                event_id: d.event_id,
                attempts: d.attempts,
                last_error: d.last_error,
                failed_at: Timestamp::new(d.failed_at),
            })
            .collect(),
    })
}
