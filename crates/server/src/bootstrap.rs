//! Start-up pieces shared by `scaivault server` and `scaivault operator`: the data directory,
//! the store, the keyring and the first tokens.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use scaivault_core::{Clock, Scope};
use scaivault_crypto::keyring::generate_data_key;
use scaivault_crypto::{CryptoError, KeyProvider, Keyring, TokenHasher};
use scaivault_store::{
    CachedStore, PgOptions, PgStore, SqliteStore, Store, StoredKey, TokenRecord,
};
use zeroize::Zeroizing;

use crate::StartupError;

pub const DB_FILE: &str = "scaivault.db";
const PURPOSE_DATA: &str = "data";
const PURPOSE_PEPPER: &str = "token_pepper";

/// Creates the data directory if needed and makes it private (0700).
pub fn prepare_data_dir(dir: &Path) -> Result<(), StartupError> {
    fs::create_dir_all(dir)
        .map_err(|e| StartupError::Io(format!("cannot create {}: {e}", dir.display())))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| StartupError::Io(format!("cannot restrict {}: {e}", dir.display())))
}

pub async fn open_store(
    dir: &Path,
    read_connections: u32,
) -> Result<Arc<SqliteStore>, StartupError> {
    prepare_data_dir(dir)?;
    let store = SqliteStore::open(&dir.join(DB_FILE), read_connections)
        .await
        .map_err(|e| StartupError::Store(e.to_string()))?;
    Ok(Arc::new(store))
}

/// The store a server runs on: the embedded one, or PostgreSQL shared by several nodes.
#[derive(Debug, Clone)]
pub enum OpenedStore {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PgStore>),
}

impl OpenedStore {
    /// Opens what the configuration names (`storage`, `database_url`).
    pub async fn open(
        config: &crate::config::Config,
        data_dir: &Path,
    ) -> Result<Self, StartupError> {
        match config.storage {
            crate::config::Storage::Sqlite => Ok(Self::Sqlite(
                open_store(data_dir, config.read_connections).await?,
            )),
            crate::config::Storage::Postgres => {
                prepare_data_dir(data_dir)?;
                let url = config.database_url.as_deref().ok_or_else(|| {
                    StartupError::Config(
                        "storage = \"postgres\" needs database_url (or SCAIVAULT_DATABASE_URL)"
                            .into(),
                    )
                })?;
                let store = PgStore::connect(
                    url,
                    PgOptions {
                        max_connections: config.database_max_connections,
                        statement_timeout: Some(config.database_statement_timeout()?),
                        ..PgOptions::default()
                    },
                )
                .await
                .map_err(|e| StartupError::Store(e.to_string()))?;
                Ok(Self::Postgres(Arc::new(store)))
            }
        }
    }

    pub fn as_store(&self) -> &dyn Store {
        match self {
            Self::Sqlite(s) => s.as_ref(),
            Self::Postgres(s) => s.as_ref(),
        }
    }

    /// What requests use. On SQLite (one node) current versions are served from the coherent
    /// read cache; on PostgreSQL other nodes write too, so there is no read cache.
    pub fn serving(&self, cache_capacity: usize) -> Arc<dyn Store> {
        match self {
            Self::Sqlite(s) => Arc::new(CachedStore::new((**s).clone(), cache_capacity)),
            Self::Postgres(s) => s.clone(),
        }
    }

