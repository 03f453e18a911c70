//! Partners, tenants, service accounts and synced group membership in PostgreSQL (the statements
//! are in [`crate::sql::identity`]).

use sqlx::PgConnection;

use crate::Result;
use crate::model::*;
use crate::sql::identity::*;
use crate::sql::{TextListRef, micros, page_of, records, unique};

crate::sql::identity::shared_bindings!(sqlx::PgConnection, sqlx::PgPool);

/// Replaces the membership. Two syncs of one identity (say, on two nodes) would otherwise
/// interleave their delete and insert and leave the union of both lists, so the identity is
/// locked first (a transaction-scoped advisory lock on its key); the groups go in as one array.
pub(super) async fn set_groups(
    conn: &mut PgConnection,
    tenant_id: &str,
    identity_id: &str,
    groups: &[String],
) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 0))")
        .bind(tenant_id)
        .bind(identity_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(DELETE_GROUPS)
        .bind(tenant_id)
        .bind(identity_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO identity_groups (tenant_id, identity_id, group_id)
         SELECT $1, $2, g FROM unnest($3::text[]) AS g
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(identity_id)
    .bind(groups)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
