//! Records of rotation: value-generation policies (`sp_`), rotation policies (`rot_`), the
//! schedule of each secret a rotation policy is attached to, and the history of rotation runs.
//! Plain data: the server validates before anything gets here.

use time::OffsetDateTime;

use crate::audit::AuditEvent;
use crate::{Result, StoreError};

/// A value-generation policy. `fields` is the JSON array `[{name, generator, config}]`,
/// validated by the server (scaivault-generate) before storing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretPolicyRecord {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub description: Option<String>,
    pub secret_type: String,
    pub fields: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A rotation policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationPolicyRecord {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub description: Option<String>,
    pub interval_secs: u64,
    pub grace_secs: u64,
    /// Seconds before the due time at which `rotation.due` warnings go out, largest first.
    pub warn_before_secs: Vec<u64>,
    /// Generate the new value with the secret's secret policy (else wait for one).
    pub auto_generate: bool,
    /// Optional cron-style window (`minute hour day-of-month month day-of-week`, UTC).
    pub window: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Where a secret's rotation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleState {
    /// Waiting for `next_rotation_at`.
    Scheduled,
    /// Due, no generator: waiting for a `new_value` through the rotate endpoint.
    AwaitingValue,
    /// The last attempt failed; the next one is at `next_rotation_at`.
    Retrying,
}

impl ScheduleState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::AwaitingValue => "awaiting_value",
            Self::Retrying => "retrying",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "scheduled" => Some(Self::Scheduled),
            "awaiting_value" => Some(Self::AwaitingValue),
            "retrying" => Some(Self::Retrying),
            _ => None,
        }
    }
}

/// The schedule of one secret (one row per secret with a rotation policy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleRecord {
    pub tenant_id: String,
    pub path: String,
    pub policy_id: String,
    pub state: ScheduleState,
    pub next_rotation_at: OffsetDateTime,
    /// When the next `rotation.due` warning goes out (`None`: no more for this cycle).
    pub next_warning_at: Option<OffsetDateTime>,
    /// Consecutive failed attempts (0 after a success).
    pub attempts: u32,
    pub last_rotated_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub updated_at: OffsetDateTime,
}

/// What caused a rotation run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunTrigger {
    /// The scheduler, at the due time.
    Schedule,
    /// `POST /v1/rotation/policies/{id}/trigger`.
    Trigger,
    /// `POST /v1/secrets/{path}/rotate`.
    Manual,
}

impl RunTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::Trigger => "trigger",
            Self::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "schedule" => Some(Self::Schedule),
            "trigger" => Some(Self::Trigger),
            "manual" => Some(Self::Manual),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// Started; the new version may or may not be written yet (recovery checks the secret).
    Running,
    /// Due without a generator: waiting for a value through the rotate endpoint.
    AwaitingValue,
    Succeeded,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::AwaitingValue => "awaiting_value",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(Self::Running),
            "awaiting_value" => Some(Self::AwaitingValue),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One rotation run (the history `rotation history` lists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRecord {
    /// Order of the history (assigned by the store on insert; 0 before).
    pub seq: u64,
    /// `rrun_...`
    pub id: String,
    pub tenant_id: String,
    pub policy_id: Option<String>,
    pub path: String,
    pub trigger: RunTrigger,
    pub status: RunStatus,
    /// 1 for the first attempt of a cycle, 2 for its first retry, ...
    pub attempt: u32,
    pub old_version: Option<u64>,
    pub new_version: Option<u64>,
    /// Why it failed (no secret values, ever).
    pub error: Option<String>,
    pub started_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}

/// What happens to a secret's schedule in a rotation step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScheduleChange {
    Keep,
    /// Insert or replace the row of (`tenant_id`, `path`).
    Upsert(ScheduleRecord),
    /// Remove the row of (tenant, path), if any.
    Delete {
        tenant_id: String,
        path: String,
    },
}

/// One step of rotation bookkeeping, committed in ONE transaction: the run (inserted when its
/// id is new, else replaced), the schedule change, the step's audit entry, and its events
/// (`rotation.due`, `rotation.succeeded`, `rotation.failed`: given explicitly, because their
/// data says more than an audit entry holds; `event_for` derives none for `rotation`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationStep {
    pub run: Option<RunRecord>,
    pub schedule: ScheduleChange,
    pub audit: Option<AuditEvent>,
    pub events: Vec<crate::events::NewEvent>,
}

/// `list_rotation_runs` filters; newest first, `before_seq` is the cursor (exclusive).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunQuery {
    pub policy_id: Option<String>,
    pub path: Option<String>,
    pub status: Option<RunStatus>,
    pub before_seq: Option<u64>,
    pub limit: u32,
}

/// `list_rotation_schedules` filters, ordered by (`next_rotation_at`, `path`); `after` is the
/// cursor (exclusive).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScheduleQuery {
    pub policy_id: Option<String>,
    /// Only schedules with `next_rotation_at <= due_before`.
    pub due_before: Option<OffsetDateTime>,
    pub after: Option<(OffsetDateTime, String)>,
    pub limit: u32,
}

// --- storage helpers shared by both stores ---------------------------------------------------

/// `warn_before_secs` as stored: a JSON array of numbers.
pub(crate) fn encode_warn_before(secs: &[u64]) -> Result<String> {
    serde_json::to_string(secs).map_err(|_| StoreError::Corrupt("warn_before_secs".into()))
}

pub(crate) fn decode_warn_before(stored: &str) -> Result<Vec<u64>> {
    serde_json::from_str(stored).map_err(|_| StoreError::Corrupt("warn_before_secs".into()))
}

/// A duration in seconds for a BIGINT column (the server validates ranges; this only refuses
/// what the column cannot hold instead of storing something else).
pub(crate) fn secs_to_db(secs: u64) -> Result<i64> {
    i64::try_from(secs).map_err(|_| StoreError::Invalid("duration out of range"))
}

pub(crate) fn u32_from_db(v: i64, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} out of range")))
}

pub(crate) fn state_from_db(s: &str) -> Result<ScheduleState> {
    ScheduleState::parse(s).ok_or_else(|| StoreError::Corrupt(format!("schedule state {s:?}")))
}

pub(crate) fn trigger_from_db(s: &str) -> Result<RunTrigger> {
    RunTrigger::parse(s).ok_or_else(|| StoreError::Corrupt(format!("run trigger {s:?}")))
}

pub(crate) fn status_from_db(s: &str) -> Result<RunStatus> {
    RunStatus::parse(s).ok_or_else(|| StoreError::Corrupt(format!("run status {s:?}")))
}

impl RunStatus {
    /// Statuses of runs still in progress (`rotation_runs_open` indexes exactly these).
    pub(crate) fn is_open(self) -> bool {
        matches!(self, Self::Running | Self::AwaitingValue)
    }
}

impl ScheduleChange {
    /// The (tenant, path) whose schedule this changes, if any.
    pub(crate) fn target(&self) -> Option<(&str, &str)> {
        match self {
            Self::Keep => None,
            Self::Upsert(s) => Some((&s.tenant_id, &s.path)),
            Self::Delete { tenant_id, path } => Some((tenant_id, path)),
        }
    }
}
