//! The audit trail in SQLite: appending to the per-tenant chains inside a caller's transaction,
//! and the queries behind `/v1/audit`.

use std::collections::HashMap;

use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, QueryBuilder, Row, Sqlite, SqliteConnection};
use time::OffsetDateTime;

use super::{from_micros, micros, to_u64};
use crate::audit::*;
use crate::{Result, StoreError};

/// Rows per INSERT statement (13 bound values each; SQLite allows 32,766 per statement).
const ROWS_PER_INSERT: usize = 500;

pub(super) fn entry_from_row(row: &SqliteRow) -> Result<AuditEntry> {
    EntryRow::from_row(row)?.into_entry()
}

/// The `audit_callers` row of each distinct caller among `events`, inserted where missing.
async fn caller_ids(
    conn: &mut SqliteConnection,
    events: &[AuditEvent],
) -> Result<HashMap<CallerKey, i64>> {
    let mut ids = HashMap::new();
    for event in events {
        let key = event.caller_key();
        if ids.contains_key(&key) {
            continue;
        }
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM audit_callers WHERE actor_id = ?1 AND credential_id = ?2
               AND actor_type = ?3 AND actor_tenant_id = ?4 AND partner_id = ?5
               AND client_ip = ?6 AND user_agent = ?7",
        )
        .bind(&key.actor_id)
        .bind(&key.credential_id)
        .bind(&key.actor_type)
        .bind(&key.actor_tenant_id)
        .bind(&key.partner_id)
        .bind(&key.client_ip)
        .bind(&key.user_agent)
        .fetch_optional(&mut *conn)
        .await?;
        let id = match found {
            Some(id) => id,
            None => {
                sqlx::query_scalar(
                    "INSERT INTO audit_callers (actor_id, credential_id, actor_type,
                        actor_tenant_id, partner_id, client_ip, user_agent)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                )
                .bind(&key.actor_id)
                .bind(&key.credential_id)
                .bind(&key.actor_type)
                .bind(&key.actor_tenant_id)
                .bind(&key.partner_id)
                .bind(&key.client_ip)
                .bind(&key.user_agent)
                .fetch_one(&mut *conn)
                .await?
            }
        };
        ids.insert(key, id);
    }
    Ok(ids)
}

/// The position and hash a chain continues from: its newest entry, else its pruning anchor,
/// else the genesis.
async fn chain_head(conn: &mut SqliteConnection, chain: &str) -> Result<(u64, [u8; 32])> {
    let row = sqlx::query(
        "SELECT chain_seq, hash FROM audit_log WHERE chain = ?1 ORDER BY chain_seq DESC LIMIT 1",
    )
    .bind(chain)
    .fetch_optional(&mut *conn)
    .await?;
    let row = match row {
        Some(row) => Some(row),
        None => {
            sqlx::query("SELECT chain_seq, hash FROM audit_anchors WHERE chain = ?1")
                .bind(chain)
                .fetch_optional(&mut *conn)
                .await?
        }
    };
    match row {
        Some(row) => Ok((
            to_u64(row.try_get("chain_seq")?, "chain_seq")?,
            hash32(row.try_get("hash")?, "hash")?,
        )),
        None => Ok((0, GENESIS)),
    }
}

