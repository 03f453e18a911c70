//! Partners, tenants, service accounts and synced group membership in PostgreSQL (the statements
//! are in [`crate::sql::identity`]).

use sqlx::{PgConnection, PgPool};

use crate::Result;
use crate::model::*;
use crate::sql::identity::*;
use crate::sql::{TextListRef, micros, page_of, records, unique};

pub(super) async fn insert_partner(conn: &mut PgConnection, p: &PartnerRecord) -> Result<()> {
    sqlx::query(INSERT_PARTNER)
        .bind(&p.id)
        .bind(&p.name)
        .bind(micros(p.created_at))
        .execute(&mut *conn)
        .await
        .map_err(unique)?;
    Ok(())
}

pub(super) async fn get_partner(pool: &PgPool, id: &str) -> Result<Option<PartnerRecord>> {
    let row: Option<PartnerRow> = sqlx::query_as(GET_PARTNER)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(TryInto::try_into).transpose()
}

pub(super) async fn list_partners(
    pool: &PgPool,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<PartnerRecord>> {
    let rows: Vec<PartnerRow> = sqlx::query_as(LIST_PARTNERS)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await?;
    Ok(page_of(records(rows)?, limit, None))
}

/// `Duplicate` when the id or the slug is taken.
pub(super) async fn insert_tenant(conn: &mut PgConnection, t: &TenantRecord) -> Result<()> {
    sqlx::query(INSERT_TENANT)
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
    let row: Option<TenantRow> = sqlx::query_as(GET_TENANT)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(TryInto::try_into).transpose()
}

pub(super) async fn list_tenants(
    pool: &PgPool,
    partner_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<TenantRecord>> {
    let rows: Vec<TenantRow> = sqlx::query_as(LIST_TENANTS)
        .bind(partner_id)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await?;
    Ok(page_of(records(rows)?, limit, None))
}

pub(super) async fn insert_service_account(
    conn: &mut PgConnection,
    sa: &ServiceAccountRecord,
) -> Result<()> {
    sqlx::query(INSERT_SERVICE_ACCOUNT)
        .bind(&sa.id)
        .bind(&sa.tenant_id)
        .bind(&sa.name)
        .bind(&sa.description)
        .bind(TextListRef(&sa.roles))
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
    let row: Option<ServiceAccountRow> = sqlx::query_as(GET_SERVICE_ACCOUNT)
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(TryInto::try_into).transpose()
}

pub(super) async fn list_service_accounts(
    pool: &PgPool,
    tenant_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<ServiceAccountRecord>> {
    let rows: Vec<ServiceAccountRow> = sqlx::query_as(LIST_SERVICE_ACCOUNTS)
        .bind(tenant_id)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit) + 1)
        .fetch_all(pool)
        .await?;
    Ok(page_of(records(rows)?, limit, None))
}

/// Deletes the account and revokes every credential it holds; false when absent.
pub(super) async fn delete_service_account(
    conn: &mut PgConnection,
    tenant_id: &str,
    id: &str,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query(DELETE_SERVICE_ACCOUNT)
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(REVOKE_IDENTITY_TOKENS)
        .bind(tenant_id)
        .bind(format!("service_account:{id}"))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

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

pub(super) async fn groups_of(
    pool: &PgPool,
    tenant_id: &str,
    identity_id: &str,
) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(GROUPS_OF)
        .bind(tenant_id)
        .bind(identity_id)
        .fetch_all(pool)
        .await?)
}
