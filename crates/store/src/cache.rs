//! A read-through cache of current secret versions in front of any [`Store`](crate::Store).
//!
//! The hot path of ScaiVault is "read the current version of one secret". Each SQLite read
//! costs far more CPU than the rest of the request (docs/benchmarks.md), so the current
//! version's record and *ciphertext* (never plaintext) are cached per (tenant, path).
//!
//! It implements every store trait so that the server holds one handle and no secret write can
//! go around it, but only [`SecretStore`], [`RotationStore`] and [`PkiStore`] (an issued
//! certificate is written as a secret) do anything here, and [`SystemStore::reseal`] (a rewrap
//! of a secret version evicts it); the other traits pass straight through.
//!
//! Coherence: every mutation through this store evicts the key after its commit and bumps a
//! generation counter; a read fills the cache only if no mutation finished while it was reading
//! the database, so a stale value can never be cached after a newer write was acknowledged.
//! The cache is per process: it is exact for one node. With several nodes on one database (the
//! PostgreSQL issue) other nodes' writes must evict too (LISTEN/NOTIFY), or the cache be off.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use time::OffsetDateTime;
use tracing::Instrument;

use crate::acme::{
    AcmeAccountRecord, AcmeOrderRecord, AcmeStore, DnsProviderRecord, Http01Token, OrderUpdate,
};
use crate::audit::*;
use crate::dynamic::{
    DynamicStore, EngineRecord, LeaseCaps, LeaseQuery, LeaseRecord, LeaseSelector, RoleRecord,
};
use crate::events::{DeadLetter, DeliveryState, EventRecord, SubscriptionRecord};
use crate::model::*;
use crate::pki::{CaRecord, CertQuery, CertRecord, CrlRecord, CsrRecord};
use crate::rotation::{
    RotationPolicyRecord, RotationStep, RunQuery, RunRecord, RunStatus, ScheduleChange,
    ScheduleQuery, ScheduleRecord, SecretPolicyRecord,
};
use crate::{
    AuditStore, EventStore, IdentityStore, PkiStore, PolicyStore, Result, RotationStore, SealFn,
    SecretStore, StoreError, SystemStore, TokenStore,
};

/// Entries kept before the cache is emptied and refilled (a crude but bounded policy).
pub const DEFAULT_CAPACITY: usize = 100_000;

type Key = (String, String);

#[derive(Debug)]
pub struct CachedStore<S> {
    inner: S,
    entries: RwLock<HashMap<Key, (SecretRecord, VersionRecord)>>,
    generation: AtomicU64,
    capacity: usize,
}

impl<S> CachedStore<S> {
    pub fn new(inner: S, capacity: usize) -> Self {
        Self {
            inner,
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            capacity,
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn key(tenant_id: &str, path: &str) -> Key {
        (tenant_id.to_owned(), path.to_owned())
    }

    /// Called after a mutation of (tenant, path) has committed (or failed: harmless).
    fn evict(&self, tenant_id: &str, path: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.remove(&Self::key(tenant_id, path));
    }

    /// Called after a mutation that may have changed any of the tenant's secret records.
    fn evict_tenant(&self, tenant_id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(tenant, _), _| tenant != tenant_id);
    }

    fn evict_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn lookup(
        &self,
        tenant_id: &str,
        path: &str,
        now: OffsetDateTime,
    ) -> Option<(SecretRecord, VersionRecord)> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let hit = entries.get(&Self::key(tenant_id, path))?;
        // The current version never retires, but stay correct if that ever changes.
        if hit.1.retires_at.is_some_and(|r| r <= now) {
            return None;
        }
        Some(hit.clone())
    }

    fn fill(
        &self,
        generation: u64,
        tenant_id: &str,
        path: &str,
        value: &(SecretRecord, VersionRecord),
    ) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        // Checked under the lock: an eviction that finished after our database read bumped it.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(Self::key(tenant_id, path), value.clone());
    }
}

/// Times one store operation (`scaivault_store_operations_total` and its latency histogram,
/// docs/monitoring.md) in a span of its own, so a trace shows the store work under its request.
/// Every operation of the server passes here (cache hits are not operations). The result label
/// is `ok`, `rejected` (the caller's fault: not found, conflict, duplicate, ...) or `error`.
async fn metered<T>(
    operation: &'static str,
    call: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let started = std::time::Instant::now();
    let result = call
        .instrument(tracing::debug_span!("store", operation))
        .await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(
            StoreError::NotFound(_)
            | StoreError::SoftDeleted
            | StoreError::VersionNotFound
            | StoreError::VersionConflict { .. }
            | StoreError::Invalid(_)
            | StoreError::Duplicate
            | StoreError::Conflict(_)
            | StoreError::LimitReached(_),
        ) => "rejected",
        Err(_) => "error",
    };
    metrics::counter!(
        "scaivault_store_operations_total",
        "operation" => operation,
        "result" => outcome,
    )
    .increment(1);
    metrics::histogram!("scaivault_store_operation_duration_seconds", "operation" => operation)
        .record(started.elapsed().as_secs_f64());
    result
}

