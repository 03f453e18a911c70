//! The cached JWKS of one issuer, fetched over HTTP.
//!
//! Fetches are single-flight (a tokio mutex, the "gate", is held across each fetch, and waiters
//! reuse its result) and spaced by at least `unknown_kid_refresh_min_interval`, so neither a
//! burst of verifies on a cold cache nor tokens with made-up `kid`s can hammer the issuer.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use tokio::sync::{Mutex, MutexGuard};

use crate::config::VerifierOptions;
use crate::error::JwtError;
use crate::keys::KeySet;

/// JWKS documents are small; anything bigger than this is refused rather than buffered.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

#[derive(Debug)]
pub(crate) struct RemoteJwks {
    issuer: String,
    url: reqwest::Url,
    client: reqwest::Client,
    cache: RwLock<Option<Cached>>,
    /// Held across a fetch; holds when the last fetch attempt finished.
    gate: Mutex<Option<Instant>>,
}

#[derive(Debug, Clone)]
struct Cached {
    keys: Arc<KeySet>,
    fetched_at: Instant,
    /// Bumped on every successful fetch, so a waiter can tell whether the set changed.
    generation: u64,
}

/// The keys a verify works with, and which fetch they came from.
pub(crate) struct Snapshot {
    pub(crate) keys: Arc<KeySet>,
    pub(crate) generation: u64,
}

impl From<Cached> for Snapshot {
    fn from(cached: Cached) -> Self {
        Self {
            keys: cached.keys,
            generation: cached.generation,
        }
    }
}

impl RemoteJwks {
    pub(crate) fn new(issuer: String, url: reqwest::Url, client: reqwest::Client) -> Self {
        Self {
            issuer,
            url,
            client,
            cache: RwLock::new(None),
            gate: Mutex::new(None),
        }
    }

    /// The keys to verify with: fetched on first use (so the server may start before the IdP),
    /// refreshed by one caller once older than `jwks_refresh_interval`.
    pub(crate) async fn current(&self, options: &VerifierOptions) -> Result<Snapshot, JwtError> {
        match self.cached() {
            None => {
                let gate = self.gate.lock().await;
                self.refresh_locked(gate, None, options).await
            }
            Some(cached) if cached.fetched_at.elapsed() >= options.jwks_refresh_interval => {
                // One caller refreshes; the others keep using the (still valid) cached keys
                // instead of queueing behind the fetch.
                match self.gate.try_lock() {
                    Ok(gate) => {
                        self.refresh_locked(gate, Some(cached.generation), options)
                            .await
                    }
                    Err(_) => Ok(cached.into()),
                }
            }
            Some(cached) => Ok(cached.into()),
        }
    }

    /// A token named a kid missing from the set of generation `seen`: refresh (or reuse a
    /// refresh that happened meanwhile) and return the newest keys.
    pub(crate) async fn refresh_after_unknown_kid(
        &self,
        seen: u64,
        options: &VerifierOptions,
    ) -> Result<Arc<KeySet>, JwtError> {
        tracing::debug!(issuer = %self.issuer, "unknown kid; refreshing JWKS");
        let gate = self.gate.lock().await;
        Ok(self.refresh_locked(gate, Some(seen), options).await?.keys)
    }

    fn cached(&self) -> Option<Cached> {
        // The lock is never held across a panic point; recover from poisoning anyway.
        self.cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Fetches unless another caller already replaced generation `seen` while we waited for the
    /// gate, or the last attempt was too recent. With cached keys, a failed fetch keeps them.
    async fn refresh_locked(
        &self,
        mut gate: MutexGuard<'_, Option<Instant>>,
        seen: Option<u64>,
        options: &VerifierOptions,
    ) -> Result<Snapshot, JwtError> {
        let current = self.cached();
        if let Some(cached) = &current
            && Some(cached.generation) != seen
        {
            return Ok(cached.clone().into());
        }
        if let Some(last) = *gate
            && last.elapsed() < options.unknown_kid_refresh_min_interval
        {
            return current.map(Snapshot::from).ok_or_else(|| {
                JwtError::JwksUnavailable("recent fetch failed; retrying later".to_owned())
            });
        }

        let result = self.fetch().await;
        // Recorded only once the attempt finished: a cancelled verify must not block the next
        // caller from fetching.
        *gate = Some(Instant::now());
        match result {
            Ok(keys) => {
                tracing::info!(issuer = %self.issuer, keys = keys.len(), "JWKS fetched");
                if keys.is_empty() {
                    tracing::warn!(issuer = %self.issuer, "JWKS holds no usable keys");
                }
                let cached = Cached {
                    keys: Arc::new(keys),
                    fetched_at: Instant::now(),
                    generation: current.as_ref().map_or(1, |c| c.generation + 1),
                };
                *self
                    .cache
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(cached.clone());
                Ok(cached.into())
            }
            Err((reason, detail)) => match current {
                Some(cached) => {
                    tracing::warn!(
                        issuer = %self.issuer, url = %self.url, error = %detail,
                        "JWKS refresh failed; keeping the cached keys"
                    );
                    Ok(cached.into())
                }
                None => {
                    tracing::warn!(
                        issuer = %self.issuer, url = %self.url, error = %detail,
                        "JWKS fetch failed and no keys are cached"
                    );
                    Err(JwtError::JwksUnavailable(reason.to_owned()))
                }
            },
        }
    }

    /// Returns a short reason (for the error) and a detail (for the log).
    async fn fetch(&self) -> Result<KeySet, (&'static str, String)> {
        let request_failed = |err: reqwest::Error| {
            let reason = if err.is_timeout() {
                "JWKS fetch timed out"
            } else if err.is_connect() {
                "JWKS endpoint unreachable"
            } else {
                "JWKS fetch failed"
            };
            (reason, err.to_string())
        };
        let mut response = self
            .client
            .get(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(request_failed)?;
        let status = response.status();
        if !status.is_success() {
            return Err((
                "JWKS endpoint returned an error",
                format!("HTTP status {status}"),
            ));
        }
        let too_large = || {
            (
                "JWKS document too large",
                format!("over {MAX_JWKS_BYTES} bytes"),
            )
        };
        if response
            .content_length()
            .is_some_and(|len| len > MAX_JWKS_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(request_failed)? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        KeySet::from_jwks_json(&body).map_err(|detail| ("invalid JWKS document", detail))
    }
}
