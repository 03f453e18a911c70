//! Events to subscribers: matching, authorization at delivery time, long-poll waits and the
//! webhook delivery worker.
//!
//! The outbox is written by the store in the mutation's transaction. A subscription sees an
//! event when the event's tenant is one of the subscription's tenants, its type is subscribed,
//! its path matches one of the subscription's globs (events without a path, like
//! `policy.changed`, match on type alone), and the subscription's owner may `read` the path
//! *now* (admins of the tenant may read everything).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::Instrument;

use scaivault_core::policy::{Effect, Permission, PolicyInput, PolicyRule, PolicySet};
use scaivault_proto::Timestamp;
use scaivault_proto::subscriptions::Event;
use scaivault_store::{DeadLetter, DeliveryState, EventRecord, SubscriptionRecord};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The catalogue of event types (later issues add theirs).
pub const EVENT_TYPES: [&str; 20] = [
    "secret.created",
    "secret.updated",
    "secret.deleted",
    "secret.restored",
    "secret.rotated",
    "secret.expiring",
    "secret.expired",
    "rotation.due",
    "rotation.succeeded",
    "rotation.failed",
    "policy.changed",
    "certificate.issued",
    "certificate.revoked",
    "certificate.expiring",
    "certificate.expired",
    "acme.order_failed",
    "lease.created",
    "lease.expiring",
    "lease.revoked",
    "lease.revocation_failed",
];

/// Events read from the outbox per round.
const BATCH: u32 = 200;

/// The path globs of a subscription, compiled with the policy glob language.
pub fn compile_paths(paths: &[String]) -> ApiResult<PolicySet> {
    let rules = paths
        .iter()
        .map(|p| PolicyRule {
            path: p.clone(),
            permissions: vec![Permission::Read],
            effect: Effect::Allow,
        })
        .collect();
    PolicySet::compile([PolicyInput {
        id: "subscription".to_owned(),
        name: "subscription".to_owned(),
        rules,
    }])
    .map_err(|e| ApiError::validation(format!("paths: {e}")))
}

pub fn envelope(e: &EventRecord) -> Event {
    Event {
        id: e.id.clone(),
        event_type: e.event_type.clone(),
        tenant_id: e.tenant_id.clone(),
        path: e.path.clone(),
        occurred_at: Timestamp::new(e.occurred_at),
        data: serde_json::from_str(&e.data).unwrap_or(serde_json::Value::Null),
    }
}

/// Whether the subscription (and its owner, now) may see the event.
pub async fn visible(
    state: &AppState,
    sub: &SubscriptionRecord,
    globs: &PolicySet,
    e: &EventRecord,
) -> ApiResult<bool> {
    if !sub.tenants.contains(&e.tenant_id) {
        return Ok(false);
    }
    if !sub
        .event_types
        .iter()
        .any(|t| t == "*" || *t == e.event_type)
    {
        return Ok(false);
    }
    let Some(path) = &e.path else {
        return Ok(true);
    };
    if !globs.allows(path, Permission::Read) {
        return Ok(false);
    }
    let owner_is_admin = if e.tenant_id == sub.tenant_id {
        sub.owner_is_admin
    } else {
        // Another tenant is reachable only by a partner admin (checked at creation).
        sub.owner_is_partner_admin
    };
    if owner_is_admin {
        return Ok(true);
    }
    let policies =
        crate::authz::policy_set(state, &e.tenant_id, &sub.owner_identity, &sub.owner_groups)
            .await?;
    Ok(policies.allows(path, Permission::Read))
}

/// The visible events after `after`, up to `limit`; returns them and the seq to resume from
/// (past invisible events too, so a poller does not re-scan them).
pub async fn next_events(
    state: &AppState,
    sub: &SubscriptionRecord,
    after: u64,
    limit: usize,
) -> ApiResult<(Vec<EventRecord>, u64, bool)> {
    let globs = compile_paths(&sub.paths)?;
    let mut cursor = after;
    let mut out = Vec::new();
    loop {
        let batch = state
            .store
            .events_after(&sub.tenants, cursor, BATCH)
            .await?;
        let full = batch.len() == BATCH as usize;
        for e in batch {
            if out.len() >= limit {
                return Ok((out, cursor, true));
            }
            cursor = e.seq;
            if visible(state, sub, &globs, &e).await? {
                out.push(e);
            }
        }
        if !full {
            return Ok((out, cursor, false));
        }
    }
}

/// Wakes long-polls and the delivery worker when a mutation commits on this node.
#[derive(Debug, Default)]
pub struct EventBus {
    notify: tokio::sync::Notify,
}

impl EventBus {
    pub fn committed(&self) {
        self.notify.notify_waiters();
    }

