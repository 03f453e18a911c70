//! Secret policies, rotation policies, schedules and runs.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::Result;
use crate::audit::*;
use crate::model::*;
use crate::rotation::*;

/// Secret policies and rotation policies are per tenant; names are unique per tenant
/// (`Duplicate` on a taken id or name).
#[async_trait]
pub trait RotationStore: Send + Sync {
    async fn insert_secret_policy(
        &self,
        policy: &SecretPolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;

    /// Replaces name, description, secret_type and fields; false when there is no such policy.
    async fn update_secret_policy(
        &self,
        policy: &SecretPolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    async fn get_secret_policy(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<SecretPolicyRecord>>;

    /// Ordered by id; `after` is the cursor (exclusive).
    async fn list_secret_policies(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<SecretPolicyRecord>>;

    async fn delete_secret_policy(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    async fn insert_rotation_policy(
        &self,
        policy: &RotationPolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<()>;

    /// Replaces everything but id, tenant and created_at; false when there is no such policy.
    async fn update_rotation_policy(
        &self,
        policy: &RotationPolicyRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    async fn get_rotation_policy(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<RotationPolicyRecord>>;

    /// Ordered by id; `after` is the cursor (exclusive).
    async fn list_rotation_policies(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<RotationPolicyRecord>>;

    /// Deletes the policy, the schedules that use it, and detaches it from its secrets
    /// (`rotation_policy_id` cleared), in one transaction. False when there is no such policy.
    async fn delete_rotation_policy(
        &self,
        tenant_id: &str,
        id: &str,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    /// Attaches (`Some`) or detaches (`None`) a rotation policy to the live secret at `path`
    /// and applies `schedule`, in one transaction. False when there is no live secret there.
    async fn set_secret_rotation_policy(
        &self,
        tenant_id: &str,
        path: &str,
        policy_id: Option<&str>,
        schedule: &ScheduleChange,
        audit: Option<&AuditEvent>,
    ) -> Result<bool>;

    async fn get_rotation_schedule(
        &self,
        tenant_id: &str,
        path: &str,
    ) -> Result<Option<ScheduleRecord>>;

    async fn list_rotation_schedules(
        &self,
        tenant_id: &str,
        query: &ScheduleQuery,
    ) -> Result<Page<ScheduleRecord>>;

    /// Schedules of every tenant with `next_rotation_at <= now`, not awaiting a value, soonest
    /// first.
    async fn due_rotations(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<ScheduleRecord>>;

    /// Schedules of every tenant with `next_warning_at <= now`, soonest first.
    async fn due_rotation_warnings(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ScheduleRecord>>;

    /// Live secrets whose `rotation_policy_id` has no schedule, or a schedule of another
    /// policy, as (tenant, path, rotation_policy_id): what a crash between a write and its
    /// schedule left behind.
    async fn unscheduled_rotations(&self, limit: u32) -> Result<Vec<(String, String, String)>>;

    /// Commits one step of rotation bookkeeping in one transaction (see [`RotationStep`]);
    /// returns the run's `seq` (0 without a run).
    async fn commit_rotation_step(&self, step: &RotationStep) -> Result<u64>;

    async fn get_rotation_run(&self, tenant_id: &str, id: &str) -> Result<Option<RunRecord>>;

    /// Newest first.
    async fn list_rotation_runs(
        &self,
        tenant_id: &str,
        query: &RunQuery,
    ) -> Result<Page<RunRecord>>;

    /// Runs of every tenant in `status`, oldest first (recovery of interrupted runs, and the
    /// run an awaited value completes).
    async fn open_rotation_runs(&self, status: RunStatus, limit: u32) -> Result<Vec<RunRecord>>;
}
