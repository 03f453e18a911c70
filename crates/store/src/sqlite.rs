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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Connection, QueryBuilder, Row, Sqlite, SqliteConnection};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::audit::*;
use crate::events::{DeadLetter, DeliveryState, EventRecord, NewEvent, SubscriptionRecord};
use crate::model::*;
use crate::rotation::{
    RotationPolicyRecord, RotationStep, RunQuery, RunRecord, RunStatus, ScheduleChange,
    ScheduleQuery, ScheduleRecord, SecretPolicyRecord,
};
use crate::{Result, SealFn, Store, StoreError};

mod audit;
mod events;
mod identity;
mod policies;
mod rotation;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

const SECRET_COLUMNS: &str = "path, secret_type, current_version, latest_version, max_versions, \
     description, tags, owner, expires_at, rotation_policy_id, secret_policy_id, created_at, \
     updated_at, deleted_at";

/// [`SECRET_COLUMNS`] qualified with the alias `s`, for joins (kept in the same order).
const SECRET_COLUMNS_OF_S: &str = "s.path, s.secret_type, s.current_version, s.latest_version, \
     s.max_versions, s.description, s.tags, s.owner, s.expires_at, s.rotation_policy_id, \
     s.secret_policy_id, s.created_at, s.updated_at, s.deleted_at";

#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Secret writes and audit appends go through the group-commit writer task ([`run_writer`]).
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

impl std::fmt::Debug for WriteJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret { write, .. } => f
                .debug_struct("WriteJob::Secret")
                .field("path", &write.path)
                .finish_non_exhaustive(),
            Self::Audit { events, .. } => f
                .debug_struct("WriteJob::Audit")
                .field("events", &events.len())
                .finish_non_exhaustive(),
        }
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
        let hook_commits = commits.clone();
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            // Counts the commits SQLite really performs, so a batch of writes is acknowledged
            // only when its own transaction committed (see `commit_batch`).
            .after_connect(move |conn, _| {
                let commits = hook_commits.clone();
                Box::pin(async move {
                    conn.lock_handle().await?.set_commit_hook(move || {
                        commits.fetch_add(1, Ordering::AcqRel);
                        true
                    });
                    Ok(())
                })
            })
            // A connection whose transaction bookkeeping is off after a failure (SQLite rolled
            // a transaction back by itself on a full disk or an I/O error, so sqlx's ROLLBACK
            // failed and it still counts one open) would turn the next BEGIN into a SAVEPOINT
            // that never commits. Such a connection is closed (SQLite rolls back whatever it
            // holds) and the pool opens a clean one.
            .after_release(|conn, _| {
                Box::pin(async move {
                    // Committed: nothing to check (the count drops only when COMMIT or ROLLBACK
                    // ran). Dropped mid-transaction: let its queued rollback run, then look.
                    if !conn.is_in_transaction() {
                        return Ok(true);
                    }
                    conn.ping().await?;
                    Ok(!conn.is_in_transaction())
                })
            })
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(read_connections.max(1))
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await?;
        let (writes, jobs) = mpsc::channel(4 * MAX_BATCH);
        let audit_mac = Arc::new(OnceLock::new());
        tokio::spawn(run_writer(writer.clone(), jobs, audit_mac.clone(), commits));
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

fn from_micros(v: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1_000)
        .map_err(|_| StoreError::Corrupt(format!("timestamp out of range: {v}")))
}

fn opt_from_micros(v: Option<i64>) -> Result<Option<OffsetDateTime>> {
    v.map(from_micros).transpose()
}

fn to_u64(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative {what}")))
}

/// A page from rows fetched with `LIMIT limit + 1`: the extra row only says there is more.
/// Without a separate count, `total_count` is the number of items on this page.
fn page_of<T>(mut items: Vec<T>, limit: u32, total_count: Option<u64>) -> Page<T> {
    let has_more = items.len() > limit as usize;
    items.truncate(limit as usize);
    Page {
        total_count: total_count.unwrap_or(items.len() as u64),
        items,
        has_more,
    }
}

/// Escapes GLOB metacharacters so a prefix matches literally.
fn glob_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        match c {
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out.push('*');
    out
}

