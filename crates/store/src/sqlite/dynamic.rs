//! Dynamic credentials' tables in SQLite (the statements are in [`crate::sql::dynamic`]).
//! Every change runs on the single writer connection, so a capped insert's count and insert
//! need no lock.

use sqlx::SqliteConnection;
use time::OffsetDateTime;

use super::SqliteStore;
use crate::audit::AuditEvent;
use crate::dynamic::*;
use crate::model::Page;
use crate::shared_impls::dynamic_store;
use crate::sql::dynamic::*;
use crate::sql::{micros, page_of, records, to_i64, to_u64, unique};
use crate::{Entity, Result, StoreError};

crate::sql::dynamic::shared_bindings!(SqliteConnection);

/// Nothing to lock: the writer pool has one connection, so no other transaction writes
/// between the cap's count and the insert.
async fn lock_lease_caps(_conn: &mut SqliteConnection, _tenant_id: &str) -> Result<()> {
    Ok(())
}

dynamic_store!(SqliteStore);
