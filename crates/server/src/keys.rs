//! The keyring at run time: the unwrapped data keys, the root key provider that wraps them,
//! data key rotation and the background rewrap that re-seals older values under the active key.
//!
//! Rotation adds a data key and makes it the active one; older keys stay in the keyring, so
//! everything they sealed keeps opening by key id. The rewrap then walks every sealed value
//! (secret versions, webhook secrets, CA keys, engine secrets) still under an older key and
//! re-seals it under the active one with a compare-and-swap, so a value changed meanwhile is
//! left to its writer. It is resumable by construction: what is done no longer matches.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use scaivault_crypto::keyring::generate_data_key;
use scaivault_crypto::{CryptoError, KeyProvider, Keyring, SealedValue, secret_aad};
use scaivault_proto::ErrorCode;
use scaivault_proto::keys::{DataKeyInfo, KeyringStatus, RewrapProgress};
use scaivault_store::{SealedBlob, SealedKind, SealedLocator, SealedRow, StoredKey};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The change other nodes hear when the keyring changed (they reload it).
pub const KEYRING_CHANGED: &str = "keyring";
const PURPOSE_DATA: &str = "data";
const REWRAP_BATCH: u32 = 100;
/// How often the rewrap job looks for work when nothing woke it.
const REWRAP_EVERY: Duration = Duration::from_secs(300);

/// The keyring and its root key provider.
pub struct KeyState {
    ring: RwLock<Arc<Keyring>>,
    provider: Arc<dyn KeyProvider>,
    wake_rewrap: tokio::sync::Notify,
    rewrap_running: AtomicBool,
    resealed: AtomicU64,
    failed: AtomicU64,
}

impl std::fmt::Debug for KeyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyState")
            .field("provider", &self.provider.describe())
            .finish_non_exhaustive()
    }
}

