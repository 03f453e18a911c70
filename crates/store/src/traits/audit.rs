//! The audit chains: appends, queries, verification data, checkpoints and pruning.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::Result;
use crate::audit::*;
use crate::model::*;

/// Every mutation of the other store traits takes the audit event of the request that makes it and commits it in
/// the same transaction (`None` only for internal housekeeping and tests). Reads, denials and
/// failed mutations are appended on their own with `append_audit`.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Supplies the MAC of the audit chains (derived from the keyring once it is unwrapped).
    /// Until then every audited mutation and append fails.
    fn set_audit_mac(&self, mac: ChainMac);

    /// Appends events durably (group-committed with concurrent writes) before returning.
    async fn append_audit(&self, events: Vec<AuditEvent>) -> Result<()>;

    /// Entries matching the filters, newest first.
    async fn query_audit(&self, query: &AuditQuery) -> Result<Page<AuditEntry>>;

    /// Counts by action, outcome and actor, and the `top` most used paths (cursor ignored).
    async fn audit_summary(&self, query: &AuditQuery, top: u32) -> Result<AuditSummary>;

    /// Entries with `seq > after_seq` in commit order, across tenants (for the SIEM sink).
    async fn audit_since(&self, after_seq: u64, limit: u32) -> Result<Vec<AuditEntry>>;

    /// Every chain that has entries or an anchor.
    async fn audit_chains(&self) -> Result<Vec<String>>;

    /// One chain's entries with `chain_seq > after`, in chain order (raw, for verification).
    async fn audit_chain_page(
        &self,
        chain: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;

    async fn audit_checkpoints(&self, chain: &str) -> Result<Vec<AuditCheckpoint>>;

    async fn audit_anchor(&self, chain: &str) -> Result<Option<AuditAnchor>>;

    /// Checkpoints every chain head that moved since its last checkpoint; returns how many.
    async fn checkpoint_audit(&self, now: OffsetDateTime) -> Result<u64>;

    /// Deletes entries that occurred before `before`, keeping every chain verifiable.
    async fn prune_audit(&self, before: OffsetDateTime) -> Result<u64>;

    /// Deletes one chain's entries up to and including `through` (already archived), moving
    /// its anchor there; in one short transaction. Returns how many rows went.
    async fn prune_audit_chain(&self, chain: &str, through: u64) -> Result<u64>;
}
