//! The audit archive: entries older than the retention window leave the database for
//! compressed, append-only segment files, and verification walks archive + database as one chain.
//!
//! Layout: `<dir>/<chain>/<first chain_seq, 12 digits>_<YYYY-MM-DD>.jsonl.zst`, one directory per
//! chain (`_` for the chain of requests that reached no tenant), segments in chain order by
//! name. A segment is a zstd stream of JSON lines: a header line ([`SegmentHeader`]: chain,
//! first/last chain_seq, the `prev_hash` of its first entry and the `hash` of its last), then
//! one [`ArchivedEntry`] per line, in chain order. A segment holds entries of one UTC day (the
//! day of its first entry) and at most [`SEGMENT_MAX_ENTRIES`].
//!
//! Crash safety: a segment is written to a temp file, fsynced, renamed into place and the
//! directory fsynced; only then are its rows pruned (in small transactions). A crash before the
//! rename leaves the rows; after it, the next pass finds the segment covering the chain's next
//! position and finishes its pruning instead of writing an overlapping one. Rewriting a segment
//! (same first position, same name) replaces it whole. So there is never a gap, and never a
//! duplicate.
//!
//! Tamper evidence is the chain's own: every archived entry keeps its MAC'd hash and link, the
//! database's pruning anchor pins where the archive must end, so a missing, altered, reordered
//! or truncated segment breaks the walk ([`verify_chain`]) and is named by its file.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::{AuditEntry, AuditEvent, ChainBreak, ChainMac, ChainReport, ChainVerifier};
use crate::{AuditStore, Result, StoreError};

/// The first line's `format`.
pub const FORMAT: &str = "scaivault-audit-archive-v1";
/// Most entries in one segment (about 5-10 MB uncompressed JSON, ~1 MB compressed).
pub const SEGMENT_MAX_ENTRIES: usize = 20_000;
/// Entries read from the database, and pruned, per transaction: small, so requests never wait
/// long behind the archiver.
pub const BATCH: u32 = 1_000;
/// zstd level: 3 is zstd's default (fast, ~8-10x on audit JSON).
const LEVEL: i32 = 3;

/// The header line of a segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentHeader {
    pub format: String,
    pub chain: String,
    pub first_chain_seq: u64,
    pub last_chain_seq: u64,
    pub count: u64,
    /// Hex: the hash the first entry links to (all zeros at the chain's genesis).
    pub first_prev_hash: String,
    /// Hex: the hash of the last entry, which the next segment's first entry links to.
    pub last_hash: String,
    /// RFC 3339: when the first and last entries occurred.
    pub first_at: String,
    pub last_at: String,
}

/// One archived entry: every field the hash covers, as stored (`occurred_at_us` in
/// microseconds since the epoch, UTC, exactly what the hash covers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedEntry {
    pub seq: u64,
    pub chain_seq: u64,
    pub id: String,
    pub occurred_at_us: i64,
    pub request_id: String,
    pub actor_id: String,
    pub actor_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
    pub action: String,
    pub resource_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex32(s: &str) -> std::result::Result<[u8; 32], String> {
    if s.len() != 64 || !s.is_ascii() {
        return Err(format!("not a 32-byte hex hash: {s:?}"));
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16)
            .map_err(|_| format!("not a 32-byte hex hash: {s:?}"))?;
    }
    Ok(out)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl From<&AuditEntry> for ArchivedEntry {
    fn from(e: &AuditEntry) -> Self {
        let v = &e.event;
        Self {
            seq: e.seq,
            chain_seq: e.chain_seq,
            id: v.id.clone(),
            occurred_at_us: crate::audit::micros(v.occurred_at),
            request_id: v.request_id.clone(),
            actor_id: v.actor_id.clone(),
            actor_type: v.actor_type.clone(),
            actor_tenant_id: v.actor_tenant_id.clone(),
            target_tenant_id: v.target_tenant_id.clone(),
            partner_id: v.partner_id.clone(),
            credential_id: v.credential_id.clone(),
            action: v.action.clone(),
            resource_type: v.resource_type.clone(),
            resource_path: v.resource_path.clone(),
            version: v.version,
            outcome: v.outcome.clone(),
            error_code: v.error_code.clone(),
            client_ip: v.client_ip.clone(),
            user_agent: v.user_agent.clone(),
            prev_hash: hex(&e.prev_hash),
            hash: hex(&e.hash),
        }
    }
}

