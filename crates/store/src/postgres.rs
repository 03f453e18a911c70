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
use crate::sql::{from_micros, like_prefix, page_of, to_i64, to_u64};
use crate::{Result, SealFn, Store, StoreError};

mod audit;
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

#[async_trait]
impl Store for PgStore {
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

    async fn get_system(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(crate::sql::system::GET)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn set_system(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(crate::sql::system::SET)
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_data_keys(&self) -> Result<Vec<StoredKey>> {
        tokens::list_data_keys(&self.pool).await
    }

    async fn insert_data_key(&self, key: &StoredKey) -> Result<()> {
        tokens::insert_data_key(&self.pool, key).await
    }

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

    async fn read_secret(
        &self,
        tenant_id: &str,
        path: &str,
        version: Option<u64>,
        now: OffsetDateTime,
    ) -> Result<(SecretRecord, VersionRecord)> {
        secrets::read(&self.pool, tenant_id, path, version, now).await
    }

    async fn get_secret(&self, tenant_id: &str, path: &str) -> Result<SecretRecord> {
        secrets::get(&self.pool, tenant_id, path).await
    }

    async fn patch_secret(
        &self,
        tenant_id: &str,
        path: &str,
        patch: &SecretPatch,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<SecretRecord> {
        let mut tx = self.pool.begin().await?;
        let record = secrets::patch(&mut tx, tenant_id, path, patch, now).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn list_secrets(&self, tenant_id: &str, q: &ListQuery) -> Result<Page<SecretRecord>> {
        secrets::list(&self.pool, tenant_id, q).await
    }

    async fn list_expiring(
        &self,
        tenant_id: &str,
        q: &ExpiringQuery,
    ) -> Result<Page<SecretRecord>> {
        secrets::list_expiring(&self.pool, tenant_id, q).await
    }

    async fn list_versions(
        &self,
        tenant_id: &str,
        path: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<VersionRecord>> {
        secrets::list_versions(&self.pool, tenant_id, path, now).await
    }

    async fn soft_delete(
        &self,
        tenant_id: &str,
        path: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        secrets::soft_delete(&mut tx, tenant_id, path, now).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn restore(
        &self,
        tenant_id: &str,
        path: &str,
        _now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<SecretRecord> {
        let mut tx = self.pool.begin().await?;
        let record = secrets::restore(&mut tx, tenant_id, path).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn hard_delete(
        &self,
        tenant_id: &str,
        path: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        secrets::hard_delete(&mut tx, tenant_id, path).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_version(
        &self,
        tenant_id: &str,
        path: &str,
        version: u64,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        secrets::delete_version(&mut tx, tenant_id, path, version, now).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_access(&self, hits: &[AccessHit]) -> Result<()> {
        secrets::record_access(&self.pool, hits).await
    }

    async fn access_stats(
        &self,
        tenant_id: &str,
        path: &str,
        since: OffsetDateTime,
    ) -> Result<(u64, Option<OffsetDateTime>)> {
        secrets::access_stats(&self.pool, tenant_id, path, since).await
    }

    async fn sweep(
        &self,
        deleted_before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(u64, u64)> {
        secrets::sweep(&self.pool, deleted_before, now).await
    }

    async fn insert_token(&self, t: &TokenRecord, audit: Option<&AuditEvent>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        tokens::insert(&mut tx, t).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn replace_token(&self, t: &TokenRecord) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        tokens::replace(&mut tx, t).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
        tokens::find(&self.pool, token_hash).await
    }

    async fn list_tokens(
        &self,
        tenant_id: &str,
        identity_id: &str,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Page<TokenRecord>> {
        tokens::list(&self.pool, tenant_id, identity_id, after_id, limit).await
    }

    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>> {
        tokens::get(&self.pool, id).await
    }

    async fn revoke_token(
        &self,
        tenant_id: &str,
        identity_id: &str,
        token_id: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !tokens::revoke(&mut tx, tenant_id, identity_id, token_id, now).await? {
            return Ok(false);
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn insert_partner(&self, p: &PartnerRecord, audit: Option<&AuditEvent>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        identity::insert_partner(&mut tx, p).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_partner(&self, id: &str) -> Result<Option<PartnerRecord>> {
        identity::get_partner(&self.pool, id).await
    }

    async fn list_partners(&self, after: Option<&str>, limit: u32) -> Result<Page<PartnerRecord>> {
        identity::list_partners(&self.pool, after, limit).await
    }

    async fn insert_tenant(&self, t: &TenantRecord, audit: Option<&AuditEvent>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        identity::insert_tenant(&mut tx, t).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_tenant(&self, id: &str) -> Result<Option<TenantRecord>> {
        identity::get_tenant(&self.pool, id).await
    }

    async fn register_tenant(
        &self,
        partner: Option<&PartnerRecord>,
        tenant: &TenantRecord,
        admin_token: &TokenRecord,
        audit: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        identity::register_tenant(&mut tx, partner, tenant, admin_token).await?;
        for event in audit {
            self.audit_in(&mut tx, Some(event)).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_tenants(
        &self,
        partner_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<TenantRecord>> {
        identity::list_tenants(&self.pool, partner_id, after, limit).await
    }

    async fn insert_service_account(
        &self,
        sa: &ServiceAccountRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        identity::insert_service_account(&mut tx, sa).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_service_account(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<ServiceAccountRecord>> {
        identity::get_service_account(&self.pool, tenant_id, id).await
    }

    async fn list_service_accounts(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<ServiceAccountRecord>> {
        identity::list_service_accounts(&self.pool, tenant_id, after, limit).await
    }

    async fn delete_service_account(
        &self,
        tenant_id: &str,
        id: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !identity::delete_service_account(&mut tx, tenant_id, id, micros(now)).await? {
            return Ok(false);
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_identity_groups(
        &self,
        tenant_id: &str,
        identity_id: &str,
        groups: &[String],
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        identity::set_groups(&mut tx, tenant_id, identity_id, groups).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn identity_groups(&self, tenant_id: &str, identity_id: &str) -> Result<Vec<String>> {
        identity::groups_of(&self.pool, tenant_id, identity_id).await
    }

    async fn insert_policy(&self, p: &PolicyRecord, audit: Option<&AuditEvent>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        policies::insert(&mut tx, p).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_policy(&self, p: &PolicyRecord, audit: Option<&AuditEvent>) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !policies::update(&mut tx, p).await? {
            return Ok(false);
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn get_policy(&self, tenant_id: &str, id: &str) -> Result<Option<PolicyRecord>> {
        policies::get(&self.pool, tenant_id, id).await
    }

    async fn list_policies(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<PolicyRecord>> {
        policies::list(&self.pool, tenant_id, after, limit).await
    }

    async fn delete_policy(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !policies::delete(&mut tx, tenant_id, id).await? {
            return Ok(false);
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn bind_policy(
        &self,
        tenant_id: &str,
        binding: &PolicyBinding,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        policies::bind(&mut tx, tenant_id, binding).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn unbind_policy(
        &self,
        tenant_id: &str,
        policy_id: &str,
        identity_id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !policies::unbind(&mut tx, tenant_id, policy_id, identity_id).await? {
            return Ok(false);
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn policy_bindings(
        &self,
        tenant_id: &str,
        policy_id: &str,
    ) -> Result<Vec<PolicyBinding>> {
        policies::bindings(&self.pool, tenant_id, policy_id).await
    }

    async fn policies_bound_to(
        &self,
        tenant_id: &str,
        identities: &[String],
    ) -> Result<Vec<PolicyRecord>> {
        policies::bound_to(&self.pool, tenant_id, identities).await
    }

    async fn insert_secret_policy(
        &self,
        p: &SecretPolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        rotation::insert_secret_policy(&mut tx, p).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_secret_policy(
        &self,
        p: &SecretPolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !rotation::update_secret_policy(&mut tx, p).await? {
            return Ok(false);
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn get_secret_policy(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<SecretPolicyRecord>> {
        rotation::get_secret_policy(&self.pool, tenant_id, id).await
    }

    async fn list_secret_policies(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<SecretPolicyRecord>> {
        rotation::list_secret_policies(&self.pool, tenant_id, after, limit).await
    }

    async fn delete_secret_policy(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !rotation::delete_secret_policy(&mut tx, tenant_id, id).await? {
            return Ok(false);
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn insert_rotation_policy(
        &self,
        p: &RotationPolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        rotation::insert_rotation_policy(&mut tx, p).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_rotation_policy(
        &self,
        p: &RotationPolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !rotation::update_rotation_policy(&mut tx, p).await? {
            return Ok(false);
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn get_rotation_policy(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<RotationPolicyRecord>> {
        rotation::get_rotation_policy(&self.pool, tenant_id, id).await
    }

    async fn list_rotation_policies(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<RotationPolicyRecord>> {
        rotation::list_rotation_policies(&self.pool, tenant_id, after, limit).await
    }

    async fn delete_rotation_policy(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !rotation::delete_rotation_policy(&mut tx, tenant_id, id).await? {
            return Ok(false);
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_secret_rotation_policy(
        &self,
        tenant_id: &str,
        path: &str,
        policy_id: Option<&str>,
        schedule: &ScheduleChange,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        if schedule
            .target()
            .is_some_and(|target| target != (tenant_id, path))
        {
            return Err(StoreError::Invalid("the schedule is another secret's"));
        }
        let mut tx = self.pool.begin().await?;
        if !rotation::set_secret_rotation_policy(&mut tx, tenant_id, path, policy_id).await? {
            return Ok(false);
        }
        rotation::apply_schedule(&mut tx, schedule).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn get_rotation_schedule(
        &self,
        tenant_id: &str,
        path: &str,
    ) -> Result<Option<ScheduleRecord>> {
        rotation::get_schedule(&self.pool, tenant_id, path).await
    }

    async fn list_rotation_schedules(
        &self,
        tenant_id: &str,
        q: &ScheduleQuery,
    ) -> Result<Page<ScheduleRecord>> {
        rotation::list_schedules(&self.pool, tenant_id, q).await
    }

    async fn due_rotations(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<ScheduleRecord>> {
        rotation::due(&self.pool, now, limit).await
    }

    async fn due_rotation_warnings(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ScheduleRecord>> {
        rotation::due_warnings(&self.pool, now, limit).await
    }

    async fn unscheduled_rotations(&self, limit: u32) -> Result<Vec<(String, String, String)>> {
        rotation::unscheduled(&self.pool, limit).await
    }

    async fn commit_rotation_step(&self, step: &RotationStep) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let seq = match &step.run {
            Some(run) => rotation::upsert_run(&mut tx, run).await?,
            None => 0,
        };
        rotation::apply_schedule(&mut tx, &step.schedule).await?;
        self.audit_in(&mut tx, step.audit.as_ref()).await?;
        // The step's own `rotation.*` events (its audit entry derives none).
        events::insert_in(&mut tx, &step.events).await?;
        tx.commit().await?;
        Ok(seq)
    }

    async fn get_rotation_run(&self, tenant_id: &str, id: &str) -> Result<Option<RunRecord>> {
        rotation::get_run(&self.pool, tenant_id, id).await
    }

    async fn list_rotation_runs(&self, tenant_id: &str, q: &RunQuery) -> Result<Page<RunRecord>> {
        rotation::list_runs(&self.pool, tenant_id, q).await
    }

    async fn open_rotation_runs(&self, status: RunStatus, limit: u32) -> Result<Vec<RunRecord>> {
        rotation::open_runs(&self.pool, status, limit).await
    }

    async fn events_after(
        &self,
        tenants: &[String],
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<EventRecord>> {
        events::after(&self.pool, tenants, after_seq, limit).await
    }

    async fn last_event_seq(&self) -> Result<u64> {
        events::last_seq(&self.pool).await
    }

    async fn insert_subscription(
        &self,
        s: &SubscriptionRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        events::insert_subscription(&mut tx, s).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_subscription(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<SubscriptionRecord>> {
        events::get_subscription(&self.pool, tenant_id, id).await
    }

    async fn list_subscriptions(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<SubscriptionRecord>> {
        events::list_subscriptions(&self.pool, tenant_id, after, limit).await
    }

    async fn delete_subscription(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !events::delete_subscription(&mut tx, tenant_id, id).await? {
            return Ok(false);
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn secrets_expiring_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<(String, String, OffsetDateTime)>> {
        events::expiring_between(&self.pool, from, to, limit).await
    }

    async fn insert_events(&self, new: &[NewEvent]) -> Result<u64> {
        events::insert_new(&self.pool, new).await
    }

    async fn set_webhook_secret(
        &self,
        tenant_id: &str,
        id: &str,
        secret: &SealedBlob,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !events::set_webhook_secret(&mut tx, tenant_id, id, secret).await? {
            return Ok(false);
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn webhook_subscriptions(&self) -> Result<Vec<SubscriptionRecord>> {
        events::webhook_subscriptions(&self.pool).await
    }

    async fn record_delivery(&self, state: &DeliveryState<'_>) -> Result<()> {
        events::record_delivery(&self.pool, state).await
    }

    async fn storage_usage(&self, since: OffsetDateTime) -> Result<crate::usage::StorageUsage> {
        crate::usage::postgres(&self.pool, since).await
    }

    async fn prune_events(
        &self,
        replay_before: OffsetDateTime,
        dead_letters_before: OffsetDateTime,
    ) -> Result<u64> {
        events::prune(&self.pool, replay_before, dead_letters_before).await
    }

    async fn dead_letters(&self, subscription_id: &str) -> Result<Vec<DeadLetter>> {
        events::dead_letters(&self.pool, subscription_id).await
    }

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
