//! The audit trail in PostgreSQL: appending to the per-tenant chains safely across nodes, the
//! queries behind `/v1/audit`, checkpoints and retention pruning.
//!
//! Chains: `audit_heads` holds each chain's newest position and hash. An append locks the head
//! rows of its chains (in chain order: two transactions appending to the same chains lock them in
//! the same order and cannot deadlock), computes the entries, inserts them and moves the heads,
//! all in the transaction of the mutation it records. Heads are the last rows any transaction
//! locks, so waiting on them never closes a cycle.
//!
//! The cursor: `seq` comes from an identity sequence, handed out at INSERT time, so on a busy
//! database a transaction may commit an entry with a *lower* seq after one with a higher seq was
//! already visible. A reader paging by seq (the SIEM sink) would skip it for good. So every
//! appender holds a shared advisory lock from just before its INSERT until it ends, and
//! [`since`] briefly takes that lock exclusively to read the sequence's last value: every seq at
//! or below it belongs to a finished transaction, and only those are returned.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, FromRow, PgConnection, PgPool, Postgres, QueryBuilder, Row};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::{commit_failed, from_micros, like_prefix, micros, page_of, to_i64, to_u64};
use crate::audit::*;
use crate::model::Page;
use crate::{Result, StoreError};

/// Rows per INSERT statement (13 bound values each; PostgreSQL allows 65,535 per statement).
const ROWS_PER_INSERT: usize = 1_000;

/// Append jobs that may wait for the appender task before callers are slowed down.
pub(super) const QUEUED_JOBS: usize = 1_024;

/// Most events committed in one batched transaction.
const MAX_BATCH_EVENTS: usize = 4_096;

/// Advisory lock key guarding the `seq` high-water mark ("SCAIAUDS"), per database.
const SEQ_LOCK: i64 = 0x5343_4149_4155_4453;

fn entry_from_row(row: &PgRow) -> Result<AuditEntry> {
    EntryRow::from_row(row)?.into_entry()
}

/// The `audit_callers` row of each distinct caller among `events`, inserted where missing.
/// Runs before any chain head is locked; new callers are inserted in key order, so two
/// transactions meeting the same new callers wait for each other in one order.
async fn caller_ids(
    conn: &mut PgConnection,
    events: &[AuditEvent],
) -> Result<HashMap<CallerKey, i64>> {
    let mut keys: Vec<CallerKey> = events.iter().map(AuditEvent::caller_key).collect();
    keys.sort();
    keys.dedup();
    let columns = |keys: &[CallerKey]| -> [Vec<String>; 7] {
        let pick = |f: fn(&CallerKey) -> &String| keys.iter().map(|k| f(k).clone()).collect();
        [
            pick(|k| &k.actor_id),
            pick(|k| &k.credential_id),
            pick(|k| &k.actor_type),
            pick(|k| &k.actor_tenant_id),
            pick(|k| &k.partner_id),
            pick(|k| &k.client_ip),
            pick(|k| &k.user_agent),
        ]
    };
    const UNNEST: &str = "unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::text[])";
    let mut ids = HashMap::with_capacity(keys.len());
    for attempt in 0..2 {
        let missing: Vec<CallerKey> = keys
            .iter()
            .filter(|k| !ids.contains_key(*k))
            .cloned()
            .collect();
        if missing.is_empty() {
            break;
        }
        let [a, b, c, d, e, f, g] = columns(&missing);
        if attempt == 1 {
            // Known callers are the common case: only a client's first request inserts.
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO audit_callers (actor_id, credential_id, actor_type, actor_tenant_id,
                    partner_id, client_ip, user_agent)
                 SELECT * FROM {UNNEST} ON CONFLICT DO NOTHING"
            )))
            .bind(&a)
            .bind(&b)
            .bind(&c)
            .bind(&d)
            .bind(&e)
            .bind(&f)
            .bind(&g)
            .execute(&mut *conn)
            .await?;
        }
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, actor_id, credential_id, actor_type, actor_tenant_id, partner_id,
                    client_ip, user_agent
             FROM audit_callers
             WHERE (actor_id, credential_id, actor_type, actor_tenant_id, partner_id, client_ip,
                    user_agent) IN (SELECT * FROM {UNNEST})"
        )))
        .bind(&a)
        .bind(&b)
        .bind(&c)
        .bind(&d)
        .bind(&e)
        .bind(&f)
        .bind(&g)
        .fetch_all(&mut *conn)
        .await?;
        for row in &rows {
            let key = CallerKey {
                actor_id: row.try_get("actor_id")?,
                credential_id: row.try_get("credential_id")?,
                actor_type: row.try_get("actor_type")?,
                actor_tenant_id: row.try_get("actor_tenant_id")?,
                partner_id: row.try_get("partner_id")?,
                client_ip: row.try_get("client_ip")?,
                user_agent: row.try_get("user_agent")?,
            };
            ids.insert(key, row.try_get::<i64, _>("id")?);
        }
    }
    if ids.len() != keys.len() {
        return Err(StoreError::Audit(
            "internal: an audit caller could not be recorded".into(),
        ));
    }
    Ok(ids)
}

