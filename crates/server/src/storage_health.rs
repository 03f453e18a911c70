//! Whether the store takes writes, as the requests see it (for `/health/ready`).
//!
//! Readiness commits a tiny probe write, but on a nearly full disk a one-page probe can fit
//! where a request's writes (a secret version, an audit entry and their index pages) no longer
//! do. So while requests fail for lack of storage, readiness follows them and does not probe;
//! the first request that commits again, or a probe once no failure is recent, ends it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a request's storage failure decides readiness without a probe.
const FAILURES_DECIDE_FOR: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub struct StorageHealth {
    /// Fast path for [`Self::succeeded`], called on every audited request.
    failing: AtomicBool,
    last_failure: Mutex<Option<(Instant, &'static str)>>,
}

impl StorageHealth {
    /// A request could not commit because of the storage (`cause`: disk full, I/O, ...).
    pub fn failed(&self, cause: &'static str) {
        *self.lock() = Some((Instant::now(), cause));
        self.failing.store(true, Ordering::Release);
    }

    /// A request committed (its change or its audit entry).
    pub fn succeeded(&self) {
        if self.failing.load(Ordering::Acquire) {
            self.failing.store(false, Ordering::Release);
            *self.lock() = None;
        }
    }

    /// The cause of the last failure, if requests failed for lack of storage lately and none
    /// has committed since.
    pub fn recent_failure(&self) -> Option<&'static str> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        self.lock()
            .filter(|(at, _)| at.elapsed() < FAILURES_DECIDE_FOR)
            .map(|(_, cause)| cause)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, &'static str)>> {
        self.last_failure.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_decides_until_a_success() {
        let h = StorageHealth::default();
        assert_eq!(h.recent_failure(), None);
        h.failed("the disk is full");
        assert_eq!(h.recent_failure(), Some("the disk is full"));
        h.succeeded();
        assert_eq!(h.recent_failure(), None);
    }
}