fn secret_from_row(row: &SqliteRow) -> Result<SecretRecord> {
    let tags: String = row.try_get("tags")?;
    let tags: Vec<String> =
        serde_json::from_str(&tags).map_err(|_| StoreError::Corrupt("tags".into()))?;
    Ok(SecretRecord {
        path: row.try_get("path")?,
        secret_type: row.try_get("secret_type")?,
        current_version: to_u64(row.try_get("current_version")?, "version")?,
        latest_version: to_u64(row.try_get("latest_version")?, "version")?,
        max_versions: u32::try_from(row.try_get::<i64, _>("max_versions")?)
            .map_err(|_| StoreError::Corrupt("max_versions".into()))?,
        description: row.try_get("description")?,
        tags,
        owner: row.try_get("owner")?,
        expires_at: opt_from_micros(row.try_get("expires_at")?)?,
        rotation_policy_id: row.try_get("rotation_policy_id")?,
        secret_policy_id: row.try_get("secret_policy_id")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
        deleted_at: opt_from_micros(row.try_get("deleted_at")?)?,
        version_count: 0,
    })
}

fn token_from_row(row: &SqliteRow) -> Result<TokenRecord> {
    let scopes: String = row.try_get("scopes")?;
    Ok(TokenRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        partner_id: row.try_get("partner_id")?,
        identity_id: row.try_get("identity_id")?,
        identity_type: row.try_get("identity_type")?,
        token_hash: row.try_get("token_hash")?,
        name: row.try_get("name")?,
        scopes: serde_json::from_str(&scopes).map_err(|_| StoreError::Corrupt("scopes".into()))?,
        is_admin: row.try_get::<i64, _>("is_admin")? != 0,
        is_partner_admin: row.try_get::<i64, _>("is_partner_admin")? != 0,
        kind: row.try_get("kind")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        expires_at: opt_from_micros(row.try_get("expires_at")?)?,
        revoked_at: opt_from_micros(row.try_get("revoked_at")?)?,
        parent_key_id: row.try_get("parent_key_id")?,
    })
}

fn tags_json(tags: &Option<Vec<String>>) -> Result<Option<String>> {
    tags.as_ref()
        .map(|t| serde_json::to_string(t).map_err(|_| StoreError::Corrupt("tags".into())))
        .transpose()
}

async fn fetch_secret(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    path: &str,
) -> Result<Option<SecretRecord>> {
    let sql = format!("SELECT {SECRET_COLUMNS} FROM secrets WHERE tenant_id = ?1 AND path = ?2");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(path)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(secret_from_row).transpose()
}