// --- what the cache holds: secret records and current versions ---------------------------
//
// Every method that can change a secret record or its current version evicts after it returns
// (rotation policies are part of the record; rotation steps write versions through
// `write_secret`).

#[async_trait]
impl<S: SecretStore> SecretStore for CachedStore<S> {
    async fn write_secret(
        &self,
        tenant_id: &str,
        write: SecretWrite,
        seal: Box<SealFn>,
    ) -> Result<WriteOutcome> {
        let path = write.path.clone();
        let result = metered(
            "write_secret",
            self.inner.write_secret(tenant_id, write, seal),
        )
        .await;
        self.evict(tenant_id, &path);
        result
    }

    async fn read_secret(
        &self,
        tenant_id: &str,
        path: &str,
        version: Option<u64>,
        now: OffsetDateTime,
    ) -> Result<(SecretRecord, VersionRecord)> {
        if version.is_some() {
            return metered(
                "read_secret",
                self.inner.read_secret(tenant_id, path, version, now),
            )
            .await;
        }
        if let Some(hit) = self.lookup(tenant_id, path, now) {
            return Ok(hit);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let value = metered(
            "read_secret",
            self.inner.read_secret(tenant_id, path, None, now),
        )
        .await?;
        self.fill(generation, tenant_id, path, &value);
        Ok(value)
    }

    async fn get_secret(&self, tenant_id: &str, path: &str) -> Result<SecretRecord> {
        metered("get_secret", self.inner.get_secret(tenant_id, path)).await
    }

    async fn patch_secret(
        &self,
        tenant_id: &str,
        path: &str,
        patch: &SecretPatch,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<SecretRecord> {
        let result = metered(
            "patch_secret",
            self.inner.patch_secret(tenant_id, path, patch, now, audit),
        )
        .await;
        self.evict(tenant_id, path);
        result
    }

    async fn list_secrets(&self, tenant_id: &str, query: &ListQuery) -> Result<Page<SecretRecord>> {
        metered("list_secrets", self.inner.list_secrets(tenant_id, query)).await
    }

    async fn list_expiring(
        &self,
        tenant_id: &str,
        query: &ExpiringQuery,
    ) -> Result<Page<SecretRecord>> {
        metered("list_expiring", self.inner.list_expiring(tenant_id, query)).await
    }

    async fn list_versions(
        &self,
        tenant_id: &str,
        path: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<VersionRecord>> {
        metered(
            "list_versions",
            self.inner.list_versions(tenant_id, path, now),
        )
        .await
    }

    async fn soft_delete(
        &self,
        tenant_id: &str,
        path: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let result = metered(
            "soft_delete",
            self.inner.soft_delete(tenant_id, path, now, audit),
        )
        .await;
        self.evict(tenant_id, path);
        result
    }

    async fn restore(
        &self,
        tenant_id: &str,
        path: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<SecretRecord> {
        let result = metered("restore", self.inner.restore(tenant_id, path, now, audit)).await;
        self.evict(tenant_id, path);
        result
    }

    async fn hard_delete(
        &self,
        tenant_id: &str,
        path: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let result = metered(
            "hard_delete",
            self.inner.hard_delete(tenant_id, path, audit),
        )
        .await;
        self.evict(tenant_id, path);
        result
    }

    async fn delete_version(
        &self,
        tenant_id: &str,
        path: &str,
        version: u64,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        let result = metered(
            "delete_version",
            self.inner
                .delete_version(tenant_id, path, version, now, audit),
        )
        .await;
        self.evict(tenant_id, path);
        result
    }

    async fn record_access(&self, hits: &[AccessHit]) -> Result<()> {
        metered("record_access", self.inner.record_access(hits)).await
    }

    async fn access_stats(
        &self,
        tenant_id: &str,
        path: &str,
        since: OffsetDateTime,
    ) -> Result<(u64, Option<OffsetDateTime>)> {
        metered(
            "access_stats",
            self.inner.access_stats(tenant_id, path, since),
        )
        .await
    }

    async fn sweep(
        &self,
        deleted_before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(u64, u64)> {
        let result = metered("sweep", self.inner.sweep(deleted_before, now)).await;
        self.evict_all();
        result
    }

    async fn secrets_expiring_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<(String, String, OffsetDateTime)>> {
        metered(
            "secrets_expiring_between",
            self.inner.secrets_expiring_between(from, to, limit),
        )
        .await
    }
}

#[async_trait]
impl<S: RotationStore> RotationStore for CachedStore<S> {
    async fn insert_secret_policy(
        &self,
        policy: &SecretPolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        metered(
            "insert_secret_policy",
            self.inner.insert_secret_policy(policy, audit),
        )
        .await
    }

    async fn update_secret_policy(
        &self,
        policy: &SecretPolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "update_secret_policy",
            self.inner.update_secret_policy(policy, audit),
        )
        .await
    }

    async fn get_secret_policy(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<SecretPolicyRecord>> {
        metered(
            "get_secret_policy",
            self.inner.get_secret_policy(tenant_id, id),
        )
        .await
    }

    async fn list_secret_policies(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<SecretPolicyRecord>> {
        metered(
            "list_secret_policies",
            self.inner.list_secret_policies(tenant_id, after, limit),
        )
        .await
    }

    async fn delete_secret_policy(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "delete_secret_policy",
            self.inner.delete_secret_policy(tenant_id, id, audit),
        )
        .await
    }

    async fn insert_rotation_policy(
        &self,
        policy: &RotationPolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        metered(
            "insert_rotation_policy",
            self.inner.insert_rotation_policy(policy, audit),
        )
        .await
    }

    async fn update_rotation_policy(
        &self,
        policy: &RotationPolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "update_rotation_policy",
            self.inner.update_rotation_policy(policy, audit),
        )
        .await
    }

    async fn get_rotation_policy(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<RotationPolicyRecord>> {
        metered(
            "get_rotation_policy",
            self.inner.get_rotation_policy(tenant_id, id),
        )
        .await
    }

    async fn list_rotation_policies(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<RotationPolicyRecord>> {
        metered(
            "list_rotation_policies",
            self.inner.list_rotation_policies(tenant_id, after, limit),
        )
        .await
    }

    /// Clears `rotation_policy_id` on secrets this layer cannot name (the cached records carry
    /// it), so every cached entry of the tenant goes.
    async fn delete_rotation_policy(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let result = metered(
            "delete_rotation_policy",
            self.inner.delete_rotation_policy(tenant_id, id, audit),
        )
        .await;
        self.evict_tenant(tenant_id);
        result
    }

    async fn set_secret_rotation_policy(
        &self,
        tenant_id: &str,
        path: &str,
        policy_id: Option<&str>,
        schedule: &ScheduleChange,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        let result = metered(
            "set_secret_rotation_policy",
            self.inner
                .set_secret_rotation_policy(tenant_id, path, policy_id, schedule, audit),
        )
        .await;
        self.evict(tenant_id, path);
        result
    }

    async fn get_rotation_schedule(
        &self,
        tenant_id: &str,
        path: &str,
    ) -> Result<Option<ScheduleRecord>> {
        metered(
            "get_rotation_schedule",
            self.inner.get_rotation_schedule(tenant_id, path),
        )
        .await
    }

    async fn list_rotation_schedules(
        &self,
        tenant_id: &str,
        query: &ScheduleQuery,
    ) -> Result<Page<ScheduleRecord>> {
        metered(
            "list_rotation_schedules",
            self.inner.list_rotation_schedules(tenant_id, query),
        )
        .await
    }

    async fn due_rotations(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<ScheduleRecord>> {
        metered("due_rotations", self.inner.due_rotations(now, limit)).await
    }

    async fn due_rotation_warnings(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ScheduleRecord>> {
        metered(
            "due_rotation_warnings",
            self.inner.due_rotation_warnings(now, limit),
        )
        .await
    }

    async fn unscheduled_rotations(&self, limit: u32) -> Result<Vec<(String, String, String)>> {
        metered(
            "unscheduled_rotations",
            self.inner.unscheduled_rotations(limit),
        )
        .await
    }

    /// Runs, schedules and audit only: no secret record changes (new values go through
    /// `write_secret`, which evicts).
    async fn commit_rotation_step(&self, step: &RotationStep) -> Result<u64> {
        metered(
            "commit_rotation_step",
            self.inner.commit_rotation_step(step),
        )
        .await
    }

    async fn get_rotation_run(&self, tenant_id: &str, id: &str) -> Result<Option<RunRecord>> {
        metered(
            "get_rotation_run",
            self.inner.get_rotation_run(tenant_id, id),
        )
        .await
    }

    async fn list_rotation_runs(
        &self,
        tenant_id: &str,
        query: &RunQuery,
    ) -> Result<Page<RunRecord>> {
        metered(
            "list_rotation_runs",
            self.inner.list_rotation_runs(tenant_id, query),
        )
        .await
    }

    async fn open_rotation_runs(&self, status: RunStatus, limit: u32) -> Result<Vec<RunRecord>> {
        metered(
            "open_rotation_runs",
            self.inner.open_rotation_runs(status, limit),
        )
        .await
    }
}

/// PKI records are not cached: every call goes to the store. An issued certificate's secret
/// write evicts its path like `write_secret`.
#[async_trait]
impl<S: PkiStore> PkiStore for CachedStore<S> {
    async fn insert_ca(&self, ca: &CaRecord, audit: Option<&AuditEvent>) -> Result<()> {
        metered("insert_ca", self.inner.insert_ca(ca, audit)).await
    }

    async fn get_ca(&self, tenant_id: &str, id: &str) -> Result<Option<CaRecord>> {
        metered("get_ca", self.inner.get_ca(tenant_id, id)).await
    }

    async fn find_ca(&self, id: &str) -> Result<Option<CaRecord>> {
        metered("find_ca", self.inner.find_ca(id)).await
    }

    async fn list_cas(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<CaRecord>> {
        metered("list_cas", self.inner.list_cas(tenant_id, after, limit)).await
    }

    async fn disable_ca(
        &self,
        tenant_id: &str,
        id: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "disable_ca",
            self.inner.disable_ca(tenant_id, id, now, audit),
        )
        .await
    }

    async fn insert_certificate(
        &self,
        cert: &CertRecord,
        secret: Option<(SecretWrite, Box<SealFn>)>,
        audit: Option<&AuditEvent>,
    ) -> Result<Option<WriteOutcome>> {
        let path = secret.as_ref().map(|(write, _)| write.path.clone());
        let result = metered(
            "insert_certificate",
            self.inner.insert_certificate(cert, secret, audit),
        )
        .await;
        if let Some(path) = path {
            self.evict(&cert.tenant_id, &path);
        }
        result
    }

    async fn get_certificate(&self, tenant_id: &str, id: &str) -> Result<Option<CertRecord>> {
        metered("get_certificate", self.inner.get_certificate(tenant_id, id)).await
    }

    async fn certificate_by_serial(&self, ca_id: &str, serial: &str) -> Result<Option<CertRecord>> {
        metered(
            "certificate_by_serial",
            self.inner.certificate_by_serial(ca_id, serial),
        )
        .await
    }

    async fn list_certificates(
        &self,
        tenant_id: &str,
        query: &CertQuery,
    ) -> Result<Page<CertRecord>> {
        metered(
            "list_certificates",
            self.inner.list_certificates(tenant_id, query),
        )
        .await
    }

    async fn revoke_certificate(
        &self,
        tenant_id: &str,
        id: &str,
        at: OffsetDateTime,
        reason: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "revoke_certificate",
            self.inner
                .revoke_certificate(tenant_id, id, at, reason, audit),
        )
        .await
    }

    async fn revoked_certificates(
        &self,
        ca_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<CertRecord>> {
        metered(
            "revoked_certificates",
            self.inner.revoked_certificates(ca_id, now),
        )
        .await
    }

    async fn insert_csr(&self, csr: &CsrRecord, audit: Option<&AuditEvent>) -> Result<()> {
        metered("insert_csr", self.inner.insert_csr(csr, audit)).await
    }

    async fn get_csr(&self, tenant_id: &str, id: &str) -> Result<Option<CsrRecord>> {
        metered("get_csr", self.inner.get_csr(tenant_id, id)).await
    }

    async fn list_csrs(
        &self,
        tenant_id: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<CsrRecord>> {
        metered(
            "list_csrs",
            self.inner.list_csrs(tenant_id, status, after, limit),
        )
        .await
    }

    async fn decide_csr(
        &self,
        tenant_id: &str,
        id: &str,
        from: &str,
        to: &str,
        by: &str,
        at: OffsetDateTime,
        reason: Option<&str>,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "decide_csr",
            self.inner
                .decide_csr(tenant_id, id, from, to, by, at, reason, audit),
        )
        .await
    }

    async fn sign_csr(
        &self,
        tenant_id: &str,
        id: &str,
        cert: &CertRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered("sign_csr", self.inner.sign_csr(tenant_id, id, cert, audit)).await
    }

    async fn next_crl_number(&self, ca_id: &str) -> Result<u64> {
        metered("next_crl_number", self.inner.next_crl_number(ca_id)).await
    }

    async fn store_crl(&self, crl: &CrlRecord) -> Result<bool> {
        metered("store_crl", self.inner.store_crl(crl)).await
    }

    async fn latest_crl(&self, ca_id: &str) -> Result<Option<CrlRecord>> {
        metered("latest_crl", self.inner.latest_crl(ca_id)).await
    }

    async fn certificates_expiring_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<CertRecord>> {
        metered(
            "certificates_expiring_between",
            self.inner.certificates_expiring_between(from, to, limit),
        )
        .await
    }
}

// --- passed through: resources the cache does not hold ------------------------------------
//
// Kept on the one decorated handle so the server has a single store through which no secret
// write can bypass the cache; none of these touches a secret record but `reseal`, which evicts.

#[async_trait]
impl<S: SystemStore> SystemStore for CachedStore<S> {
    async fn ping(&self) -> Result<()> {
        metered("ping", self.inner.ping()).await
    }

    async fn probe_write(&self, now: OffsetDateTime) -> Result<()> {
        metered("probe_write", self.inner.probe_write(now)).await
    }

    async fn get_system(&self, key: &str) -> Result<Option<String>> {
        metered("get_system", self.inner.get_system(key)).await
    }

    async fn set_system(&self, key: &str, value: &str) -> Result<()> {
        metered("set_system", self.inner.set_system(key, value)).await
    }

    async fn list_data_keys(&self) -> Result<Vec<StoredKey>> {
        metered("list_data_keys", self.inner.list_data_keys()).await
    }

    async fn insert_data_key(&self, key: &StoredKey) -> Result<()> {
        metered("insert_data_key", self.inner.insert_data_key(key)).await
    }

    async fn rotate_data_key(&self, key: &StoredKey) -> Result<()> {
        metered("rotate_data_key", self.inner.rotate_data_key(key)).await
    }

    async fn replace_wrapped_keys(&self, keys: &[StoredKey]) -> Result<()> {
        metered(
            "replace_wrapped_keys",
            self.inner.replace_wrapped_keys(keys),
        )
        .await
    }

    async fn sealed_not_under(
        &self,
        kind: SealedKind,
        active_key_id: &str,
        after: Option<&SealedLocator>,
        limit: u32,
    ) -> Result<Vec<SealedRow>> {
        metered(
            "sealed_not_under",
            self.inner
                .sealed_not_under(kind, active_key_id, after, limit),
        )
        .await
    }

    /// The one method here that changes what the cache holds: a resealed secret version may be
    /// the cached current one (its ciphertext and key id), so that entry is evicted.
    async fn reseal(&self, row: &SealedRow, new: &SealedBlob) -> Result<bool> {
        let result = metered("reseal", self.inner.reseal(row, new)).await;
        if row.kind == SealedKind::SecretVersion {
            self.evict(&row.at.tenant_id, &row.at.id);
        }
        result
    }

    async fn count_sealed_by_key(&self) -> Result<Vec<(String, u64)>> {
        metered("count_sealed_by_key", self.inner.count_sealed_by_key()).await
    }

    async fn storage_usage(&self, since: OffsetDateTime) -> Result<crate::usage::StorageUsage> {
        metered("storage_usage", self.inner.storage_usage(since)).await
    }

    async fn gauge_snapshot(
        &self,
        now: OffsetDateTime,
        expiring_before: OffsetDateTime,
    ) -> Result<crate::gauges::GaugeSnapshot> {
        metered(
            "gauge_snapshot",
            self.inner.gauge_snapshot(now, expiring_before),
        )
        .await
    }

    fn record_pool_metrics(&self) {
        self.inner.record_pool_metrics();
    }

    async fn claim_job(
        &self,
        job: &str,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool> {
        metered("claim_job", self.inner.claim_job(job, holder, now, until)).await
    }

    async fn publish_change(&self, change: &str) -> Result<()> {
        metered("publish_change", self.inner.publish_change(change)).await
    }

    async fn change_feed(&self) -> Result<Option<tokio::sync::mpsc::Receiver<String>>> {
        metered("change_feed", self.inner.change_feed()).await
    }
}

#[async_trait]
impl<S: TokenStore> TokenStore for CachedStore<S> {
    async fn insert_token(&self, token: &TokenRecord, audit: Option<&AuditEvent>) -> Result<()> {
        metered("insert_token", self.inner.insert_token(token, audit)).await
    }

    async fn replace_token(&self, token: &TokenRecord) -> Result<()> {
        metered("replace_token", self.inner.replace_token(token)).await
    }

    async fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
        metered("find_token", self.inner.find_token(token_hash)).await
    }

    async fn list_tokens(
        &self,
        tenant_id: &str,
        identity_id: &str,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Page<TokenRecord>> {
        metered(
            "list_tokens",
            self.inner
                .list_tokens(tenant_id, identity_id, after_id, limit),
        )
        .await
    }

    async fn get_token(&self, id: &str) -> Result<Option<TokenRecord>> {
        metered("get_token", self.inner.get_token(id)).await
    }

    async fn revoke_token(
        &self,
        tenant_id: &str,
        identity_id: &str,
        token_id: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "revoke_token",
            self.inner
                .revoke_token(tenant_id, identity_id, token_id, now, audit),
        )
        .await
    }
}

#[async_trait]
impl<S: IdentityStore> IdentityStore for CachedStore<S> {
    async fn insert_partner(&self, p: &PartnerRecord, audit: Option<&AuditEvent>) -> Result<()> {
        metered("insert_partner", self.inner.insert_partner(p, audit)).await
    }

    async fn get_partner(&self, id: &str) -> Result<Option<PartnerRecord>> {
        metered("get_partner", self.inner.get_partner(id)).await
    }

    async fn list_partners(&self, after: Option<&str>, limit: u32) -> Result<Page<PartnerRecord>> {
        metered("list_partners", self.inner.list_partners(after, limit)).await
    }

    async fn insert_tenant(&self, t: &TenantRecord, audit: Option<&AuditEvent>) -> Result<()> {
        metered("insert_tenant", self.inner.insert_tenant(t, audit)).await
    }

    async fn get_tenant(&self, id: &str) -> Result<Option<TenantRecord>> {
        metered("get_tenant", self.inner.get_tenant(id)).await
    }

    async fn register_tenant(
        &self,
        partner: Option<&PartnerRecord>,
        tenant: &TenantRecord,
        admin_token: &TokenRecord,
        audit: &[AuditEvent],
    ) -> Result<()> {
        metered(
            "register_tenant",
            self.inner
                .register_tenant(partner, tenant, admin_token, audit),
        )
        .await
    }

    async fn list_tenants(
        &self,
        partner_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<TenantRecord>> {
        metered(
            "list_tenants",
            self.inner.list_tenants(partner_id, after, limit),
        )
        .await
    }

    async fn insert_service_account(
        &self,
        sa: &ServiceAccountRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        metered(
            "insert_service_account",
            self.inner.insert_service_account(sa, audit),
        )
        .await
    }

    async fn get_service_account(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<ServiceAccountRecord>> {
        metered(
            "get_service_account",
            self.inner.get_service_account(tenant_id, id),
        )
        .await
    }

    async fn list_service_accounts(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<ServiceAccountRecord>> {
        metered(
            "list_service_accounts",
            self.inner.list_service_accounts(tenant_id, after, limit),
        )
        .await
    }

    async fn delete_service_account(
        &self,
        tenant_id: &str,
        id: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "delete_service_account",
            self.inner.delete_service_account(tenant_id, id, now, audit),
        )
        .await
    }

    async fn set_identity_groups(
        &self,
        tenant_id: &str,
        identity_id: &str,
        groups: &[String],
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        metered(
            "set_identity_groups",
            self.inner
                .set_identity_groups(tenant_id, identity_id, groups, audit),
        )
        .await
    }

    async fn identity_groups(&self, tenant_id: &str, identity_id: &str) -> Result<Vec<String>> {
        metered(
            "identity_groups",
            self.inner.identity_groups(tenant_id, identity_id),
        )
        .await
    }
}

#[async_trait]
impl<S: PolicyStore> PolicyStore for CachedStore<S> {
    async fn insert_policy(&self, p: &PolicyRecord, audit: Option<&AuditEvent>) -> Result<()> {
        metered("insert_policy", self.inner.insert_policy(p, audit)).await
    }

    async fn update_policy(&self, p: &PolicyRecord, audit: Option<&AuditEvent>) -> Result<bool> {
        metered("update_policy", self.inner.update_policy(p, audit)).await
    }

    async fn get_policy(&self, tenant_id: &str, id: &str) -> Result<Option<PolicyRecord>> {
        metered("get_policy", self.inner.get_policy(tenant_id, id)).await
    }

    async fn list_policies(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<PolicyRecord>> {
        metered(
            "list_policies",
            self.inner.list_policies(tenant_id, after, limit),
        )
        .await
    }

    async fn delete_policy(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "delete_policy",
            self.inner.delete_policy(tenant_id, id, audit),
        )
        .await
    }

    async fn bind_policy(
        &self,
        tenant_id: &str,
        binding: &PolicyBinding,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        metered(
            "bind_policy",
            self.inner.bind_policy(tenant_id, binding, audit),
        )
        .await
    }

    async fn unbind_policy(
        &self,
        tenant_id: &str,
        policy_id: &str,
        identity_id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "unbind_policy",
            self.inner
                .unbind_policy(tenant_id, policy_id, identity_id, audit),
        )
        .await
    }

    async fn policy_bindings(
        &self,
        tenant_id: &str,
        policy_id: &str,
    ) -> Result<Vec<PolicyBinding>> {
        metered(
            "policy_bindings",
            self.inner.policy_bindings(tenant_id, policy_id),
        )
        .await
    }

    async fn policies_bound_to(
        &self,
        tenant_id: &str,
        identities: &[String],
    ) -> Result<Vec<PolicyRecord>> {
        metered(
            "policies_bound_to",
            self.inner.policies_bound_to(tenant_id, identities),
        )
        .await
    }
}

#[async_trait]
impl<S: EventStore> EventStore for CachedStore<S> {
    async fn events_after(
        &self,
        tenants: &[String],
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<EventRecord>> {
        metered(
            "events_after",
            self.inner.events_after(tenants, after_seq, limit),
        )
        .await
    }

    async fn last_event_seq(&self) -> Result<u64> {
        metered("last_event_seq", self.inner.last_event_seq()).await
    }

    async fn insert_subscription(
        &self,
        s: &SubscriptionRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        metered(
            "insert_subscription",
            self.inner.insert_subscription(s, audit),
        )
        .await
    }

    async fn get_subscription(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<SubscriptionRecord>> {
        metered(
            "get_subscription",
            self.inner.get_subscription(tenant_id, id),
        )
        .await
    }

    async fn list_subscriptions(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<SubscriptionRecord>> {
        metered(
            "list_subscriptions",
            self.inner.list_subscriptions(tenant_id, after, limit),
        )
        .await
    }

    async fn delete_subscription(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "delete_subscription",
            self.inner.delete_subscription(tenant_id, id, audit),
        )
        .await
    }

    async fn insert_events(&self, new: &[crate::events::NewEvent]) -> Result<u64> {
        metered("insert_events", self.inner.insert_events(new)).await
    }

    async fn set_webhook_secret(
        &self,
        tenant_id: &str,
        id: &str,
        secret: &SealedBlob,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "set_webhook_secret",
            self.inner.set_webhook_secret(tenant_id, id, secret, audit),
        )
        .await
    }

    async fn webhook_subscriptions(&self) -> Result<Vec<SubscriptionRecord>> {
        metered("webhook_subscriptions", self.inner.webhook_subscriptions()).await
    }

    async fn record_delivery(&self, state: &DeliveryState<'_>) -> Result<()> {
        metered("record_delivery", self.inner.record_delivery(state)).await
    }

    async fn prune_events(
        &self,
        replay_before: OffsetDateTime,
        dead_letters_before: OffsetDateTime,
    ) -> Result<u64> {
        metered(
            "prune_events",
            self.inner.prune_events(replay_before, dead_letters_before),
        )
        .await
    }

    async fn dead_letters(&self, subscription_id: &str) -> Result<Vec<DeadLetter>> {
        metered("dead_letters", self.inner.dead_letters(subscription_id)).await
    }
}

#[async_trait]
impl<S: AuditStore> AuditStore for CachedStore<S> {
    fn set_audit_mac(&self, mac: ChainMac) {
        self.inner.set_audit_mac(mac);
    }

    async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<()> {
        metered("append_audit", self.inner.append_audit(events)).await
    }

    async fn query_audit(&self, query: &AuditQuery) -> Result<Page<AuditEntry>> {
        metered("query_audit", self.inner.query_audit(query)).await
    }

    async fn audit_summary(&self, query: &AuditQuery, top: u32) -> Result<AuditSummary> {
        metered("audit_summary", self.inner.audit_summary(query, top)).await
    }

    async fn audit_since(&self, after_seq: u64, limit: u32) -> Result<Vec<AuditEntry>> {
        metered("audit_since", self.inner.audit_since(after_seq, limit)).await
    }

    async fn audit_chains(&self) -> Result<Vec<String>> {
        metered("audit_chains", self.inner.audit_chains()).await
    }

    async fn audit_chain_page(
        &self,
        chain: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        metered(
            "audit_chain_page",
            self.inner.audit_chain_page(chain, after, limit),
        )
        .await
    }

    async fn audit_checkpoints(&self, chain: &str) -> Result<Vec<AuditCheckpoint>> {
        metered("audit_checkpoints", self.inner.audit_checkpoints(chain)).await
    }

    async fn audit_anchor(&self, chain: &str) -> Result<Option<AuditAnchor>> {
        metered("audit_anchor", self.inner.audit_anchor(chain)).await
    }

    async fn checkpoint_audit(&self, now: OffsetDateTime) -> Result<u64> {
        metered("checkpoint_audit", self.inner.checkpoint_audit(now)).await
    }

    async fn prune_audit(&self, before: OffsetDateTime) -> Result<u64> {
        metered("prune_audit", self.inner.prune_audit(before)).await
    }

    async fn prune_audit_chain(&self, chain: &str, through: u64) -> Result<u64> {
        metered(
            "prune_audit_chain",
            self.inner.prune_audit_chain(chain, through),
        )
        .await
    }
}

/// Dynamic-credentials records are not cached and write no secret: every call goes to the
/// store.
#[async_trait]
impl<S: DynamicStore> DynamicStore for CachedStore<S> {
    async fn insert_engine(&self, engine: &EngineRecord, audit: Option<&AuditEvent>) -> Result<()> {
        metered("insert_engine", self.inner.insert_engine(engine, audit)).await
    }

    async fn get_engine(&self, tenant_id: &str, name: &str) -> Result<Option<EngineRecord>> {
        metered("get_engine", self.inner.get_engine(tenant_id, name)).await
    }

    async fn list_engines(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<EngineRecord>> {
        metered(
            "list_engines",
            self.inner.list_engines(tenant_id, after, limit),
        )
        .await
    }

    async fn update_engine(
        &self,
        engine: &EngineRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered("update_engine", self.inner.update_engine(engine, audit)).await
    }

    async fn delete_engine(
        &self,
        tenant_id: &str,
        name: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "delete_engine",
            self.inner.delete_engine(tenant_id, name, audit),
        )
        .await
    }

    async fn insert_role(&self, role: &RoleRecord, audit: Option<&AuditEvent>) -> Result<()> {
        metered("insert_role", self.inner.insert_role(role, audit)).await
    }

    async fn get_role(
        &self,
        tenant_id: &str,
        engine: &str,
        name: &str,
    ) -> Result<Option<RoleRecord>> {
        metered("get_role", self.inner.get_role(tenant_id, engine, name)).await
    }

    async fn list_roles(
        &self,
        tenant_id: &str,
        engine: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<RoleRecord>> {
        metered(
            "list_roles",
            self.inner.list_roles(tenant_id, engine, after, limit),
        )
        .await
    }

    async fn update_role(&self, role: &RoleRecord, audit: Option<&AuditEvent>) -> Result<bool> {
        metered("update_role", self.inner.update_role(role, audit)).await
    }

    async fn delete_role(
        &self,
        tenant_id: &str,
        engine: &str,
        name: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "delete_role",
            self.inner.delete_role(tenant_id, engine, name, audit),
        )
        .await
    }

    async fn insert_lease(
        &self,
        lease: &LeaseRecord,
        caps: LeaseCaps,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        metered("insert_lease", self.inner.insert_lease(lease, caps, audit)).await
    }

    async fn activate_lease(
        &self,
        tenant_id: &str,
        id: &str,
        handle: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "activate_lease",
            self.inner.activate_lease(tenant_id, id, handle, now, audit),
        )
        .await
    }

    async fn get_lease(&self, tenant_id: &str, id: &str) -> Result<Option<LeaseRecord>> {
        metered("get_lease", self.inner.get_lease(tenant_id, id)).await
    }

    async fn list_leases(&self, tenant_id: &str, query: &LeaseQuery) -> Result<Page<LeaseRecord>> {
        metered("list_leases", self.inner.list_leases(tenant_id, query)).await
    }

    async fn renew_lease(
        &self,
        tenant_id: &str,
        id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "renew_lease",
            self.inner
                .renew_lease(tenant_id, id, expires_at, now, audit),
        )
        .await
    }

    async fn request_revocation(
        &self,
        tenant_id: &str,
        selector: &LeaseSelector,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<Vec<String>> {
        metered(
            "request_revocation",
            self.inner
                .request_revocation(tenant_id, selector, now, audit),
        )
        .await
    }

    async fn due_leases(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<LeaseRecord>> {
        metered("due_leases", self.inner.due_leases(now, limit)).await
    }

    async fn complete_revocation(
        &self,
        id: &str,
        at: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "complete_revocation",
            self.inner.complete_revocation(id, at, audit),
        )
        .await
    }

    async fn fail_revocation(
        &self,
        id: &str,
        error: &str,
        retry_at: OffsetDateTime,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool> {
        metered(
            "fail_revocation",
            self.inner.fail_revocation(id, error, retry_at, now, audit),
        )
        .await
    }

    async fn leases_expiring_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<LeaseRecord>> {
        metered(
            "leases_expiring_between",
            self.inner.leases_expiring_between(from, to, limit),
        )
        .await
    }

    async fn count_live_leases(
        &self,
        tenant_id: &str,
        engine: Option<&str>,
        role: Option<&str>,
    ) -> Result<u64> {
        metered(
            "count_live_leases",
            self.inner.count_live_leases(tenant_id, engine, role),
        )
        .await
    }
}

// --- ACME: pass-through (no secret versions involved) ------------------------------------

#[async_trait]
impl<S: AcmeStore> AcmeStore for CachedStore<S> {
    async fn insert_acme_account(
        &self,
        account: &AcmeAccountRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        metered(
            "insert_acme_account",
            self.inner.insert_acme_account(account, audit),
        )
        .await
    }

    async fn get_acme_account(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<AcmeAccountRecord>> {
        metered(
            "get_acme_account",
            self.inner.get_acme_account(tenant_id, id),
        )
        .await
    }

    async fn list_acme_accounts(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<AcmeAccountRecord>> {
        metered(
            "list_acme_accounts",
            self.inner.list_acme_accounts(tenant_id, after, limit),
        )
        .await
    }

    async fn set_acme_account_status(
        &self,
        tenant_id: &str,
        id: &str,
        status: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        metered(
            "set_acme_account_status",
            self.inner
                .set_acme_account_status(tenant_id, id, status, now, audit),
        )
        .await
    }

    async fn insert_dns_provider(
        &self,
        provider: &DnsProviderRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        metered(
            "insert_dns_provider",
            self.inner.insert_dns_provider(provider, audit),
        )
        .await
    }

    async fn get_dns_provider(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<DnsProviderRecord>> {
        metered(
            "get_dns_provider",
            self.inner.get_dns_provider(tenant_id, id),
        )
        .await
    }

    async fn list_dns_providers(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<DnsProviderRecord>> {
        metered(
            "list_dns_providers",
            self.inner.list_dns_providers(tenant_id, after, limit),
        )
        .await
    }

    async fn delete_dns_provider(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        metered(
            "delete_dns_provider",
            self.inner.delete_dns_provider(tenant_id, id, audit),
        )
        .await
    }

    async fn insert_acme_order(
        &self,
        order: &AcmeOrderRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()> {
        metered(
            "insert_acme_order",
            self.inner.insert_acme_order(order, audit),
        )
        .await
    }

    async fn get_acme_order(&self, tenant_id: &str, id: &str) -> Result<Option<AcmeOrderRecord>> {
        metered("get_acme_order", self.inner.get_acme_order(tenant_id, id)).await
    }

    async fn list_acme_orders(
        &self,
        tenant_id: &str,
        status: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<AcmeOrderRecord>> {
        metered(
            "list_acme_orders",
            self.inner.list_acme_orders(tenant_id, status, after, limit),
        )
        .await
    }

    async fn claim_due_order(
        &self,
        node: &str,
        now: OffsetDateTime,
        claim_until: OffsetDateTime,
    ) -> Result<Option<AcmeOrderRecord>> {
        metered(
            "claim_due_order",
            self.inner.claim_due_order(node, now, claim_until),
        )
        .await
    }

    async fn update_order(
        &self,
        tenant_id: &str,
        id: &str,
        node: &str,
        update: &OrderUpdate,
        audit: Option<&AuditEvent>,
    ) -> Result<AcmeOrderRecord> {
        metered(
            "update_order",
            self.inner.update_order(tenant_id, id, node, update, audit),
        )
        .await
    }

    async fn renewal_order_of(
        &self,
        tenant_id: &str,
        certificate_id: &str,
    ) -> Result<Option<AcmeOrderRecord>> {
        metered(
            "renewal_order_of",
            self.inner.renewal_order_of(tenant_id, certificate_id),
        )
        .await
    }

    async fn put_http01_token(&self, token: &Http01Token) -> Result<()> {
        metered("put_http01_token", self.inner.put_http01_token(token)).await
    }

    async fn http01_key_authorization(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>> {
        metered(
            "http01_key_authorization",
            self.inner.http01_key_authorization(token, now),
        )
        .await
    }

    async fn delete_http01_token(&self, token: &str, now: OffsetDateTime) -> Result<()> {
        metered(
            "delete_http01_token",
            self.inner.delete_http01_token(token, now),
        )
        .await
    }
}
