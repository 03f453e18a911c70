//! Partners, tenants, service accounts and synced group membership in PostgreSQL.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use super::{from_micros, micros, page_of, unique};
use crate::Result;
use crate::model::*;

fn partner_from_row(row: &PgRow) -> Result<PartnerRecord> {
    Ok(PartnerRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: from_micros(row.try_get("created_at")?)?,
    })
}

fn tenant_from_row(row: &PgRow) -> Result<TenantRecord> {
    Ok(TenantRecord {
        id: row.try_get("id")?,
        partner_id: row.try_get("partner_id")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        created_at: from_micros(row.try_get("created_at")?)?,
    })
}

fn service_account_from_row(row: &PgRow) -> Result<ServiceAccountRecord> {
    Ok(ServiceAccountRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        roles: row.try_get("roles")?,
        created_at: from_micros(row.try_get("created_at")?)?,
    })
}

pub(super) async fn insert_partner(conn: &mut PgConnection, p: &PartnerRecord) -> Result<()> {
    sqlx::query("INSERT INTO partners (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&p.id)
        .bind(&p.name)
        .bind(micros(p.created_at))
        .execute(&mut *conn)
        .await
        .map_err(unique)?;
    Ok(())
}

pub(super) async fn get_partner(pool: &PgPool, id: &str) -> Result<Option<PartnerRecord>> {
    let row = sqlx::query("SELECT id, name, created_at FROM partners WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(partner_from_row).transpose()
}

pub(super) async fn list_partners(
    pool: &PgPool,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<PartnerRecord>> {
    let rows =
        sqlx::query("SELECT id, name, created_at FROM partners WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit) + 1)
            .fetch_all(pool)
            .await?;
    let items = rows
        .iter()
        .map(partner_from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(page_of(items, limit, None))
}

/// `Duplicate` when the id or the slug is taken.
pub(super) async fn insert_tenant(conn: &mut PgConnection, t: &TenantRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO tenants (id, partner_id, slug, name, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&t.id)
    .bind(&t.partner_id)
    .bind(&t.slug)
    .bind(&t.name)
    .bind(micros(t.created_at))
    .execute(&mut *conn)
    .await
    .map_err(unique)?;
    Ok(())
}

/// The rows of a registration (see `Store::register_tenant`), in the caller's transaction.
pub(super) async fn register_tenant(
    conn: &mut PgConnection,
    partner: Option<&PartnerRecord>,
    tenant: &TenantRecord,
    admin_token: &TokenRecord,
) -> Result<()> {
    if let Some(partner) = partner {
        insert_partner(conn, partner).await?;
    }
    insert_tenant(conn, tenant).await?;
    super::tokens::insert(conn, admin_token).await
}

pub(super) async fn get_tenant(pool: &PgPool, id: &str) -> Result<Option<TenantRecord>> {
    let row =
        sqlx::query("SELECT id, partner_id, slug, name, created_at FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    row.as_ref().map(tenant_from_row).transpose()
}

pub(super) async fn list_tenants(
    pool: &PgPool,
    partner_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<TenantRecord>> {
    let rows = sqlx::query(
        "SELECT id, partner_id, slug, name, created_at FROM tenants
         WHERE partner_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(partner_id)
    .bind(after.unwrap_or(""))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let items = rows
        .iter()
        .map(tenant_from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(page_of(items, limit, None))
}

pub(super) async fn insert_service_account(
    conn: &mut PgConnection,
    sa: &ServiceAccountRecord,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO service_accounts (id, tenant_id, name, description, roles, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&sa.id)
    .bind(&sa.tenant_id)
    .bind(&sa.name)
    .bind(&sa.description)
    .bind(&sa.roles)
    .bind(micros(sa.created_at))
    .execute(&mut *conn)
    .await
    .map_err(unique)?;
    Ok(())
}

pub(super) async fn get_service_account(
    pool: &PgPool,
    tenant_id: &str,
    id: &str,
) -> Result<Option<ServiceAccountRecord>> {
    let row = sqlx::query(
        "SELECT id, tenant_id, name, description, roles, created_at FROM service_accounts
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(service_account_from_row).transpose()
}

pub(super) async fn list_service_accounts(
    pool: &PgPool,
    tenant_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<ServiceAccountRecord>> {
    let rows = sqlx::query(
        "SELECT id, tenant_id, name, description, roles, created_at FROM service_accounts
         WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(tenant_id)
    .bind(after.unwrap_or(""))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let items = rows
        .iter()
        .map(service_account_from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(page_of(items, limit, None))
}

/// Deletes the account and revokes every credential it holds; false when absent.
pub(super) async fn delete_service_account(
    conn: &mut PgConnection,
    tenant_id: &str,
    id: &str,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM service_accounts WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE tokens SET revoked_at = $3
         WHERE tenant_id = $1 AND identity_id = $2 AND revoked_at IS NULL",
    )
    .bind(tenant_id)
    .bind(format!("service_account:{id}"))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// Replaces the membership. Two syncs of one identity (say, on two nodes) would otherwise
/// interleave their delete and insert and leave the union of both lists, so the identity is
/// locked first (a transaction-scoped advisory lock on its key).
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
    sqlx::query("DELETE FROM identity_groups WHERE tenant_id = $1 AND identity_id = $2")
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

pub(super) async fn groups_of(
    pool: &PgPool,
    tenant_id: &str,
    identity_id: &str,
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT group_id FROM identity_groups WHERE tenant_id = $1 AND identity_id = $2
         ORDER BY group_id",
    )
    .bind(tenant_id)
    .bind(identity_id)
    .fetch_all(pool)
    .await?)
}