fn position(row: &PgRow) -> Result<(u64, [u8; 32])> {
    Ok((
        to_u64(row.try_get("chain_seq")?, "chain_seq")?,
        hash32(row.try_get("hash")?, "hash")?,
    ))
}

/// Locks the chain's head row until the transaction ends and returns it. A chain's first append
/// creates the row, from the newest entry or the pruning anchor if there is one (a head row
/// lost or never written), else the genesis; concurrent creators settle on one row.
async fn lock_head(conn: &mut PgConnection, chain: &str) -> Result<(u64, [u8; 32])> {
    for _ in 0..2 {
        let head =
            sqlx::query("SELECT chain_seq, hash FROM audit_heads WHERE chain = $1 FOR UPDATE")
                .bind(chain)
                .fetch_optional(&mut *conn)
                .await?;
        if let Some(head) = head {
            return position(&head);
        }
        let newest = sqlx::query(
            "SELECT chain_seq, hash FROM audit_log WHERE chain = $1
             ORDER BY chain_seq DESC LIMIT 1",
        )
        .bind(chain)
        .fetch_optional(&mut *conn)
        .await?;
        let newest = match newest {
            Some(row) => Some(row),
            None => {
                sqlx::query("SELECT chain_seq, hash FROM audit_anchors WHERE chain = $1")
                    .bind(chain)
                    .fetch_optional(&mut *conn)
                    .await?
            }
        };
        let (chain_seq, hash) = newest.as_ref().map_or(Ok((0, GENESIS)), position)?;
        sqlx::query(
            "INSERT INTO audit_heads (chain, chain_seq, hash) VALUES ($1, $2, $3)
             ON CONFLICT (chain) DO NOTHING",
        )
        .bind(chain)
        .bind(to_i64(chain_seq))
        .bind(hash.to_vec())
        .execute(&mut *conn)
        .await?;
    }
    Err(StoreError::Audit(format!(
        "cannot lock the head of audit chain {chain:?}"
    )))
}

