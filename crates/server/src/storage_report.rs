//! `scaivault operator storage`: what uses the space (rows and bytes per table, the audit
//! archive), the retention settings, bytes per audit entry measured, and how many days the
//! free space lasts at the last 24 hours' rate.

use std::io::Write;
use std::path::PathBuf;

use scaivault_store::archive::{Archive, read_header};
use serde_json::json;

use crate::StartupError;
use crate::bootstrap::OpenedStore;
use crate::config::{Config, Storage};
use crate::disk::human;

/// Entries and bytes of the archive: (segments, entries, bytes).
fn archive_stats(archive: &Archive) -> Result<(u64, u64, u64), StartupError> {
    let mut stats = (0, 0, 0);
    let chains = match std::fs::read_dir(archive.dir()) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(stats),
        Err(e) => {
            return Err(StartupError::Io(format!(
                "{}: {e}",
                archive.dir().display()
            )));
        }
    };
    for chain in chains.flatten() {
        let Ok(files) = std::fs::read_dir(chain.path()) else {
            continue;
        };
        for file in files.flatten() {
            if !file.file_name().to_string_lossy().ends_with(".jsonl.zst") {
                continue;
            }
            stats.0 += 1;
            stats.2 += file.metadata().map(|m| m.len()).unwrap_or(0);
            if let Ok(header) = read_header(&file.path()) {
                stats.1 += header.count;
            }
        }
    }
    Ok(stats)
}

fn per(bytes: u64, entries: u64) -> Option<u64> {
    (entries > 0).then(|| bytes / entries)
}

/// `scaivault operator storage`.
pub async fn report(config_file: Option<PathBuf>, as_json: bool) -> Result<(), StartupError> {
    let config = Config::load(config_file.as_deref())?;
    let data_dir = config.required_data_dir()?;
    let store = OpenedStore::open(&config, &data_dir).await?;
    // An operator command has no server state: it reads the real clock through the Clock.
    let now = scaivault_core::Clock::now(&scaivault_core::SystemClock);
    let usage = store
        .as_store()
        .storage_usage(now - time::Duration::days(1))
        .await
        .map_err(|e| StartupError::Store(e.to_string()));
    store.close().await;
    let usage = usage?;

    let archive = Archive::new(config.audit_archive_dir(&data_dir));
    let (segments, archived_entries, archive_bytes) = archive_stats(&archive)?;
    let space = crate::disk::space(&data_dir).map_err(|e| StartupError::Io(e.to_string()))?;
    let table = |name: &str| {
        let t = usage.tables.iter().find(|t| t.name == name);
        t.map_or((0, 0), |t| (t.rows, t.bytes))
    };
    // An entry's bytes include its share of the callers it refers to.
    let (audit_rows, log_bytes) = table("audit_log");
    let audit_bytes = log_bytes + table("audit_callers").1;
    let db_per_entry = per(audit_bytes, audit_rows);
    let archive_per_entry = per(archive_bytes, archived_entries);
    let per_day = usage.audit_entries_since;
    // Growth at the last day's rate: the database grows until the retention window is full
    // (then it stays flat), the archive always grows.
    let retention = config.audit_retention()?;
    let db_growth = per_day * db_per_entry.unwrap_or(0);
    let archive_growth = match retention {
        Some(_) => per_day * archive_per_entry.unwrap_or(db_per_entry.unwrap_or(0) / 8),
        None => 0,
    };
    let db_bounded = retention.map(|r| db_growth * r.as_secs().div_ceil(86_400));
    let growth = archive_growth
        + match db_bounded {
            Some(bound) if audit_bytes >= bound => 0,
            _ => db_growth,
        };
    let days_left = (growth > 0).then(|| space.free / growth);
    let storage = match config.storage {
        Storage::Sqlite => "sqlite",
        Storage::Postgres => "postgres",
    };

    if as_json {
        let doc = json!({
            "storage": storage,
            "database_bytes": usage.database_bytes,
            "tables": usage.tables.iter().map(|t| json!({"name": t.name, "rows": t.rows, "bytes": t.bytes})).collect::<Vec<_>>(),
            "archive": {"dir": archive.dir().display().to_string(), "segments": segments,
                        "entries": archived_entries, "bytes": archive_bytes},
            "audit_retention": config.audit_retention,
            "event_replay_window": config.event_replay_window,
            "dead_letter_retention": config.dead_letter_retention,
            "audit_bytes_per_entry": db_per_entry,
            "archive_bytes_per_entry": archive_per_entry,
            "audit_entries_last_24h": per_day,
            "free_bytes": space.free,
            "total_bytes": space.total,
            "growth_bytes_per_day": growth,
            "database_bound_bytes": db_bounded,
            "days_until_full": days_left,
        });
        let _ = writeln!(std::io::stdout().lock(), "{doc:#}");
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "Database ({storage}): {}    free on its disk: {} of {} (min_free_disk {})",
        human(usage.database_bytes),
        human(space.free),
        human(space.total),
        config.min_free_disk
    );
    let _ = writeln!(
        out,
        "Audit archive: {} in {segments} segments, {archived_entries} entries ({})",
        human(archive_bytes),
        archive.dir().display()
    );
    let _ = writeln!(
        out,
        "Retention: audit_retention {}, event_replay_window {}, dead_letter_retention {}",
        config.audit_retention, config.event_replay_window, config.dead_letter_retention
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "{:<24} {:>12} {:>12}", "TABLE", "ROWS", "SIZE");
    let mut tables = usage.tables.clone();
    tables.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(&b.name)));
    for t in &tables {
        let _ = writeln!(out, "{:<24} {:>12} {:>12}", t.name, t.rows, human(t.bytes));
    }
    let _ = writeln!(out);
    let bytes = |v: Option<u64>| v.map_or("-".to_owned(), |b| format!("{b} bytes"));
    let _ = writeln!(
        out,
        "Audit: {} per entry in the database (table + indexes), {} per entry archived; {per_day} entries in the last 24 h",
        bytes(db_per_entry),
        bytes(archive_per_entry)
    );
    match (db_bounded, days_left) {
        (_, None) => {
            let _ = writeln!(out, "Growth: none measured in the last 24 h");
        }
        (bound, Some(days)) => {
            let bound = bound
                .map(|b| {
                    format!(
                        " (the database levels off near {} with the retention window)",
                        human(b)
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "Growth at that rate: {}/day{bound}; the free space lasts ~{days} days",
                human(growth)
            );
        }
    }
    Ok(())
}
