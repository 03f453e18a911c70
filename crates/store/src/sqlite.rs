//! The embedded store: one SQLite file in WAL mode with `synchronous = FULL`, so every
//! acknowledged write survives a crash or power loss.
//!
//! Writes go through a pool of exactly one connection: SQLite allows one writer at a time
//! anyway, and serialising in-process means concurrent writers to one path queue up and get
//! unique, gap-free versions instead of `SQLITE_BUSY`. Reads use a separate read-only pool and
//! see the last committed state (WAL snapshot isolation).

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, QueryBuilder, Sqlite, SqliteConnection};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::audit::*;
use crate::events::{DeadLetter, DeliveryState, EventRecord, NewEvent, SubscriptionRecord};
use crate::model::*;
use crate::rotation::{
    RotationPolicyRecord, RotationStep, RunQuery, RunRecord, RunStatus, ScheduleChange,
    ScheduleQuery, ScheduleRecord, SecretPolicyRecord,
};
use crate::shared_impls::*;
use crate::sql::{from_micros, page_of, to_u64};
use crate::{AuditStore, Result, SealFn, StoreError};
use writer::WriteJob;

mod acme;
mod audit;
mod dynamic;
mod events;
mod identity;
mod pki;
mod policies;
mod rotation;
mod secrets;
mod tokens;
mod writer;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Secret writes and audit appends go through the group-commit writer task ([`writer::run_writer`]).
    writes: mpsc::Sender<WriteJob>,
    /// The MAC of the audit chains, set once the keyring is unwrapped.
    audit_mac: Arc<OnceLock<ChainMac>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("audit_key_loaded", &self.audit_mac.get().is_some())
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Where writes run (the shared store impls in `shared_impls.rs` use this).
    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// Where reads run.
    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// Opens (creating if needed, mode 0600) the database file and applies migrations.
    pub async fn open(file: &Path, read_connections: u32) -> Result<Self> {
        if !file.exists() {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(file)
                .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(file)
            .create_if_missing(false)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("trusted_schema", "OFF");
        let commits = Arc::new(AtomicU64::new(0));
        let writer = writer::open_pool(options.clone(), commits.clone()).await?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(read_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await?;
        let (writes, jobs) = mpsc::channel(4 * writer::MAX_BATCH);
        let audit_mac = Arc::new(OnceLock::new());
        tokio::spawn(writer::run_writer(
            writer.clone(),
            jobs,
            audit_mac.clone(),
            commits,
        ));
        Ok(Self {
            writer,
            reader,
            writes,
            audit_mac,
        })
    }

    fn mac(&self) -> Option<&ChainMac> {
        self.audit_mac.get()
    }

    fn require_mac(&self) -> Result<&ChainMac> {
        self.mac()
            .ok_or_else(|| StoreError::Audit("the audit key is not loaded".into()))
    }

    /// Appends one mutation's audit event inside its transaction (nothing when `None`).
    async fn audit_in(
        &self,
        conn: &mut SqliteConnection,
        event: Option<&AuditEvent>,
    ) -> Result<()> {
        let Some(event) = event else {
            return Ok(());
        };
        audit::append_in(conn, std::slice::from_ref(event), self.mac()).await?;
        // The change's event rides in the same transaction (the outbox).
        if let Some(outbox) = crate::events::event_for(event, None) {
            events::insert_in(conn, std::slice::from_ref(&outbox)).await?;
        }
        Ok(())
    }

    /// Writes a consistent snapshot of the database to `out` (SQLite `VACUUM INTO`), safe while
    /// a server is using the file: it reads one WAL snapshot through its own read-only
    /// connection. `out` must not exist; it is created mode 0600.
    pub async fn backup(file: &Path, out: &Path) -> Result<()> {
        use sqlx::Connection;
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(out)
            .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(file)
            .create_if_missing(false)
            .read_only(true)
            .busy_timeout(Duration::from_secs(30));
        let mut conn = SqliteConnection::connect_with(&options).await?;
        let target = out.to_string_lossy().into_owned();
        sqlx::query("VACUUM INTO ?1")
            .bind(target)
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(())
    }

    /// `PRAGMA integrity_check` of the database behind this store.
    pub async fn integrity_check(&self) -> Result<()> {
        let result: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&self.reader)
            .await?;
        if result == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt(format!("integrity check: {result}")))
        }
    }

    /// Closes both pools, checkpointing the WAL.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