/// Appends events to their chains inside the caller's transaction: they commit (or roll back)
/// with whatever else the transaction does.
pub(super) async fn append_in(
    conn: &mut PgConnection,
    events: &[AuditEvent],
    mac: &ChainMac,
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let events: Vec<AuditEvent> = events.iter().map(AuditEvent::stored_form).collect();
    let callers = caller_ids(conn, &events).await?;
    // Sorted: every transaction locks the heads it needs in the same order.
    let mut heads: BTreeMap<&str, (u64, [u8; 32])> =
        events.iter().map(|e| (e.chain(), (0, GENESIS))).collect();
    if !lock_existing_heads(conn, &mut heads).await? {
        for (chain, head) in heads.iter_mut() {
            *head = lock_head(conn, chain).await?;
        }
    }
    let mut rows = Vec::with_capacity(events.len());
    for event in &events {
        let head = heads
            .get_mut(event.chain())
            .ok_or_else(|| StoreError::Audit("internal: chain head not locked".into()))?;
        let chain_seq = head.0 + 1;
        let hash = mac(&entry_bytes(chain_seq, event, &head.1));
        let caller = callers
            .get(&event.caller_key())
            .copied()
            .ok_or_else(|| StoreError::Audit("internal: caller not recorded".into()))?;
        rows.push((chain_seq, event, caller, hash));
        *head = (chain_seq, hash);
    }

    // From here until the transaction ends this appender may hold seqs not yet committed.
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(SEQ_LOCK)
        .execute(&mut *conn)
        .await?;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut qb = QueryBuilder::<Postgres>::new(
            "INSERT INTO audit_log (entry_id, chain, chain_seq, occurred_at, request_id, caller,
                action, resource_type, resource_path, version, outcome, error_code, hash) ",
        );
        qb.push_values(chunk, |mut b, (chain_seq, e, caller, hash)| {
            b.push_bind(e.id.clone())
                .push_bind(e.chain().to_owned())
                .push_bind(to_i64(*chain_seq))
                .push_bind(micros(e.occurred_at))
                .push_bind(e.request_id.clone())
                .push_bind(*caller)
                .push_bind(e.action.clone())
                .push_bind(e.resource_type.clone())
                .push_bind(e.resource_path.clone())
                .push_bind(e.version.map(to_i64))
                .push_bind(e.outcome.clone())
                .push_bind(e.error_code.clone())
                .push_bind(hash.to_vec());
        });
        qb.build().execute(&mut *conn).await?;
    }
    if heads.len() == 1 {
        for (chain, (chain_seq, hash)) in &heads {
            sqlx::query("UPDATE audit_heads SET chain_seq = $2, hash = $3 WHERE chain = $1")
                .bind(*chain)
                .bind(to_i64(*chain_seq))
                .bind(hash.to_vec())
                .execute(&mut *conn)
                .await?;
        }
    } else {
        // Several chains (a batch of the appender): every head in one statement.
        let chains: Vec<&str> = heads.keys().copied().collect();
        let seqs: Vec<i64> = heads.values().map(|(s, _)| to_i64(*s)).collect();
        let hashes: Vec<Vec<u8>> = heads.values().map(|(_, h)| h.to_vec()).collect();
        sqlx::query(
            "UPDATE audit_heads SET chain_seq = v.chain_seq, hash = v.hash
             FROM unnest($1::text[], $2::bigint[], $3::bytea[]) AS v(chain, chain_seq, hash)
             WHERE audit_heads.chain = v.chain",
        )
        .bind(&chains)
        .bind(&seqs)
        .bind(&hashes)
        .execute(&mut *conn)
        .await?;
    }
    // Counted when written in its transaction (a rare rollback afterwards overcounts).
    metrics::counter!("scaivault_audit_entries_appended_total").increment(events.len() as u64);
    Ok(())
}

/// With several chains (a batch of the appender), locks all their heads in one statement, in
/// chain order (`COLLATE "C"`, the order of the map), if every head row exists (head rows are
/// never deleted, so a check without locks is enough); `false` if one does not, and then
/// nothing was locked: the caller locks (and creates) them one by one, in the same order. One
/// round trip per chain made these locks and updates most of the statements of a batch of
/// reads spanning many tenants.
async fn lock_existing_heads(
    conn: &mut PgConnection,
    heads: &mut BTreeMap<&str, (u64, [u8; 32])>,
) -> Result<bool> {
    if heads.len() < 2 {
        return Ok(false);
    }
    let chains: Vec<&str> = heads.keys().copied().collect();
    let existing: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_heads WHERE chain = ANY($1::text[])")
            .bind(&chains)
            .fetch_one(&mut *conn)
            .await?;
    if usize::try_from(existing).ok() != Some(chains.len()) {
        return Ok(false);
    }
    let rows = sqlx::query(
        "SELECT chain, chain_seq, hash FROM audit_heads WHERE chain = ANY($1::text[])
         ORDER BY chain FOR UPDATE",
    )
    .bind(&chains)
    .fetch_all(&mut *conn)
    .await?;
    for row in &rows {
        let chain: String = row.try_get("chain")?;
        if let Some(head) = heads.get_mut(chain.as_str()) {
            *head = position(row)?;
        }
    }
    if rows.len() != chains.len() {
        return Err(StoreError::Audit(
            "an audit chain head disappeared while being locked".into(),
        ));
    }
    Ok(true)
}

/// Audit-only events (reads, denials, failed requests) waiting for the appender task.
pub(super) struct AppendJob {
    pub(super) events: Vec<AuditEvent>,
    pub(super) reply: oneshot::Sender<Result<()>>,
}

