//! Store-wide counts behind the metrics gauges (docs/monitoring.md): one statement both
//! dialects speak, read every `metrics_refresh_interval`. Each count is served by an index or
//! a small table, except the secret and version counts, which scan their tables (about 50 ms
//! per million rows on SQLite; docs/monitoring.md says how to lengthen the interval).

/// The counts of one refresh.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GaugeSnapshot {
    /// Secrets not soft-deleted.
    pub secrets: u64,
    /// Secret versions held.
    pub versions: u64,
    /// Live secrets that expire after now and by the horizon.
    pub secrets_expiring: u64,
    /// Rotation schedules whose time has passed (not awaiting a manual value).
    pub rotations_due: u64,
    /// Leases not yet revoked (pending, active, revoking, revocation_failed).
    pub live_leases: u64,
    pub leases_revocation_failed: u64,
    /// Unrevoked certificates: expired, expiring by the horizon, within 30 days, later.
    pub certs_expired: u64,
    pub certs_7d: u64,
    pub certs_30d: u64,
    pub certs_later: u64,
    pub dead_letters: u64,
    /// Events after the slowest webhook subscription's cursor.
    pub webhook_lag: u64,
    /// Webhook subscriptions retrying their next event.
    pub webhooks_retrying: u64,
    /// The newest audit entry's sequence number.
    pub audit_head_seq: u64,
}

/// `$1` now, `$2` the expiry horizon (7 days), `$3` 30 days ahead; all in microseconds.
pub(crate) const SNAPSHOT: &str = "SELECT
    (SELECT COUNT(*) FROM secrets WHERE deleted_at IS NULL) AS secrets,
    (SELECT COUNT(*) FROM secret_versions) AS versions,
    (SELECT COUNT(*) FROM secrets WHERE deleted_at IS NULL AND expires_at IS NOT NULL
        AND expires_at > $1 AND expires_at <= $2) AS secrets_expiring,
    (SELECT COUNT(*) FROM rotation_schedules WHERE state <> 'awaiting_value'
        AND next_rotation_at <= $1) AS rotations_due,
    (SELECT COUNT(*) FROM dynamic_leases WHERE due_at IS NOT NULL) AS live_leases,
    (SELECT COUNT(*) FROM dynamic_leases WHERE status = 'revocation_failed')
        AS leases_revocation_failed,
    (SELECT COUNT(*) FROM pki_certificates WHERE revoked_at IS NULL AND not_after <= $1)
        AS certs_expired,
    (SELECT COUNT(*) FROM pki_certificates WHERE revoked_at IS NULL AND not_after > $1
        AND not_after <= $2) AS certs_7d,
    (SELECT COUNT(*) FROM pki_certificates WHERE revoked_at IS NULL AND not_after > $2
        AND not_after <= $3) AS certs_30d,
    (SELECT COUNT(*) FROM pki_certificates WHERE revoked_at IS NULL AND not_after > $3)
        AS certs_later,
    (SELECT COUNT(*) FROM dead_letters) AS dead_letters,
    (SELECT COALESCE(MAX((SELECT COALESCE(MAX(seq), 0) FROM events) - delivered_seq), 0)
        FROM subscriptions WHERE webhook_url IS NOT NULL) AS webhook_lag,
    (SELECT COUNT(*) FROM subscriptions WHERE webhook_url IS NOT NULL AND attempts > 0)
        AS webhooks_retrying,
    (SELECT COALESCE(MAX(seq), 0) FROM audit_log) AS audit_head_seq";

#[derive(sqlx::FromRow)]
pub(crate) struct SnapshotRow {
    secrets: i64,
    versions: i64,
    secrets_expiring: i64,
    rotations_due: i64,
    live_leases: i64,
    leases_revocation_failed: i64,
    certs_expired: i64,
    certs_7d: i64,
    certs_30d: i64,
    certs_later: i64,
    dead_letters: i64,
    webhook_lag: i64,
    webhooks_retrying: i64,
    audit_head_seq: i64,
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl From<SnapshotRow> for GaugeSnapshot {
    fn from(r: SnapshotRow) -> Self {
        Self {
            secrets: u(r.secrets),
            versions: u(r.versions),
            secrets_expiring: u(r.secrets_expiring),
            rotations_due: u(r.rotations_due),
            live_leases: u(r.live_leases),
            leases_revocation_failed: u(r.leases_revocation_failed),
            certs_expired: u(r.certs_expired),
            certs_7d: u(r.certs_7d),
            certs_30d: u(r.certs_30d),
            certs_later: u(r.certs_later),
            dead_letters: u(r.dead_letters),
            webhook_lag: u(r.webhook_lag),
            webhooks_retrying: u(r.webhooks_retrying),
            audit_head_seq: u(r.audit_head_seq),
        }
    }
}

/// Sets `scaivault_db_pool_connections{pool}` from a pool's counts.
pub(crate) fn record_pool(pool: &'static str, size: u32, idle: usize, max: u32) {
    let idle = idle as f64;
    let size = f64::from(size);
    metrics::gauge!("scaivault_db_pool_connections", "pool" => pool, "state" => "in_use")
        .set((size - idle).max(0.0));
    metrics::gauge!("scaivault_db_pool_connections", "pool" => pool, "state" => "idle").set(idle);
    metrics::gauge!("scaivault_db_pool_connections", "pool" => pool, "state" => "max")
        .set(f64::from(max));
}