system_store!(SqliteStore, {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn probe_write(&self, now: OffsetDateTime) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(crate::sql::system::SET)
            .bind(crate::WRITE_PROBE_KEY)
            .bind(micros(now).to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn storage_usage(&self, since: OffsetDateTime) -> Result<crate::usage::StorageUsage> {
        crate::usage::sqlite(&self.reader, since).await
    }

    fn record_pool_metrics(&self) {
        let r = &self.reader;
        crate::gauges::record_pool(
            "sqlite_read",
            r.size(),
            r.num_idle(),
            r.options().get_max_connections(),
        );
    }
});

secret_store!(SqliteStore, {
    async fn write_secret(
        &self,
        tenant_id: &str,
        write: SecretWrite,
        seal: Box<SealFn>,
    ) -> Result<WriteOutcome> {
        let (reply, outcome) = oneshot::channel();
        let job = WriteJob::Secret {
            tenant_id: tenant_id.to_owned(),
            write: Box::new(write),
            seal,
            reply,
        };
        self.writes
            .send(job)
            .await
            .map_err(|_| StoreError::CommitFailed("the writer has stopped".into()))?;
        outcome
            .await
            .map_err(|_| StoreError::CommitFailed("the writer has stopped".into()))?
    }
});

token_store!(SqliteStore, {
    async fn replace_token(&self, t: &TokenRecord) -> Result<()> {
        let mut conn = self.writer.acquire().await?;
        tokens::replace(&mut conn, t).await
    }
});

identity_store!(SqliteStore);

policy_store!(SqliteStore);

rotation_store!(SqliteStore);

event_store!(SqliteStore, {
    async fn insert_events(&self, new: &[NewEvent]) -> Result<u64> {
        let mut tx = self.writer.begin().await?;
        let inserted = events::insert_new(&mut tx, new).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    async fn record_delivery(&self, state: &DeliveryState<'_>) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        events::record_delivery(&mut tx, state).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn prune_events(
        &self,
        replay_before: OffsetDateTime,
        dead_letters_before: OffsetDateTime,
    ) -> Result<u64> {
        let mut pruned = 0;
        loop {
            let mut tx = self.writer.begin().await?;
            let n = events::prune_batch(&mut tx, replay_before).await?;
            tx.commit().await?;
            pruned += n;
            if n < crate::sql::events::PRUNE_BATCH {
                break;
            }
        }
        let mut tx = self.writer.begin().await?;
        events::prune_dead_letters(&mut tx, dead_letters_before).await?;
        tx.commit().await?;
        Ok(pruned)
    }
});

#[async_trait]
impl AuditStore for SqliteStore {
    fn set_audit_mac(&self, mac: ChainMac) {
        // Set once per process; a second call (same keyring) changes nothing.
        let _ = self.audit_mac.set(mac);
    }

    async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.require_mac()?;
        let (reply, done) = oneshot::channel();
        self.writes
            .send(WriteJob::Audit { events, reply })
            .await
            .map_err(|_| StoreError::Audit("the writer has stopped".into()))?;
        done.await
            .map_err(|_| StoreError::Audit("the writer has stopped".into()))?
    }

    async fn query_audit(&self, q: &AuditQuery) -> Result<Page<AuditEntry>> {
        let mut qb = QueryBuilder::<Sqlite>::new(crate::audit::ENTRY_SELECT);
        audit::push_filters(&mut qb, q);
        if let Some(before) = q.before_seq {
            qb.push(" AND l.seq < ")
                .push_bind(i64::try_from(before).unwrap_or(i64::MAX));
        }
        qb.push(" ORDER BY l.seq DESC LIMIT ")
            .push_bind(i64::from(q.limit) + 1);
        let rows = qb.build().fetch_all(&self.reader).await?;
        let items = rows
            .iter()
            .map(audit::entry_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(page_of(items, q.limit, None))
    }

    async fn audit_summary(&self, q: &AuditQuery, top: u32) -> Result<AuditSummary> {
        let mut conn = self.reader.acquire().await?;
        audit::summary(&mut conn, q, top).await
    }

    async fn audit_since(&self, after_seq: u64, limit: u32) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{} WHERE l.seq > ?1 ORDER BY l.seq LIMIT ?2",
            crate::audit::ENTRY_SELECT
        )))
        .bind(i64::try_from(after_seq).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(audit::entry_from_row).collect()
    }

    async fn audit_chains(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT chain FROM audit_log UNION SELECT chain FROM audit_anchors ORDER BY 1",
        )
        .fetch_all(&self.reader)
        .await?)
    }

    async fn audit_chain_page(
        &self,
        chain: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{} WHERE l.chain = ?1 AND l.chain_seq > ?2 ORDER BY l.chain_seq LIMIT ?3",
            crate::audit::ENTRY_SELECT
        )))
        .bind(chain)
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(audit::entry_from_row).collect()
    }

    async fn audit_checkpoints(&self, chain: &str) -> Result<Vec<AuditCheckpoint>> {
        let rows = sqlx::query(
            "SELECT chain, chain_seq, hash, created_at, mac FROM audit_checkpoints
             WHERE chain = ?1 ORDER BY chain_seq",
        )
        .bind(chain)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(audit::checkpoint_from_row).collect()
    }

    async fn audit_anchor(&self, chain: &str) -> Result<Option<AuditAnchor>> {
        let row =
            sqlx::query("SELECT chain, chain_seq, hash, mac FROM audit_anchors WHERE chain = ?1")
                .bind(chain)
                .fetch_optional(&self.reader)
                .await?;
        row.as_ref().map(audit::anchor_from_row).transpose()
    }

    async fn checkpoint_audit(&self, now: OffsetDateTime) -> Result<u64> {
        let mac = self.require_mac()?;
        let mut tx = self.writer.begin().await?;
        let written = audit::checkpoint_in(&mut tx, mac, now).await?;
        tx.commit().await?;
        Ok(written)
    }

    async fn prune_audit(&self, before: OffsetDateTime) -> Result<u64> {
        let mac = self.require_mac()?;
        let mut tx = self.writer.begin().await?;
        let pruned = audit::prune_in(&mut tx, mac, before).await?;
        tx.commit().await?;
        Ok(pruned)
    }

    async fn prune_audit_chain(&self, chain: &str, through: u64) -> Result<u64> {
        let mac = self.require_mac()?;
        let mut tx = self.writer.begin().await?;
        let pruned = audit::prune_chain_in(&mut tx, mac, chain, through).await?;
        tx.commit().await?;
        Ok(pruned)
    }
}