impl ArchivedEntry {
    pub fn into_entry(self) -> std::result::Result<AuditEntry, String> {
        let occurred_at =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.occurred_at_us) * 1_000)
                .map_err(|e| format!("entry #{}: bad time: {e}", self.chain_seq))?;
        Ok(AuditEntry {
            seq: self.seq,
            chain_seq: self.chain_seq,
            prev_hash: unhex32(&self.prev_hash)?,
            hash: unhex32(&self.hash)?,
            event: AuditEvent {
                id: self.id,
                occurred_at,
                request_id: self.request_id,
                actor_id: self.actor_id,
                actor_type: self.actor_type,
                actor_tenant_id: self.actor_tenant_id,
                target_tenant_id: self.target_tenant_id,
                partner_id: self.partner_id,
                credential_id: self.credential_id,
                action: self.action,
                resource_type: self.resource_type,
                resource_path: self.resource_path,
                version: self.version,
                outcome: self.outcome,
                error_code: self.error_code,
                client_ip: self.client_ip,
                user_agent: self.user_agent,
            },
        })
    }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Archive(format!("{what} {}: {e}", path.display()))
}

/// The archive directory.
#[derive(Clone, Debug)]
pub struct Archive {
    dir: PathBuf,
}

/// A segment file found in a chain's directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentFile {
    pub path: PathBuf,
    /// The first chain position, from the file name.
    pub first_chain_seq: u64,
    pub bytes: u64,
}

impl SegmentFile {
    /// `<chain dir>/<file>`: how reports name a segment.
    pub fn name(&self) -> String {
        let file = self.path.file_name().map(|f| f.to_string_lossy());
        let chain = self
            .path
            .parent()
            .and_then(|p| p.file_name())
            .map(|f| f.to_string_lossy());
        format!("{}/{}", chain.unwrap_or_default(), file.unwrap_or_default())
    }
}

/// What one archival pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchivePass {
    /// Per chain: entries archived and pruned, and the segments written.
    pub chains: Vec<ChainArchived>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainArchived {
    pub chain: String,
    pub entries: u64,
    pub first_chain_seq: u64,
    pub last_chain_seq: u64,
    pub segments: Vec<String>,
}

impl ArchivePass {
    pub fn entries(&self) -> u64 {
        self.chains.iter().map(|c| c.entries).sum()
    }
}

/// The directory name of a chain: tenant ids are `[A-Za-z0-9_-]`; anything else (and the empty
/// chain, `_`) is spelled so it can never escape the archive directory.
pub fn chain_dir_name(chain: &str) -> String {
    if chain.is_empty() {
        return "_".to_owned();
    }
    let plain = chain
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !chain.starts_with('_');
    if plain {
        chain.to_owned()
    } else {
        format!("_x{}", hex(chain.as_bytes()))
    }
}

impl Archive {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn chain_dir(&self, chain: &str) -> PathBuf {
        self.dir.join(chain_dir_name(chain))
    }

