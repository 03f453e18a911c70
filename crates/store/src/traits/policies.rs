//! Path policies and their bindings to identities and groups.

use async_trait::async_trait;

use crate::Result;
use crate::audit::*;
use crate::model::*;

#[async_trait]
pub trait PolicyStore: Send + Sync {
    /// `Duplicate` when the tenant already has a policy with this name.
    async fn insert_policy(&self, policy: &PolicyRecord, audit: Option<&AuditEvent>) -> Result<()>;

    /// Replaces name, description and rules; false when absent.
    async fn update_policy(
        &self,
        policy: &PolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    async fn get_policy(&self, tenant_id: &str, id: &str) -> Result<Option<PolicyRecord>>;

    async fn list_policies(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<PolicyRecord>>;

    /// Deletes the policy and its bindings; false when absent.
    async fn delete_policy(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    /// `Duplicate` when already bound.
    async fn bind_policy(
        &self,
        tenant_id: &str,
        binding: &PolicyBinding,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;

    async fn unbind_policy(
        &self,
        tenant_id: &str,
        policy_id: &str,
        identity_id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    async fn policy_bindings(&self, tenant_id: &str, policy_id: &str)
    -> Result<Vec<PolicyBinding>>;

    /// Every policy bound to any of `identities` (an identity id and its group ids).
    async fn policies_bound_to(
        &self,
        tenant_id: &str,
        identities: &[String],
    ) -> Result<Vec<PolicyRecord>>;
}