/// Applies a patch's set fields to an existing secret, and for a write also the new current
/// version and `updated_at`; returns the updated row (`RETURNING` spares a second statement,
/// and every statement is a round trip to sqlx's SQLite worker thread).
async fn update_secret(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    path: &str,
    patch: &SecretPatch,
    new_version: Option<(i64, i64)>,
) -> Result<SecretRecord> {
    let sql = format!(
        "UPDATE secrets SET
            secret_type = COALESCE(?3, secret_type),
            description = COALESCE(?4, description),
            tags = COALESCE(?5, tags),
            owner = COALESCE(?6, owner),
            max_versions = COALESCE(?7, max_versions),
            expires_at = COALESCE(?8, expires_at),
            rotation_policy_id = COALESCE(?9, rotation_policy_id),
            secret_policy_id = COALESCE(?10, secret_policy_id),
            current_version = COALESCE(?11, current_version),
            latest_version = COALESCE(?11, latest_version),
            updated_at = COALESCE(?12, updated_at)
         WHERE tenant_id = ?1 AND path = ?2
         RETURNING {SECRET_COLUMNS}"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(path)
        .bind(&patch.secret_type)
        .bind(&patch.description)
        .bind(tags_json(&patch.tags)?)
        .bind(&patch.owner)
        .bind(patch.max_versions.map(i64::from))
        .bind(patch.expires_at.map(micros))
        .bind(&patch.rotation_policy_id)
        .bind(&patch.secret_policy_id)
        .bind(new_version.map(|(v, _)| v))
        .bind(new_version.map(|(_, at)| at))
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    secret_from_row(&row)
}

/// Drops versions beyond the secret's cap (oldest first) and versions already retired.
/// Versions inside a rotation grace period are kept even beyond the cap until they retire.
async fn prune_versions(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    path: &str,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM secret_versions
         WHERE tenant_id = ?1 AND path = ?2
           AND (retires_at IS NULL OR retires_at <= ?3)
           AND (retires_at <= ?3 OR version <= (
                SELECT v.version FROM secret_versions v
                WHERE v.tenant_id = ?1 AND v.path = ?2
                ORDER BY v.version DESC
                LIMIT 1 OFFSET (SELECT max_versions FROM secrets WHERE tenant_id = ?1 AND path = ?2)))",
    )
    .bind(tenant_id)
    .bind(path)
    .bind(micros(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn push_list_filters(qb: &mut QueryBuilder<Sqlite>, tenant_id: &str, q: &ListQuery) {
    qb.push(" WHERE tenant_id = ")
        .push_bind(tenant_id.to_owned())
        .push(" AND deleted_at IS NULL");
    if !q.prefix.is_empty() {
        qb.push(" AND path GLOB ").push_bind(glob_prefix(&q.prefix));
    }
    for tag in &q.tags {
        qb.push(" AND EXISTS (SELECT 1 FROM json_each(secrets.tags) WHERE json_each.value = ")
            .push_bind(tag.clone())
            .push(")");
    }
    if let Some(t) = &q.secret_type {
        qb.push(" AND secret_type = ").push_bind(t.clone());
    }
    if let Some(before) = q.expires_before {
        qb.push(" AND expires_at IS NOT NULL AND expires_at < ")
            .push_bind(micros(before));
    }
    if let Some(after) = q.updated_after {
        qb.push(" AND updated_at > ").push_bind(micros(after));
    }
    if !q.include_expired
        && let Some(now) = q.now
    {
        qb.push(" AND (expires_at IS NULL OR expires_at > ")
            .push_bind(micros(now))
            .push(")");
    }
}

/// One write inside the batch transaction (see [`run_writer`]).
async fn write_in(
    tx: &mut SqliteConnection,
    tenant_id: &str,
    write: &SecretWrite,
    seal: &SealFn,
) -> Result<WriteOutcome> {
    let path = write.path.as_str();
    let existing = fetch_secret(tx, tenant_id, path).await?;
    match (&existing, &write.mode) {
        (Some(r), WriteMode::Put) if r.deleted_at.is_some() => {
            return Err(StoreError::SoftDeleted);
        }
        (Some(r), WriteMode::Rotate { .. }) if r.deleted_at.is_some() => {
            return Err(StoreError::NotFound);
        }
        (None, WriteMode::Rotate { .. }) => return Err(StoreError::NotFound),
        _ => {}
    }
    let current = existing.as_ref().map_or(0, |r| r.current_version);
    if let Some(expected) = write.expected_version
        && expected != current
    {
        return Err(StoreError::VersionConflict { current });
    }
    let version = existing.as_ref().map_or(1, |r| r.latest_version + 1);
    let version_i64 =
        i64::try_from(version).map_err(|_| StoreError::Corrupt("version overflow".into()))?;
    let sealed = seal(version).map_err(|()| StoreError::Seal)?;
    let now = micros(write.now);
    // Every refusal is above this line, before the first change: a failure below is the
    // database's, and fails the whole batch (see `commit_batch`).

    sqlx::query(
        "INSERT INTO secret_versions (tenant_id, path, version, key_id, ciphertext, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .bind(tenant_id)
    .bind(path)
    .bind(version_i64)
    .bind(&sealed.key_id)
    .bind(&sealed.ciphertext)
    .bind(now)
    .execute(&mut *tx)
    .await?;

    let patch = &write.patch;
    let record = if existing.is_none() {
        let sql = format!(
            "INSERT INTO secrets (tenant_id, path, secret_type, current_version, latest_version,
                max_versions, description, tags, owner, expires_at, rotation_policy_id,
                secret_policy_id, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)
             RETURNING {SECRET_COLUMNS}"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(path)
            .bind(patch.secret_type.as_deref().unwrap_or("kv"))
            .bind(version_i64)
            .bind(i64::from(
                patch.max_versions.unwrap_or(DEFAULT_MAX_VERSIONS),
            ))
            .bind(&patch.description)
            .bind(tags_json(&patch.tags)?.unwrap_or_else(|| "[]".to_owned()))
            .bind(&patch.owner)
            .bind(patch.expires_at.map(micros))
            .bind(&patch.rotation_policy_id)
            .bind(&patch.secret_policy_id)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        // A new secret has one version: nothing to retire or prune.
        secret_from_row(&row)?
    } else {
        let record = update_secret(tx, tenant_id, path, patch, Some((version_i64, now))).await?;
        if let WriteMode::Rotate { retire_previous_at } = write.mode {
            sqlx::query(
                "UPDATE secret_versions SET retires_at = ?4
                 WHERE tenant_id = ?1 AND path = ?2 AND version = ?3
                   AND (retires_at IS NULL OR retires_at > ?4)",
            )
            .bind(tenant_id)
            .bind(path)
            .bind(i64::try_from(current).unwrap_or(i64::MAX))
            .bind(micros(retire_previous_at))
            .execute(&mut *tx)
            .await?;
        }
        // No more live versions than `version` can exist, so under the cap there is nothing to
        // prune (retired versions are unreadable already and purged by the sweep).
        if version > u64::from(record.max_versions) {
            prune_versions(tx, tenant_id, path, write.now).await?;
        }
        record
    };
    Ok(WriteOutcome {
        version,
        previous_version: existing.map(|r| r.current_version),
        created: current == 0,
        record,
    })
}

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 128;

/// Access counters per INSERT statement (5 bound values each; SQLite allows 32,766).
const ACCESS_ROWS_PER_INSERT: usize = 500;

/// Work waiting for the writer task.
enum WriteJob {
    Secret {
        tenant_id: String,
        write: Box<SecretWrite>,
        seal: Box<SealFn>,
        reply: oneshot::Sender<Result<WriteOutcome>>,
    },
    /// Audit entries of reads, denials and failed requests.
    Audit {
        events: Vec<AuditEvent>,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// What one job produced, before its reply is sent.
enum JobResult {
    Secret(Box<Result<WriteOutcome>>),
    Audit,
}

/// Group commit: takes every write that is waiting (up to [`MAX_BATCH`]), applies them in one
/// transaction, commits once (one fsync), and only then answers each caller. A lone write is
/// committed at once; under load, writes that arrive during a commit share the next one, so
/// durability no longer caps throughput at one fsync per write.
///
/// A batch that fails to apply or commit fails every request in it, and the writer connection
/// is closed and replaced: the next batch starts on a clean connection whatever state SQLite
/// left the failed one in (a full disk or an I/O error may roll a transaction back by itself).
async fn run_writer(
    pool: SqlitePool,
    mut jobs: mpsc::Receiver<WriteJob>,
    audit_mac: Arc<OnceLock<ChainMac>>,
    commits: Arc<AtomicU64>,
) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let result = match pool.acquire().await {
            Ok(mut conn) => {
                let result = commit_batch(&mut conn, &batch, audit_mac.get(), &commits).await;
                if result.is_err() {
                    conn.close_on_drop();
                }
                result
            }
            Err(e) => Err(e.into()),
        };
        match result {
            Ok(results) => {
                for (job, result) in batch.into_iter().zip(results) {
                    // The caller may have gone away (client disconnected); the write stands.
                    match (job, result) {
                        (WriteJob::Secret { reply, .. }, JobResult::Secret(r)) => {
                            let _ = reply.send(*r);
                        }
                        (WriteJob::Audit { reply, .. }, _) => {
                            let _ = reply.send(Ok(()));
                        }
                        (WriteJob::Secret { reply, .. }, JobResult::Audit) => {
                            let _ = reply.send(Err(StoreError::CommitFailed(
                                "internal: mismatched job result".into(),
                            )));
                        }
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = batch.len(), "write batch failed to commit");
                for job in batch {
                    match job {
                        WriteJob::Secret { reply, .. } => {
                            let _ = reply.send(Err(batch_error(&e)));
                        }
                        WriteJob::Audit { reply, .. } => {
                            let _ = reply.send(Err(batch_error(&e)));
                        }
                    }
                }
            }
        }
    }
}

/// Whether `write_in` returned `e` before changing anything (the write alone is refused).
fn refused_before_change(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::NotFound
            | StoreError::SoftDeleted
            | StoreError::VersionConflict { .. }
            | StoreError::Seal
            | StoreError::Invalid(_)
    )
}

/// The error each request of a failed batch gets: the environment's failures stay
/// recognisable (503, the store is unwritable), audit failures stay audit failures.
fn batch_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Audit(m) => StoreError::Audit(m.clone()),
        StoreError::Unavailable { cause, detail } => StoreError::Unavailable {
            cause,
            detail: detail.clone(),
        },
        e => StoreError::CommitFailed(e.to_string()),
    }
}

/// Applies a batch in one transaction: each secret write in turn, then every audit event of the
/// batch (those of the successful writes and the audit-only jobs) in one statement, then one
/// commit. If the audit cannot be written, nothing in the batch commits: no change is ever
/// acknowledged without its audit entry. The commit counts only if SQLite's commit hook saw it
/// (`commits` moved): a COMMIT that was really the RELEASE of a nested savepoint is a failure.
async fn commit_batch(
    conn: &mut SqliteConnection,
    batch: &[WriteJob],
    mac: Option<&ChainMac>,
    commits: &AtomicU64,
) -> Result<Vec<JobResult>> {
    let mut tx = conn.begin().await?;
    let alone = batch.len() == 1;
    let mut results = Vec::with_capacity(batch.len());
    let mut events = Vec::new();
    let mut outbox: Vec<NewEvent> = Vec::new();
    let mut changed = false;
    for job in batch {
        match job {
            WriteJob::Secret {
                tenant_id,
                write,
                seal,
                ..
            } => {
                // No savepoint per write (two statements, each a round trip to sqlx's SQLite
                // thread): `write_in` refuses before it changes anything, and a database error
                // after a change fails the whole batch, which then commits nothing.
                let result = write_in(&mut tx, tenant_id, write, seal.as_ref()).await;
                match &result {
                    Err(e) if !refused_before_change(e) => return Err(batch_error(e)),
                    Err(_) => {}
                    Ok(_) => changed = true,
                }
                if let (Ok(outcome), Some(event)) = (&result, &write.audit) {
                    let mut event = event.clone();
                    event.version = Some(outcome.version);
                    outbox.extend(crate::events::event_for(&event, outcome.previous_version));
                    events.push(event);
                }
                results.push(JobResult::Secret(Box::new(result)));
            }
            WriteJob::Audit { events: more, .. } => {
                events.extend(more.iter().cloned());
                results.push(JobResult::Audit);
            }
        }
    }
    if alone && matches!(results.first(), Some(JobResult::Secret(r)) if r.is_err()) {
        // Alone in the batch: the transaction itself is the unit of rollback.
        return Ok(results);
    }
    audit::append_in(&mut tx, &events, mac).await?;
    events::insert_in(&mut tx, &outbox).await?;
    changed |= !events.is_empty();
    let before = commits.load(Ordering::Acquire);
    tx.commit().await?;
    if changed && commits.load(Ordering::Acquire) == before {
        return Err(StoreError::CommitFailed(
            "the batch's transaction did not commit; the writer connection is replaced".into(),
        ));
    }
    Ok(results)
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn probe_write(&self, now: OffsetDateTime) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO system (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(crate::WRITE_PROBE_KEY)
        .bind(micros(now).to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_system(&self, key: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM system WHERE key = ?1")
                .bind(key)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn set_system(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO system (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn list_data_keys(&self) -> Result<Vec<StoredKey>> {
        let rows = sqlx::query(
            "SELECT key_id, purpose, provider, wrapped, created_at, active FROM data_keys ORDER BY created_at",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredKey {
                    key_id: row.try_get("key_id")?,
                    purpose: row.try_get("purpose")?,
                    provider: row.try_get("provider")?,
                    wrapped: row.try_get("wrapped")?,
                    created_at: from_micros(row.try_get("created_at")?)?,
                    active: row.try_get::<i64, _>("active")? != 0,
                })
            })
            .collect()
    }

    async fn insert_data_key(&self, key: &StoredKey) -> Result<()> {
        sqlx::query(
            "INSERT INTO data_keys (key_id, purpose, provider, wrapped, created_at, active)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&key.key_id)
        .bind(&key.purpose)
        .bind(&key.provider)
        .bind(&key.wrapped)
        .bind(micros(key.created_at))
        .bind(i64::from(key.active))
        .execute(&self.writer)
        .await?;
        Ok(())
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
        let version = version
            .map(|v| i64::try_from(v).map_err(|_| StoreError::VersionNotFound))
            .transpose()?;
        let sql = format!(
            "SELECT {SECRET_COLUMNS_OF_S}, v.version AS v_version, v.created_at AS v_created_at,
                    v.retires_at AS v_retires_at, v.key_id AS v_key_id, v.ciphertext AS v_ciphertext
             FROM secrets s
             LEFT JOIN secret_versions v
               ON v.tenant_id = s.tenant_id AND v.path = s.path
              AND v.version = COALESCE(?3, s.current_version)
             WHERE s.tenant_id = ?1 AND s.path = ?2"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(tenant_id)
            .bind(path)
            .bind(version)
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        let record = secret_from_row(&row)?;
        if record.deleted_at.is_some() {
            return Err(StoreError::NotFound);
        }
        let Some(v) = row.try_get::<Option<i64>, _>("v_version")? else {
            return Err(StoreError::VersionNotFound);
        };
        let retires_at = opt_from_micros(row.try_get("v_retires_at")?)?;
        if retires_at.is_some_and(|r| r <= now) {
            return Err(StoreError::VersionNotFound);
        }
        let version = VersionRecord {
            version: to_u64(v, "version")?,
            created_at: from_micros(row.try_get("v_created_at")?)?,
            retires_at,
            sealed: Some(SealedBlob {
                key_id: row.try_get("v_key_id")?,
                ciphertext: row.try_get("v_ciphertext")?,
            }),
        };
        Ok((record, version))
    }

    async fn get_secret(&self, tenant_id: &str, path: &str) -> Result<SecretRecord> {
        let mut conn = self.reader.acquire().await?;
        let mut record = fetch_secret(&mut conn, tenant_id, path)
            .await?
            .ok_or(StoreError::NotFound)?;
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM secret_versions WHERE tenant_id = ?1 AND path = ?2",
        )
        .bind(tenant_id)
        .bind(path)
        .fetch_one(&mut *conn)
        .await?;
        record.version_count = to_u64(count, "count")?;
        Ok(record)
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
        match fetch_secret(&mut tx, tenant_id, path).await? {
            Some(r) if r.deleted_at.is_none() => {}
            _ => return Err(StoreError::NotFound),
        }
        let record = update_secret(&mut tx, tenant_id, path, patch, None).await?;
        prune_versions(&mut tx, tenant_id, path, now).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn list_secrets(&self, tenant_id: &str, q: &ListQuery) -> Result<Page<SecretRecord>> {
        let mut conn = self.reader.acquire().await?;
        let mut count_qb = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM secrets");
        push_list_filters(&mut count_qb, tenant_id, q);
        let total: i64 = count_qb.build_query_scalar().fetch_one(&mut *conn).await?;

        let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT {SECRET_COLUMNS} FROM secrets"));
        push_list_filters(&mut qb, tenant_id, q);
        if let Some(after) = &q.after_path {
            qb.push(" AND path > ").push_bind(after.clone());
        }
        qb.push(" ORDER BY path LIMIT ")
            .push_bind(i64::from(q.limit) + 1);
        let rows = qb.build().fetch_all(&mut *conn).await?;
        let items = rows
            .iter()
            .map(secret_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(page_of(items, q.limit, Some(to_u64(total, "count")?)))
    }

    async fn list_expiring(
        &self,
        tenant_id: &str,
        q: &ExpiringQuery,
    ) -> Result<Page<SecretRecord>> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {SECRET_COLUMNS} FROM secrets WHERE tenant_id = "
        ));
        qb.push_bind(tenant_id.to_owned())
            .push(" AND deleted_at IS NULL AND expires_at > ")
            .push_bind(micros(q.now))
            .push(" AND expires_at <= ")
            .push_bind(micros(q.before));
        if !q.prefix.is_empty() {
            qb.push(" AND path GLOB ").push_bind(glob_prefix(&q.prefix));
        }
        if let Some((at, path)) = &q.after {
            qb.push(" AND (expires_at, path) > (")
                .push_bind(micros(*at))
                .push(", ")
                .push_bind(path.clone())
                .push(")");
        }
        qb.push(" ORDER BY expires_at, path LIMIT ")
            .push_bind(i64::from(q.limit) + 1);
        let rows = qb.build().fetch_all(&self.reader).await?;
        let items = rows
            .iter()
            .map(secret_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(page_of(items, q.limit, None))
    }

    async fn list_versions(
        &self,
        tenant_id: &str,
        path: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<VersionRecord>> {
        let mut conn = self.reader.acquire().await?;
        match fetch_secret(&mut conn, tenant_id, path).await? {
            Some(r) if r.deleted_at.is_none() => {}
            _ => return Err(StoreError::NotFound),
        }
        let rows = sqlx::query(
            "SELECT version, created_at, retires_at FROM secret_versions
             WHERE tenant_id = ?1 AND path = ?2 AND (retires_at IS NULL OR retires_at > ?3)
             ORDER BY version DESC",
        )
        .bind(tenant_id)
        .bind(path)
        .bind(micros(now))
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(VersionRecord {
                    version: to_u64(row.try_get("version")?, "version")?,
                    created_at: from_micros(row.try_get("created_at")?)?,
                    retires_at: opt_from_micros(row.try_get("retires_at")?)?,
                    sealed: None,
                })
            })
            .collect()
    }

    async fn soft_delete(
        &self,
        tenant_id: &str,
        path: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE secrets SET deleted_at = ?3
             WHERE tenant_id = ?1 AND path = ?2 AND deleted_at IS NULL",
        )
        .bind(tenant_id)
        .bind(path)
        .bind(micros(now))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
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
        if fetch_secret(&mut tx, tenant_id, path).await?.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query("UPDATE secrets SET deleted_at = NULL WHERE tenant_id = ?1 AND path = ?2")
            .bind(tenant_id)
            .bind(path)
            .execute(&mut *tx)
            .await?;
        let record = fetch_secret(&mut tx, tenant_id, path)
            .await?
            .ok_or(StoreError::NotFound)?;
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
        let done = sqlx::query("DELETE FROM secrets WHERE tenant_id = ?1 AND path = ?2")
            .bind(tenant_id)
            .bind(path)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        for table in ["secret_versions", "secret_access"] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant_id = ?1 AND path = ?2"
            )))
            .bind(tenant_id)
            .bind(path)
            .execute(&mut *tx)
            .await?;
        }
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
        let version = i64::try_from(version).map_err(|_| StoreError::VersionNotFound)?;
        let mut tx = self.writer.begin().await?;
        let record = match fetch_secret(&mut tx, tenant_id, path).await? {
            Some(r) if r.deleted_at.is_none() => r,
            _ => return Err(StoreError::NotFound),
        };
        let live: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM secret_versions
             WHERE tenant_id = ?1 AND path = ?2 AND (retires_at IS NULL OR retires_at > ?3)
             ORDER BY version DESC",
        )
        .bind(tenant_id)
        .bind(path)
        .bind(micros(now))
        .fetch_all(&mut *tx)
        .await?;
        if !live.contains(&version) {
            return Err(StoreError::VersionNotFound);
        }
        if live.len() == 1 {
            return Err(StoreError::Invalid(
                "cannot delete the only remaining version; delete the secret instead",
            ));
        }
        sqlx::query(
            "DELETE FROM secret_versions WHERE tenant_id = ?1 AND path = ?2 AND version = ?3",
        )
        .bind(tenant_id)
        .bind(path)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        if to_u64(version, "version")? == record.current_version {
            let newest = live
                .iter()
                .copied()
                .find(|v| *v != version)
                .unwrap_or(version);
            sqlx::query(
                "UPDATE secrets SET current_version = ?3 WHERE tenant_id = ?1 AND path = ?2",
            )
            .bind(tenant_id)
            .bind(path)
            .bind(newest)
            .execute(&mut *tx)
            .await?;
        }
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_access(&self, hits: &[AccessHit]) -> Result<()> {
        if hits.is_empty() {
            return Ok(());
        }
        // One statement per chunk of secrets: one per secret held the single writer connection,
        // and every durable write and audit append queued behind it, for one round trip per
        // secret read in the last second.
        let mut tx = self.writer.begin().await?;
        for chunk in hits.chunks(ACCESS_ROWS_PER_INSERT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO secret_access (tenant_id, path, day, count, last_at) ",
            );
            qb.push_values(chunk, |mut b, hit| {
                b.push_bind(hit.tenant_id.clone())
                    .push_bind(hit.path.clone())
                    .push_bind(hit.last_at.unix_timestamp().div_euclid(86_400))
                    .push_bind(i64::try_from(hit.count).unwrap_or(i64::MAX))
                    .push_bind(micros(hit.last_at));
            });
            qb.push(
                " ON CONFLICT (tenant_id, path, day) DO UPDATE SET
                    count = count + excluded.count,
                    last_at = MAX(last_at, excluded.last_at)",
            );
            qb.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn access_stats(
        &self,
        tenant_id: &str,
        path: &str,
        since: OffsetDateTime,
    ) -> Result<(u64, Option<OffsetDateTime>)> {
        let since_day = since.unix_timestamp().div_euclid(86_400);
        let row = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN day >= ?3 THEN count ELSE 0 END), 0) AS n, MAX(last_at) AS last
             FROM secret_access WHERE tenant_id = ?1 AND path = ?2",
        )
        .bind(tenant_id)
        .bind(path)
        .bind(since_day)
        .fetch_one(&self.reader)
        .await?;
        Ok((
            to_u64(row.try_get("n")?, "count")?,
            opt_from_micros(row.try_get("last")?)?,
        ))
    }

    async fn sweep(
        &self,
        deleted_before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(u64, u64)> {
        let mut tx = self.writer.begin().await?;
        for table in ["secret_versions", "secret_access"] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE (tenant_id, path) IN
                   (SELECT tenant_id, path FROM secrets WHERE deleted_at IS NOT NULL AND deleted_at < ?1)"
            )))
            .bind(micros(deleted_before))
            .execute(&mut *tx)
            .await?;
        }
        let secrets =
            sqlx::query("DELETE FROM secrets WHERE deleted_at IS NOT NULL AND deleted_at < ?1")
                .bind(micros(deleted_before))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        let versions = sqlx::query(
            "DELETE FROM secret_versions WHERE retires_at IS NOT NULL AND retires_at <= ?1",
        )
        .bind(micros(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok((secrets, versions))
    }

    async fn insert_token(&self, t: &TokenRecord, audit: Option<&AuditEvent>) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_token(&mut tx, t, false).await?;
        self.audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn replace_token(&self, t: &TokenRecord) -> Result<()> {
        let mut conn = self.writer.acquire().await?;
        insert_token(&mut conn, t, true).await
    }

    async fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
        let row = sqlx::query("SELECT * FROM tokens WHERE token_hash = ?1")
            .bind(token_hash)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn list_tokens(
        &self,
        tenant_id: &str,
        identity_id: &str,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Page<TokenRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM tokens
             WHERE tenant_id = ?1 AND identity_id = ?2 AND revoked_at IS NULL AND id > ?3
             ORDER BY id LIMIT ?4",
        )
        .bind(tenant_id)
        .bind(identity_id)
        .bind(after_id.unwrap_or(""))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.reader)
        .await?;
        let items = rows
            .iter()
            .map(token_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(page_of(items, limit, None))
    }

    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>> {
        let row = sqlx::query("SELECT * FROM tokens WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(token_from_row).transpose()
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
        let done = sqlx::query(
            "UPDATE tokens SET revoked_at = ?4
             WHERE tenant_id = ?1 AND identity_id = ?2 AND id = ?3 AND revoked_at IS NULL",
        )
        .bind(tenant_id)
        .bind(identity_id)
        .bind(token_id)
        .bind(micros(now))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        // Tokens minted from a key die with it.
        sqlx::query(
            "UPDATE tokens SET revoked_at = ?2 WHERE parent_key_id = ?1 AND revoked_at IS NULL",
        )
        .bind(token_id)
        .bind(micros(now))
        .execute(&mut *tx)
        .await?;
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
            if n < events::PRUNE_BATCH {
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

async fn insert_token(conn: &mut SqliteConnection, t: &TokenRecord, replace: bool) -> Result<()> {
    let verb = if replace {
        "INSERT OR REPLACE"
    } else {
        "INSERT"
    };
    let scopes =
        serde_json::to_string(&t.scopes).map_err(|_| StoreError::Corrupt("scopes".into()))?;
    let result = sqlx::query(AssertSqlSafe(format!(
        "{verb} INTO tokens (id, tenant_id, partner_id, identity_id, identity_type, token_hash,
            name, scopes, is_admin, created_at, expires_at, revoked_at, is_partner_admin, kind,
            parent_key_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    )))
    .bind(&t.id)
    .bind(&t.tenant_id)
    .bind(&t.partner_id)
    .bind(&t.identity_id)
    .bind(&t.identity_type)
    .bind(&t.token_hash)
    .bind(&t.name)
    .bind(scopes)
    .bind(i64::from(t.is_admin))
    .bind(micros(t.created_at))
    .bind(t.expires_at.map(micros))
    .bind(t.revoked_at.map(micros))
    .bind(i64::from(t.is_partner_admin))
    .bind(&t.kind)
    .bind(&t.parent_key_id)
    .execute(&mut *conn)
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Duplicate),
        Err(e) => Err(e.into()),
    }
}
