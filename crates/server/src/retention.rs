//! Audit retention: entries older than `audit_retention` are archived into compressed segments
//! and then pruned from the database (scaivault_store::archive has the format and the crash
//! safety), one node at a time, in small batches; each segment written is itself audited
//! (`action: archive`, `resource_type: audit`, the segment as the path).

use std::path::PathBuf;
use std::time::Duration;

use scaivault_store::archive::{self, Archive, ArchivePass};
use scaivault_store::{AuditEvent, StoreError};

use crate::state::AppState;

/// Most entries one round archives (the next round continues): bounds how long a round holds
/// the job, never a request (each prune is its own short transaction).
const ROUND_BUDGET: u64 = 200_000;

/// Where the audit trail and the database live, and how long entries stay in the database.
#[derive(Debug, Clone)]
pub struct StorageSettings {
    pub data_dir: PathBuf,
    /// `None`: `audit_retention = "forever"`.
    pub audit_retention: Option<Duration>,
    pub archive: Archive,
    pub min_free_disk: crate::disk::MinFree,
    /// How long delivered outbox events stay for polls to replay.
    pub event_replay_window: Duration,
    /// How long dead letters are listed.
    pub dead_letter_retention: Duration,
}

/// The moment before which entries leave the database, if retention is on.
pub fn cutoff(state: &AppState) -> Option<time::OffsetDateTime> {
    let retention = state.storage.audit_retention?;
    let retention = time::Duration::try_from(retention).ok()?;
    Some(state.clock.now() - retention)
}

/// One archival round: archive and prune what fell out of the window, audit each segment.
pub async fn run_round(state: &AppState) -> Result<ArchivePass, StoreError> {
    let Some(before) = cutoff(state) else {
        return Ok(ArchivePass::default());
    };
    let pass = archive::archive_all(
        state.store.as_ref(),
        &state.storage.archive,
        before,
        ROUND_BUDGET,
    )
    .await?;
    let mut events = Vec::new();
    for chain in &pass.chains {
        for segment in &chain.segments {
            events.push(archived_event(state, &chain.chain, segment)?);
        }
        tracing::info!(
            chain = %chain.chain,
            entries = chain.entries,
            first = chain.first_chain_seq,
            last = chain.last_chain_seq,
            "archived and pruned audit entries past retention"
        );
    }
    if !events.is_empty() {
        state.store.append_audit(events).await?;
    }
    Ok(pass)
}

fn archived_event(state: &AppState, chain: &str, segment: &str) -> Result<AuditEvent, StoreError> {
    let id = |prefix| {
        scaivault_crypto::random::random_id(prefix)
            .map_err(|e| StoreError::Archive(format!("cannot make an id: {e}")))
    };
    Ok(AuditEvent {
        id: id("aud_")?,
        occurred_at: state.clock.now(),
        request_id: id("sched_")?,
        actor_id: "system:retention".to_owned(),
        actor_type: "system".to_owned(),
        actor_tenant_id: None,
        target_tenant_id: (!chain.is_empty()).then(|| chain.to_owned()),
        partner_id: None,
        credential_id: None,
        action: "archive".to_owned(),
        resource_type: "audit".to_owned(),
        resource_path: Some(segment.to_owned()),
        version: None,
        outcome: "success".to_owned(),
        error_code: None,
        client_ip: None,
        user_agent: None,
    })
}

/// Prunes the outbox: events no subscription could receive, delivered ones past the replay
/// window, dead letters past their retention.
pub async fn prune_outbox(state: &AppState) -> Result<u64, StoreError> {
    let now = state.clock.now();
    let back = |d: Duration| now - time::Duration::try_from(d).unwrap_or(time::Duration::MAX);
    let pruned = state
        .store
        .prune_events(
            back(state.storage.event_replay_window),
            back(state.storage.dead_letter_retention),
        )
        .await?;
    if pruned > 0 {
        tracing::debug!(events = pruned, "pruned the outbox");
    }
    Ok(pruned)
}
