//! SQLite's group-commit writer: one task owns the single writer connection and commits every
//! secret write and audit append waiting for it in one transaction (one fsync), answering each
//! caller only after that commit. Also the writer pool's hooks that make a failed commit
//! visible (SQLite's commit hook) and replace a connection left mid-transaction.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use super::{audit, events, secrets};
use crate::audit::{AuditEvent, ChainMac};
use crate::events::NewEvent;
use crate::model::*;
use crate::{Result, SealFn, StoreError};

/// Opens the pool of exactly one writer connection. `commits` counts the commits SQLite
/// really performs, so a batch of writes is acknowledged only when its own transaction
/// committed (see [`commit_batch`]).
pub(super) async fn open_pool(
    options: SqliteConnectOptions,
    commits: Arc<AtomicU64>,
) -> Result<SqlitePool> {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _| {
            let commits = commits.clone();
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
        .connect_with(options)
        .await?;
    Ok(pool)
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

/// Most writes committed in one transaction.
pub(super) const MAX_BATCH: usize = 128;

/// Work waiting for the writer task.
pub(super) enum WriteJob {
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
pub(super) async fn run_writer(
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
        metrics::histogram!("scaivault_sqlite_write_batch_size").record(batch.len() as f64);
        let result = match pool.acquire().await {
            Ok(mut conn) => {
                let started = std::time::Instant::now();
                let result = commit_batch(&mut conn, &batch, audit_mac.get(), &commits).await;
                metrics::histogram!("scaivault_sqlite_commit_duration_seconds")
                    .record(started.elapsed().as_secs_f64());
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
        StoreError::NotFound(_)
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
                let result = secrets::write_in(&mut tx, tenant_id, write, seal.as_ref()).await;
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
