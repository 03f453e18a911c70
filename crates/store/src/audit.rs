//! The audit trail's records and its tamper evidence, independent of any database.
//!
//! Entries form one chain per target tenant (`chain` = the tenant id, `""` for requests that
//! target no tenant). Each entry carries the hash of the previous entry of its chain, and its own
//! hash is a MAC (HMAC-SHA256 under a key derived from the server's keyring, supplied as a
//! [`ChainMac`]) over a canonical encoding of every field plus that previous hash. Someone who
//! can edit the database but does not hold the key cannot re-forge the chain after editing,
//! deleting or reordering a row, and [`crate::verify_audit_chain`] names the first broken link.
//!
//! Tail truncation (deleting the newest rows) is caught by MAC'd checkpoints of each chain's head
//! written periodically; retention pruning leaves a MAC'd anchor (the last pruned entry's
//! sequence number and hash) from which verification resumes.

use std::sync::Arc;

use time::OffsetDateTime;

/// MAC over the canonical bytes of an entry, checkpoint or anchor. Supplied by the server.
pub type ChainMac = Arc<dyn Fn(&[u8]) -> [u8; 32] + Send + Sync>;

/// The all-zero hash that precedes the first entry of a chain.
pub const GENESIS: [u8; 32] = [0; 32];

/// What the server records about one request. Never a secret value or a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// `aud_...`
    pub id: String,
    pub occurred_at: OffsetDateTime,
    pub request_id: String,
    /// e.g. `user:alice@acme.example`; `anonymous` when the caller could not be authenticated.
    pub actor_id: String,
    pub actor_type: String,
    pub actor_tenant_id: Option<String>,
    /// The tenant whose resource was targeted; names the chain.
    pub target_tenant_id: Option<String>,
    pub partner_id: Option<String>,
    /// The credential used (`tok_...`, `key_...`): an id, never the token itself.
    pub credential_id: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub resource_path: Option<String>,
    pub version: Option<u64>,
    /// `success`, `denied` or `error`.
    pub outcome: String,
    pub error_code: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl AuditEvent {
    /// The chain this event belongs to.
    pub fn chain(&self) -> &str {
        self.target_tenant_id.as_deref().unwrap_or("")
    }
}

impl AuditEvent {
    /// The event as the stores keep it: an empty optional text (never a real id, address or
    /// user agent) is recorded as absent, and the target tenant is the chain. The MAC is computed
    /// over this form, so what is read back verifies.
    pub(crate) fn stored_form(&self) -> AuditEvent {
        fn some(v: &Option<String>) -> Option<String> {
            v.clone().filter(|s| !s.is_empty())
        }
        AuditEvent {
            actor_tenant_id: some(&self.actor_tenant_id),
            target_tenant_id: some(&self.target_tenant_id),
            partner_id: some(&self.partner_id),
            credential_id: some(&self.credential_id),
            client_ip: some(&self.client_ip),
            user_agent: some(&self.user_agent),
            ..self.clone()
        }
    }

    /// Who called, as a row of `audit_callers` (`""` for absent). Repeated by every request of
    /// a client, so the stores keep it once and entries refer to it by number.
    pub(crate) fn caller_key(&self) -> CallerKey {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        CallerKey {
            actor_id: self.actor_id.clone(),
            credential_id: text(&self.credential_id),
            actor_type: self.actor_type.clone(),
            actor_tenant_id: text(&self.actor_tenant_id),
            partner_id: text(&self.partner_id),
            client_ip: text(&self.client_ip),
            user_agent: text(&self.user_agent),
        }
    }
}

/// One row of `audit_callers`: the columns of its UNIQUE key, `""` standing for absent.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct CallerKey {
    pub actor_id: String,
    pub credential_id: String,
    pub actor_type: String,
    pub actor_tenant_id: String,
    pub partner_id: String,
    pub client_ip: String,
    pub user_agent: String,
}

/// `""` (how `audit_callers` stores "none") back to `None`.
pub(crate) fn absent_if_empty(v: String) -> Option<String> {
    (!v.is_empty()).then_some(v)
}

