//! Read counters for `last_accessed_at` and `access_count_30d`.
//!
//! Counting with a database write per read would halve read throughput, so reads are counted
//! in memory and flushed in one transaction every second. Bound: a crash loses at most the
//! last second of counts (counts are statistics, not audit; the audit trail is separate).

use std::collections::HashMap;
use std::sync::Mutex;

use scaivault_store::AccessHit;
use time::OffsetDateTime;

#[derive(Debug, Default)]
pub struct AccessTracker {
    pending: Mutex<HashMap<(String, String), (u64, OffsetDateTime)>>,
}

impl AccessTracker {
    pub fn record(&self, tenant_id: &str, path: &str, at: OffsetDateTime) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let entry = pending
            .entry((tenant_id.to_owned(), path.to_owned()))
            .or_insert((0, at));
        entry.0 += 1;
        entry.1 = entry.1.max(at);
    }

    /// Counts not yet flushed for one secret.
    pub fn pending(&self, tenant_id: &str, path: &str) -> (u64, Option<OffsetDateTime>) {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match pending.get(&(tenant_id.to_owned(), path.to_owned())) {
            Some((n, at)) => (*n, Some(*at)),
            None => (0, None),
        }
    }

    /// Takes everything pending, for a flush.
    pub fn drain(&self) -> Vec<AccessHit> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending
            .drain()
            .map(|((tenant_id, path), (count, last_at))| AccessHit {
                tenant_id,
                path,
                count,
                last_at,
            })
            .collect()
    }

    /// Puts back hits whose flush failed, so they are retried.
    pub fn restore(&self, hits: Vec<AccessHit>) {
        for hit in hits {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let entry = pending
                .entry((hit.tenant_id, hit.path))
                .or_insert((0, hit.last_at));
            entry.0 += hit.count;
            entry.1 = entry.1.max(hit.last_at);
        }
    }
}
