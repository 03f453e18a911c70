//! Dynamic credentials' tables in PostgreSQL (the statements are in [`crate::sql::dynamic`]).
//! Several nodes insert leases at once: a capped insert first takes a transaction-scoped
//! advisory lock on its tenant, so the count it then reads (a fresh snapshot under READ
//! COMMITTED) includes every lease an earlier holder inserted, and no other capped insert of
//! the tenant runs between its count and its insert. The compare-and-set UPDATEs take the
//! row's lock, so a concurrent second caller waits and then sees the first one's result.

use sqlx::PgConnection;
use time::OffsetDateTime;

use super::PgStore;
use crate::audit::AuditEvent;
use crate::dynamic::*;
use crate::model::Page;
use crate::shared_impls::dynamic_store;
use crate::sql::dynamic::*;
use crate::sql::{micros, page_of, records, to_i64, to_u64, unique};
use crate::{Entity, Result, StoreError};

crate::sql::dynamic::shared_bindings!(PgConnection);

/// Serialises the capped lease inserts of one tenant across nodes until the transaction ends
/// (the key space is shared with the other `hashtextextended` advisory locks; the prefix keeps
/// the keys apart).
async fn lock_lease_caps(conn: &mut PgConnection, tenant_id: &str) -> Result<()> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('dynamic_leases' || chr(31) || $1, 0))",
    )
    .bind(tenant_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

dynamic_store!(PgStore);