/// The hash an entry follows, as the stores look it up (the chain's previous entry, else the
/// pruning anchor it follows). Nothing found means a chain's first entry (the genesis) or a
/// deleted predecessor, which verification reports as a gap in `chain_seq`.
pub(crate) fn previous_hash(found: Option<Vec<u8>>) -> crate::Result<[u8; 32]> {
    found.map_or(Ok(GENESIS), |bytes| hash32(bytes, "hash"))
}

/// A stored hash or MAC column, which must be 32 bytes.
pub(crate) fn hash32(bytes: Vec<u8>, what: &str) -> crate::Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| crate::StoreError::Corrupt(format!("audit {what} is not 32 bytes")))
}

/// An entry as both stores keep it (see migrations/*/000[89]_audit_compact.sql): its caller comes from
/// `audit_callers`, its target tenant is its chain, and its previous hash is the hash of the
/// chain's previous entry, or of the pruning anchor it follows, or (first entry) the genesis.
/// Filters and the cursor are appended to this (`l` = the entry, `c` = its caller).
pub(crate) const ENTRY_SELECT: &str = "SELECT l.seq, l.entry_id, l.chain, l.chain_seq, \
     l.occurred_at, l.request_id, c.actor_id, c.actor_type, c.actor_tenant_id, c.partner_id, \
     c.credential_id, l.action, l.resource_type, l.resource_path, l.version, l.outcome, \
     l.error_code, c.client_ip, c.user_agent, l.hash, \
     COALESCE((SELECT p.hash FROM audit_log p \
                WHERE p.chain = l.chain AND p.chain_seq = l.chain_seq - 1), \
              (SELECT a.hash FROM audit_anchors a \
                WHERE a.chain = l.chain AND a.chain_seq = l.chain_seq - 1)) AS prev_hash \
     FROM audit_log l JOIN audit_callers c ON c.id = l.caller";

/// The rows an audit summary counts (the filters name caller columns too).
pub(crate) const SUMMARY_FROM: &str = "FROM audit_log l JOIN audit_callers c ON c.id = l.caller";

/// One row of [`ENTRY_SELECT`], decoded the same way from both stores.
#[derive(sqlx::FromRow)]
pub(crate) struct EntryRow {
    seq: i64,
    entry_id: String,
    chain: String,
    chain_seq: i64,
    occurred_at: i64,
    request_id: String,
    actor_id: String,
    actor_type: String,
    actor_tenant_id: String,
    partner_id: String,
    credential_id: String,
    action: String,
    resource_type: String,
    resource_path: Option<String>,
    version: Option<i64>,
    outcome: String,
    error_code: Option<String>,
    client_ip: String,
    user_agent: String,
    hash: Vec<u8>,
    prev_hash: Option<Vec<u8>>,
}

impl EntryRow {
    pub(crate) fn into_entry(self) -> crate::Result<AuditEntry> {
        use crate::sql::{from_micros, to_u64};
        let occurred_at = from_micros(self.occurred_at)?;
        Ok(AuditEntry {
            seq: to_u64(self.seq, "seq")?,
            chain_seq: to_u64(self.chain_seq, "chain_seq")?,
            event: AuditEvent {
                id: self.entry_id,
                occurred_at,
                request_id: self.request_id,
                actor_id: self.actor_id,
                actor_type: self.actor_type,
                actor_tenant_id: absent_if_empty(self.actor_tenant_id),
                target_tenant_id: absent_if_empty(self.chain),
                partner_id: absent_if_empty(self.partner_id),
                credential_id: absent_if_empty(self.credential_id),
                action: self.action,
                resource_type: self.resource_type,
                resource_path: self.resource_path,
                version: self.version.map(|v| to_u64(v, "version")).transpose()?,
                outcome: self.outcome,
                error_code: self.error_code,
                client_ip: absent_if_empty(self.client_ip),
                user_agent: absent_if_empty(self.user_agent),
            },
            prev_hash: previous_hash(self.prev_hash)?,
            hash: hash32(self.hash, "hash")?,
        })
    }
}

