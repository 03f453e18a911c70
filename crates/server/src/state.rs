//! Shared state of the server: storage, the barrier, the clock and caches.

use std::sync::Arc;
use std::time::Duration;

use scaivault_core::Clock;
use scaivault_crypto::{Keyring, TokenHasher};
use scaivault_store::{ChainMac, Store};

use crate::access::AccessTracker;
use crate::auth::TokenCache;

#[derive(Clone, Debug)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub store: Arc<dyn Store>,
    /// The keyring (swapped on rotation) and the root key provider.
    pub keys: crate::keys::KeyState,
    pub hasher: TokenHasher,
    pub clock: Arc<dyn Clock>,
    pub tokens: TokenCache,
    pub access: AccessTracker,
    pub limits: Limits,
    /// The MAC of the audit chains (also held by the store, which appends).
    pub audit_mac: ChainMac,
    /// ScaiKey JWT verification; `None` when no issuer is configured.
    pub jwt: Option<std::sync::Arc<scaivault_jwt::JwtVerifier>>,
    pub rate_limits: crate::ratelimit::RateLimiter,
    /// Whose `X-Forwarded-For` names the client (rate limits and audit use that client).
    pub trusted_proxies: crate::client_ip::TrustedProxies,
    pub policies: crate::authz::PolicyCache,
    pub events: crate::events::EventBus,
    /// This process's id in leases of cluster-wide background jobs.
    pub node_id: String,
    pub webhooks: crate::webhooks::WebhookClient,
    /// The dev test clock (`--dev-test-clock`): the same clock as `clock`, movable.
    pub test_clock: Option<Arc<scaivault_core::ManualClock>>,
    /// Data directory, audit retention and archive, free-space threshold.
    pub storage: crate::retention::StorageSettings,
    /// Whether requests lately failed for lack of storage (readiness follows them).
    pub storage_health: crate::storage_health::StorageHealth,
    /// The base URL issued certificates name for CRLs and OCSP (`public_url`, or the
    /// listen address once bound).
    pub public_url: std::sync::OnceLock<String>,
    /// Open dynamic-credentials backends (connection pools), per engine.
    pub dynamic: crate::engine::dynamic::Backends,
    /// The ACME order worker's wake-up and CA polling.
    pub acme: crate::engine::acme::AcmeRuntime,
    /// Prometheus metrics (off: `metrics_enabled = false`).
    pub metrics: crate::metrics::Metrics,
}

/// Tunables that handlers need.
#[derive(Debug, Clone)]
pub struct Limits {
    /// How long a soft-deleted secret stays restorable.
    pub soft_delete_retention: Duration,
    pub max_body_bytes: usize,
    /// The operators' tenant (the bootstrap tenant): its admins also see the audit entries of
    /// requests that reached no tenant (unauthenticated ones).
    pub operator_tenant_id: String,
    /// The operators' partner: its partner admins manage partners and every tenant.
    pub operator_partner_id: String,
    /// How long before its expiry a secret is announced (`secret.expiring`).
    pub expiry_warning: Duration,
    /// Cap on a tenant's live dynamic-credential leases.
    pub dynamic_max_leases_per_tenant: u32,
}

impl Inner {
    /// The keyring as it is now.
    pub fn keyring(&self) -> Arc<Keyring> {
        self.keys.keyring()
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("store", &self.store)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}