/// Group commit of audit-only appends: takes every job waiting (up to [`MAX_BATCH_EVENTS`]
/// events), appends them in one transaction and answers each caller after the commit. Under
/// load, appends to a busy chain share one head lock and one commit instead of queueing on the
/// head row one transaction at a time. Ends when every [`super::PgStore`] clone is dropped.
pub(super) async fn run_appender(
    pool: PgPool,
    mut jobs: mpsc::Receiver<AppendJob>,
    audit_mac: Arc<OnceLock<ChainMac>>,
) {
    while let Some(first) = jobs.recv().await {
        let mut events = Vec::new();
        let mut replies = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            events.extend(job.events);
            replies.push(job.reply);
            if events.len() < MAX_BATCH_EVENTS {
                next = jobs.try_recv().ok();
            }
        }
        let result = match audit_mac.get() {
            Some(mac) => commit_appends(&pool, &events, mac).await,
            None => Err(StoreError::Audit("the audit key is not loaded".into())),
        };
        match result {
            Ok(()) => {
                for reply in replies {
                    // The caller may have gone away; the entries stand.
                    let _ = reply.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, events = events.len(), "audit append failed to commit");
                for reply in replies {
                    let _ = reply.send(Err(match &e {
                        StoreError::Audit(m) => StoreError::Audit(m.clone()),
                        StoreError::Unavailable { cause, detail } => StoreError::Unavailable {
                            cause,
                            detail: detail.clone(),
                        },
                        e => StoreError::CommitFailed(e.to_string()),
                    }));
                }
            }
        }
    }
}

async fn commit_appends(pool: &PgPool, events: &[AuditEvent], mac: &ChainMac) -> Result<()> {
    let mut tx = pool.begin().await?;
    append_in(&mut tx, events, mac).await?;
    tx.commit().await.map_err(commit_failed)
}

/// Adds the WHERE clause of an audit query (without the cursor).
fn push_filters(qb: &mut QueryBuilder<Postgres>, q: &AuditQuery) {
    // An empty reach matches nothing (never "everything").
    qb.push(" WHERE chain = ANY(")
        .push_bind(q.tenants.clone())
        .push(")");
    if let Some(action) = &q.action {
        qb.push(" AND action = ").push_bind(action.clone());
    }
    if let Some(actor) = &q.actor_id {
        qb.push(" AND actor_id = ").push_bind(actor.clone());
    }
    if let Some(t) = &q.resource_type {
        qb.push(" AND resource_type = ").push_bind(t.clone());
    }
    if let Some(path) = &q.path {
        qb.push(" AND resource_path = ").push_bind(path.clone());
    }
    if let Some(prefix) = &q.path_prefix {
        qb.push(" AND resource_path LIKE ")
            .push_bind(like_prefix(prefix));
    }
    if let Some(outcome) = &q.outcome {
        qb.push(" AND outcome = ").push_bind(outcome.clone());
    }
    if let Some(start) = q.start {
        qb.push(" AND occurred_at >= ").push_bind(micros(start));
    }
    if let Some(end) = q.end {
        qb.push(" AND occurred_at < ").push_bind(micros(end));
    }
}

pub(super) async fn query(pool: &PgPool, q: &AuditQuery) -> Result<Page<AuditEntry>> {
    let mut qb = QueryBuilder::<Postgres>::new(ENTRY_SELECT);
    push_filters(&mut qb, q);
    if let Some(before) = q.before_seq {
        qb.push(" AND l.seq < ").push_bind(to_i64(before));
    }
    qb.push(" ORDER BY l.seq DESC LIMIT ")
        .push_bind(i64::from(q.limit) + 1);
    let rows = qb.build().fetch_all(pool).await?;
    let items = rows
        .iter()
        .map(entry_from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(page_of(items, q.limit, None))
}

pub(super) async fn summary(pool: &PgPool, q: &AuditQuery, top: u32) -> Result<AuditSummary> {
    async fn counts(
        pool: &PgPool,
        q: &AuditQuery,
        column: &str,
        top: Option<u32>,
    ) -> Result<Vec<(String, u64)>> {
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {column} AS k, COUNT(*) AS n {SUMMARY_FROM}"
        ));
        push_filters(&mut qb, q);
        qb.push(format!(
            " AND {column} IS NOT NULL GROUP BY {column} ORDER BY n DESC, k"
        ));
        if let Some(top) = top {
            qb.push(" LIMIT ").push_bind(i64::from(top));
        }
        let rows = qb.build().fetch_all(pool).await?;
        rows.iter()
            .map(|r| Ok((r.try_get("k")?, to_u64(r.try_get("n")?, "count")?)))
            .collect()
    }
    let by_action = counts(pool, q, "action", None).await?;
    Ok(AuditSummary {
        total: by_action.iter().map(|(_, n)| n).sum(),
        by_outcome: counts(pool, q, "outcome", None).await?,
        by_actor: counts(pool, q, "actor_id", Some(top)).await?,
        top_paths: counts(pool, q, "resource_path", Some(top)).await?,
        by_action,
    })
}