/// Appends events to their chains inside the caller's transaction: they commit (or roll back)
/// with whatever else the transaction does.
pub(super) async fn append_in(
    conn: &mut SqliteConnection,
    events: &[AuditEvent],
    mac: Option<&ChainMac>,
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mac = mac.ok_or_else(|| StoreError::Audit("the audit key is not loaded".into()))?;
    let events: Vec<AuditEvent> = events.iter().map(AuditEvent::stored_form).collect();
    let callers = caller_ids(conn, &events).await?;
    let mut heads: HashMap<&str, (u64, [u8; 32])> = HashMap::new();
    let mut rows = Vec::with_capacity(events.len());
    for event in &events {
        let chain = event.chain();
        let head = match heads.get(chain) {
            Some(head) => *head,
            None => chain_head(conn, chain).await?,
        };
        let chain_seq = head.0 + 1;
        let hash = mac(&entry_bytes(chain_seq, event, &head.1));
        heads.insert(chain, (chain_seq, hash));
        let caller = callers
            .get(&event.caller_key())
            .copied()
            .ok_or_else(|| StoreError::Audit("internal: caller not recorded".into()))?;
        rows.push((chain_seq, event, caller, hash));
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO audit_log (entry_id, chain, chain_seq, occurred_at, request_id, caller,
                action, resource_type, resource_path, version, outcome, error_code, hash) ",
        );
        qb.push_values(chunk, |mut b, (chain_seq, e, caller, hash)| {
            b.push_bind(e.id.clone())
                .push_bind(e.chain().to_owned())
                .push_bind(i64::try_from(*chain_seq).unwrap_or(i64::MAX))
                .push_bind(micros(e.occurred_at))
                .push_bind(e.request_id.clone())
                .push_bind(*caller)
                .push_bind(e.action.clone())
                .push_bind(e.resource_type.clone())
                .push_bind(e.resource_path.clone())
                .push_bind(e.version.map(|v| i64::try_from(v).unwrap_or(i64::MAX)))
                .push_bind(e.outcome.clone())
                .push_bind(e.error_code.clone())
                .push_bind(hash.to_vec());
        });
        qb.build().execute(&mut *conn).await?;
    }
    // Counted when written in its transaction (a rare rollback afterwards overcounts).
    metrics::counter!("scaivault_audit_entries_appended_total").increment(events.len() as u64);
    Ok(())
}

/// Adds the WHERE clause of an audit query (without the cursor).
pub(super) fn push_filters(qb: &mut QueryBuilder<Sqlite>, q: &AuditQuery) {
    qb.push(" WHERE chain IN (");
    let mut list = qb.separated(", ");
    for tenant in &q.tenants {
        list.push_bind(tenant.clone());
    }
    // An empty reach matches nothing (never "everything").
    if q.tenants.is_empty() {
        list.push("NULL");
    }
    qb.push(")");
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
        qb.push(" AND substr(resource_path, 1, ")
            .push_bind(prefix.chars().count() as i64)
            .push(") = ")
            .push_bind(prefix.clone());
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

pub(super) async fn summary(
    conn: &mut SqliteConnection,
    q: &AuditQuery,
    top: u32,
) -> Result<AuditSummary> {
    async fn counts(
        conn: &mut SqliteConnection,
        q: &AuditQuery,
        column: &str,
        top: Option<u32>,
    ) -> Result<Vec<(String, u64)>> {
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {column} AS k, COUNT(*) AS n {SUMMARY_FROM}"
        ));
        push_filters(&mut qb, q);
        qb.push(format!(
            " AND {column} IS NOT NULL GROUP BY {column} ORDER BY n DESC, k"
        ));
        if let Some(top) = top {
            qb.push(" LIMIT ").push_bind(i64::from(top));
        }
        let rows = qb.build().fetch_all(&mut *conn).await?;
        rows.iter()
            .map(|r| Ok((r.try_get("k")?, to_u64(r.try_get("n")?, "count")?)))
            .collect()
    }
    let by_action = counts(conn, q, "action", None).await?;
    Ok(AuditSummary {
        total: by_action.iter().map(|(_, n)| n).sum(),
        by_outcome: counts(conn, q, "outcome", None).await?,
        by_actor: counts(conn, q, "actor_id", Some(top)).await?,
        top_paths: counts(conn, q, "resource_path", Some(top)).await?,
        by_action,
    })
}

pub(super) fn checkpoint_from_row(row: &SqliteRow) -> Result<AuditCheckpoint> {
    Ok(AuditCheckpoint {
        chain: row.try_get("chain")?,
        chain_seq: to_u64(row.try_get("chain_seq")?, "chain_seq")?,
        hash: hash32(row.try_get("hash")?, "hash")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        mac: hash32(row.try_get("mac")?, "mac")?,
    })
}

pub(super) fn anchor_from_row(row: &SqliteRow) -> Result<AuditAnchor> {
    Ok(AuditAnchor {
        chain: row.try_get("chain")?,
        chain_seq: to_u64(row.try_get("chain_seq")?, "chain_seq")?,
        hash: hash32(row.try_get("hash")?, "hash")?,
        mac: hash32(row.try_get("mac")?, "mac")?,
    })
}

