//! `scaivault operator rewrap --to-provider KIND`: moves the keyring from the configured root
//! key provider to another one (file -> pkcs11, pkcs11 -> awskms, ...) without touching a single
//! value. Every data key (and the token pepper) is unwrapped with the current provider and
//! wrapped with the target, then all wrapped keys are replaced in one transaction and the
//! keyring is checked to open with the target. Values stay sealed under the same data keys, so
//! nothing else changes. Safe while servers run (they hold the keyring unwrapped); their next
//! start needs `[root_key] provider = "<target>"`. The move is recorded in the audit trail.

use std::io::Write;
use std::path::PathBuf;

use scaivault_core::{Clock, SystemClock};
use scaivault_keys::ProviderKind;
use scaivault_store::{AuditEvent, StoredKey};

use crate::StartupError;
use crate::bootstrap;
use crate::config::Config;

fn store_err(e: scaivault_store::StoreError) -> StartupError {
    StartupError::Store(e.to_string())
}

pub async fn rewrap(
    config_file: Option<PathBuf>,
    to: ProviderKind,
    create_key: bool,
) -> Result<(), StartupError> {
    let config = Config::load(config_file.as_deref())?;
    let data_dir = config.required_data_dir()?;
    let from = config.root_key.provider;
    let at = config.key_locations(&data_dir);
    let store = bootstrap::OpenedStore::open(&config, &data_dir).await?;
    let result = async {
        let store = store.as_store();
        if !bootstrap::is_initialized(store).await? {
            return Err(StartupError::NotInitialized);
        }
        let source = scaivault_keys::open(&config.root_key, from, &at)
            .await
            .map_err(|e| StartupError::Keys(format!("the current provider ({from}): {e}")))?;
        let target = if create_key {
            scaivault_keys::open_or_create(&config.root_key, to, &at)
                .await
                .map(|(provider, _)| provider)
        } else {
            scaivault_keys::open(&config.root_key, to, &at).await
        }
        .map_err(|e| StartupError::Keys(format!("the target provider ({to}): {e}")))?;
        if source.describe() == target.describe() {
            return Err(StartupError::Config(format!(
                "the keyring is already wrapped by {}",
                target.describe()
            )));
        }
        let stored = store.list_data_keys().await.map_err(store_err)?;
        let mut moved = Vec::with_capacity(stored.len());
        for key in &stored {
            let material = source
                .unwrap(&key.key_id, &key.wrapped)
                .await
                .map_err(|e| {
                    StartupError::Keys(format!(
                        "the current provider ({}) cannot unwrap data key {}: {e}",
                        source.describe(),
                        key.key_id
                    ))
                })?;
            let wrapped = target
                .wrap(&key.key_id, &material)
                .await
                .map_err(|e| StartupError::Keys(format!("the target provider: {e}")))?;
            moved.push(StoredKey {
                wrapped,
                provider: target.describe(),
                ..key.clone()
            });
        }
        store.replace_wrapped_keys(&moved).await.map_err(store_err)?;
        // The keyring as the servers will load it from now on.
        let (_, hasher) = bootstrap::load_keys(store, target.as_ref()).await?;
        let mac = crate::audit::chain_mac(&hasher);
        store.set_audit_mac(mac);
        let now = SystemClock.now();
        store
            .append_audit(vec![AuditEvent {
                id: scaivault_crypto::random::random_id("aud_")
                    .map_err(|e| StartupError::Keys(e.to_string()))?,
                occurred_at: now,
                request_id: scaivault_crypto::random::random_id("req_")
                    .map_err(|e| StartupError::Keys(e.to_string()))?,
                actor_id: "operator:cli".to_owned(),
                actor_type: "operator".to_owned(),
                actor_tenant_id: None,
                target_tenant_id: Some(config.bootstrap_tenant_id.clone()),
                partner_id: Some(config.bootstrap_partner_id.clone()),
                credential_id: None,
                action: "rewrap".to_owned(),
                resource_type: "keyring".to_owned(),
                resource_path: Some(format!("{} -> {}", source.describe(), target.describe())),
                version: None,
                outcome: "success".to_owned(),
                error_code: None,
                client_ip: None,
                user_agent: Some("scaivault operator rewrap".to_owned()),
            }])
            .await
            .map_err(store_err)?;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "Rewrapped {} keys: {} -> {}.",
            moved.len(),
            source.describe(),
            target.describe()
        );
        let _ = writeln!(
            out,
            "Now set `[root_key] provider = \"{to}\"` (or SCAIVAULT_ROOT_KEY_PROVIDER={to}) and restart the servers; the old root key no longer opens this keyring's wrapped keys once no backup needs it."
        );
        let _ = out.flush();
        Ok(())
    }
    .await;
    store.close().await;
    result
}
