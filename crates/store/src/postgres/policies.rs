//! Path policies and their bindings in PostgreSQL: what the dialects do differently. The statements,
//! and the code that binds them alike for both stores, are in [`crate::sql::policies`].

use sqlx::{AssertSqlSafe, PgPool};

use crate::Result;
use crate::model::*;
use crate::sql::policies::*;
use crate::sql::{micros, page_of, records, unique};

crate::sql::policies::shared_bindings!(sqlx::PgConnection, sqlx::PgPool);

/// Every policy bound to any of `identities` (an identity and its groups), in id order.
pub(super) async fn bound_to(
    pool: &PgPool,
    tenant_id: &str,
    identities: &[String],
) -> Result<Vec<PolicyRecord>> {
    if identities.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("{BOUND_TO_START}= ANY($2){BOUND_TO_END}");
    let rows: Vec<PolicyRow> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(tenant_id)
        .bind(identities)
        .fetch_all(pool)
        .await?;
    records(rows)
}