/// Entries after the cursor, in seq order, up to the high-water mark (see the module docs).
pub(super) async fn since(pool: &PgPool, after_seq: u64, limit: u32) -> Result<Vec<AuditEntry>> {
    let mut tx = pool.begin().await?;
    // Waits for the appenders in flight; new ones wait for this short transaction.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SEQ_LOCK)
        .execute(&mut *tx)
        .await?;
    let high: i64 = sqlx::query_scalar(
        "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM audit_log_seq",
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let rows = sqlx::query(AssertSqlSafe(format!(
        "{ENTRY_SELECT} WHERE l.seq > $1 AND l.seq <= $2 ORDER BY l.seq LIMIT $3"
    )))
    .bind(to_i64(after_seq))
    .bind(high)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(entry_from_row).collect()
}

/// Chains with entries (found by a loose index scan over `(chain, chain_seq)`, one probe per
/// chain instead of reading the whole log), with an anchor, or with a head that moved.
pub(super) async fn chains(pool: &PgPool) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "WITH RECURSIVE logged(chain) AS (
            (SELECT chain FROM audit_log ORDER BY chain LIMIT 1)
            UNION ALL
            SELECT (SELECT l.chain FROM audit_log l WHERE l.chain > logged.chain
                    ORDER BY l.chain LIMIT 1)
            FROM logged WHERE logged.chain IS NOT NULL
         )
         SELECT chain FROM logged WHERE chain IS NOT NULL
         UNION SELECT chain FROM audit_anchors
         UNION SELECT chain FROM audit_heads WHERE chain_seq > 0
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await?)
}

pub(super) async fn chain_page(
    pool: &PgPool,
    chain: &str,
    after: u64,
    limit: u32,
) -> Result<Vec<AuditEntry>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "{ENTRY_SELECT} WHERE l.chain = $1 AND l.chain_seq > $2 ORDER BY l.chain_seq LIMIT $3"
    )))
    .bind(chain)
    .bind(to_i64(after))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(entry_from_row).collect()
}

pub(super) async fn checkpoints(pool: &PgPool, chain: &str) -> Result<Vec<AuditCheckpoint>> {
    let rows = sqlx::query(
        "SELECT chain, chain_seq, hash, created_at, mac FROM audit_checkpoints
         WHERE chain = $1 ORDER BY chain_seq",
    )
    .bind(chain)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AuditCheckpoint {
                chain: row.try_get("chain")?,
                chain_seq: to_u64(row.try_get("chain_seq")?, "chain_seq")?,
                hash: hash32(row.try_get("hash")?, "hash")?,
                created_at: from_micros(row.try_get("created_at")?)?,
                mac: hash32(row.try_get("mac")?, "mac")?,
            })
        })
        .collect()
}

pub(super) async fn anchor(pool: &PgPool, chain: &str) -> Result<Option<AuditAnchor>> {
    let row = sqlx::query("SELECT chain, chain_seq, hash, mac FROM audit_anchors WHERE chain = $1")
        .bind(chain)
        .fetch_optional(pool)
        .await?;
    row.as_ref()
        .map(|row| {
            Ok(AuditAnchor {
                chain: row.try_get("chain")?,
                chain_seq: to_u64(row.try_get("chain_seq")?, "chain_seq")?,
                hash: hash32(row.try_get("hash")?, "hash")?,
                mac: hash32(row.try_get("mac")?, "mac")?,
            })
        })
        .transpose()
}

