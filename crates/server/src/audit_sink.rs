//! Streaming the audit trail to a SIEM: JSON lines appended to a file (rotated by size) and/or
//! RFC 5424 syslog messages over UDP.
//!
//! Delivery is at least once and never on the request path: a background task reads entries
//! committed after its cursor (kept in the store's `system` table), writes and fsyncs them, and
//! only then advances the cursor. A crash between the two repeats some lines; none is lost. A
//! slow or failing sink delays the stream, never a request.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::state::AppState;

pub(crate) const CURSOR_KEY: &str = "audit_sink_cursor";
const BATCH: u32 = 1_000;
const IDLE_POLL: Duration = Duration::from_millis(500);
const RETRY_AFTER: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub file: Option<PathBuf>,
    /// Rotate when the file would grow past this many bytes.
    pub file_max_bytes: u64,
    /// Rotated files kept (`audit.log.1` ... `audit.log.N`).
    pub file_keep: u32,
    /// `host:port` of a syslog receiver (UDP).
    pub syslog: Option<String>,
}

impl SinkConfig {
    pub fn enabled(&self) -> bool {
        self.file.is_some() || self.syslog.is_some()
    }
}

pub fn spawn(state: AppState, config: SinkConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if !crate::jobs::leading(&state, "audit-sink", RETRY_AFTER).await {
                tokio::time::sleep(RETRY_AFTER).await;
                continue;
            }
            match deliver_once(&state, &config).await {
                Ok(0) => tokio::time::sleep(IDLE_POLL).await,
                Ok(_) => {}
                Err(e) => {
                    metrics::counter!("scaivault_audit_sink_failures_total").increment(1);
                    tracing::warn!(error = %e, "audit sink delivery failed; will retry");
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
    })
}

/// Delivers the next batch; returns how many entries went out.
pub async fn deliver_once(state: &AppState, config: &SinkConfig) -> Result<usize, String> {
    let cursor = state
        .store
        .get_system(CURSOR_KEY)
        .await
        .map_err(|e| e.to_string())?
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let entries = state
        .store
        .audit_since(cursor, BATCH)
        .await
        .map_err(|e| e.to_string())?;
    let Some(last) = entries.last().map(|e| e.seq) else {
        return Ok(0);
    };
    let successes: Vec<bool> = entries
        .iter()
        .map(|e| e.event.outcome == "success")
        .collect();
    let mut lines = entries
        .into_iter()
        .map(|e| {
            serde_json::to_string(&crate::engine::audit::entry_dto(e)).map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(file) = config.file.clone() {
        let (max, keep) = (config.file_max_bytes, config.file_keep);
        // The blocking task borrows nothing: the lines go there and come back.
        lines = tokio::task::spawn_blocking(move || {
            append_lines(&file, &lines, max, keep).map(|()| lines)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("audit file: {e}"))?;
    }
    if let Some(addr) = &config.syslog {
        send_syslog(addr, &lines, &successes, state.clock.now())
            .await
            .map_err(|e| format!("syslog {addr}: {e}"))?;
    }
    state
        .store
        .set_system(CURSOR_KEY, &last.to_string())
        .await
        .map_err(|e| e.to_string())?;
    Ok(lines.len())
}

/// Appends the lines, starting a new file (after rotating) whenever the current one would grow
/// past `max_bytes`; every file written to is fsync'd before this returns.
fn append_lines(file: &Path, lines: &[String], max_bytes: u64, keep: u32) -> std::io::Result<()> {
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(file)
    };
    let mut size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let mut out = open()?;
    let mut buf = Vec::new();
    for line in lines {
        let len = line.len() as u64 + 1;
        if size > 0 && size + len > max_bytes {
            out.write_all(&buf)?;
            out.sync_data()?;
            buf.clear();
            rotate(file, keep)?;
            out = open()?;
            size = 0;
        }
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        size += len;
    }
    out.write_all(&buf)?;
    out.sync_data()
}

/// `audit.log` -> `audit.log.1` -> ... -> `audit.log.{keep}` (the oldest is dropped).
fn rotate(file: &Path, keep: u32) -> std::io::Result<()> {
    let numbered = |n: u32| {
        let mut name = file.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    };
    if keep == 0 {
        return std::fs::remove_file(file);
    }
    let _ = std::fs::remove_file(numbered(keep));
    for n in (1..keep).rev() {
        let from = numbered(n);
        if from.exists() {
            std::fs::rename(&from, numbered(n + 1))?;
        }
    }
    std::fs::rename(file, numbered(1))
}

/// One RFC 5424 message per entry: facility auth (4), severity notice (5) or warning (4) for
/// denials and errors; the JSON line is the message, stamped `now` (the server's Clock).
async fn send_syslog(
    addr: &str,
    lines: &[String],
    successes: &[bool],
    now: time::OffsetDateTime,
) -> std::io::Result<()> {
    let socket = tokio::net::UdpSocket::bind("0.0.0.0:0").await?;
    socket.connect(addr).await?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty() && !h.contains(' '))
        .unwrap_or_else(|| "-".to_owned());
    let now = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    for (line, success) in lines.iter().zip(successes) {
        let severity = if *success { 5 } else { 4 };
        let pri = 4 * 8 + severity;
        let message = format!("<{pri}>1 {now} {host} scaivault - audit - {line}");
        socket.send(message.as_bytes()).await?;
    }
    Ok(())
}

/// Checkpoints the chains and archives entries past the retention, every checkpoint interval.
pub fn spawn_maintenance(
    state: AppState,
    checkpoint_every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(checkpoint_every);
        tick.tick().await;
        loop {
            tick.tick().await;
            if !crate::jobs::leading(&state, "audit-maintenance", checkpoint_every).await {
                continue;
            }
            let now = state.clock.now();
            if let Err(e) = state.store.checkpoint_audit(now).await {
                tracing::warn!(error = %e, "audit checkpoint failed");
            }
            // With the test clock, archival runs when the clock is moved (test_clock.rs).
            if state.test_clock.is_none()
                && let Err(e) = crate::retention::run_round(&state).await
            {
                tracing::warn!(error = %e, "audit archival failed; entries stay in the database");
            }
            if state.test_clock.is_none()
                && let Err(e) = crate::retention::prune_outbox(&state).await
            {
                tracing::warn!(error = %e, "outbox pruning failed");
            }
        }
    })
}
