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
use crate::sql::{from_micros, page_of, to_u64};
use crate::{Result, SealFn, Store, StoreError};
use writer::WriteJob;

mod audit;
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

#[async_trait]
impl Store for SqliteStore {
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

    async fn get_system(&self, key: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(crate::sql::system::GET)
            .bind(key)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn set_system(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(crate::sql::system::SET)
            .bind(key)
            .bind(value)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn list_data_keys(&self) -> Result<Vec<StoredKey>> {
        tokens::list_data_keys(&self.reader).await
    }

    async fn insert_data_key(&self, key: &StoredKey) -> Result<()> {
        tokens::insert_data_key(&self.writer, key).await
    }

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

    async fn read_secret(
        &self,
        tenant_id: &str,
        path: &str,
        version: Option<u64>,
        now: OffsetDateTime,
    ) -> Result<(SecretRecord, VersionRecord)> {
        secrets::read(&self.reader, tenant_id, path, version, now).await
    }

    async fn get_secret(&self, tenant_id: &str, path: &str) -> Result<SecretRecord> {
        secrets::get(&self.reader, tenant_id, path).await
    }

    async fn patch_secret(
        &self,
        tenant_id: &str,
        path: &str,
        patch: &SecretPatch,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<SecretRecord> {
        let mut tx = self.writer.begin().await?;
        let record = secrets::patch(&mut tx, tenant_id, path, patch, now).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn list_secrets(&self, tenant_id: &str, q: &ListQuery) -> Result<Page<SecretRecord>> {
        secrets::list(&self.reader, tenant_id, q).await
    }

    async fn list_expiring(
        &self,
        tenant_id: &str,
        q: &ExpiringQuery,
    ) -> Result<Page<SecretRecord>> {
        secrets::list_expiring(&self.reader, tenant_id, q).await
    }

    async fn list_versions(
        &self,
        tenant_id: &str,
        path: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<VersionRecord>> {
        secrets::list_versions(&self.reader, tenant_id, path, now).await
    }

    async fn soft_delete(
        &self,
        tenant_id: &str,
        path: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
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
        let mut tx = self.writer.begin().await?;
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
        let mut tx = self.writer.begin().await?;
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
        let mut tx = self.writer.begin().await?;
        secrets::delete_version(&mut tx, tenant_id, path, version, now).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_access(&self, hits: &[AccessHit]) -> Result<()> {
        secrets::record_access(&self.writer, hits).await
    }

    async fn access_stats(
        &self,
        tenant_id: &str,
        path: &str,
        since: OffsetDateTime,
    ) -> Result<(u64, Option<OffsetDateTime>)> {
        secrets::access_stats(&self.reader, tenant_id, path, since).await
    }

    async fn sweep(
        &self,
        deleted_before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(u64, u64)> {
        secrets::sweep(&self.writer, deleted_before, now).await
    }

    async fn insert_token(&self, t: &TokenRecord, audit: Option<&AuditEvent>) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        tokens::insert(&mut tx, t).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn replace_token(&self, t: &TokenRecord) -> Result<()> {
        let mut conn = self.writer.acquire().await?;
        tokens::replace(&mut conn, t).await
    }

    async fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
        tokens::find(&self.reader, token_hash).await
    }

    async fn list_tokens(
        &self,
        tenant_id: &str,
        identity_id: &str,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Page<TokenRecord>> {
        tokens::list(&self.reader, tenant_id, identity_id, after_id, limit).await
    }

    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>> {
        tokens::get(&self.reader, id).await
    }

    async fn revoke_token(
        &self,
        tenant_id: &str,
        identity_id: &str,
        token_id: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        if !tokens::revoke(&mut tx, tenant_id, identity_id, token_id, now).await? {
            return Ok(false);
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn insert_partner(&self, p: &PartnerRecord, audit: Option<&AuditEvent>) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        identity::insert_partner(&mut tx, p).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_partner(&self, id: &str) -> Result<Option<PartnerRecord>> {
        identity::get_partner(&self.reader, id).await
    }

    async fn list_partners(&self, after: Option<&str>, limit: u32) -> Result<Page<PartnerRecord>> {
        identity::list_partners(&self.reader, after, limit).await
    }

    async fn insert_tenant(&self, t: &TenantRecord, audit: Option<&AuditEvent>) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        identity::insert_tenant(&mut tx, t).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_tenant(&self, id: &str) -> Result<Option<TenantRecord>> {
        identity::get_tenant(&self.reader, id).await
    }

    async fn register_tenant(
        &self,
        partner: Option<&PartnerRecord>,
        tenant: &TenantRecord,
        admin_token: &TokenRecord,
        audit: &[AuditEvent],
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
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
        identity::list_tenants(&self.reader, partner_id, after, limit).await
    }

    async fn insert_service_account(
        &self,
        sa: &ServiceAccountRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
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
        identity::get_service_account(&self.reader, tenant_id, id).await
    }

    async fn list_service_accounts(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<ServiceAccountRecord>> {
        identity::list_service_accounts(&self.reader, tenant_id, after, limit).await
    }

    async fn delete_service_account(
        &self,
        tenant_id: &str,
        id: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
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
        let mut tx = self.writer.begin().await?;
        identity::set_groups(&mut tx, tenant_id, identity_id, groups).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn identity_groups(&self, tenant_id: &str, identity_id: &str) -> Result<Vec<String>> {
        identity::groups_of(&self.reader, tenant_id, identity_id).await
    }

    async fn insert_policy(&self, p: &PolicyRecord, audit: Option<&AuditEvent>) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        policies::insert(&mut tx, p).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_policy(&self, p: &PolicyRecord, audit: Option<&AuditEvent>) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        if !policies::update(&mut tx, p).await? {
            return Ok(false);
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn get_policy(&self, tenant_id: &str, id: &str) -> Result<Option<PolicyRecord>> {
        policies::get(&self.reader, tenant_id, id).await
    }

    async fn list_policies(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<PolicyRecord>> {
        policies::list(&self.reader, tenant_id, after, limit).await
    }

    async fn delete_policy(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
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
        let mut tx = self.writer.begin().await?;
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
        let mut tx = self.writer.begin().await?;
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
        policies::bindings(&self.reader, tenant_id, policy_id).await
    }

    async fn policies_bound_to(
        &self,
        tenant_id: &str,
        identities: &[String],
    ) -> Result<Vec<PolicyRecord>> {
        policies::bound_to(&self.reader, tenant_id, identities).await
    }

    async fn insert_secret_policy(
        &self,
        p: &SecretPolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
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
        let mut tx = self.writer.begin().await?;
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
        rotation::get_secret_policy(&self.reader, tenant_id, id).await
    }

    async fn list_secret_policies(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<SecretPolicyRecord>> {
        rotation::list_secret_policies(&self.reader, tenant_id, after, limit).await
    }

    async fn delete_secret_policy(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
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
        let mut tx = self.writer.begin().await?;
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
        let mut tx = self.writer.begin().await?;
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
        rotation::get_rotation_policy(&self.reader, tenant_id, id).await
    }

    async fn list_rotation_policies(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<RotationPolicyRecord>> {
        rotation::list_rotation_policies(&self.reader, tenant_id, after, limit).await
    }

    async fn delete_rotation_policy(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
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
        let mut tx = self.writer.begin().await?;
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
        rotation::get_schedule(&self.reader, tenant_id, path).await
    }

    async fn list_rotation_schedules(
        &self,
        tenant_id: &str,
        q: &ScheduleQuery,
    ) -> Result<Page<ScheduleRecord>> {
        rotation::list_schedules(&self.reader, tenant_id, q).await
    }

    async fn due_rotations(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<ScheduleRecord>> {
        rotation::due(&self.reader, now, limit).await
    }

    async fn due_rotation_warnings(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ScheduleRecord>> {
        rotation::due_warnings(&self.reader, now, limit).await
    }

    async fn unscheduled_rotations(&self, limit: u32) -> Result<Vec<(String, String, String)>> {
        rotation::unscheduled(&self.reader, limit).await
    }

    async fn commit_rotation_step(&self, step: &RotationStep) -> Result<u64> {
        let mut tx = self.writer.begin().await?;
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
        rotation::get_run(&self.reader, tenant_id, id).await
    }

    async fn list_rotation_runs(&self, tenant_id: &str, q: &RunQuery) -> Result<Page<RunRecord>> {
        rotation::list_runs(&self.reader, tenant_id, q).await
    }

    async fn open_rotation_runs(&self, status: RunStatus, limit: u32) -> Result<Vec<RunRecord>> {
        rotation::open_runs(&self.reader, status, limit).await
    }

    async fn events_after(
        &self,
        tenants: &[String],
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<EventRecord>> {
        events::after(&self.reader, tenants, after_seq, limit).await
    }

    async fn last_event_seq(&self) -> Result<u64> {
        events::last_seq(&self.reader).await
    }

    async fn insert_subscription(
        &self,
        s: &SubscriptionRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
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
        events::get_subscription(&self.reader, tenant_id, id).await
    }

    async fn list_subscriptions(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<SubscriptionRecord>> {
        events::list_subscriptions(&self.reader, tenant_id, after, limit).await
    }

    async fn delete_subscription(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
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
        events::expiring_between(&self.reader, from, to, limit).await
    }

    async fn insert_events(&self, new: &[NewEvent]) -> Result<u64> {
        let mut tx = self.writer.begin().await?;
        let inserted = events::insert_new(&mut tx, new).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    async fn set_webhook_secret(
        &self,
        tenant_id: &str,
        id: &str,
        secret: &SealedBlob,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        if !events::set_webhook_secret(&mut tx, tenant_id, id, secret).await? {
            return Ok(false);
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn webhook_subscriptions(&self) -> Result<Vec<SubscriptionRecord>> {
        events::webhook_subscriptions(&self.reader).await
    }

    async fn record_delivery(&self, state: &DeliveryState<'_>) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        events::record_delivery(&mut tx, state).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn storage_usage(&self, since: OffsetDateTime) -> Result<crate::usage::StorageUsage> {
        crate::usage::sqlite(&self.reader, since).await
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

    async fn dead_letters(&self, subscription_id: &str) -> Result<Vec<DeadLetter>> {
        events::dead_letters(&self.reader, subscription_id).await
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
