//! Path policies and their bindings in PostgreSQL.

use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Row};

use super::{from_micros, micros, page_of, unique};
use crate::Result;
use crate::model::*;

const COLUMNS: &str = "id, tenant_id, name, description, rules, created_at, updated_at";

fn policy_from_row(row: &PgRow) -> Result<PolicyRecord> {
    Ok(PolicyRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        rules: row.try_get("rules")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
    })
}

fn binding_from_row(row: &PgRow) -> Result<PolicyBinding> {
    Ok(PolicyBinding {
        policy_id: row.try_get("policy_id")?,
        identity_id: row.try_get("identity_id")?,
        identity_type: row.try_get("identity_type")?,
        created_at: from_micros(row.try_get("created_at")?)?,
    })
}

/// `Duplicate` when the tenant already has a policy with this id or name.
pub(super) async fn insert(conn: &mut PgConnection, p: &PolicyRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO policies (id, tenant_id, name, description, rules, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
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
pub(super) async fn update(conn: &mut PgConnection, p: &PolicyRecord) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE policies SET name = $3, description = $4, rules = $5, updated_at = $6
         WHERE tenant_id = $1 AND id = $2",
    )
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

pub(super) async fn get(pool: &PgPool, tenant_id: &str, id: &str) -> Result<Option<PolicyRecord>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM policies WHERE tenant_id = $1 AND id = $2"
    )))
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(policy_from_row).transpose()
}

pub(super) async fn list(
    pool: &PgPool,
    tenant_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<PolicyRecord>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM policies WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    )))
    .bind(tenant_id)
    .bind(after.unwrap_or(""))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let items = rows
        .iter()
        .map(policy_from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(page_of(items, limit, None))
}

/// Deletes the policy and its bindings; false when there is no such policy.
pub(super) async fn delete(conn: &mut PgConnection, tenant_id: &str, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM policies WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM policy_bindings WHERE tenant_id = $1 AND policy_id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Binds; `Duplicate` when already bound.
pub(super) async fn bind(
    conn: &mut PgConnection,
    tenant_id: &str,
    b: &PolicyBinding,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO policy_bindings (tenant_id, policy_id, identity_id, identity_type, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
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
    conn: &mut PgConnection,
    tenant_id: &str,
    policy_id: &str,
    identity_id: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "DELETE FROM policy_bindings WHERE tenant_id = $1 AND policy_id = $2 AND identity_id = $3",
    )
    .bind(tenant_id)
    .bind(policy_id)
    .bind(identity_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn bindings(
    pool: &PgPool,
    tenant_id: &str,
    policy_id: &str,
) -> Result<Vec<PolicyBinding>> {
    let rows = sqlx::query(
        "SELECT policy_id, identity_id, identity_type, created_at FROM policy_bindings
         WHERE tenant_id = $1 AND policy_id = $2 ORDER BY identity_id",
    )
    .bind(tenant_id)
    .bind(policy_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(binding_from_row).collect()
}

/// Every policy bound to any of `identities` (an identity and its groups), in id order.
pub(super) async fn bound_to(
    pool: &PgPool,
    tenant_id: &str,
    identities: &[String],
) -> Result<Vec<PolicyRecord>> {
    if identities.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT p.id, p.tenant_id, p.name, p.description, p.rules, p.created_at, p.updated_at
         FROM policies p
         WHERE p.tenant_id = $1
           AND p.id IN (SELECT b.policy_id FROM policy_bindings b
                        WHERE b.tenant_id = p.tenant_id AND b.identity_id = ANY($2))
         ORDER BY p.id",
    )
    .bind(tenant_id)
    .bind(identities)
    .fetch_all(pool)
    .await?;
    rows.iter().map(policy_from_row).collect()
}
