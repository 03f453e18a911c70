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
