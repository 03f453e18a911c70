//! The database itself: liveness, readiness, system values, the keyring's data keys, storage
//! usage, and what several nodes on one database coordinate (job leases, cache invalidation).

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::Result;
use crate::model::*;
use crate::usage;

#[async_trait]
pub trait SystemStore: Send + Sync {
    /// Cheap liveness check of the database.
    async fn ping(&self) -> Result<()>;

    /// A tiny durable write (one system row, committed like any change), for readiness: a
    /// store that answers reads but cannot commit (disk full, read-only, lost primary) is not
    /// ready. `Unavailable` names the cause.
    async fn probe_write(&self, now: OffsetDateTime) -> Result<()>;

    async fn get_system(&self, key: &str) -> Result<Option<String>>;

    async fn set_system(&self, key: &str, value: &str) -> Result<()>;

    async fn list_data_keys(&self) -> Result<Vec<StoredKey>>;

    async fn insert_data_key(&self, key: &StoredKey) -> Result<()>;

    /// Data key rotation: in one transaction, every active key of `key.purpose` becomes
    /// inactive and `key` is inserted as the active one. Older keys stay: what they sealed
    /// keeps opening by key id.
    async fn rotate_data_key(&self, key: &StoredKey) -> Result<()>;

    /// Root key migration (`operator rewrap --to-provider`): replaces `wrapped` and `provider`
    /// of each listed key, by key id, all in one transaction; `NotFound` (and nothing changed)
    /// when a key id is missing. Nothing else of a key changes.
    async fn replace_wrapped_keys(&self, keys: &[StoredKey]) -> Result<()>;

    /// A page of sealed values of `kind` sealed under any data key but `active_key_id`, in
    /// (tenant_id, id, version) order after `after` (exclusive), at most `limit`: what the
    /// background rewrap re-seals under the active key.
    async fn sealed_not_under(
        &self,
        kind: SealedKind,
        active_key_id: &str,
        after: Option<&SealedLocator>,
        limit: u32,
    ) -> Result<Vec<SealedRow>>;

    /// Replaces one sealed value with `new` if it is still exactly `row.sealed` (same key id and
    /// ciphertext): false, and nothing changed, when it was changed or deleted meanwhile. A
    /// cached copy of the row is invalidated.
    async fn reseal(&self, row: &SealedRow, new: &SealedBlob) -> Result<bool>;

    /// How many sealed values each data key seals, over every kind (the rewrap's progress).
    async fn count_sealed_by_key(&self) -> Result<Vec<(String, u64)>>;

    /// Rows and bytes per table, the database's size, and the audit entries since `since`.
    async fn storage_usage(&self, _since: OffsetDateTime) -> Result<usage::StorageUsage>;

    /// Store-wide counts for the metrics gauges: `now`, and the horizon of "expiring soon".
    async fn gauge_snapshot(
        &self,
        now: OffsetDateTime,
        expiring_before: OffsetDateTime,
    ) -> Result<crate::gauges::GaugeSnapshot>;

    /// Sets the connection pool gauges (`scaivault_db_pool_connections`).
    fn record_pool_metrics(&self) {}

    /// Takes or renews the lease of background job `job` for node `holder` until `until`;
    /// true when `holder` now holds it (it was free, expired, or already its own). A store only
    /// one node can use always answers true.
    async fn claim_job(
        &self,
        _job: &str,
        _holder: &str,
        _now: OffsetDateTime,
        _until: OffsetDateTime,
    ) -> Result<bool> {
        Ok(true)
    }

    /// Tells every node sharing this store that cached state changed (`change` is a short
    /// tag such as `policies` or `credential:tok_...`). A no-op on a single-node store.
    async fn publish_change(&self, _change: &str) -> Result<()> {
        Ok(())
    }

    /// The changes published by any node (this one included), for cache invalidation; `None`
    /// when no other node can share the store. After a lost connection the feed sends `all`:
    /// changes may have been missed.
    async fn change_feed(&self) -> Result<Option<tokio::sync::mpsc::Receiver<String>>> {
        Ok(None)
    }
}
