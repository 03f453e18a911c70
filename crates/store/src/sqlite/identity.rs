//! Partners, tenants, service accounts and synced group membership in SQLite (the statements
//! are in [`crate::sql::identity`]).

use sqlx::SqliteConnection;

use crate::Result;
use crate::model::*;
use crate::sql::identity::*;
use crate::sql::{TextListRef, micros, page_of, records, unique};

crate::sql::identity::shared_bindings!(sqlx::SqliteConnection, sqlx::SqlitePool);

/// Replaces the membership. SQLite has one writer, so the delete and the inserts cannot
/// interleave with another sync; one INSERT per group (SQLite has no array parameter).
pub(super) async fn set_groups(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    identity_id: &str,
    groups: &[String],
) -> Result<()> {
    sqlx::query(DELETE_GROUPS)
        .bind(tenant_id)
        .bind(identity_id)
        .execute(&mut *conn)
        .await?;
    for group in groups {
        sqlx::query(
            "INSERT OR IGNORE INTO identity_groups (tenant_id, identity_id, group_id)
             VALUES ($1, $2, $3)",
        )
        .bind(tenant_id)
        .bind(identity_id)
        .bind(group)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