    /// A chain's segments in chain order (none when the directory does not exist).
    pub fn segments(&self, chain: &str) -> Result<Vec<SegmentFile>> {
        let dir = self.chain_dir(chain);
        let read = match std::fs::read_dir(&dir) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("cannot list", &dir, e)),
        };
        let mut out = Vec::new();
        for item in read {
            let item = item.map_err(|e| io("cannot list", &dir, e))?;
            let name = item.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".jsonl.zst") else {
                continue; // temp files of an interrupted write, stray files
            };
            let Some(first) = stem.split('_').next().and_then(|s| s.parse::<u64>().ok()) else {
                continue;
            };
            let bytes = item.metadata().map(|m| m.len()).unwrap_or(0);
            out.push(SegmentFile {
                path: item.path(),
                first_chain_seq: first,
                bytes,
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Total size of the archive in bytes and its number of segments.
    pub fn usage(&self) -> Result<(u64, u64)> {
        let read = match std::fs::read_dir(&self.dir) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
            Err(e) => return Err(io("cannot list", &self.dir, e)),
        };
        let (mut bytes, mut files) = (0, 0);
        for chain in read.flatten() {
            if let Ok(inner) = std::fs::read_dir(chain.path()) {
                for f in inner.flatten() {
                    if f.file_name().to_string_lossy().ends_with(".jsonl.zst") {
                        bytes += f.metadata().map(|m| m.len()).unwrap_or(0);
                        files += 1;
                    }
                }
            }
        }
        Ok((bytes, files))
    }

    /// Writes one segment durably: temp file, fsync, rename, directory fsync. Replaces a
    /// segment of the same name (a rerun after a crash before its rows were pruned).
    pub fn write_segment(&self, chain: &str, entries: &[AuditEntry]) -> Result<SegmentFile> {
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Err(StoreError::Archive("an empty segment".into()));
        };
        let dir = self.chain_dir(chain);
        // Owner only, like the database and the SIEM file: entries name identities and IPs.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| io("cannot create", &dir, e))?;
        let day = first.event.occurred_at.date();
        let name = format!("{:012}_{day}.jsonl.zst", first.chain_seq);
        let path = dir.join(&name);
        let tmp = dir.join(format!(".{name}.tmp"));
        let header = SegmentHeader {
            format: FORMAT.to_owned(),
            chain: chain.to_owned(),
            first_chain_seq: first.chain_seq,
            last_chain_seq: last.chain_seq,
            count: entries.len() as u64,
            first_prev_hash: hex(&first.prev_hash),
            last_hash: hex(&last.hash),
            first_at: rfc3339(first.event.occurred_at),
            last_at: rfc3339(last.event.occurred_at),
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io("cannot create", &tmp, e))?;
        let mut encoder =
            zstd::Encoder::new(file, LEVEL).map_err(|e| io("cannot compress", &tmp, e))?;
        write_json(&mut encoder, &header, &tmp)?;
        for entry in entries {
            write_json(&mut encoder, &ArchivedEntry::from(entry), &tmp)?;
        }
        let file = encoder.finish().map_err(|e| io("cannot write", &tmp, e))?;
        file.sync_all().map_err(|e| io("cannot fsync", &tmp, e))?;
        let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        drop(file);
        std::fs::rename(&tmp, &path).map_err(|e| io("cannot rename", &tmp, e))?;
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("cannot fsync", &dir, e))?;
        Ok(SegmentFile {
            path,
            first_chain_seq: first.chain_seq,
            bytes,
        })
    }
}

fn write_json<T: Serialize>(out: &mut impl Write, value: &T, path: &Path) -> Result<()> {
    let mut line = serde_json::to_vec(value).map_err(|e| StoreError::Archive(e.to_string()))?;
    line.push(b'\n');
    out.write_all(&line)
        .map_err(|e| io("cannot write", path, e))
}

/// Reads a segment's header line only (to resume pruning after a crash).
pub fn read_header(path: &Path) -> std::result::Result<SegmentHeader, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let decoder = zstd::Decoder::new(file).map_err(|e| format!("cannot decompress: {e}"))?;
    let mut line = String::new();
    BufReader::new(decoder)
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the header: {e}"))?;
    parse_header(&line)
}

fn parse_header(line: &str) -> std::result::Result<SegmentHeader, String> {
    let header: SegmentHeader =
        serde_json::from_str(line).map_err(|e| format!("bad header line: {e}"))?;
    if header.format != FORMAT {
        return Err(format!("unknown format {:?}", header.format));
    }
    Ok(header)
}

/// Reads a whole segment: its header and entries, or what is wrong with it.
pub fn read_segment(path: &Path) -> std::result::Result<(SegmentHeader, Vec<AuditEntry>), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let decoder = zstd::Decoder::new(file).map_err(|e| format!("cannot decompress: {e}"))?;
    let mut lines = BufReader::new(decoder).lines();
    let header = match lines.next() {
        Some(line) => parse_header(&line.map_err(|e| format!("cannot decompress: {e}"))?)?,
        None => return Err("empty segment".into()),
    };
    let mut entries = Vec::new();
    for (n, line) in lines.enumerate() {
        let line =
            line.map_err(|e| format!("cannot decompress (truncated or damaged file?): {e}"))?;
        let entry: ArchivedEntry =
            serde_json::from_str(&line).map_err(|e| format!("line {}: {e}", n + 2))?;
        entries.push(entry.into_entry()?);
    }
    Ok((header, entries))
}