    /// Waits for the next commit on this node or `timeout`, whichever comes first. Other
    /// nodes' commits are seen by re-reading the outbox at least every `POLL_FALLBACK`.
    pub async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.notify.notified()).await;
    }
}

/// How often a node that does not deliver webhooks checks whether it should take over.
const LEASE_ROUND: Duration = Duration::from_secs(5);

/// How often waiting polls re-read the outbox even without a local commit (other nodes).
pub const POLL_FALLBACK: Duration = Duration::from_millis(500);

/// Delivery settings.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub retry_base: Duration,
    /// How long a failing event is retried before it is dead-lettered.
    pub retry_window: Duration,
}

/// Sum of the backoff delays before attempt `attempts` (without jitter): the time an event has
/// been retried, used to decide when to give up.
fn retried_for(base: Duration, attempts: u32) -> Duration {
    (1..attempts)
        .map(|a| {
            base.saturating_mul(1u32 << (a - 1).min(20))
                .min(Duration::from_secs(3600))
        })
        .sum()
}

/// The webhook delivery worker: one task per subscription with pending work at a time, events
/// in order, each retried with backoff until it succeeds or the retry window passes.
pub fn spawn_worker(state: AppState, config: DeliveryConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let busy: Arc<Mutex<HashSet<String>>> = Arc::default();
        loop {
            // One node delivers (per-path order and no duplicates across the cluster).
            if !crate::jobs::leading(&state, "webhooks", LEASE_ROUND).await {
                tokio::time::sleep(LEASE_ROUND).await;
                continue;
            }
            match state.store.webhook_subscriptions().await {
                Ok(subs) => {
                    let now = state.clock.now();
                    for sub in subs {
                        if sub.next_attempt_at.is_some_and(|t| t > now) {
                            continue;
                        }
                        if !busy
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(sub.id.clone())
                        {
                            continue;
                        }
                        let (state, config, busy) = (state.clone(), config.clone(), busy.clone());
                        tokio::spawn(async move {
                            // The listing may predate the cursor a task that just finished
                            // recorded: deliver from the subscription as stored now, or the
                            // events that task delivered would go out again.
                            let fresh = match state
                                .store
                                .get_subscription(&sub.tenant_id, &sub.id)
                                .await
                            {
                                Ok(Some(fresh)) => Some(fresh),
                                Ok(None) => None,
                                Err(e) => {
                                    tracing::warn!(subscription = %sub.id, error = %e, "cannot read the webhook subscription");
                                    None
                                }
                            };
                            let due = |s: &SubscriptionRecord| {
                                s.next_attempt_at.is_none_or(|t| t <= state.clock.now())
                            };
                            if let Some(sub) = fresh.filter(due)
                                && let Err(e) = deliver_pending(&state, &config, &sub).await
                            {
                                tracing::warn!(subscription = %sub.id, error = %e.message, "webhook delivery round failed");
                            }
                            busy.lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .remove(&sub.id);
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot list webhook subscriptions"),
            }
            state.events.wait(POLL_FALLBACK).await;
        }
    })
}

async fn deliver_pending(
    state: &AppState,
    config: &DeliveryConfig,
    sub: &SubscriptionRecord,
) -> ApiResult<()> {
    let (Some(url), Some(sealed)) = (&sub.webhook_url, &sub.webhook_secret) else {
        return Ok(());
    };
    let secret = state.keyring().open(
        &scaivault_crypto::SealedValue {
            key_id: sealed.key_id.clone(),
            ciphertext: sealed.ciphertext.clone(),
        },
        &webhook_secret_aad(&sub.tenant_id, &sub.id),
    )?;
    let secret = std::str::from_utf8(&secret)
        .map_err(|_| ApiError::internal("webhook secret is not text"))?
        .to_owned();
    let (events, scanned_to, _) = next_events(state, sub, sub.delivered_seq, 100).await?;
    let mut delivered = sub.delivered_seq;
    let mut attempts = sub.attempts;
    // Checked (and resolved) once per round; a URL that became internal fails like a refusal.
    let target = if events.is_empty() {
        None
    } else {
        Some(state.webhooks.target(url).await)
    };
    for e in &events {
        let body = serde_json::to_vec(&envelope(e)).map_err(ApiError::internal)?;
        let result = match &target {
            Some(Ok(target)) => {
                target
                    .deliver(&e.id, &body, &secret, state.clock.now())
                    .instrument(tracing::debug_span!("webhook.deliver", event_id = %e.id))
                    .await
            }
            Some(Err(refused)) => Err(refused.clone()),
            None => Ok(()),
        };
        let result = match (&target, result) {
            // Not a delivery: the event is not visible to this subscription's webhook.
            (None, r) => r,
            (Some(_), r) => {
                let label = if r.is_ok() { "delivered" } else { "failed" };
                metrics::counter!("scaivault_webhook_deliveries_total", "result" => label)
                    .increment(1);
                r
            }
        };
        match result {
            Ok(()) => {
                delivered = e.seq;
                attempts = 0;
            }
            Err(error) => {
                attempts += 1;
                let now = state.clock.now();
                if retried_for(config.retry_base, attempts) >= config.retry_window {
                    metrics::counter!("scaivault_webhook_deliveries_total", "result" => "dead_lettered")
                        .increment(1);
                    // Given up: dead-lettered (visible through the API), the stream moves on.
                    let dead = DeadLetter {
                        subscription_id: sub.id.clone(),
                        event_id: e.id.clone(),
                        event_seq: e.seq,
                        attempts,
                        last_error: error.clone(),
                        failed_at: now,
                    };
                    tracing::warn!(subscription = %sub.id, event = %e.id, %error, "webhook event dead-lettered");
                    state
                        .store
                        .record_delivery(&DeliveryState {
                            subscription_id: &sub.id,
                            delivered_seq: e.seq,
                            attempts: 0,
                            next_attempt_at: None,
                            last_error: Some(&error),
                            dead: Some(&dead),
                        })
                        .await?;
                    return Ok(());
                }
                let delay = crate::webhooks::backoff(config.retry_base, attempts);
                state
                    .store
                    .record_delivery(&DeliveryState {
                        subscription_id: &sub.id,
                        delivered_seq: delivered,
                        attempts,
                        next_attempt_at: Some(now + delay),
                        last_error: Some(&error),
                        dead: None,
                    })
                    .await?;
                return Ok(());
            }
        }
    }
    // Everything scanned was delivered (or not visible to this subscription).
    let cursor = if events.is_empty() {
        scanned_to
    } else {
        delivered.max(scanned_to)
    };
    if cursor != sub.delivered_seq || sub.attempts != 0 || sub.next_attempt_at.is_some() {
        state
            .store
            .record_delivery(&DeliveryState {
                subscription_id: &sub.id,
                delivered_seq: cursor,
                attempts: 0,
                next_attempt_at: None,
                last_error: None,
                dead: None,
            })
            .await?;
    }
    Ok(())
}

/// How far back an expiry is still announced (covers downtime).
const EXPIRED_LOOKBACK: time::Duration = time::Duration::days(7);

/// Announces `secret.expiring` once when a secret enters the warning window and
/// `secret.expired` once when its expiry passes. Ids are derived from (type, tenant, path,
/// expires_at), so repeats (every check, every node, restarts) are skipped by the store, and a
/// new expiry date is announced again. Returns how many events were new.
pub async fn emit_expiry_notices(state: &AppState, warning: Duration) -> ApiResult<u64> {
    let now = state.clock.now();
    let warning = time::Duration::try_from(warning).unwrap_or(time::Duration::days(7));
    let mut notices = Vec::new();
    for (event_type, from, to) in [
        ("secret.expired", now - EXPIRED_LOOKBACK, now),
        ("secret.expiring", now, now + warning),
    ] {
        for (tenant, path, expires_at) in
            state.store.secrets_expiring_between(from, to, 1000).await?
        {
            let key = format!(
                "{event_type}\n{tenant}\n{path}\n{}",
                expires_at.unix_timestamp_nanos()
            );
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
            let id = crate::engine::audit::hex(&digest.as_ref()[..12]);
            let seconds_left = (expires_at - now).whole_seconds().max(0);
            notices.push(scaivault_store::NewEvent {
                id: format!("evt_x{id}"),
                tenant_id: tenant,
                event_type: event_type.to_owned(),
                path: Some(path),
                occurred_at: now,
                data: serde_json::json!({
                    "expires_at": Timestamp::new(expires_at),
                    "days_remaining": (seconds_left as u64).div_ceil(86_400),
                })
                .to_string(),
            });
        }
    }
    certificate_notices(state, now, warning, &mut notices).await?;
    lease_notices(state, now, &mut notices).await?;
    if notices.is_empty() {
        return Ok(0);
    }
    let inserted = state.store.insert_events(&notices).await?;
    if inserted > 0 {
        state.events.committed();
    }
    Ok(inserted)
}

/// `certificate.expiring` once when a valid certificate enters the warning window and
/// `certificate.expired` once when it expires, keyed like the secret notices (type, tenant,
/// certificate id, not_after). The event's path is the certificate's secret path, if any.
async fn certificate_notices(
    state: &AppState,
    now: time::OffsetDateTime,
    warning: time::Duration,
    notices: &mut Vec<scaivault_store::NewEvent>,
) -> ApiResult<()> {
    for (event_type, from, to) in [
        ("certificate.expired", now - EXPIRED_LOOKBACK, now),
        ("certificate.expiring", now, now + warning),
    ] {
        for cert in state
            .store
            .certificates_expiring_between(from, to, 1000)
            .await?
        {
            let key = format!(
                "{event_type}\n{}\n{}\n{}",
                cert.tenant_id,
                cert.id,
                cert.not_after.unix_timestamp_nanos()
            );
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
            let id = crate::engine::audit::hex(&digest.as_ref()[..12]);
            let seconds_left = (cert.not_after - now).whole_seconds().max(0);
            notices.push(scaivault_store::NewEvent {
                id: format!("evt_x{id}"),
                tenant_id: cert.tenant_id.clone(),
                event_type: event_type.to_owned(),
                path: cert.secret_path.clone(),
                occurred_at: now,
                data: serde_json::json!({
                    "certificate_id": cert.id,
                    "ca_id": cert.ca_id,
                    "serial": cert.serial,
                    "common_name": cert.common_name,
                    "not_after": Timestamp::new(cert.not_after),
                    "days_remaining": (seconds_left as u64).div_ceil(86_400),
                })
                .to_string(),
            });
        }
    }
    Ok(())
}

/// A lease is announced as expiring this long before its expiry.
pub const LEASE_EXPIRY_WARNING: time::Duration = time::Duration::minutes(5);

/// `lease.expiring` once per (lease, expiry) when an active lease is within
/// [`LEASE_EXPIRY_WARNING`] of its end (a renewal moves the expiry: announced again).
async fn lease_notices(
    state: &AppState,
    now: time::OffsetDateTime,
    notices: &mut Vec<scaivault_store::NewEvent>,
) -> ApiResult<()> {
    for lease in state
        .store
        .leases_expiring_between(now, now + LEASE_EXPIRY_WARNING, 1000)
        .await?
    {
        let key = format!(
            "lease.expiring\n{}\n{}\n{}",
            lease.tenant_id,
            lease.id,
            lease.expires_at.unix_timestamp_nanos()
        );
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
        let id = crate::engine::audit::hex(&digest.as_ref()[..12]);
        notices.push(scaivault_store::NewEvent {
            id: format!("evt_x{id}"),
            tenant_id: lease.tenant_id.clone(),
            event_type: "lease.expiring".to_owned(),
            path: None,
            occurred_at: now,
            data: serde_json::json!({
                "lease_id": lease.id,
                "engine": lease.engine,
                "role": lease.role,
                "identity": lease.identity,
                "expires_at": Timestamp::new(lease.expires_at),
                "seconds_remaining": (lease.expires_at - now).whole_seconds().max(0),
            })
            .to_string(),
        });
    }
    Ok(())
}

/// Runs [`emit_expiry_notices`] every `every`.
pub fn spawn_expiry_notices(
    state: AppState,
    every: Duration,
    warning: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if !crate::jobs::leading(&state, "expiry-notices", every).await {
                continue;
            }
            match emit_expiry_notices(&state, warning).await {
                Ok(_) => {}
                Err(e) if e.code == scaivault_proto::ErrorCode::ServiceUnavailable => {
                    tracing::info!("this store has no event outbox yet: expiry notices are off");
                    return;
                }
                Err(e) => tracing::warn!(error = %e.message, "expiry notices failed"),
            }
        }
    })
}

/// The AAD binding a sealed webhook secret to its subscription.
pub fn webhook_secret_aad(tenant_id: &str, subscription_id: &str) -> Vec<u8> {
    scaivault_crypto::secret_aad(tenant_id, &format!("webhook-secret/{subscription_id}"), 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_window_accumulates_capped_backoff() {
        let base = Duration::from_secs(1);
        assert_eq!(retried_for(base, 1), Duration::ZERO);
        assert_eq!(retried_for(base, 4), Duration::from_secs(1 + 2 + 4));
        // A day of retries: 12 doublings reach the one-hour cap, then hourly.
        let day = Duration::from_secs(86_400);
        let attempts = (1..100).find(|a| retried_for(base, *a) >= day).unwrap_or(0);
        assert!((30..40).contains(&attempts), "{attempts}");
    }

    #[test]
    fn subscription_globs_use_the_policy_language() {
        let set = compile_paths(&["environments/production/**".to_owned()]).unwrap();
        assert!(set.allows("environments/production/db", Permission::Read));
        assert!(!set.allows("environments/staging/db", Permission::Read));
        assert!(compile_paths(&["a**b".to_owned()]).is_err());
    }
}