impl KeyState {
    pub fn new(provider: Arc<dyn KeyProvider>, keyring: Keyring) -> Self {
        Self {
            ring: RwLock::new(Arc::new(keyring)),
            provider,
            wake_rewrap: tokio::sync::Notify::new(),
            rewrap_running: AtomicBool::new(false),
            resealed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// The keyring as it is now (cheap: an `Arc` clone).
    pub fn keyring(&self) -> Arc<Keyring> {
        self.ring
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn provider(&self) -> &Arc<dyn KeyProvider> {
        &self.provider
    }

    /// Asks the rewrap job for a pass now (it runs on the node that leads it).
    pub fn wake_rewrap(&self) {
        self.wake_rewrap.notify_one();
    }

    fn replace(&self, keyring: Keyring) {
        *self
            .ring
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(keyring);
    }
}

fn provider_error(e: CryptoError) -> ApiError {
    match e {
        CryptoError::Unavailable(_) | CryptoError::Refused(_) => {
            tracing::warn!(error = %e, "root key provider failed");
            ApiError::new(
                ErrorCode::KeyProviderUnavailable,
                "the root key provider could not wrap the new data key; nothing changed (see the server log)",
            )
        }
        other => ApiError::internal(other),
    }
}

/// Reloads the keyring from the store (after this or another node rotated).
pub async fn reload(state: &AppState) -> Result<(), crate::StartupError> {
    let (keyring, _) =
        crate::bootstrap::load_keys(state.store.as_ref(), state.keys.provider().as_ref()).await?;
    state.keys.replace(keyring);
    Ok(())
}

/// Adds a data key, makes it the active one, tells the other nodes and wakes the rewrap.
pub async fn rotate(state: &AppState) -> ApiResult<KeyringStatus> {
    let key_id = scaivault_crypto::random::random_id("dek_").map_err(ApiError::internal)?;
    let material = generate_data_key().map_err(ApiError::internal)?;
    let wrapped = state
        .keys
        .provider()
        .wrap(&key_id, &material)
        .await
        .map_err(provider_error)?;
    state
        .store
        .rotate_data_key(&StoredKey {
            key_id: key_id.clone(),
            purpose: PURPOSE_DATA.to_owned(),
            provider: state.keys.provider().describe(),
            wrapped,
            created_at: state.clock.now(),
            active: true,
        })
        .await?;
    // The new key is unwrapped the way every node will unwrap it.
    reload(state)
        .await
        .map_err(|e| ApiError::internal(format!("keyring reload after rotation: {e}")))?;
    if let Err(e) = state.store.publish_change(KEYRING_CHANGED).await {
        tracing::warn!(error = %e, "could not tell other nodes about the new data key; they load it at their next start");
    }
    tracing::info!(%key_id, "data key rotated; rewrapping older values in the background");
    state.keys.wake_rewrap();
    status(state).await
}

/// The keyring and the rewrap's progress.
pub async fn status(state: &AppState) -> ApiResult<KeyringStatus> {
    let counts: std::collections::HashMap<String, u64> = state
        .store
        .count_sealed_by_key()
        .await?
        .into_iter()
        .collect();
    let keyring = state.keys.keyring();
    let active = keyring.active_key_id().to_owned();
    let mut keys = Vec::new();
    let mut pending = 0;
    for key in state.store.list_data_keys().await? {
        let sealed_values = counts.get(&key.key_id).copied().unwrap_or(0);
        if key.key_id != active {
            pending += sealed_values;
        }
        keys.push(DataKeyInfo {
            // As stored: the active data key, and the (only) token pepper.
            active: key.active,
            key_id: key.key_id,
            purpose: key.purpose,
            wrapped_by: key.provider,
            created_at: key.created_at.into(),
            sealed_values,
        });
    }
    keys.sort_by_key(|k| k.created_at);
    Ok(KeyringStatus {
        provider: state.keys.provider().describe(),
        active_key_id: active,
        keys,
        rewrap: RewrapProgress {
            pending,
            resealed: state.keys.resealed.load(Ordering::Relaxed),
            failed: state.keys.failed.load(Ordering::Relaxed),
            running: state.keys.rewrap_running.load(Ordering::Relaxed),
        },
    })
}

/// The associated data each kind of sealed value was sealed with (as its writer seals it).
fn aad_of(kind: SealedKind, at: &SealedLocator) -> Vec<u8> {
    match kind {
        SealedKind::SecretVersion => secret_aad(&at.tenant_id, &at.id, at.version),
        SealedKind::WebhookSecret => crate::events::webhook_secret_aad(&at.tenant_id, &at.id),
        SealedKind::CaKey => crate::engine::pki::ca_key_aad(&at.tenant_id, &at.id),
        SealedKind::EngineSecret => crate::engine::dynamic::secret_aad_of(&at.tenant_id, &at.id),
    }
}

/// Re-seals one value under the active key. `Ok(false)`: it changed meanwhile (left alone).
async fn reseal_one(state: &AppState, keyring: &Keyring, row: &SealedRow) -> ApiResult<bool> {
    let aad = aad_of(row.kind, &row.at);
    let sealed = SealedValue {
        key_id: row.sealed.key_id.clone(),
        ciphertext: row.sealed.ciphertext.clone(),
    };
    let plaintext = keyring.open(&sealed, &aad)?;
    let resealed = keyring.seal(&aad, &plaintext)?;
    Ok(state
        .store
        .reseal(
            row,
            &SealedBlob {
                key_id: resealed.key_id,
                ciphertext: resealed.ciphertext,
            },
        )
        .await?)
}

/// One full pass over every sealed value not under the active key. Returns how many were
/// re-sealed.
pub async fn rewrap_pass(state: &AppState) -> u64 {
    let mut done = 0;
    for kind in SealedKind::ALL {
        let mut after: Option<SealedLocator> = None;
        loop {
            // The keyring of this batch: a rotation meanwhile only means another pass later.
            let keyring = state.keys.keyring();
            let page = match state
                .store
                .sealed_not_under(kind, keyring.active_key_id(), after.as_ref(), REWRAP_BATCH)
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, ?kind, "rewrap: cannot list sealed values; retrying later");
                    return done;
                }
            };
            let Some(last) = page.last() else { break };
            after = Some(last.at.clone());
            for row in &page {
                match reseal_one(state, &keyring, row).await {
                    Ok(true) => {
                        done += 1;
                        state.keys.resealed.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(false) => {}
                    Err(e) => {
                        state.keys.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(?kind, tenant_id = %row.at.tenant_id, id = %row.at.id, version = row.at.version, error = %e.message, "rewrap: value left under its old data key");
                    }
                }
            }
            // Keep the foreground's share of the store.
            tokio::task::yield_now().await;
        }
    }
    done
}

/// Runs the rewrap (one node at a time) at start, after a rotation and every few minutes.
pub fn spawn_rewrap(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if crate::jobs::leading(&state, "rewrap", REWRAP_EVERY).await {
                state.keys.rewrap_running.store(true, Ordering::Relaxed);
                let done = rewrap_pass(&state).await;
                state.keys.rewrap_running.store(false, Ordering::Relaxed);
                if done > 0 {
                    tracing::info!(resealed = done, "rewrap pass finished");
                }
            }
            tokio::select! {
                () = state.keys.wake_rewrap.notified() => {}
                () = tokio::time::sleep(REWRAP_EVERY) => {}
            }
        }
    })
}