/// Checks that a segment's header describes its entries.
fn check_header(
    chain: &str,
    header: &SegmentHeader,
    entries: &[AuditEntry],
) -> std::result::Result<(), String> {
    if header.chain != chain {
        return Err(format!("belongs to chain {:?}", header.chain));
    }
    if header.count != entries.len() as u64 {
        return Err(format!(
            "holds {} entries but its header says {} (truncated or edited)",
            entries.len(),
            header.count
        ));
    }
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Err("holds no entries".into());
    };
    if first.chain_seq != header.first_chain_seq
        || last.chain_seq != header.last_chain_seq
        || hex(&first.prev_hash) != header.first_prev_hash
        || hex(&last.hash) != header.last_hash
    {
        return Err(format!(
            "its entries (#{}-#{}) do not match its header (#{}-#{})",
            first.chain_seq, last.chain_seq, header.first_chain_seq, header.last_chain_seq
        ));
    }
    Ok(())
}

/// Moves a chain's entries that occurred before `before` into segments, then prunes them.
/// At most `budget` entries per call (the caller's round stays short); returns what it did.
pub async fn archive_chain(
    store: &dyn AuditStore,
    archive: &Archive,
    chain: &str,
    before: OffsetDateTime,
    budget: u64,
) -> Result<ChainArchived> {
    let mut done = ChainArchived {
        chain: chain.to_owned(),
        ..ChainArchived::default()
    };
    let mut pruned_through = store.audit_anchor(chain).await?.map_or(0, |a| a.chain_seq);
    // A crash after a segment was written but before all its rows were pruned: finish pruning
    // through that segment rather than writing an overlapping one.
    let segments = {
        let archive = archive.clone();
        let chain = chain.to_owned();
        blocking(move || archive.segments(&chain)).await?
    };
    if let Some(seg) = segments
        .iter()
        .rev()
        .find(|s| s.first_chain_seq <= pruned_through + 1)
    {
        let path = seg.path.clone();
        let header = blocking(move || read_header(&path).map_err(StoreError::Archive)).await?;
        if header.last_chain_seq > pruned_through {
            done.first_chain_seq = pruned_through + 1;
            prune_through(store, chain, pruned_through, header.last_chain_seq).await?;
            done.entries += header.last_chain_seq - pruned_through;
            done.last_chain_seq = header.last_chain_seq;
            pruned_through = header.last_chain_seq;
        }
    }
    while done.entries < budget {
        // Collect one segment: entries before the cut, of the first entry's day.
        let mut batch: Vec<AuditEntry> = Vec::new();
        let mut after = pruned_through;
        let mut day = None;
        'collect: loop {
            let page = store.audit_chain_page(chain, after, BATCH).await?;
            let full = page.len() == BATCH as usize;
            for entry in page {
                let d = entry.event.occurred_at.date();
                if entry.event.occurred_at >= before || day.is_some_and(|day| d > day) {
                    break 'collect;
                }
                day.get_or_insert(d);
                after = entry.chain_seq;
                batch.push(entry);
                if batch.len() >= SEGMENT_MAX_ENTRIES {
                    break 'collect;
                }
            }
            if !full {
                break;
            }
        }
        let Some(last) = batch.last().map(|e| e.chain_seq) else {
            break;
        };
        let segment = {
            let archive = archive.clone();
            let chain = chain.to_owned();
            blocking(move || archive.write_segment(&chain, &batch)).await?
        };
        if done.entries == 0 {
            done.first_chain_seq = pruned_through + 1;
        }
        prune_through(store, chain, pruned_through, last).await?;
        done.entries += last - pruned_through;
        done.last_chain_seq = last;
        done.segments.push(segment.name());
        pruned_through = last;
    }
    Ok(done)
}

/// Prunes a chain's rows in small transactions, up to and including `through`.
async fn prune_through(store: &dyn AuditStore, chain: &str, from: u64, through: u64) -> Result<()> {
    let mut at = from;
    while at < through {
        let next = (at + u64::from(BATCH)).min(through);
        store.prune_audit_chain(chain, next).await?;
        at = next;
    }
    Ok(())
}