/// Records each chain's current head as a MAC'd checkpoint, where it moved since the last one.
pub(super) async fn checkpoint_in(
    conn: &mut SqliteConnection,
    mac: &ChainMac,
    now: OffsetDateTime,
) -> Result<u64> {
    let heads = sqlx::query(
        "SELECT l.chain, l.chain_seq, l.hash FROM audit_log l
         JOIN (SELECT chain, MAX(chain_seq) AS m FROM audit_log GROUP BY chain) h
           ON h.chain = l.chain AND h.m = l.chain_seq
         WHERE NOT EXISTS (SELECT 1 FROM audit_checkpoints c
                           WHERE c.chain = l.chain AND c.chain_seq = l.chain_seq)",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut written = 0;
    for row in &heads {
        let chain: String = row.try_get("chain")?;
        let chain_seq = to_u64(row.try_get("chain_seq")?, "chain_seq")?;
        let hash = hash32(row.try_get("hash")?, "hash")?;
        let tag = mac(&checkpoint_bytes(&chain, chain_seq, &hash, now));
        sqlx::query(
            "INSERT INTO audit_checkpoints (chain, chain_seq, hash, created_at, mac)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(&chain)
        .bind(i64::try_from(chain_seq).unwrap_or(i64::MAX))
        .bind(hash.to_vec())
        .bind(micros(now))
        .bind(tag.to_vec())
        .execute(&mut *conn)
        .await?;
        written += 1;
    }
    Ok(written)
}

/// Deletes entries older than `before`, chain by chain, moving each chain's anchor to its last
/// deleted entry so the remaining chain still verifies. Checkpoints of pruned positions go too.
pub(super) async fn prune_in(
    conn: &mut SqliteConnection,
    mac: &ChainMac,
    before: OffsetDateTime,
) -> Result<u64> {
    let cut = sqlx::query(
        "SELECT chain, MAX(chain_seq) AS last FROM audit_log WHERE occurred_at < ?1 GROUP BY chain",
    )
    .bind(micros(before))
    .fetch_all(&mut *conn)
    .await?;
    let mut pruned = 0;
    for row in &cut {
        let chain: String = row.try_get("chain")?;
        let last = to_u64(row.try_get("last")?, "chain_seq")?;
        pruned += prune_chain_in(conn, mac, &chain, last).await?;
    }
    Ok(pruned)
}

/// Deletes one chain's entries through `through` (capped at its newest entry), moving its
/// anchor to the last one deleted; checkpoints of pruned positions go too.
pub(super) async fn prune_chain_in(
    conn: &mut SqliteConnection,
    mac: &ChainMac,
    chain: &str,
    through: u64,
) -> Result<u64> {
    let last = sqlx::query(
        "SELECT chain_seq, hash FROM audit_log WHERE chain = ?1 AND chain_seq <= ?2
         ORDER BY chain_seq DESC LIMIT 1",
    )
    .bind(chain)
    .bind(i64::try_from(through).unwrap_or(i64::MAX))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(last) = last else {
        return Ok(0);
    };
    let last_seq: i64 = last.try_get("chain_seq")?;
    let hash = hash32(last.try_get("hash")?, "hash")?;
    let chain_seq = to_u64(last_seq, "chain_seq")?;
    let tag = mac(&anchor_bytes(chain, chain_seq, &hash));
    sqlx::query(
        "INSERT INTO audit_anchors (chain, chain_seq, hash, mac) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (chain) DO UPDATE SET chain_seq = excluded.chain_seq,
            hash = excluded.hash, mac = excluded.mac",
    )
    .bind(chain)
    .bind(last_seq)
    .bind(hash.to_vec())
    .bind(tag.to_vec())
    .execute(&mut *conn)
    .await?;
    let pruned = sqlx::query("DELETE FROM audit_log WHERE chain = ?1 AND chain_seq <= ?2")
        .bind(chain)
        .bind(last_seq)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM audit_checkpoints WHERE chain = ?1 AND chain_seq <= ?2")
        .bind(chain)
        .bind(last_seq)
        .execute(&mut *conn)
        .await?;
    Ok(pruned)
}
