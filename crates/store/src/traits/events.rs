//! The event outbox, subscriptions and webhook delivery state.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::Result;
use crate::audit::*;
use crate::events::{DeadLetter, DeliveryState, EventRecord, NewEvent, SubscriptionRecord};
use crate::model::*;

/// Mutations insert their events (see `events::event_for`) in their own transaction.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Events of `tenants` with `seq > after_seq`, oldest first.
    async fn events_after(
        &self,
        tenants: &[String],
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<EventRecord>>;

    /// The newest event's `seq` (0 when there is none): where a new subscription starts.
    async fn last_event_seq(&self) -> Result<u64>;

    async fn insert_subscription(
        &self,
        subscription: &SubscriptionRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;

    async fn get_subscription(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<SubscriptionRecord>>;

    async fn list_subscriptions(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<SubscriptionRecord>>;

    async fn delete_subscription(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    /// Inserts events that no mutation caused (expiry notices); events whose id already exists
    /// are skipped, so emitting the same notice twice (restarts, several nodes) is harmless.
    async fn insert_events(&self, _events: &[NewEvent]) -> Result<u64>;

    /// Replaces a subscription's sealed webhook secret; false when there is no such one.
    async fn set_webhook_secret(
        &self,
        tenant_id: &str,
        id: &str,
        secret: &SealedBlob,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    /// Every subscription with a webhook, across tenants (for the delivery worker).
    async fn webhook_subscriptions(&self) -> Result<Vec<SubscriptionRecord>>;

    /// Records a delivery attempt's outcome (and a dead letter when the event is given up).
    async fn record_delivery(&self, _state: &DeliveryState<'_>) -> Result<()>;

    /// Prunes the outbox: deletes events no subscription still needs (none covers the event's
    /// tenant since before it, or it occurred before `replay_before` and every webhook
    /// subscription covering it has delivered it), and dead letters that failed before
    /// `dead_letters_before`. In batches of short transactions; returns the events deleted.
    async fn prune_events(
        &self,
        replay_before: OffsetDateTime,
        dead_letters_before: OffsetDateTime,
    ) -> Result<u64>;

    async fn dead_letters(&self, _subscription_id: &str) -> Result<Vec<DeadLetter>>;
}