/// One archival pass over every chain.
pub async fn archive_all(
    store: &dyn AuditStore,
    archive: &Archive,
    before: OffsetDateTime,
    budget: u64,
) -> Result<ArchivePass> {
    let mut pass = ArchivePass::default();
    for chain in store.audit_chains().await? {
        let left = budget.saturating_sub(pass.entries());
        if left == 0 {
            break;
        }
        let done = archive_chain(store, archive, &chain, before, left).await?;
        if done.entries > 0 {
            pass.chains.push(done);
        }
    }
    Ok(pass)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Archive(format!("archive task failed: {e}")))?
}

/// Verifies one chain over its archive segments and the database, as one chain: from the
/// genesis through every segment in order, which must end at (or beyond) the database's pruning
/// anchor, then the rows. Without segments it is [`crate::verify_audit_chain`]. Archival may
/// run meanwhile (another node, the next round): a break found while the anchor moved is
/// checked again once, so a segment written and pruned during the walk is not reported.
pub async fn verify_chain(
    store: &dyn AuditStore,
    archive: Option<&Archive>,
    chain: &str,
    mac: ChainMac,
) -> Result<ChainReport> {
    let anchor = store.audit_anchor(chain).await?;
    let report = verify_chain_once(store, archive, chain, mac.clone(), anchor.clone()).await?;
    if report.broken.is_none() {
        return Ok(report);
    }
    let now = store.audit_anchor(chain).await?;
    if now == anchor {
        return Ok(report);
    }
    verify_chain_once(store, archive, chain, mac, now).await
}

/// One walk, against the anchor read before the segments are listed (so every segment pruned
/// up to that anchor is in the listing).
async fn verify_chain_once(
    store: &dyn AuditStore,
    archive: Option<&Archive>,
    chain: &str,
    mac: ChainMac,
    anchor: Option<crate::audit::AuditAnchor>,
) -> Result<ChainReport> {
    let segments = match archive {
        Some(archive) => {
            let archive = archive.clone();
            let c = chain.to_owned();
            blocking(move || archive.segments(&c)).await?
        }
        None => Vec::new(),
    };
    if archive.is_none() || (segments.is_empty() && anchor.is_none()) {
        return crate::verify_audit_chain(store, chain, mac).await;
    }
    let mut verifier = ChainVerifier::new(chain, None, mac);
    let mut hash_at_anchor = None;
    for seg in &segments {
        let name = seg.name();
        let path = seg.path.clone();
        let c = chain.to_owned();
        let anchor_seq = anchor.as_ref().map(|a| a.chain_seq);
        // Reads and checks the segment off the runtime; the verifier goes along and comes back.
        let (v, found, problem) = tokio::task::spawn_blocking(move || {
            let mut found = None;
            let problem = match read_segment(&path) {
                Err(problem) => Some(problem),
                Ok((header, entries)) => {
                    let mut problem = check_header(&c, &header, &entries).err();
                    for entry in &entries {
                        if Some(entry.chain_seq) == anchor_seq {
                            found = Some(entry.hash);
                        }
                        if !verifier.push(entry) {
                            break;
                        }
                    }
                    // A broken link inside says more than the header mismatch it causes.
                    if verifier.is_broken() {
                        problem = None;
                    }
                    problem
                }
            };
            (verifier, found, problem)
        })
        .await
        .map_err(|e| StoreError::Archive(format!("archive task failed: {e}")))?;
        verifier = v;
        if found.is_some() {
            hash_at_anchor = found;
        }
        if let Some(problem) = problem {
            verifier.break_with(ChainBreak::Segment { problem });
        }
        if verifier.is_broken() {
            let mut report = verifier.finish(chain, &[], |_| None);
            report.segment = Some(name);
            return Ok(report);
        }
    }
    // The archive must reach the database's anchor, and agree with it.
    let (archived_through, _) = verifier.position();
    if let Some(anchor) = &anchor {
        verifier.check_anchor(chain, anchor, hash_at_anchor);
        if verifier.is_broken() {
            let mut report = verifier.finish(chain, &[], |_| None);
            report.segment = segments.last().map(SegmentFile::name);
            return Ok(report);
        }
    }
    // Then the rows, after the archive (rows an interrupted prune left behind that the archive
    // already holds are covered by their archived copies, which the anchor pins).
    let checkpoints: Vec<_> = store
        .audit_checkpoints(chain)
        .await?
        .into_iter()
        .filter(|c| c.chain_seq > archived_through)
        .collect();
    crate::verify_rows_after(store, chain, verifier, archived_through, &checkpoints).await
}