/// A stored entry: the event plus its place in the global order and in its chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Global, increasing order of commit (the cursor of queries).
    pub seq: u64,
    /// Position in its chain, from 1, without gaps.
    pub chain_seq: u64,
    pub event: AuditEvent,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// Filters of an audit query. `tenants` is always set by the server from the caller's reach.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Target tenants the caller may see (one for a tenant, all of a partner's for its admins).
    pub tenants: Vec<String>,
    pub action: Option<String>,
    pub actor_id: Option<String>,
    pub resource_type: Option<String>,
    /// Entries whose resource path starts with this.
    pub path_prefix: Option<String>,
    /// Entries for exactly this resource path (the trail of one secret).
    pub path: Option<String>,
    pub outcome: Option<String>,
    pub start: Option<OffsetDateTime>,
    pub end: Option<OffsetDateTime>,
    /// Exclusive upper bound on `seq` (the cursor; results are newest first).
    pub before_seq: Option<u64>,
    pub limit: u32,
}

/// Counts over a window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditSummary {
    pub total: u64,
    pub by_action: Vec<(String, u64)>,
    pub by_outcome: Vec<(String, u64)>,
    pub by_actor: Vec<(String, u64)>,
    pub top_paths: Vec<(String, u64)>,
}

/// A MAC'd record of a chain's head at some moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditCheckpoint {
    pub chain: String,
    pub chain_seq: u64,
    pub hash: [u8; 32],
    pub created_at: OffsetDateTime,
    pub mac: [u8; 32],
}

/// Where a pruned chain resumes: the last pruned entry's position and hash, MAC'd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditAnchor {
    pub chain: String,
    pub chain_seq: u64,
    pub hash: [u8; 32],
    pub mac: [u8; 32],
}

/// Appends `bytes` with a length prefix, so field boundaries are unambiguous.
fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_opt(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put(out, v.as_bytes());
        }
    }
}

/// Microseconds since the Unix epoch: the one time representation of both stores, and what
/// the audit MACs cover.
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

