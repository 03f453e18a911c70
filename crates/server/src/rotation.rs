//! Rotation: the scheduler and the one way a secret is rotated.
//!
//! A secret with a rotation policy has a schedule row (next rotation, next warning, attempts).
//! The scheduler, which runs on one node at a time (`jobs::leading`), wakes every round and:
//! 1. settles runs left `running` by a node that died (the new version landed or it did not),
//! 2. sends the `rotation.due` warnings whose time came (`warn_before`),
//! 3. rotates what is due: with a generator (auto_generate + the secret's secret policy) it
//!    writes a new version whose predecessor stays readable for the grace period; without one
//!    it emits `rotation.due` and waits for a `new_value` through the rotate endpoint.
//!
//! Each step commits its run, schedule, audit entry and events in one transaction. A rotation's
//! write is conditional on the version the run started from, so a second node (or a retry
//! after a crash) can never rotate the same cycle twice. Times come from `state.clock`, so
//! tests drive a simulated year in milliseconds (see `test_clock`).

use std::time::Duration;

use scaivault_core::rotation::{Schedule, Window, format_duration, retry_delay};
use scaivault_proto::rotation::RotationRun;
use scaivault_proto::{ErrorCode, Timestamp};
use scaivault_store::{
    Entity, NewEvent, RotationPolicyRecord, RotationStep, RunQuery, RunRecord, RunStatus,
    RunTrigger, ScheduleChange, ScheduleRecord, ScheduleState, SecretRecord, SecretWrite,
    StoreError, WriteMode, WriteOutcome,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::audit::{StepActor, step_event};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The cluster-wide job name of the scheduler.
pub const JOB: &str = "rotation";
/// Schedules handled per round and kind of work.
const BATCH: u32 = 100;
/// A run still `running` this long after it started was interrupted (its node died).
const INTERRUPTED_AFTER: time::Duration = time::Duration::minutes(2);
/// How often the scheduler looks for secrets whose schedule row is missing (a crash between
/// a write that attached a policy and the schedule it implies), in rounds.
const RECONCILE_EVERY_ROUNDS: u64 = 60;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The timing of a stored policy (validated when it was stored).
pub fn schedule_of(policy: &RotationPolicyRecord) -> ApiResult<Schedule> {
    let window = policy
        .window
        .as_deref()
        .map(Window::parse)
        .transpose()
        .map_err(|e| ApiError::internal(format!("stored rotation window: {e}")))?;
    Schedule::new(
        secs(policy.interval_secs),
        secs(policy.grace_secs),
        policy.warn_before_secs.iter().copied().map(secs).collect(),
        window,
    )
    .map_err(|e| ApiError::internal(format!("stored rotation policy: {e}")))
}

/// The schedule of a secret that (re)starts its cycle at `now`.
pub fn fresh_schedule(
    tenant_id: &str,
    path: &str,
    policy: &RotationPolicyRecord,
    timing: &Schedule,
    now: OffsetDateTime,
    last_rotated_at: Option<OffsetDateTime>,
) -> ScheduleRecord {
    let next = timing.next_rotation(now);
    ScheduleRecord {
        tenant_id: tenant_id.to_owned(),
        path: path.to_owned(),
        policy_id: policy.id.clone(),
        state: ScheduleState::Scheduled,
        next_rotation_at: next,
        next_warning_at: timing.next_warning(next, now),
        attempts: 0,
        last_rotated_at,
        last_error: None,
        updated_at: now,
    }
}

pub fn run_dto(r: &RunRecord) -> RotationRun {
    RotationRun {
        id: r.id.clone(),
        policy_id: r.policy_id.clone(),
        path: r.path.clone(),
        trigger: r.trigger.as_str().to_owned(),
        status: r.status.as_str().to_owned(),
        attempt: r.attempt,
        old_version: r.old_version,
        new_version: r.new_version,
        error: r.error.clone(),
        started_at: Timestamp::new(r.started_at),
        finished_at: r.finished_at.map(Timestamp::new),
    }
}

fn new_event(
    tenant_id: &str,
    event_type: &str,
    path: &str,
    now: OffsetDateTime,
    data: Value,
) -> ApiResult<NewEvent> {
    Ok(NewEvent {
        id: scaivault_crypto::random::random_id("evt_")?,
        tenant_id: tenant_id.to_owned(),
        event_type: event_type.to_owned(),
        path: Some(path.to_owned()),
        occurred_at: now,
        data: data.to_string(),
    })
}

/// A step that only changes a schedule (no run, no audit entry, no event).
fn schedule_only(schedule: ScheduleChange) -> RotationStep {
    RotationStep {
        run: None,
        schedule,
        audit: None,
        events: Vec::new(),
    }
}

async fn commit(state: &AppState, step: RotationStep) -> ApiResult<u64> {
    let has_events = !step.events.is_empty();
    let seq = state.store.commit_rotation_step(&step).await?;
    if has_events {
        state.events.committed();
    }
    Ok(seq)
}

/// Generates a value with the secret policy `id` of `tenant_id`: (secret_type, data). Key
/// generation is CPU-heavy, so it runs off the async workers.
pub async fn generate(
    state: &AppState,
    tenant_id: &str,
    id: &str,
) -> Result<(String, Map<String, Value>), GenerationError> {
    let policy = state
        .store
        .get_secret_policy(tenant_id, id)
        .await
        .map_err(|e| GenerationError::Store(e.to_string()))?
        .ok_or_else(|| GenerationError::Policy(format!("secret policy {id} does not exist")))?;
    let fields: Vec<scaivault_generate::FieldSpec> = serde_json::from_str(&policy.fields)
        .map_err(|_| GenerationError::Policy(format!("secret policy {id} is corrupt")))?;
    let now = std::time::SystemTime::from(state.clock.now());
    let data = tokio::task::spawn_blocking(move || {
        scaivault_generate::compile(&fields)
            .and_then(|g| g.generate_at(now))
            .map_err(|e| GenerationError::Policy(e.to_string()))
    })
    .await
    .map_err(|_| GenerationError::Policy("the generator stopped unexpectedly".into()))??;
    Ok((policy.secret_type, data))
}

/// Why no value could be generated; the message is recorded in the run (no values in it).
#[derive(Debug, thiserror::Error)]
pub enum GenerationError {
    #[error("{0}")]
    Policy(String),
    #[error("store: {0}")]
    Store(String),
}

/// What a rotation step did.
#[derive(Debug)]
pub struct Rotated {
    pub run: RunRecord,
    pub write: Option<WriteOutcome>,
}

/// Writes `data` as the new version of a rotation, conditional on `expected` being current;
/// the previous version retires at `retires_at`. The write carries its own audit entry (and
/// with it the `secret.rotated` event).
#[allow(clippy::too_many_arguments)] // one call site per trigger; a struct would only rename them
async fn write_rotation(
    state: &AppState,
    actor: StepActor<'_>,
    tenant_id: &str,
    path: &str,
    data: &Map<String, Value>,
    expected: Option<u64>,
    retires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> ApiResult<WriteOutcome> {
    let plaintext = crate::secrets::serialize_data(data)?;
    let audit = step_event(
        state, actor, tenant_id, "rotate", "secret", path, None, "success", None,
    )?;
    let write = SecretWrite {
        path: path.to_owned(),
        patch: Default::default(),
        expected_version: expected,
        mode: WriteMode::Rotate {
            retire_previous_at: retires_at,
        },
        now,
        audit: Some(audit),
    };
    let seal = crate::secrets::seal_value(state, tenant_id, path, plaintext);
    let outcome = state.store.write_secret(tenant_id, write, seal).await?;
    state.events.committed();
    Ok(outcome)
}

/// Records a successful rotation: the run, the schedule's next cycle, the audit entry and
/// `rotation.succeeded`, in one transaction. `actor` is `None` when the request that rotated
/// already has its own audit entry (the rotate endpoint: one entry per request).
#[allow(clippy::too_many_arguments)]
async fn record_success(
    state: &AppState,
    actor: Option<StepActor<'_>>,
    mut run: RunRecord,
    policy: Option<(&RotationPolicyRecord, &Schedule)>,
    new_version: u64,
    retires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> ApiResult<RunRecord> {
    metrics::counter!("scaivault_rotation_runs_total", "result" => "succeeded").increment(1);
    run.status = RunStatus::Succeeded;
    run.new_version = Some(new_version);
    run.error = None;
    run.finished_at = Some(now);
    let schedule = match policy {
        Some((policy, timing)) => ScheduleChange::Upsert(fresh_schedule(
            &run.tenant_id,
            &run.path,
            policy,
            timing,
            now,
            Some(now),
        )),
        None => ScheduleChange::Keep,
    };
    let next_rotation = match &schedule {
        ScheduleChange::Upsert(s) => Some(Timestamp::new(s.next_rotation_at)),
        _ => None,
    };
    let audit = actor
        .map(|actor| {
            step_event(
                state,
                actor,
                &run.tenant_id,
                "succeeded",
                "rotation",
                &run.path,
                Some(new_version),
                "success",
                None,
            )
        })
        .transpose()?;
    let event = new_event(
        &run.tenant_id,
        "rotation.succeeded",
        &run.path,
        now,
        json!({
            "run_id": run.id,
            "policy_id": run.policy_id,
            "trigger": run.trigger.as_str(),
            "old_version": run.old_version,
            "new_version": new_version,
            "previous_version_retires_at": Timestamp::new(retires_at),
            "next_rotation": next_rotation,
        }),
    )?;
    run.seq = commit(
        state,
        RotationStep {
            run: Some(run.clone()),
            schedule,
            audit,
            events: vec![event],
        },
    )
    .await?;
    Ok(run)
}

/// Records a failed attempt: the run, the retry time (backing off), the audit entry and
/// `rotation.failed`.
async fn record_failure(
    state: &AppState,
    actor: StepActor<'_>,
    mut run: RunRecord,
    schedule: Option<ScheduleRecord>,
    error: String,
    now: OffsetDateTime,
) -> ApiResult<RunRecord> {
    metrics::counter!("scaivault_rotation_runs_total", "result" => "failed").increment(1);
    run.status = RunStatus::Failed;
    run.error = Some(error.clone());
    run.finished_at = Some(now);
    let change = match schedule {
        Some(mut s) => {
            s.attempts = s.attempts.saturating_add(1);
            s.state = ScheduleState::Retrying;
            s.next_rotation_at = now + retry_delay(s.attempts);
            s.last_error = Some(error.clone());
            s.updated_at = now;
            ScheduleChange::Upsert(s)
        }
        None => ScheduleChange::Keep,
    };
    let retry_at = match &change {
        ScheduleChange::Upsert(s) => Some(Timestamp::new(s.next_rotation_at)),
        _ => None,
    };
    let audit = step_event(
        state,
        actor,
        &run.tenant_id,
        "failed",
        "rotation",
        &run.path,
        run.old_version,
        "error",
        Some("rotation_failed"),
    )?;
    let event = new_event(
        &run.tenant_id,
        "rotation.failed",
        &run.path,
        now,
        json!({
            "run_id": run.id,
            "policy_id": run.policy_id,
            "trigger": run.trigger.as_str(),
            "attempt": run.attempt,
            "error": error,
            "retry_at": retry_at,
        }),
    )?;
    run.seq = commit(
        state,
        RotationStep {
            run: Some(run.clone()),
            schedule: change,
            audit: Some(audit),
            events: vec![event],
        },
    )
    .await?;
    tracing::warn!(path = %run.path, run = %run.id, attempt = run.attempt, "rotation failed");
    Ok(run)
}

fn new_run(
    tenant_id: &str,
    path: &str,
    policy_id: Option<&str>,
    trigger: RunTrigger,
    attempt: u32,
    old_version: u64,
    now: OffsetDateTime,
) -> ApiResult<RunRecord> {
    Ok(RunRecord {
        seq: 0,
        id: scaivault_crypto::random::random_id("rrun_")?,
        tenant_id: tenant_id.to_owned(),
        policy_id: policy_id.map(str::to_owned),
        path: path.to_owned(),
        trigger,
        status: RunStatus::Running,
        attempt,
        old_version: Some(old_version),
        new_version: None,
        error: None,
        started_at: now,
        finished_at: None,
    })
}

/// Rotates the secret at `path` under its rotation policy now (the scheduler, or a trigger).
/// Returns `None` when there was nothing to rotate (the secret or policy is gone: the schedule
/// is dropped; the secret is soft-deleted: the cycle is skipped).
pub async fn rotate_under_policy(
    state: &AppState,
    actor: StepActor<'_>,
    tenant_id: &str,
    path: &str,
    trigger: RunTrigger,
) -> ApiResult<Option<RunRecord>> {
    let now = state.clock.now();
    let schedule = state.store.get_rotation_schedule(tenant_id, path).await?;
    let secret = match state.store.get_secret(tenant_id, path).await {
        Ok(s) => Some(s),
        Err(StoreError::NotFound(Entity::Secret)) => None,
        Err(e) => return Err(e.into()),
    };
    let policy_id = secret
        .as_ref()
        .and_then(|s| s.rotation_policy_id.clone())
        .or_else(|| schedule.as_ref().map(|s| s.policy_id.clone()));
    let policy = match &policy_id {
        Some(id) => state.store.get_rotation_policy(tenant_id, id).await?,
        None => None,
    };
    let drop_schedule = || {
        schedule_only(ScheduleChange::Delete {
            tenant_id: tenant_id.to_owned(),
            path: path.to_owned(),
        })
    };
    let (Some(secret), Some(policy)) = (secret, policy) else {
        if schedule.is_some() {
            commit(state, drop_schedule()).await?;
        }
        return Ok(None);
    };
    if secret.rotation_policy_id.as_deref() != Some(policy.id.as_str()) {
        commit(state, drop_schedule()).await?;
        return Ok(None);
    }
    let timing = schedule_of(&policy)?;
    if secret.deleted_at.is_some() {
        // Nothing to rotate while it is in the bin; look again one interval later.
        let skipped = fresh_schedule(
            tenant_id,
            path,
            &policy,
            &timing,
            now,
            schedule.as_ref().and_then(|s| s.last_rotated_at),
        );
        commit(state, schedule_only(ScheduleChange::Upsert(skipped))).await?;
        return Ok(None);
    }
    let schedule =
        schedule.unwrap_or_else(|| fresh_schedule(tenant_id, path, &policy, &timing, now, None));
    let attempt = schedule.attempts.saturating_add(1);
    let mut run = new_run(
        tenant_id,
        path,
        Some(&policy.id),
        trigger,
        attempt,
        secret.current_version,
        now,
    )?;

    let generator = secret
        .secret_policy_id
        .as_deref()
        .filter(|_| policy.auto_generate);
    let Some(generator) = generator else {
        if schedule.state == ScheduleState::AwaitingValue
            && let Some(waiting) = awaiting_run(state, tenant_id, path).await?
        {
            // Already announced and waiting for its value: nothing new to say.
            return Ok(Some(waiting));
        }
        return await_value(state, actor, run, schedule, &timing, now)
            .await
            .map(Some);
    };

    // The run is on record before the write, so a crash in between is settled on restart.
    run.seq = commit(
        state,
        RotationStep {
            run: Some(run.clone()),
            schedule: ScheduleChange::Keep,
            audit: None,
            events: Vec::new(),
        },
    )
    .await?;
    let data = match generate(state, tenant_id, generator).await {
        Ok((_, data)) => data,
        Err(e) => {
            return record_failure(state, actor, run, Some(schedule), e.to_string(), now)
                .await
                .map(Some);
        }
    };
    let retires_at = timing.retires_at(now);
    let written = write_rotation(
        state,
        actor,
        tenant_id,
        path,
        &data,
        Some(secret.current_version),
        retires_at,
        now,
    )
    .await;
    match written {
        Ok(outcome) => {
            let version = outcome.version;
            let run = record_success(
                state,
                Some(actor),
                run,
                Some((&policy, &timing)),
                version,
                retires_at,
                now,
            )
            .await?;
            tracing::info!(path = %path, version, run = %run.id, "secret rotated by policy");
            Ok(Some(run))
        }
        Err(e) if e.code == ErrorCode::VersionConflict => record_failure(
            state,
            actor,
            run,
            Some(schedule),
            "the secret changed while it was being rotated; retrying".into(),
            now,
        )
        .await
        .map(Some),
        Err(e) => {
            // The write did not happen (it is one transaction); say why without internals.
            let message = match e.code {
                ErrorCode::InternalError
                | ErrorCode::ServiceUnavailable
                | ErrorCode::StorageUnavailable => "the new version could not be stored".to_owned(),
                _ => e.message.clone(),
            };
            record_failure(state, actor, run, Some(schedule), message, now)
                .await
                .map(Some)
        }
    }
}

/// A due rotation without a generator: `rotation.due` goes out and the schedule waits for a
/// value through `POST /v1/secrets/{path}/rotate`.
async fn await_value(
    state: &AppState,
    actor: StepActor<'_>,
    mut run: RunRecord,
    mut schedule: ScheduleRecord,
    timing: &Schedule,
    now: OffsetDateTime,
) -> ApiResult<RunRecord> {
    run.status = RunStatus::AwaitingValue;
    schedule.state = ScheduleState::AwaitingValue;
    schedule.next_warning_at = None;
    schedule.updated_at = now;
    let audit = step_event(
        state,
        actor,
        &run.tenant_id,
        "due",
        "rotation",
        &run.path,
        run.old_version,
        "success",
        None,
    )?;
    let event = new_event(
        &run.tenant_id,
        "rotation.due",
        &run.path,
        now,
        json!({
            "run_id": run.id,
            "policy_id": run.policy_id,
            "due_at": Timestamp::new(schedule.next_rotation_at),
            "awaiting_value": true,
            "current_version": run.old_version,
            "grace_period": format_duration(timing.grace),
        }),
    )?;
    run.seq = commit(
        state,
        RotationStep {
            run: Some(run.clone()),
            schedule: ScheduleChange::Upsert(schedule),
            audit: Some(audit),
            events: vec![event],
        },
    )
    .await?;
    Ok(run)
}

/// `POST /v1/secrets/{path}/rotate`: the value is supplied, or generated when the secret has a
/// secret policy (and its rotation policy, if any, has `auto_generate`). The write carries the
/// request's own audit entry; the run, the schedule's next cycle and `rotation.succeeded` follow.
pub struct ManualRotation<'a> {
    pub secret: &'a SecretRecord,
    pub new_value: Option<Map<String, Value>>,
    pub grace: Option<Duration>,
}

/// The value and grace of a manual rotation, and the policy it runs under (if any).
pub async fn prepare_manual(
    state: &AppState,
    tenant_id: &str,
    m: ManualRotation<'_>,
) -> ApiResult<(
    Map<String, Value>,
    Duration,
    Option<(RotationPolicyRecord, Schedule)>,
)> {
    let policy = match &m.secret.rotation_policy_id {
        Some(id) => state.store.get_rotation_policy(tenant_id, id).await?,
        None => None,
    };
    let policy = match policy {
        Some(p) => {
            let timing = schedule_of(&p)?;
            Some((p, timing))
        }
        None => None,
    };
    let grace = m
        .grace
        .or_else(|| policy.as_ref().map(|(_, t)| t.grace))
        .unwrap_or(Duration::ZERO);
    let value = match m.new_value {
        Some(v) => v,
        None => {
            let auto = policy.as_ref().is_none_or(|(p, _)| p.auto_generate);
            let Some(generator) = m.secret.secret_policy_id.as_deref().filter(|_| auto) else {
                return Err(ApiError::validation(
                    "new_value is required: this secret has no value generator (attach a secret \
                     policy with options.secret_policy_id)",
                ));
            };
            generate(state, tenant_id, generator)
                .await
                .map_err(|e| ApiError::validation(format!("cannot generate a value: {e}")))?
                .1
        }
    };
    Ok((value, grace, policy))
}

/// The run of `path` waiting for a value, if any (the newest).
async fn awaiting_run(
    state: &AppState,
    tenant_id: &str,
    path: &str,
) -> ApiResult<Option<RunRecord>> {
    Ok(state
        .store
        .list_rotation_runs(
            tenant_id,
            &RunQuery {
                path: Some(path.to_owned()),
                status: Some(RunStatus::AwaitingValue),
                limit: 1,
                ..Default::default()
            },
        )
        .await?
        .items
        .into_iter()
        .next())
}

/// After a manual rotation's write: completes the run a `rotation.due` left waiting (or records
/// a new one) and starts the next cycle.
pub async fn finish_manual(
    state: &AppState,
    principal: &scaivault_core::Principal,
    outcome: &WriteOutcome,
    policy: Option<&(RotationPolicyRecord, Schedule)>,
    retires_at: OffsetDateTime,
) -> ApiResult<RunRecord> {
    let now = state.clock.now();
    let tenant_id = principal.tenant_id.as_str();
    let path = outcome.record.path.as_str();
    let run = match awaiting_run(state, tenant_id, path).await? {
        Some(run) => run,
        None => new_run(
            tenant_id,
            path,
            policy.map(|(p, _)| p.id.as_str()),
            RunTrigger::Manual,
            1,
            outcome.previous_version.unwrap_or(0),
            now,
        )?,
    };
    record_success(
        state,
        None,
        run,
        policy.map(|(p, t)| (p, t)),
        outcome.version,
        retires_at,
        now,
    )
    .await
}

/// Refuses a write or patch that names a rotation or secret policy the tenant does not have.
pub async fn check_references(
    state: &AppState,
    tenant_id: &str,
    patch: &scaivault_store::SecretPatch,
) -> ApiResult<()> {
    if let Some(id) = &patch.rotation_policy_id
        && state
            .store
            .get_rotation_policy(tenant_id, id)
            .await?
            .is_none()
    {
        return Err(ApiError::validation(format!(
            "options.rotation_policy_id: no rotation policy {id} in this tenant"
        )));
    }
    if let Some(id) = &patch.secret_policy_id
        && state
            .store
            .get_secret_policy(tenant_id, id)
            .await?
            .is_none()
    {
        return Err(ApiError::validation(format!(
            "options.secret_policy_id: no secret policy {id} in this tenant"
        )));
    }
    Ok(())
}

/// Attaches the rotation policy a write or patch named (`options.rotation_policy_id`): starts
/// the secret's cycle unless it already runs under that policy.
pub async fn schedule_attached(
    state: &AppState,
    tenant_id: &str,
    path: &str,
    policy_id: &str,
) -> ApiResult<()> {
    let now = state.clock.now();
    if let Some(existing) = state.store.get_rotation_schedule(tenant_id, path).await?
        && existing.policy_id == policy_id
    {
        return Ok(());
    }
    let Some(policy) = state
        .store
        .get_rotation_policy(tenant_id, policy_id)
        .await?
    else {
        return Ok(());
    };
    let timing = schedule_of(&policy)?;
    commit(
        state,
        schedule_only(ScheduleChange::Upsert(fresh_schedule(
            tenant_id, path, &policy, &timing, now, None,
        ))),
    )
    .await?;
    Ok(())
}

/// Sends the warnings whose time came: one `rotation.due` per warning, then the next one.
async fn send_warnings(state: &AppState, now: OffsetDateTime) -> ApiResult<u64> {
    let mut sent = 0;
    for mut schedule in state.store.due_rotation_warnings(now, BATCH).await? {
        let Some(warning_at) = schedule.next_warning_at else {
            continue;
        };
        let Some(policy) = state
            .store
            .get_rotation_policy(&schedule.tenant_id, &schedule.policy_id)
            .await?
        else {
            schedule.next_warning_at = None;
            commit(state, schedule_only(ScheduleChange::Upsert(schedule))).await?;
            continue;
        };
        let timing = schedule_of(&policy)?;
        let due = schedule.next_rotation_at;
        let before = timing.warning_offset(due, warning_at);
        schedule.next_warning_at = timing.next_warning(due, now.max(warning_at));
        schedule.updated_at = now;
        let audit = step_event(
            state,
            StepActor::Scheduler,
            &schedule.tenant_id,
            "due",
            "rotation",
            &schedule.path,
            None,
            "success",
            None,
        )?;
        let event = new_event(
            &schedule.tenant_id,
            "rotation.due",
            &schedule.path,
            now,
            json!({
                "policy_id": policy.id,
                "due_at": Timestamp::new(due),
                "warn_before": format_duration(before),
                "awaiting_value": false,
            }),
        )?;
        commit(
            state,
            RotationStep {
                run: None,
                schedule: ScheduleChange::Upsert(schedule),
                audit: Some(audit),
                events: vec![event],
            },
        )
        .await?;
        sent += 1;
    }
    Ok(sent)
}

/// Settles runs that a dead node left `running`: when the secret moved past the run's old
/// version the rotation landed (record the success), otherwise it did not (record a failure,
/// retried at once).
async fn settle_interrupted(state: &AppState, now: OffsetDateTime) -> ApiResult<u64> {
    let mut settled = 0;
    for run in state
        .store
        .open_rotation_runs(RunStatus::Running, BATCH)
        .await?
    {
        if now - run.started_at < INTERRUPTED_AFTER {
            continue;
        }
        let secret = match state.store.get_secret(&run.tenant_id, &run.path).await {
            Ok(s) => Some(s),
            Err(StoreError::NotFound(Entity::Secret)) => None,
            Err(e) => return Err(e.into()),
        };
        let policy = match &run.policy_id {
            Some(id) => state.store.get_rotation_policy(&run.tenant_id, id).await?,
            None => None,
        };
        let landed = secret
            .as_ref()
            .is_some_and(|s| Some(s.current_version) > run.old_version);
        match (landed, secret, policy) {
            (true, Some(secret), policy) => {
                let timing = policy.as_ref().map(schedule_of).transpose()?;
                let retires_at = timing
                    .as_ref()
                    .map_or(now, |t| t.retires_at(run.started_at));
                let version = secret.current_version;
                record_success(
                    state,
                    Some(StepActor::Scheduler),
                    run,
                    policy.as_ref().zip(timing.as_ref()),
                    version,
                    retires_at,
                    now,
                )
                .await?;
            }
            _ => {
                let schedule = state
                    .store
                    .get_rotation_schedule(&run.tenant_id, &run.path)
                    .await?;
                record_failure(
                    state,
                    StepActor::Scheduler,
                    run,
                    schedule,
                    "interrupted (the node running it stopped); retrying".into(),
                    now,
                )
                .await?;
            }
        }
        settled += 1;
    }
    Ok(settled)
}

/// Creates the schedules that a crash between a write and its schedule left missing.
async fn reconcile(state: &AppState) -> ApiResult<u64> {
    let mut fixed = 0;
    for (tenant, path, policy_id) in state.store.unscheduled_rotations(BATCH).await? {
        schedule_attached(state, &tenant, &path, &policy_id).await?;
        fixed += 1;
    }
    Ok(fixed)
}

/// What one round did (for tests and logs).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Round {
    pub settled: u64,
    pub warnings: u64,
    pub rotations: u64,
}

/// One round of the scheduler: settle, warn, rotate. Work beyond one batch waits for the next
/// round (soonest first).
pub async fn run_round(state: &AppState, reconcile_too: bool) -> ApiResult<Round> {
    let now = state.clock.now();
    if reconcile_too {
        reconcile(state).await?;
    }
    let mut round = Round {
        settled: settle_interrupted(state, now).await?,
        warnings: {
            let sent = send_warnings(state, now).await?;
            metrics::counter!("scaivault_rotation_warnings_total").increment(sent);
            sent
        },
        rotations: 0,
    };
    for schedule in state.store.due_rotations(now, BATCH).await? {
        let done = rotate_under_policy(
            state,
            StepActor::Scheduler,
            &schedule.tenant_id,
            &schedule.path,
            RunTrigger::Schedule,
        )
        .await;
        match done {
            Ok(Some(_)) => round.rotations += 1,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(path = %schedule.path, error = %e.message, "rotation round failed")
            }
        }
    }
    Ok(round)
}

/// Runs [`run_round`] every `every` on the node holding the scheduler's lease.
pub fn spawn_scheduler(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        let mut rounds: u64 = 0;
        loop {
            tick.tick().await;
            if !crate::jobs::leading(&state, JOB, every).await {
                continue;
            }
            let reconcile_too = rounds.is_multiple_of(RECONCILE_EVERY_ROUNDS);
            rounds = rounds.wrapping_add(1);
            if let Err(e) = run_round(&state, reconcile_too).await {
                tracing::warn!(error = %e.message, "rotation round failed");
            }
        }
    })
}
