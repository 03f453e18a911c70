//! The PostgreSQL store, for several ScaiVault nodes sharing one database.
//!
//! Unlike the embedded store, correctness cannot rest on one in-process writer: every invariant
//! is enforced by the database, inside the transaction that needs it.
//!
//! - Versions: a write locks its secret's row (`SELECT ... FOR UPDATE`, or claims a new path with
//!   `INSERT ... ON CONFLICT DO NOTHING`) before computing the next version, so concurrent
//!   writers on any node get unique, gap-free versions.
//! - Audit chains: an append locks the chain's row in `audit_heads` (in chain order, so two
//!   multi-chain appends cannot deadlock) in the same transaction as the entries and the
//!   mutation they record; heads are always the last locks a transaction takes.
//! - `seq`, the global audit cursor, is an identity column: it is the cursor order, not strictly
//!   the commit order. `audit_since` therefore reads only below a high-water mark under which
//!   every appending transaction has finished (see `postgres/audit.rs`), so a cursor never skips an entry
//!   that commits late.
//! - The event outbox: every audited mutation inserts its event ([`crate::events::event_for`];
//!   writes and rotations with the version they replaced) after its audit entry, in the same
//!   transaction. `events.seq`, the poll and delivery cursor, is guarded like the audit cursor,
//!   with its own advisory lock (see `postgres/events.rs`).
//!
//! Timestamps are BIGINT microseconds since the Unix epoch, as in SQLite (the audit MACs cover
//! microseconds; one representation keeps both stores identical). Text that is ordered or used
//! as a cursor is `COLLATE "C"`, so ordering is bytewise like SQLite's. Prefixes are matched with
//! `LIKE` on an escaped pattern (case-sensitive). Tags, scopes and roles are `TEXT[]`.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};
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
use crate::sql::{from_micros, like_prefix, page_of, to_i64, to_u64};
use crate::{AuditStore, Result, SealFn, StoreError};

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

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connection settings of [`PgStore::connect`].
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// Size of the pool (per node).
    pub max_connections: u32,
    /// Server-side limit on every statement (`statement_timeout`); `None`: the server's default.
    pub statement_timeout: Option<Duration>,
    /// How long connecting (and later, waiting for a pooled connection) may take.
    pub connect_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            statement_timeout: Some(Duration::from_secs(30)),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// The LISTEN/NOTIFY channel of cache invalidations between nodes.
const CHANGES_CHANNEL: &str = "scaivault_changes";

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Audit-only appends go through the batching task ([`audit::run_appender`]).
    appends: mpsc::Sender<audit::AppendJob>,
    /// The MAC of the audit chains, set once the keyring is unwrapped.
    audit_mac: Arc<OnceLock<ChainMac>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("audit_key_loaded", &self.audit_mac.get().is_some())
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Where writes run (the shared store impls in `shared_impls.rs` use this).
    fn writer(&self) -> &PgPool {
        &self.pool
    }

    /// Where reads run.
    fn reader(&self) -> &PgPool {
        &self.pool
    }

    /// Connects, refuses a schema newer than this binary, applies pending migrations (sqlx
    /// serialises concurrent migrators with an advisory lock) and opens the pool.
    pub async fn connect(url: &str, options: PgOptions) -> Result<Self> {
        let mut connect = PgConnectOptions::from_str(url)?.application_name("scaivault");
        if let Some(timeout) = options.statement_timeout {
            connect = connect.options([(
                "statement_timeout",
                format!("{}ms", timeout.as_millis().max(1)),
            )]);
        }
        // A direct first connection reports why the server is unreachable (the pool would
        // retry a refused connection until its timeout and only say that it timed out).
        let mut conn = first_connection(&connect, options.connect_timeout).await?;
        refuse_newer_schema(&mut conn).await?;
        MIGRATOR.run(&mut conn).await?;
        let _ = conn.close().await;

        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.connect_timeout)
            .connect_with(connect)
            .await?;
        let (appends, jobs) = mpsc::channel(audit::QUEUED_JOBS);
        let audit_mac = Arc::new(OnceLock::new());
        tokio::spawn(audit::run_appender(pool.clone(), jobs, audit_mac.clone()));
        Ok(Self {
            pool,
            appends,
            audit_mac,
        })
    }

    /// Closes the pool (waits for connections in use to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn require_mac(&self) -> Result<&ChainMac> {
        self.audit_mac
            .get()
            .ok_or_else(|| StoreError::Audit("the audit key is not loaded".into()))
    }

    /// Appends one mutation's audit event inside its transaction, and the change's outbox
    /// event if it has one (nothing when `None`).
    async fn audit_in(&self, conn: &mut PgConnection, event: Option<&AuditEvent>) -> Result<()> {
        self.record_in(conn, event, None).await
    }

    /// [`Self::audit_in`] for writes and rotations: `previous_version` (the current version
    /// before the write, known only to the write) tells created from updated and goes into a
    /// rotation's event.
    async fn record_in(
        &self,
        conn: &mut PgConnection,
        event: Option<&AuditEvent>,
        previous_version: Option<u64>,
    ) -> Result<()> {
        let Some(event) = event else {
            return Ok(());
        };
        audit::append_in(conn, std::slice::from_ref(event), self.require_mac()?).await?;
        // The change's event rides in the same transaction (the outbox).
        if let Some(outbox) = crate::events::event_for(event, previous_version) {
            events::insert_in(conn, std::slice::from_ref(&outbox)).await?;
        }
        Ok(())
    }
}