/// Records each chain's head as a MAC'd checkpoint where it moved since the last one. Heads
/// come from `audit_heads` (no scan of the log) joined with the entry they name; nodes that
/// checkpoint at the same time write each position once (`ON CONFLICT DO NOTHING`).
pub(super) async fn checkpoint(pool: &PgPool, mac: &ChainMac, now: OffsetDateTime) -> Result<u64> {
    let mut tx = pool.begin().await?;
    let heads = sqlx::query(
        "SELECT l.chain, l.chain_seq, l.hash FROM audit_heads h
         JOIN audit_log l ON l.chain = h.chain AND l.chain_seq = h.chain_seq
         WHERE NOT EXISTS (SELECT 1 FROM audit_checkpoints c
                           WHERE c.chain = h.chain AND c.chain_seq = h.chain_seq)
         ORDER BY l.chain",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut written = 0;
    for row in &heads {
        let chain: String = row.try_get("chain")?;
        let (chain_seq, hash) = position(row)?;
        let tag = mac(&checkpoint_bytes(&chain, chain_seq, &hash, now));
        written += sqlx::query(
            "INSERT INTO audit_checkpoints (chain, chain_seq, hash, created_at, mac)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(&chain)
        .bind(to_i64(chain_seq))
        .bind(hash.to_vec())
        .bind(micros(now))
        .bind(tag.to_vec())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    tx.commit().await?;
    Ok(written)
}

/// Deletes entries older than `before`, chain by chain, moving each chain's anchor to its last
/// deleted entry so the remaining chain still verifies; checkpoints of pruned positions go too.
/// Each chain is pruned in its own transaction holding the chain's head lock, so appends and
/// other nodes' prunes of that chain wait instead of racing the anchor.
pub(super) async fn prune(pool: &PgPool, mac: &ChainMac, before: OffsetDateTime) -> Result<u64> {
    let chains: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT chain FROM audit_log WHERE occurred_at < $1 ORDER BY chain",
    )
    .bind(micros(before))
    .fetch_all(pool)
    .await?;
    let mut pruned = 0;
    for chain in &chains {
        pruned += prune_chain(pool, mac, chain, Some(before), u64::MAX).await?;
    }
    Ok(pruned)
}

/// Deletes one chain's entries through `through` (and, with `before`, only those older),
/// moving the anchor to the last one deleted; checkpoints of pruned positions go too. In its
/// own transaction holding the chain's head lock, so appends and other nodes' prunes of that
/// chain wait instead of racing the anchor.
pub(super) async fn prune_chain(
    pool: &PgPool,
    mac: &ChainMac,
    chain: &str,
    before: Option<OffsetDateTime>,
    through: u64,
) -> Result<u64> {
    let mut tx = pool.begin().await?;
    lock_head(&mut tx, chain).await?;
    // Recomputed under the lock: another node may have pruned this chain meanwhile.
    let last = sqlx::query(
        "SELECT chain_seq, hash FROM audit_log
         WHERE chain = $1 AND chain_seq = (
            SELECT MAX(chain_seq) FROM audit_log WHERE chain = $1 AND chain_seq <= $3
              AND ($2::bigint IS NULL OR occurred_at < $2))",
    )
    .bind(chain)
    .bind(before.map(micros))
    .bind(to_i64(through))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(last) = last else {
        return Ok(0);
    };
    let (chain_seq, hash) = position(&last)?;
    let tag = mac(&anchor_bytes(chain, chain_seq, &hash));
    sqlx::query(
        "INSERT INTO audit_anchors (chain, chain_seq, hash, mac) VALUES ($1, $2, $3, $4)
         ON CONFLICT (chain) DO UPDATE SET chain_seq = excluded.chain_seq,
            hash = excluded.hash, mac = excluded.mac",
    )
    .bind(chain)
    .bind(to_i64(chain_seq))
    .bind(hash.to_vec())
    .bind(tag.to_vec())
    .execute(&mut *tx)
    .await?;
    let pruned = sqlx::query("DELETE FROM audit_log WHERE chain = $1 AND chain_seq <= $2")
        .bind(chain)
        .bind(to_i64(chain_seq))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM audit_checkpoints WHERE chain = $1 AND chain_seq <= $2")
        .bind(chain)
        .bind(to_i64(chain_seq))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(pruned)
}
