//! Partners, tenants (and registration), service accounts and synced group membership.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::Result;
use crate::audit::*;
use crate::model::*;

#[async_trait]
pub trait IdentityStore: Send + Sync {
    async fn insert_partner(
        &self,
        partner: &PartnerRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;

    async fn get_partner(&self, id: &str) -> Result<Option<PartnerRecord>>;

    async fn list_partners(&self, after: Option<&str>, limit: u32) -> Result<Page<PartnerRecord>>;

    /// `Duplicate` when the id is taken, or the slug within the tenant's partner.
    async fn insert_tenant(&self, tenant: &TenantRecord, audit: Option<&AuditEvent>) -> Result<()>;

    async fn get_tenant(&self, id: &str) -> Result<Option<TenantRecord>>;

    /// Registration: a new partner (when one is registered), its tenant and the first admin's
    /// token, with their audit entries, in one transaction: all of it or nothing. `Duplicate`
    /// when the partner id, the tenant id or slug, or the token is taken.
    async fn register_tenant(
        &self,
        partner: Option<&PartnerRecord>,
        tenant: &TenantRecord,
        admin_token: &TokenRecord,
        audit: &[AuditEvent],
    ) -> Result<()>;

    async fn list_tenants(
        &self,
        partner_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<TenantRecord>>;

    async fn insert_service_account(
        &self,
        account: &ServiceAccountRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;

    async fn get_service_account(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<ServiceAccountRecord>>;

    async fn list_service_accounts(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<ServiceAccountRecord>>;

    /// Deletes the account and revokes all its keys; false when there is no such account.
    async fn delete_service_account(
        &self,
        tenant_id: &str,
        id: &str,
        now: OffsetDateTime,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    /// Replaces an identity's synced group membership.
    async fn set_identity_groups(
        &self,
        tenant_id: &str,
        identity_id: &str,
        groups: &[String],
        audit: Option<&AuditEvent>,
    ) -> Result<()>;

    async fn identity_groups(&self, tenant_id: &str, identity_id: &str) -> Result<Vec<String>>;
}