async fn first_connection(options: &PgConnectOptions, timeout: Duration) -> Result<PgConnection> {
    let target = format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or(options.get_username())
    );
    let unreachable = |kind, cause: String| {
        StoreError::Database(sqlx::Error::Io(std::io::Error::new(
            kind,
            format!("cannot connect to PostgreSQL at {target}: {cause}"),
        )))
    };
    match tokio::time::timeout(timeout, PgConnection::connect_with(options)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(sqlx::Error::Io(e))) => Err(unreachable(e.kind(), e.to_string())),
        Ok(Err(e)) => Err(unreachable(std::io::ErrorKind::Other, e.to_string())),
        Err(_) => Err(unreachable(
            std::io::ErrorKind::TimedOut,
            format!("no connection within {timeout:?}"),
        )),
    }
}

/// A database migrated by a newer ScaiVault has versions this binary does not know: refuse it
/// rather than run old code against a schema it was not written for.
async fn refuse_newer_schema(conn: &mut PgConnection) -> Result<()> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Ok(());
    }
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await?;
    let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    if let Some(unknown) = applied.iter().find(|v| !MIGRATOR.version_exists(**v)) {
        let message = format!(
            "the database schema has migration {unknown}, which this ScaiVault binary does not \
             know (it knows up to {known}); a newer ScaiVault migrated this database: upgrade \
             this node"
        );
        return Err(StoreError::Migration(sqlx::migrate::MigrateError::Source(
            message.into(),
        )));
    }
    Ok(())
}

/// A failed COMMIT: the environment's failures (connection lost, disk full, timeout) stay
/// recognisable as such; anything else is a commit failure.
fn commit_failed(e: sqlx::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Database(e) => StoreError::CommitFailed(e.to_string()),
        other => other,
    }
}

system_store!(PgStore, {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn probe_write(&self, now: OffsetDateTime) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(crate::sql::system::SET)
            .bind(crate::WRITE_PROBE_KEY)
            .bind(micros(now).to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await.map_err(commit_failed)
    }

    async fn storage_usage(&self, since: OffsetDateTime) -> Result<crate::usage::StorageUsage> {
        crate::usage::postgres(&self.pool, since).await
    }

    fn record_pool_metrics(&self) {
        let p = &self.pool;
        crate::gauges::record_pool(
            "postgres",
            p.size(),
            p.num_idle(),
            p.options().get_max_connections(),
        );
    }

    async fn claim_job(
        &self,
        job: &str,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool> {
        let row: Option<String> = sqlx::query_scalar(
            "INSERT INTO job_leases (job, holder, expires_at) VALUES ($1, $2, $4)
             ON CONFLICT (job) DO UPDATE SET holder = excluded.holder,
                expires_at = excluded.expires_at
             WHERE job_leases.expires_at < $3 OR job_leases.holder = excluded.holder
             RETURNING holder",
        )
        .bind(job)
        .bind(holder)
        .bind(micros(now))
        .bind(micros(until))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    async fn publish_change(&self, change: &str) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANGES_CHANNEL)
            .bind(change)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn change_feed(&self) -> Result<Option<mpsc::Receiver<String>>> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANGES_CHANNEL).await?;
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => {
                        if tx.send(notification.payload().to_owned()).await.is_err() {
                            return;
                        }
                    }
                    // The connection dropped and is re-established on the next call: whatever
                    // was published meanwhile is lost, so everything must be forgotten.
                    Ok(None) => {
                        if tx.send("all".to_owned()).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "change feed interrupted; retrying");
                        if tx.send("all".to_owned()).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Some(rx))
    }
});

