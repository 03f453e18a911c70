//! `scaivault operator backup` / `restore` for the embedded store.
//!
//! A backup is a consistent online snapshot (SQLite `VACUUM INTO` through a read-only
//! connection: the running server keeps serving) verified before it is reported good: SQLite's
//! integrity check, the keyring unwrapping with this installation's root key, and every audit
//! chain verifying. Values stay encrypted in it; the root key is not in it (keep it apart).
//! Restore verifies the snapshot the same way, then puts it in place of the store.

use std::io::Write;
use std::path::{Path, PathBuf};

use scaivault_store::{AuditStore, SqliteStore};

use crate::StartupError;
use crate::bootstrap::{self, DB_FILE};
use crate::config::{Config, Storage};

fn store_error(e: scaivault_store::StoreError) -> StartupError {
    StartupError::Store(e.to_string())
}

/// What a verification found.
struct Verified {
    chains: usize,
    entries: u64,
}

/// Opens a database file and checks it: integrity, keyring, audit chains.
async fn verify(file: &Path, config: &Config, data_dir: &Path) -> Result<Verified, StartupError> {
    let store = SqliteStore::open(file, 1).await.map_err(store_error)?;
    let result = async {
        store.integrity_check().await.map_err(store_error)?;
        let provider = scaivault_keys::open(
            &config.root_key,
            config.root_key.provider,
            &config.key_locations(data_dir),
        )
        .await
        .map_err(|e| StartupError::Keys(e.to_string()))?;
        let (_, hasher) = bootstrap::load_keys(&store, provider.as_ref()).await?;
        let mac = crate::audit::chain_mac(&hasher);
        store.set_audit_mac(mac.clone());
        let mut verified = Verified {
            chains: 0,
            entries: 0,
        };
        for chain in store.audit_chains().await.map_err(store_error)? {
            let report = scaivault_store::verify_audit_chain(&store, &chain, mac.clone())
                .await
                .map_err(store_error)?;
            if let Some(broken) = report.broken {
                let name = if chain.is_empty() {
                    "(no tenant)"
                } else {
                    &chain
                };
                return Err(StartupError::Store(format!(
                    "audit chain {name} is broken: {broken}"
                )));
            }
            verified.chains += 1;
            verified.entries += report.entries_checked;
        }
        Ok(verified)
    }
    .await;
    store.close().await;
    result
}

fn embedded(config_file: Option<&Path>) -> Result<(Config, PathBuf), StartupError> {
    let config = Config::load(config_file)?;
    if config.storage == Storage::Postgres {
        return Err(StartupError::Config(
            "backup and restore are for the embedded store; back PostgreSQL up with pg_dump".into(),
        ));
    }
    let data_dir = config.required_data_dir()?;
    Ok((config, data_dir))
}

/// `scaivault operator backup`.
pub async fn backup(config_file: Option<PathBuf>, output: PathBuf) -> Result<(), StartupError> {
    let (config, data_dir) = embedded(config_file.as_deref())?;
    let db = data_dir.join(DB_FILE);
    if !db.exists() {
        return Err(StartupError::Store(format!(
            "no store at {}: nothing to back up",
            db.display()
        )));
    }
    SqliteStore::backup(&db, &output)
        .await
        .map_err(|e| StartupError::Store(format!("backup to {}: {e}", output.display())))?;
    let verified = match verify(&output, &config, &data_dir).await {
        Ok(v) => v,
        Err(e) => {
            // A snapshot that does not verify is not a backup.
            let _ = std::fs::remove_file(&output);
            return Err(e);
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "Backup written to {} and verified: integrity ok, keyring opens with the root key, {} audit chains ({} entries) intact.",
        output.display(),
        verified.chains,
        verified.entries
    );
    let _ = writeln!(
        out,
        "The root key is not in the backup; keep {} safe separately.",
        crate::serve::root_key_path(&config, &data_dir).display()
    );
    Ok(())
}

/// `scaivault operator restore`.
pub async fn restore(
    config_file: Option<PathBuf>,
    input: PathBuf,
    force: bool,
) -> Result<(), StartupError> {
    let (config, data_dir) = embedded(config_file.as_deref())?;
    let db = data_dir.join(DB_FILE);
    if db.exists() && !force {
        return Err(StartupError::Config(format!(
            "a store exists at {}; stop the server and pass --force to replace it",
            db.display()
        )));
    }
    // Verify a private copy first, so the snapshot itself is never modified.
    bootstrap::prepare_data_dir(&data_dir)?;
    let staged = data_dir.join(format!("{DB_FILE}.restoring"));
    let _ = std::fs::remove_file(&staged);
    copy_private(&input, &staged)?;
    let verified = match verify(&staged, &config, &data_dir).await {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(e);
        }
    };
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(data_dir.join(format!("{DB_FILE}{suffix}")));
        let _ = std::fs::remove_file(data_dir.join(format!("{DB_FILE}.restoring{suffix}")));
    }
    std::fs::rename(&staged, &db)
        .map_err(|e| StartupError::Io(format!("cannot put the snapshot in place: {e}")))?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "Restored {} into {}: {} audit chains ({} entries) intact.",
        input.display(),
        db.display(),
        verified.chains,
        verified.entries
    );
    Ok(())
}

fn copy_private(from: &Path, to: &Path) -> Result<(), StartupError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut source = std::fs::File::open(from)
        .map_err(|e| StartupError::Io(format!("cannot read {}: {e}", from.display())))?;
    let mut target = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
        .map_err(|e| StartupError::Io(format!("cannot write {}: {e}", to.display())))?;
    std::io::copy(&mut source, &mut target)
        .and_then(|_| target.sync_all())
        .map_err(|e| StartupError::Io(format!("cannot copy the snapshot: {e}")))
}
