//! `/v1/subscriptions`: event subscriptions, long-poll and webhook delivery state.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Timestamp;

/// One event, as webhooks receive it (the body) and polls return it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// `evt_...`; also the `webhook-id` header: stable across retries.
    pub id: String,
    /// `secret.created`, `secret.updated`, `secret.deleted`, `secret.restored`,
    /// `secret.rotated`, `policy.changed`, ... (docs/events.md)
    pub event_type: String,
    pub tenant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub occurred_at: Timestamp,
    /// Type-specific, e.g. `{"old_version": 3, "new_version": 4}` for `secret.rotated`.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscriptionRequest {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Path globs (`environments/production/**`), the policy glob language.
    #[schema(min_items = 1, max_items = 100)]
    pub paths: Vec<String>,
    /// Event types, or `*` for all.
    #[schema(min_items = 1)]
    pub events: Vec<String>,
    /// Deliver by webhook (http/https; internal addresses are refused).
    #[serde(default)]
    pub webhook: Option<String>,
    /// Tenants to hear from; default the caller's. Partner admins may list their partner's.
    #[serde(default)]
    pub tenants: Option<Vec<String>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Subscription {
    /// `sub_...`
    pub id: String,
    pub name: String,
    pub paths: Vec<String>,
    pub events: Vec<String>,
    pub tenants: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// The webhook signing secret (`whsec_...`): only in the creation and rotation responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    pub owner_identity: String,
    pub created_at: Timestamp,
    /// Webhook delivery state: failed attempts of the next event, when it is retried, why.
    pub delivery_attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionList {
    pub subscriptions: Vec<Subscription>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// `GET /v1/subscriptions/{id}/poll`
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PollResponse {
    pub events: Vec<Event>,
    /// Pass back as `cursor` to resume after these events (also when `events` is empty).
    pub cursor: String,
    pub has_more: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterInfo {
    pub event_id: String,
    pub attempts: u32,
    pub last_error: String,
    pub failed_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterList {
    pub dead_letters: Vec<DeadLetterInfo>,
}
