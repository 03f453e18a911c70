//! Partners, tenants, service accounts and synced group membership: the statements both stores
//! run and the rows they read.

use super::{TextList, from_micros};
use crate::model::{PartnerRecord, ServiceAccountRecord, TenantRecord};
use crate::{Result, StoreError};

pub(crate) const INSERT_PARTNER: &str =
    "INSERT INTO partners (id, name, created_at) VALUES ($1, $2, $3)";
pub(crate) const GET_PARTNER: &str = "SELECT id, name, created_at FROM partners WHERE id = $1";
pub(crate) const LIST_PARTNERS: &str =
    "SELECT id, name, created_at FROM partners WHERE id > $1 ORDER BY id LIMIT $2";

pub(crate) const INSERT_TENANT: &str =
    "INSERT INTO tenants (id, partner_id, slug, name, created_at) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const GET_TENANT: &str =
    "SELECT id, partner_id, slug, name, created_at FROM tenants WHERE id = $1";
pub(crate) const LIST_TENANTS: &str = "SELECT id, partner_id, slug, name, created_at FROM tenants
     WHERE partner_id = $1 AND id > $2 ORDER BY id LIMIT $3";

pub(crate) const INSERT_SERVICE_ACCOUNT: &str =
    "INSERT INTO service_accounts (id, tenant_id, name, description, roles, created_at)
     VALUES ($1, $2, $3, $4, $5, $6)";
pub(crate) const GET_SERVICE_ACCOUNT: &str =
    "SELECT id, tenant_id, name, description, roles, created_at FROM service_accounts
     WHERE tenant_id = $1 AND id = $2";
pub(crate) const LIST_SERVICE_ACCOUNTS: &str =
    "SELECT id, tenant_id, name, description, roles, created_at FROM service_accounts
     WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3";
pub(crate) const DELETE_SERVICE_ACCOUNT: &str =
    "DELETE FROM service_accounts WHERE tenant_id = $1 AND id = $2";
/// Revokes every credential of an identity (`$2`, e.g. `service_account:{id}`) at `$3`.
pub(crate) const REVOKE_IDENTITY_TOKENS: &str = "UPDATE tokens SET revoked_at = $3
     WHERE tenant_id = $1 AND identity_id = $2 AND revoked_at IS NULL";

pub(crate) const DELETE_GROUPS: &str =
    "DELETE FROM identity_groups WHERE tenant_id = $1 AND identity_id = $2";
pub(crate) const GROUPS_OF: &str =
    "SELECT group_id FROM identity_groups WHERE tenant_id = $1 AND identity_id = $2
     ORDER BY group_id";

#[derive(sqlx::FromRow)]
pub(crate) struct PartnerRow {
    id: String,
    name: String,
    created_at: i64,
}

impl TryFrom<PartnerRow> for PartnerRecord {
    type Error = StoreError;

    fn try_from(row: PartnerRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            name: row.name,
            created_at: from_micros(row.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TenantRow {
    id: String,
    partner_id: String,
    slug: String,
    name: String,
    created_at: i64,
}

impl TryFrom<TenantRow> for TenantRecord {
    type Error = StoreError;

    fn try_from(row: TenantRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            partner_id: row.partner_id,
            slug: row.slug,
            name: row.name,
            created_at: from_micros(row.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ServiceAccountRow {
    id: String,
    tenant_id: String,
    name: String,
    description: Option<String>,
    roles: TextList,
    created_at: i64,
}

impl TryFrom<ServiceAccountRow> for ServiceAccountRecord {
    type Error = StoreError;

    fn try_from(row: ServiceAccountRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            tenant_id: row.tenant_id,
            name: row.name,
            description: row.description,
            roles: row.roles.0,
            created_at: from_micros(row.created_at)?,
        })
    }
}

/// The bindings of these statements that both stores run alike, for a backend's connection and
/// pool types (expanded in `sqlite/identity.rs` and `postgres/identity.rs`, whose imports the paths
/// inside resolve to).
macro_rules! shared_bindings {
    ($conn:ty, $pool:ty) => {
        pub(super) async fn insert_partner(conn: &mut $conn, p: &PartnerRecord) -> Result<()> {
            sqlx::query(INSERT_PARTNER)
                .bind(&p.id)
                .bind(&p.name)
                .bind(micros(p.created_at))
                .execute(&mut *conn)
                .await
                .map_err(unique)?;
            Ok(())
        }

        pub(super) async fn get_partner(pool: &$pool, id: &str) -> Result<Option<PartnerRecord>> {
            let row: Option<PartnerRow> = sqlx::query_as(GET_PARTNER)
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.map(TryInto::try_into).transpose()
        }

        pub(super) async fn list_partners(
            pool: &$pool,
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
        pub(super) async fn insert_tenant(conn: &mut $conn, t: &TenantRecord) -> Result<()> {
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
            conn: &mut $conn,
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

        pub(super) async fn get_tenant(pool: &$pool, id: &str) -> Result<Option<TenantRecord>> {
            let row: Option<TenantRow> = sqlx::query_as(GET_TENANT)
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.map(TryInto::try_into).transpose()
        }

        pub(super) async fn list_tenants(
            pool: &$pool,
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
            conn: &mut $conn,
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
            pool: &$pool,
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
            pool: &$pool,
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
            conn: &mut $conn,
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

        pub(super) async fn groups_of(
            pool: &$pool,
            tenant_id: &str,
            identity_id: &str,
        ) -> Result<Vec<String>> {
            Ok(sqlx::query_scalar(GROUPS_OF)
                .bind(tenant_id)
                .bind(identity_id)
                .fetch_all(pool)
                .await?)
        }
    };
}
pub(crate) use shared_bindings;
