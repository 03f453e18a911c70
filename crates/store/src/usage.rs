//! What uses the database's space (`scaivault operator storage`): rows and bytes (table plus
//! its indexes) per table of [`crate::copy::TABLES`], the database's size, and the audit
//! entries of a recent period (the growth rate).

use sqlx::{AssertSqlSafe, PgPool, SqlitePool};
use time::OffsetDateTime;

use crate::Result;
use crate::copy::TABLES;

/// One table: rows, and bytes of the table with its indexes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableUsage {
    pub name: String,
    pub rows: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageUsage {
    pub tables: Vec<TableUsage>,
    /// The whole database (SQLite: the main file's pages; PostgreSQL: `pg_database_size`).
    pub database_bytes: u64,
    /// Audit entries that occurred since the `since` asked for.
    pub audit_entries_since: u64,
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) async fn sqlite(pool: &SqlitePool, since: OffsetDateTime) -> Result<StorageUsage> {
    let mut usage = StorageUsage::default();
    // `dbstat` (compiled into the bundled SQLite) gives the bytes of each b-tree.
    for table in TABLES {
        let rows: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {}",
            table.name
        )))
        .fetch_one(pool)
        .await?;
        let bytes: Option<i64> = sqlx::query_scalar(
            "SELECT SUM(pgsize) FROM dbstat WHERE name = ?1
                OR name IN (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1)",
        )
        .bind(table.name)
        .fetch_one(pool)
        .await?;
        usage.tables.push(TableUsage {
            name: table.name.to_owned(),
            rows: u(rows),
            bytes: u(bytes.unwrap_or(0)),
        });
    }
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(pool)
        .await?;
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(pool)
        .await?;
    usage.database_bytes = u(pages.saturating_mul(page_size));
    let recent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE occurred_at >= ?1")
        .bind(crate::audit::micros(since))
        .fetch_one(pool)
        .await?;
    usage.audit_entries_since = u(recent);
    Ok(usage)
}

pub(crate) async fn postgres(pool: &PgPool, since: OffsetDateTime) -> Result<StorageUsage> {
    let mut usage = StorageUsage::default();
    for table in TABLES {
        let rows: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {}",
            table.name
        )))
        .fetch_one(pool)
        .await?;
        let bytes: i64 = sqlx::query_scalar("SELECT pg_total_relation_size($1::regclass)")
            .bind(table.name)
            .fetch_one(pool)
            .await?;
        usage.tables.push(TableUsage {
            name: table.name.to_owned(),
            rows: u(rows),
            bytes: u(bytes),
        });
    }
    let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(pool)
        .await?;
    usage.database_bytes = u(size);
    let recent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE occurred_at >= $1")
        .bind(crate::audit::micros(since))
        .fetch_one(pool)
        .await?;
    usage.audit_entries_since = u(recent);
    Ok(usage)
}
