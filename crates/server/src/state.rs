//! Shared state of the server: storage, the barrier, the clock and caches.

use std::sync::Arc;
use std::time::Duration;

use scaivault_core::Clock;
use scaivault_crypto::{Keyring, TokenHasher};
use scaivault_store::Store;

use crate::access::AccessTracker;
use crate::auth::TokenCache;

#[derive(Clone, Debug)]
pub struct AppState(pub Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub store: Arc<dyn Store>,
    pub keyring: Keyring,
    pub hasher: TokenHasher,
    pub clock: Arc<dyn Clock>,
    pub tokens: TokenCache,
    pub access: AccessTracker,
    pub limits: Limits,
}

/// Tunables that handlers need.
#[derive(Debug, Clone)]
pub struct Limits {
    /// How long a soft-deleted secret stays restorable.
    pub soft_delete_retention: Duration,
    pub max_body_bytes: usize,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