/// The bytes an entry's hash covers: every field, its chain position and the previous hash.
pub fn entry_bytes(chain_seq: u64, event: &AuditEvent, prev_hash: &[u8; 32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"scaivault-audit-entry-v1");
    put(&mut out, event.chain().as_bytes());
    out.extend_from_slice(&chain_seq.to_be_bytes());
    put(&mut out, event.id.as_bytes());
    out.extend_from_slice(&micros(event.occurred_at).to_be_bytes());
    put(&mut out, event.request_id.as_bytes());
    put(&mut out, event.actor_id.as_bytes());
    put(&mut out, event.actor_type.as_bytes());
    put_opt(&mut out, event.actor_tenant_id.as_deref());
    put_opt(&mut out, event.target_tenant_id.as_deref());
    put_opt(&mut out, event.partner_id.as_deref());
    put_opt(&mut out, event.credential_id.as_deref());
    put(&mut out, event.action.as_bytes());
    put(&mut out, event.resource_type.as_bytes());
    put_opt(&mut out, event.resource_path.as_deref());
    match event.version {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
    put(&mut out, event.outcome.as_bytes());
    put_opt(&mut out, event.error_code.as_deref());
    put_opt(&mut out, event.client_ip.as_deref());
    put_opt(&mut out, event.user_agent.as_deref());
    out.extend_from_slice(prev_hash);
    out
}

pub fn checkpoint_bytes(
    chain: &str,
    chain_seq: u64,
    hash: &[u8; 32],
    created_at: OffsetDateTime,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    out.extend_from_slice(b"scaivault-audit-checkpoint-v1");
    put(&mut out, chain.as_bytes());
    out.extend_from_slice(&chain_seq.to_be_bytes());
    out.extend_from_slice(hash);
    out.extend_from_slice(&micros(created_at).to_be_bytes());
    out
}

pub fn anchor_bytes(chain: &str, chain_seq: u64, hash: &[u8; 32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    out.extend_from_slice(b"scaivault-audit-anchor-v1");
    put(&mut out, chain.as_bytes());
    out.extend_from_slice(&chain_seq.to_be_bytes());
    out.extend_from_slice(hash);
    out
}

/// The first problem found in a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainBreak {
    /// The entry's content no longer matches its hash (edited).
    Altered { chain_seq: u64, entry_id: String },
    /// The entry does not follow the one before it (deleted, inserted or reordered rows).
    Unlinked {
        chain_seq: u64,
        entry_id: String,
        expected_chain_seq: u64,
    },
    /// Entries covered by a checkpoint are missing from the end of the chain.
    Truncated { checkpoint_seq: u64, last_seq: u64 },
    /// A checkpoint's recorded hash differs from the entry now at its position.
    CheckpointMismatch { chain_seq: u64 },
    /// A checkpoint or the pruning anchor carries a bad MAC (forged).
    ForgedMarker { what: &'static str, chain_seq: u64 },
    /// An archive segment cannot be read or its header does not describe its entries
    /// (truncated, edited, misplaced); the report names the segment.
    Segment { problem: String },
    /// The archive ends before the database's pruning anchor: segments are missing.
    ArchiveGap {
        archived_through: u64,
        resumes_after: u64,
    },
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Altered {
                chain_seq,
                entry_id,
            } => write!(
                f,
                "entry {entry_id} (#{chain_seq}) was altered: its content does not match its hash"
            ),
            Self::Unlinked {
                chain_seq,
                entry_id,
                expected_chain_seq,
            } => write!(
                f,
                "entry {entry_id} (#{chain_seq}) does not follow the previous entry: expected #{expected_chain_seq} linked to it (rows deleted, inserted or reordered)"
            ),
            Self::Truncated {
                checkpoint_seq,
                last_seq,
            } => write!(
                f,
                "the chain ends at #{last_seq} but a checkpoint covers #{checkpoint_seq}: newest entries were deleted"
            ),
            Self::CheckpointMismatch { chain_seq } => write!(
                f,
                "entry #{chain_seq} differs from the checkpoint taken of it"
            ),
            Self::ForgedMarker { what, chain_seq } => {
                write!(f, "the {what} at #{chain_seq} has an invalid MAC")
            }
            Self::Segment { problem } => write!(f, "archive segment damaged: {problem}"),
            Self::ArchiveGap {
                archived_through,
                resumes_after,
            } => write!(
                f,
                "the archive ends at #{archived_through} but the database resumes after #{resumes_after}: archive segments are missing"
            ),
        }
    }
}

/// Incremental verification of one chain, fed its entries in `chain_seq` order (pages of any
/// size), so a long chain is verified without loading it whole.
pub struct ChainVerifier {
    mac: ChainMac,
    expected_seq: u64,
    prev_hash: [u8; 32],
    checked: u64,
    broken: Option<ChainBreak>,
}

