//! Path policies and their bindings in SQLite (the statements are in [`crate::sql::policies`]).

use sqlx::{AssertSqlSafe, SqliteConnection, SqlitePool};

use crate::Result;
use crate::model::*;
use crate::sql::policies::*;
use crate::sql::{micros, page_of, records, unique};

/// `Duplicate` when the tenant already has a policy with this id or name.
pub(super) async fn insert(conn: &mut SqliteConnection, p: &PolicyRecord) -> Result<()> {
    sqlx::query(INSERT)
        .bind(&p.id)
        .bind(&p.tenant_id)
        .bind(&p.name)
        .bind(&p.description)
        .bind(&p.rules)
        .bind(micros(p.created_at))
        .bind(micros(p.updated_at))
        .execute(&mut *conn)
        .await
        .map_err(unique)?;
    Ok(())
}

/// Replaces name, description and rules; false when there is no such policy.
pub(super) async fn update(conn: &mut SqliteConnection, p: &PolicyRecord) -> Result<bool> {
    let done = sqlx::query(UPDATE)
        .bind(&p.tenant_id)
        .bind(&p.id)
        .bind(&p.name)
        .bind(&p.description)
        .bind(&p.rules)
        .bind(micros(p.updated_at))
        .execute(&mut *conn)
        .await
        .map_err(unique)?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn get(
    pool: &SqlitePool,
    tenant_id: &str,
    id: &str,
) -> Result<Option<PolicyRecord>> {
    let row: Option<PolicyRow> = sqlx::query_as(GET)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(TryInto::try_into).transpose()
}

pub(super) async fn list(
    pool: &SqlitePool,
    tenant_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<PolicyRecord>> {
    let rows: Vec<PolicyRow> = sqlx::query_as(LIST)
        .bind(tenant_id)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await?;
    Ok(page_of(records(rows)?, limit, None))
}

/// Deletes the policy and its bindings; false when there is no such policy.
pub(super) async fn delete(conn: &mut SqliteConnection, tenant_id: &str, id: &str) -> Result<bool> {
    let done = sqlx::query(DELETE)
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(DELETE_BINDINGS)
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Binds; `Duplicate` when already bound.
pub(super) async fn bind(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    b: &PolicyBinding,
) -> Result<()> {
    sqlx::query(BIND)
        .bind(tenant_id)
        .bind(&b.policy_id)
        .bind(&b.identity_id)
        .bind(&b.identity_type)
        .bind(micros(b.created_at))
        .execute(&mut *conn)
        .await
        .map_err(unique)?;
    Ok(())
}

pub(super) async fn unbind(
    conn: &mut SqliteConnection,
    tenant_id: &str,
    policy_id: &str,
    identity_id: &str,
) -> Result<bool> {
    let done = sqlx::query(UNBIND)
        .bind(tenant_id)
        .bind(policy_id)
        .bind(identity_id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn bindings(
    pool: &SqlitePool,
    tenant_id: &str,
    policy_id: &str,
) -> Result<Vec<PolicyBinding>> {
    let rows: Vec<BindingRow> = sqlx::query_as(BINDINGS)
        .bind(tenant_id)
        .bind(policy_id)
        .fetch_all(pool)
        .await?;
    records(rows)
}

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
