//! Path policies and their bindings in SQLite: what the dialects do differently. The statements,
//! and the code that binds them alike for both stores, are in [`crate::sql::policies`].

use sqlx::{AssertSqlSafe, SqlitePool};

use crate::Result;
use crate::model::*;
use crate::sql::policies::*;
use crate::sql::{micros, page_of, records, unique};

crate::sql::policies::shared_bindings!(sqlx::SqliteConnection, sqlx::SqlitePool);

/// Every policy bound to any of `identities` (an identity and its groups), in id order.
/// SQLite has no array parameter: one `$N` per identity.
pub(super) async fn bound_to(
    pool: &SqlitePool,
    tenant_id: &str,
    identities: &[String],
) -> Result<Vec<PolicyRecord>> {
    if identities.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (2..identities.len() + 2).map(|n| format!("${n}")).collect();
    let sql = format!(
        "{BOUND_TO_START}IN ({}){BOUND_TO_END}",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as::<_, PolicyRow>(AssertSqlSafe(sql)).bind(tenant_id);
    for identity in identities {
        query = query.bind(identity);
    }
    records(query.fetch_all(pool).await?)
}