impl std::fmt::Debug for ChainVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainVerifier")
            .field("expected_seq", &self.expected_seq)
            .field("checked", &self.checked)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl ChainVerifier {
    /// Starts at the chain's genesis, or after its pruning anchor.
    pub fn new(chain: &str, anchor: Option<&AuditAnchor>, mac: ChainMac) -> Self {
        let mut verifier = Self {
            mac,
            expected_seq: 1,
            prev_hash: GENESIS,
            checked: 0,
            broken: None,
        };
        if let Some(anchor) = anchor {
            let expected = (verifier.mac)(&anchor_bytes(chain, anchor.chain_seq, &anchor.hash));
            if expected != anchor.mac {
                verifier.broken = Some(ChainBreak::ForgedMarker {
                    what: "pruning anchor",
                    chain_seq: anchor.chain_seq,
                });
            }
            verifier.expected_seq = anchor.chain_seq + 1;
            verifier.prev_hash = anchor.hash;
        }
        verifier
    }

    /// Whether a break was found.
    pub fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    /// Records a break found outside the entries (a damaged archive segment); the first stays.
    pub fn break_with(&mut self, broken: ChainBreak) {
        self.broken.get_or_insert(broken);
    }

    /// The last position checked and its hash.
    pub fn position(&self) -> (u64, [u8; 32]) {
        (self.expected_seq - 1, self.prev_hash)
    }

    /// After walking the archive: the database's pruning anchor must be genuine, reached, and
    /// name the same entry (`hash_at_anchor`: the archived hash at the anchor's position).
    pub fn check_anchor(
        &mut self,
        chain: &str,
        anchor: &AuditAnchor,
        hash_at_anchor: Option<[u8; 32]>,
    ) {
        if self.broken.is_some() {
            return;
        }
        let expected = (self.mac)(&anchor_bytes(chain, anchor.chain_seq, &anchor.hash));
        let (through, _) = self.position();
        if expected != anchor.mac {
            self.broken = Some(ChainBreak::ForgedMarker {
                what: "pruning anchor",
                chain_seq: anchor.chain_seq,
            });
        } else if through < anchor.chain_seq {
            self.broken = Some(ChainBreak::ArchiveGap {
                archived_through: through,
                resumes_after: anchor.chain_seq,
            });
        } else if hash_at_anchor != Some(anchor.hash) {
            self.broken = Some(ChainBreak::CheckpointMismatch {
                chain_seq: anchor.chain_seq,
            });
        }
    }

    /// Checks the next entry; returns false once the chain is broken (the rest is not checked).
    pub fn push(&mut self, entry: &AuditEntry) -> bool {
        if self.broken.is_some() {
            return false;
        }
        if entry.chain_seq != self.expected_seq || entry.prev_hash != self.prev_hash {
            self.broken = Some(ChainBreak::Unlinked {
                chain_seq: entry.chain_seq,
                entry_id: entry.event.id.clone(),
                expected_chain_seq: self.expected_seq,
            });
            return false;
        }
        let hash = (self.mac)(&entry_bytes(
            entry.chain_seq,
            &entry.event,
            &entry.prev_hash,
        ));
        if hash != entry.hash {
            self.broken = Some(ChainBreak::Altered {
                chain_seq: entry.chain_seq,
                entry_id: entry.event.id.clone(),
            });
            return false;
        }
        self.checked += 1;
        self.expected_seq += 1;
        self.prev_hash = hash;
        true
    }

    /// Checks the checkpoints against what was walked and ends the verification.
    /// `hash_at` returns the stored hash of the entry at a chain position, if any.
    pub fn finish(
        mut self,
        chain: &str,
        checkpoints: &[AuditCheckpoint],
        hash_at: impl Fn(u64) -> Option<[u8; 32]>,
    ) -> ChainReport {
        let last_seq = self.expected_seq - 1;
        if self.broken.is_none() {
            for cp in checkpoints {
                let mac = (self.mac)(&checkpoint_bytes(
                    chain,
                    cp.chain_seq,
                    &cp.hash,
                    cp.created_at,
                ));
                if mac != cp.mac {
                    self.broken = Some(ChainBreak::ForgedMarker {
                        what: "checkpoint",
                        chain_seq: cp.chain_seq,
                    });
                    break;
                }
                if cp.chain_seq > last_seq {
                    self.broken = Some(ChainBreak::Truncated {
                        checkpoint_seq: cp.chain_seq,
                        last_seq,
                    });
                    break;
                }
                // Checkpoints older than a pruning anchor refer to pruned entries.
                if let Some(hash) = hash_at(cp.chain_seq)
                    && hash != cp.hash
                {
                    self.broken = Some(ChainBreak::CheckpointMismatch {
                        chain_seq: cp.chain_seq,
                    });
                    break;
                }
            }
        }
        ChainReport {
            chain: chain.to_owned(),
            entries_checked: self.checked,
            last_chain_seq: last_seq,
            broken: self.broken,
            segment: None,
        }
    }
}