    /// Whether several nodes may share this store (caches then expire instead of being exact).
    pub fn shared(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    pub async fn close(&self) {
        match self {
            Self::Sqlite(s) => s.close().await,
            Self::Postgres(s) => s.close().await,
        }
    }
}

/// Whether the keyring exists in this store.
pub async fn is_initialized(store: &dyn Store) -> Result<bool, StartupError> {
    let keys = store
        .list_data_keys()
        .await
        .map_err(|e| StartupError::Store(e.to_string()))?;
    Ok(!keys.is_empty())
}

/// Creates the keyring (a data key and the token pepper) under the root key.
pub async fn initialize_keys(
    store: &dyn Store,
    provider: &dyn KeyProvider,
    clock: &dyn Clock,
) -> Result<(), StartupError> {
    if is_initialized(store).await? {
        return Err(StartupError::AlreadyInitialized);
    }
    for purpose in [PURPOSE_DATA, PURPOSE_PEPPER] {
        let key_id = scaivault_crypto::random::random_id("dek_").map_err(keys_error)?;
        let material = generate_data_key().map_err(keys_error)?;
        let wrapped = provider
            .wrap(&key_id, &material)
            .await
            .map_err(keys_error)?;
        store
            .insert_data_key(&StoredKey {
                key_id,
                purpose: purpose.to_owned(),
                provider: provider.describe(),
                wrapped,
                created_at: clock.now(),
                active: true,
            })
            .await
            .map_err(|e| StartupError::Store(e.to_string()))?;
    }
    Ok(())
}

/// A provider's failure at start: unavailable -> sealed (retried); anything else stops.
pub fn provider_error(e: CryptoError) -> StartupError {
    match e {
        CryptoError::Unavailable(reason) => StartupError::Sealed(reason),
        other => StartupError::Keys(other.to_string()),
    }
}

fn keys_error(e: scaivault_crypto::CryptoError) -> StartupError {
    StartupError::Keys(e.to_string())
}

/// Unwraps the keyring and the token pepper with the root key.
pub async fn load_keys(
    store: &dyn Store,
    provider: &dyn KeyProvider,
) -> Result<(Keyring, TokenHasher), StartupError> {
    let stored = store
        .list_data_keys()
        .await
        .map_err(|e| StartupError::Store(e.to_string()))?;
    if stored.is_empty() {
        return Err(StartupError::NotInitialized);
    }
    let mut data_keys = Vec::new();
    let mut active = None;
    let mut pepper: Option<Zeroizing<Vec<u8>>> = None;
    for key in stored {
        let material = provider
            .unwrap(&key.key_id, &key.wrapped)
            .await
            .map_err(|e| match e {
                CryptoError::Unavailable(_) | CryptoError::Refused(_) => provider_error(e),
                _ => StartupError::Keys(format!(
                    "the root key ({}) cannot unwrap data key {} (wrapped by {}): wrong root key \
                     for this data directory?",
                    provider.describe(),
                    key.key_id,
                    key.provider
                )),
            })?;
        match key.purpose.as_str() {
            PURPOSE_PEPPER => pepper = Some(material),
            _ => {
                if key.active {
                    active = Some(key.key_id.clone());
                }
                data_keys.push((key.key_id, material));
            }
        }
    }
    let active = active.ok_or_else(|| StartupError::Keys("no active data key".into()))?;
    let pepper = pepper.ok_or_else(|| StartupError::Keys("no token pepper".into()))?;
    let keyring = Keyring::new(&active, data_keys).map_err(keys_error)?;
    Ok((keyring, TokenHasher::new(&pepper)))
}

/// Makes sure the bootstrap partner and tenant exist (the operators' own), for data
/// directories created before tenants were recorded and for fresh ones alike.
pub async fn ensure_tenancy(
    store: &dyn Store,
    clock: &dyn Clock,
    tenant_id: &str,
    partner_id: &str,
) -> Result<(), StartupError> {
    let err = |e: scaivault_store::StoreError| StartupError::Store(e.to_string());
    let now = clock.now();
    if store.get_partner(partner_id).await.map_err(err)?.is_none() {
        let partner = scaivault_store::PartnerRecord {
            id: partner_id.to_owned(),
            name: partner_id.to_owned(),
            created_at: now,
        };
        store.insert_partner(&partner, None).await.map_err(err)?;
    }
    match store.get_tenant(tenant_id).await.map_err(err)? {
        Some(t) if t.partner_id != partner_id => Err(StartupError::Config(format!(
            "bootstrap_tenant_id {tenant_id} belongs to partner {}, not bootstrap_partner_id {partner_id}",
            t.partner_id
        ))),
        Some(_) => Ok(()),
        None => {
            let tenant = scaivault_store::TenantRecord {
                id: tenant_id.to_owned(),
                partner_id: partner_id.to_owned(),
                slug: tenant_id.replace('_', "-"),
                name: tenant_id.to_owned(),
                created_at: now,
            };
            store.insert_tenant(&tenant, None).await.map_err(err)
        }
    }
}

/// The identity a bootstrap or dev root token acts as.
pub struct RootIdentity<'a> {
    pub token_id: &'a str,
    pub identity_id: &'a str,
    pub tenant_id: &'a str,
    pub partner_id: &'a str,
    pub name: &'a str,
}

/// Stores (replacing any token with the same id) an admin token with every scope.
pub async fn store_root_token(
    store: &dyn Store,
    hasher: &TokenHasher,
    clock: &dyn Clock,
    who: &RootIdentity<'_>,
    token: &str,
) -> Result<(), StartupError> {
    let record = TokenRecord {
        id: who.token_id.to_owned(),
        tenant_id: who.tenant_id.to_owned(),
        partner_id: who.partner_id.to_owned(),
        identity_id: who.identity_id.to_owned(),
        identity_type: "user".to_owned(),
        token_hash: hasher.digest(token),
        name: who.name.to_owned(),
        scopes: Scope::ALL.iter().map(|s| s.as_str().to_owned()).collect(),
        is_admin: true,
        is_partner_admin: true,
        kind: "personal".to_owned(),
        created_at: clock.now(),
        expires_at: None,
        revoked_at: None,
        parent_key_id: None,
    };
    store
        .replace_token(&record)
        .await
        .map_err(|e| StartupError::Store(e.to_string()))
}
