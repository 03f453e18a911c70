//! Background jobs that must run on one node at a time (sweeps, audit checkpoints and pruning,
//! the SIEM sink, expiry notices, webhook delivery). Each holds a lease in the store, renewed
//! by its holder on every round; when the holder dies the lease expires (two rounds) and another
//! node takes the job over. On the embedded store there is one node and every claim succeeds.

use std::time::Duration;

use crate::state::AppState;

/// Whether this node runs `job` now (taking or renewing its lease). `every` is the job's round
/// interval: the lease lasts two rounds, at least 15 s.
pub async fn leading(state: &AppState, job: &str, every: Duration) -> bool {
    let now = state.clock.now();
    let lease = (every * 2).max(Duration::from_secs(15));
    let until = now + lease;
    match state.store.claim_job(job, &state.node_id, now, until).await {
        Ok(leading) => leading,
        Err(e) => {
            tracing::warn!(job, error = %e, "cannot claim a background job; skipping this round");
            false
        }
    }
}
