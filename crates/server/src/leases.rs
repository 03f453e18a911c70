//! The lease sweeper: revokes expired leases, cleans up creations that never finished, and
//! retries failed revocations with back-off. One node at a time (`jobs::leading`); the first
//! round runs at start, so a lease that expired while the server was down is revoked right
//! after it. Each round takes due leases in batches (`due_leases`, an indexed query), never
//! every lease: start-up does not depend on how many leases are live.

use std::collections::HashMap;
use std::time::Duration;

use crate::engine::dynamic::{Attempt, Revoker, attempt_revocation};
use crate::error::ApiResult;
use crate::state::AppState;

const JOB: &str = "leases";
/// Leases taken per batch, and batches per round (the rest waits for the next round).
const BATCH: u32 = 100;
const BATCHES_PER_ROUND: usize = 50;

/// What one round did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Sweep {
    pub revoked: u64,
    pub failed: u64,
}

/// One round: every lease due now, batch by batch. A failed revocation moves its `due_at` into
/// the future, so a batch never returns the same lease twice in a round.
/// A target found down in a round is not contacted again in that round: its other leases are
/// failed with the same error and retried with back-off, so one silent host cannot hold up the
/// revocations of every other engine.
pub async fn run_round(state: &AppState) -> ApiResult<Sweep> {
    let mut sweep = Sweep::default();
    let mut down: HashMap<(String, String), String> = HashMap::new();
    for _ in 0..BATCHES_PER_ROUND {
        let now = state.clock.now();
        let due = state.store.due_leases(now, BATCH).await?;
        if due.is_empty() {
            break;
        }
        let mut progressed = false;
        for lease in &due {
            let target = (lease.tenant_id.clone(), lease.engine.clone());
            let known_down = down.get(&target).map(String::as_str);
            match attempt_revocation(state, Revoker::Sweeper, lease, known_down).await {
                Ok(Attempt::Revoked) => {
                    sweep.revoked += 1;
                    progressed = true;
                }
                Ok(Attempt::Failed { error, target_down }) => {
                    sweep.failed += 1;
                    progressed = true;
                    if target_down {
                        down.insert(target, error);
                    }
                }
                Err(e) => {
                    tracing::warn!(lease = %lease.id, error = %e.message, "lease sweep failed");
                }
            }
        }
        // Only store errors: stop here rather than spin on the same leases.
        if !progressed {
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
