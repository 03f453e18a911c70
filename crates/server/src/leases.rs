//! The lease sweeper: revokes expired leases, cleans up creations that never finished, and
//! retries failed revocations with back-off. One node at a time (`jobs::leading`); the first
//! round runs at start, so a lease that expired while the server was down is revoked right
//! after it. Each round takes due leases in batches (`due_leases`, an indexed query), never
//! every lease: start-up does not depend on how many leases are live.

use std::collections::BTreeMap;
use std::time::Duration;

use scaivault_store::LeaseRecord;

use crate::engine::dynamic::{Attempt, Revoker, attempt_revocation};
use crate::error::ApiResult;
use crate::state::AppState;

const JOB: &str = "leases";
/// Leases taken per batch, and batches per round (the rest waits for the next round).
const BATCH: u32 = 100;
const BATCHES_PER_ROUND: usize = 50;
/// Engines whose leases are revoked side by side in a batch.
const ENGINES_AT_ONCE: usize = 8;

/// What one round did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Sweep {
    pub revoked: u64,
    pub failed: u64,
}

impl Sweep {
    fn add(&mut self, other: Sweep) {
        self.revoked += other.revoked;
        self.failed += other.failed;
    }
}

/// One round: every lease due now, batch by batch. A failed revocation moves its `due_at` into
/// the future, so a batch never returns the same lease twice in a round.
pub async fn run_round(state: &AppState) -> ApiResult<Sweep> {
    let mut sweep = Sweep::default();
    for _ in 0..BATCHES_PER_ROUND {
        let due = state.store.due_leases(state.clock.now(), BATCH).await?;
        if due.is_empty() {
            break;
        }
        let batch = sweep_batch(state, due).await;
        sweep.add(batch);
        // Only store errors: stop here rather than spin on the same leases.
        if batch.revoked + batch.failed == 0 {
            break;
        }
    }
    if sweep.revoked + sweep.failed > 0 {
        tracing::info!(
            revoked = sweep.revoked,
            failed = sweep.failed,
            "lease sweep"
        );
    }
    Ok(sweep)
}

/// One batch: each engine's leases in turn, the engines side by side (at most
/// `ENGINES_AT_ONCE`), so a slow or silent target delays only its own leases.
async fn sweep_batch(state: &AppState, due: Vec<LeaseRecord>) -> Sweep {
    let mut by_engine: BTreeMap<(String, String), Vec<LeaseRecord>> = BTreeMap::new();
    for lease in due {
        by_engine
            .entry((lease.tenant_id.clone(), lease.engine.clone()))
            .or_default()
            .push(lease);
    }
    let mut sweep = Sweep::default();
    let mut tasks = tokio::task::JoinSet::new();
    for leases in by_engine.into_values() {
        if tasks.len() >= ENGINES_AT_ONCE
            && let Some(done) = tasks.join_next().await
        {
            sweep.add(finished(done));
        }
        let state = state.clone();
        tasks.spawn(async move { sweep_engine(&state, &leases).await });
    }
    while let Some(done) = tasks.join_next().await {
        sweep.add(finished(done));
    }
    sweep
}

fn finished(done: Result<Sweep, tokio::task::JoinError>) -> Sweep {
    done.unwrap_or_else(|e| {
        tracing::error!(error = %e, "a lease sweep task failed");
        Sweep::default()
    })
}

/// The due leases of one engine, one after the other. A target found down is not contacted
/// again: its other leases fail with the same error and are retried with back-off.
async fn sweep_engine(state: &AppState, leases: &[LeaseRecord]) -> Sweep {
    let mut sweep = Sweep::default();
    let mut down: Option<String> = None;
    for lease in leases {
        match attempt_revocation(state, Revoker::Sweeper, lease, down.as_deref()).await {
            Ok(Attempt::Revoked) => sweep.revoked += 1,
            Ok(Attempt::Failed { error, target_down }) => {
                sweep.failed += 1;
                if target_down {
                    down = Some(error);
                }
            }
            Err(e) => {
                tracing::warn!(lease = %lease.id, error = %e.message, "lease sweep failed");
            }
        }
    }
    sweep
}

/// Runs [`run_round`] every `every` (the first at once) on the node holding the job's lease.
pub fn spawn_sweeper(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if !crate::jobs::leading(&state, JOB, every).await {
                continue;
            }
            if let Err(e) = run_round(&state).await {
                tracing::warn!(error = %e.message, "lease sweep round failed");
            }
        }
    })
}