secret_store!(PgStore, {
    async fn write_secret(
        &self,
        tenant_id: &str,
        write: SecretWrite,
        seal: Box<SealFn>,
    ) -> Result<WriteOutcome> {
        let mut tx = self.pool.begin().await?;
        let outcome = secrets::write_in(&mut tx, tenant_id, &write, seal.as_ref()).await?;
        if let Some(event) = &write.audit {
            let mut event = event.clone();
            event.version = Some(outcome.version);
            self.record_in(&mut tx, Some(&event), outcome.previous_version)
                .await?;
        }
        tx.commit().await.map_err(commit_failed)?;
        Ok(outcome)
    }
});

token_store!(PgStore, {
    async fn replace_token(&self, t: &TokenRecord) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        tokens::replace(&mut tx, t).await?;
        tx.commit().await?;
        Ok(())
    }
});

identity_store!(PgStore);

policy_store!(PgStore);

rotation_store!(PgStore);

event_store!(PgStore, {
    async fn insert_events(&self, new: &[NewEvent]) -> Result<u64> {
        events::insert_new(&self.pool, new).await
    }

    async fn record_delivery(&self, state: &DeliveryState<'_>) -> Result<()> {
        events::record_delivery(&self.pool, state).await
    }

    async fn prune_events(
        &self,
        replay_before: OffsetDateTime,
        dead_letters_before: OffsetDateTime,
    ) -> Result<u64> {
        events::prune(&self.pool, replay_before, dead_letters_before).await
    }
});

#[async_trait]
impl AuditStore for PgStore {
    fn set_audit_mac(&self, mac: ChainMac) {
        // Set once per process; a second call (same keyring) changes nothing.
        let _ = self.audit_mac.set(mac);
    }

    async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.require_mac()?;
        let stopped = || StoreError::Audit("the audit appender has stopped".into());
        let (reply, done) = oneshot::channel();
        self.appends
            .send(audit::AppendJob { events, reply })
            .await
            .map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?
    }

    async fn query_audit(&self, q: &AuditQuery) -> Result<Page<AuditEntry>> {
        audit::query(&self.pool, q).await
    }

    async fn audit_summary(&self, q: &AuditQuery, top: u32) -> Result<AuditSummary> {
        audit::summary(&self.pool, q, top).await
    }

    async fn audit_since(&self, after_seq: u64, limit: u32) -> Result<Vec<AuditEntry>> {
        audit::since(&self.pool, after_seq, limit).await
    }

    async fn audit_chains(&self) -> Result<Vec<String>> {
        audit::chains(&self.pool).await
    }

    async fn audit_chain_page(
        &self,
        chain: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        audit::chain_page(&self.pool, chain, after, limit).await
    }

    async fn audit_checkpoints(&self, chain: &str) -> Result<Vec<AuditCheckpoint>> {
        audit::checkpoints(&self.pool, chain).await
    }

    async fn audit_anchor(&self, chain: &str) -> Result<Option<AuditAnchor>> {
        audit::anchor(&self.pool, chain).await
    }

    async fn checkpoint_audit(&self, now: OffsetDateTime) -> Result<u64> {
        let mac = self.require_mac()?;
        audit::checkpoint(&self.pool, mac, now).await
    }

    async fn prune_audit(&self, before: OffsetDateTime) -> Result<u64> {
        let mac = self.require_mac()?;
        audit::prune(&self.pool, mac, before).await
    }

    async fn prune_audit_chain(&self, chain: &str, through: u64) -> Result<u64> {
        let mac = self.require_mac()?;
        audit::prune_chain(&self.pool, mac, chain, None, through).await
    }
}