/// The outcome of verifying one chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    pub chain: String,
    pub entries_checked: u64,
    pub last_chain_seq: u64,
    pub broken: Option<ChainBreak>,
    /// The archive segment where the break was found (`None`: in the database).
    pub segment: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac() -> ChainMac {
        // A keyed stand-in for HMAC; the real one comes from the crypto crate.
        Arc::new(|bytes: &[u8]| {
            let mut out = [7u8; 32];
            for (i, b) in bytes.iter().enumerate() {
                out[i % 32] = out[i % 32].wrapping_mul(31).wrapping_add(*b);
            }
            out
        })
    }

    fn event(n: u64) -> AuditEvent {
        AuditEvent {
            id: format!("aud_{n}"),
            occurred_at: OffsetDateTime::UNIX_EPOCH,
            request_id: "req".into(),
            actor_id: "user:a".into(),
            actor_type: "user".into(),
            actor_tenant_id: Some("t".into()),
            target_tenant_id: Some("t".into()),
            partner_id: None,
            credential_id: None,
            action: "read".into(),
            resource_type: "secret".into(),
            resource_path: Some(format!("p/{n}")),
            version: Some(n),
            outcome: "success".into(),
            error_code: None,
            client_ip: None,
            user_agent: None,
        }
    }

    fn chain(n: u64) -> Vec<AuditEntry> {
        let mac = mac();
        let mut prev = GENESIS;
        (1..=n)
            .map(|i| {
                let event = event(i);
                let hash = mac(&entry_bytes(i, &event, &prev));
                let entry = AuditEntry {
                    seq: i,
                    chain_seq: i,
                    event,
                    prev_hash: prev,
                    hash,
                };
                prev = hash;
                entry
            })
            .collect()
    }

    fn verify(entries: &[AuditEntry]) -> ChainReport {
        let mut v = ChainVerifier::new("t", None, mac());
        for e in entries {
            if !v.push(e) {
                break;
            }
        }
        v.finish("t", &[], |_| None)
    }

    #[test]
    fn intact_chain_verifies() {
        let report = verify(&chain(5));
        assert_eq!(report.broken, None);
        assert_eq!(report.entries_checked, 5);
    }

    #[test]
    fn edits_deletions_and_reorders_are_named() {
        let mut edited = chain(5);
        edited[2].event.actor_id = "user:mallory".into();
        assert!(matches!(
            verify(&edited).broken,
            Some(ChainBreak::Altered { chain_seq: 3, .. })
        ));

        let mut deleted = chain(5);
        deleted.remove(1);
        assert!(matches!(
            verify(&deleted).broken,
            Some(ChainBreak::Unlinked { chain_seq: 3, .. })
        ));

        let mut reordered = chain(5);
        reordered.swap(1, 3);
        assert!(matches!(
            verify(&reordered).broken,
            Some(ChainBreak::Unlinked { .. })
        ));
    }

    #[test]
    fn truncation_is_caught_by_a_checkpoint() {
        let entries = chain(5);
        let mac = mac();
        let at = OffsetDateTime::UNIX_EPOCH;
        let cp = AuditCheckpoint {
            chain: "t".into(),
            chain_seq: 5,
            hash: entries[4].hash,
            created_at: at,
            mac: mac(&checkpoint_bytes("t", 5, &entries[4].hash, at)),
        };
        let mut v = ChainVerifier::new("t", None, mac.clone());
        for e in &entries[..3] {
            v.push(e);
        }
        let report = v.finish("t", &[cp], |_| None);
        assert_eq!(
            report.broken,
            Some(ChainBreak::Truncated {
                checkpoint_seq: 5,
                last_seq: 3
            })
        );
    }

    #[test]
    fn a_forged_anchor_is_refused() {
        let entries = chain(3);
        let anchor = AuditAnchor {
            chain: "t".into(),
            chain_seq: 1,
            hash: entries[0].hash,
            mac: [0; 32],
        };
        let mut v = ChainVerifier::new("t", Some(&anchor), mac());
        v.push(&entries[1]);
        let report = v.finish("t", &[], |_| None);
        assert!(matches!(
            report.broken,
            Some(ChainBreak::ForgedMarker {
                what: "pruning anchor",
                ..
            })
        ));
    }
}
