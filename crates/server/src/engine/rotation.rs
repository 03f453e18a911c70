//! Rotation administration: rotation policies (`rot_...`), their assignment to secrets,
//! triggering, the history of runs and the schedule of what rotates when: every operation
//! behind `/v1/rotation` (docs/rotation.md).
//!
//! Reading needs `policies:read`; changing policies needs a tenant admin with `policies:write`,
//! and assigning, unassigning and triggering (which act on secrets) `secrets:write` as well.
//! The rotations themselves (scheduler, runs, the one rotation path) are in `crate::rotation`.

use std::time::Duration;

use scaivault_core::policy::Permission;
use scaivault_core::rotation::{Schedule, format_duration};
use scaivault_core::{Principal, Scope};
use scaivault_proto::rotation::*;
use scaivault_proto::{ErrorCode, Timestamp};
use scaivault_store::Entity;
use scaivault_store::{
    ListQuery, RotationPolicyRecord, RunQuery, RunStatus, RunTrigger, ScheduleChange,
    ScheduleQuery, ScheduleRecord, StoreError,
};

use crate::audit::{self, StepActor};
use crate::auth::{require_admin, require_scope};
use crate::engine::secret_policies::id_from_name;
use crate::error::{ApiError, ApiResult};
use crate::extract::{parse_u64, query_pairs, reject_unknown};
use crate::rotation::{fresh_schedule, run_dto, schedule_of};
use crate::state::AppState;

/// Most secrets one assign or trigger request acts on.
const MAX_SECRETS_PER_REQUEST: usize = 1000;

fn can_read(p: &Principal) -> ApiResult<()> {
    require_scope(p, Scope::PoliciesRead)
}

fn can_write(p: &Principal) -> ApiResult<()> {
    require_scope(p, Scope::PoliciesWrite)?;
    require_admin(p, "managing rotation")
}

/// Assigning, unassigning and triggering change which secrets rotate, or rotate them now:
/// they also need `secrets:write`.
fn can_write_secrets(p: &Principal) -> ApiResult<()> {
    require_scope(p, Scope::PoliciesWrite)?;
    require_scope(p, Scope::SecretsWrite)?;
    require_admin(p, "managing rotation")
}

fn dto(r: &RotationPolicyRecord) -> RotationPolicy {
    RotationPolicy {
        id: r.id.clone(),
        name: r.name.clone(),
        description: r.description.clone(),
        interval: format_duration(Duration::from_secs(r.interval_secs)),
        grace_period: format_duration(Duration::from_secs(r.grace_secs)),
        warn_before: r
            .warn_before_secs
            .iter()
            .map(|s| format_duration(Duration::from_secs(*s)))
            .collect(),
        auto_generate: r.auto_generate,
        window: r.window.clone(),
        created_at: Timestamp::new(r.created_at),
        updated_at: Timestamp::new(r.updated_at),
    }
}

fn scheduled_dto(s: &ScheduleRecord) -> ScheduledRotation {
    ScheduledRotation {
        path: s.path.clone(),
        policy_id: s.policy_id.clone(),
        state: s.state.as_str().to_owned(),
        next_rotation: Timestamp::new(s.next_rotation_at),
        last_rotated_at: s.last_rotated_at.map(Timestamp::new),
        attempts: s.attempts,
        last_error: s.last_error.clone(),
    }
}

/// Fills a record's settings from a validated request.
fn apply_request(
    record: &mut RotationPolicyRecord,
    request: RotationPolicyRequest,
) -> ApiResult<()> {
    record.name = crate::extract::check_name("name", &request.name)?.to_owned();
    crate::extract::check_description(request.description.as_deref())?;
    let timing = Schedule::parse(
        &request.interval,
        request.grace_period.as_deref(),
        &request.warn_before,
        request.window.as_deref(),
    )
    .map_err(|e| ApiError::validation(e.to_string()))?;
    record.description = request.description;
    record.interval_secs = timing.interval.as_secs();
    record.grace_secs = timing.grace.as_secs();
    record.warn_before_secs = timing.warn_before.iter().map(|d| d.as_secs()).collect();
    record.auto_generate = request.auto_generate.unwrap_or(true);
    record.window = timing.window.as_ref().map(|w| w.as_str().to_owned());
    Ok(())
}

fn conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Duplicate => ApiError::new(
            ErrorCode::Conflict,
            "a rotation policy with this name (or id) already exists in the tenant",
        ),
        e => e.into(),
    }
}

async fn existing(state: &AppState, p: &Principal, id: &str) -> ApiResult<RotationPolicyRecord> {
    state
        .store
        .get_rotation_policy(&p.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(Entity::RotationPolicy))
}

/// Creates a rotation policy; its id is derived from the name (`quarterly` ->
/// `rot_quarterly`). `request` is the body as parsed: its error counts only after
/// authorization.
pub async fn create(
    state: &AppState,
    p: &Principal,
    request: ApiResult<RotationPolicyRequest>,
) -> ApiResult<RotationPolicy> {
    can_write(p)?;
    let request = request?;
    let now = state.clock.now();
    let mut record = RotationPolicyRecord {
        id: String::new(),
        tenant_id: p.tenant_id.clone(),
        name: String::new(),
        description: None,
        interval_secs: 0,
        grace_secs: 0,
        warn_before_secs: Vec::new(),
        auto_generate: true,
        window: None,
        created_at: now,
        updated_at: now,
    };
    apply_request(&mut record, request)?;
    record.id = id_from_name("rot_", &record.name)?;
    audit::note_resource(&record.id);
    state
        .store
        .insert_rotation_policy(&record, audit::success_event(state).as_ref())
        .await
        .map_err(conflict)?;
    audit::committed();
    Ok(dto(&record))
}

/// One page of the tenant's rotation policies; `query` holds `limit` and `cursor`.
pub async fn list(
    state: &AppState,
    p: &Principal,
    query: Option<&str>,
) -> ApiResult<RotationPolicyList> {
    can_read(p)?;
    let (limit, after) = crate::extract::page_params(query)?;
    let page = state
        .store
        .list_rotation_policies(&p.tenant_id, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |item| &item.id);
    Ok(RotationPolicyList {
        rotation_policies: page.items.iter().map(dto).collect(),
        cursor,
        has_more: page.has_more,
    })
}

pub async fn get(state: &AppState, p: &Principal, id: &str) -> ApiResult<RotationPolicy> {
    can_read(p)?;
    Ok(dto(&existing(state, p, id).await?))
}

/// Replaces a rotation policy's settings (the body's error after authorization). Secrets
/// keep their scheduled time; the new interval applies from their next rotation.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: &str,
    request: ApiResult<RotationPolicyRequest>,
) -> ApiResult<RotationPolicy> {
    can_write(p)?;
    let request = request?;
    let mut record = existing(state, p, id).await?;
    apply_request(&mut record, request)?;
    record.updated_at = state.clock.now();
    let updated = state
        .store
        .update_rotation_policy(&record, audit::success_event(state).as_ref())
        .await
        .map_err(conflict)?;
    if !updated {
        return Err(ApiError::not_found(Entity::RotationPolicy));
    }
    audit::committed();
    Ok(dto(&record))
}

/// Deletes a rotation policy: its secrets stop rotating (they keep their values).
pub async fn delete(state: &AppState, p: &Principal, id: &str) -> ApiResult<()> {
    can_write(p)?;
    let deleted = state
        .store
        .delete_rotation_policy(&p.tenant_id, id, audit::success_event(state).as_ref())
        .await?;
    if !deleted {
        return Err(ApiError::not_found(Entity::RotationPolicy));
    }
    audit::committed();
    Ok(())
}

/// The live secrets matching `patterns` (paths or globs), in path order.
async fn matching_secrets(
    state: &AppState,
    tenant_id: &str,
    patterns: &[String],
) -> ApiResult<Vec<String>> {
    if patterns.is_empty() || patterns.len() > 100 {
        return Err(ApiError::validation("paths: give 1 to 100 paths or globs"));
    }
    let globs = crate::events::compile_paths(patterns)?;
    let mut found = Vec::new();
    for pattern in patterns {
        // Everything before the first wildcard is a literal prefix the store can seek to.
        let literal = pattern
            .find(['*', '?'])
            .map_or(pattern.as_str(), |i| &pattern[..i]);
        let prefix = literal.rsplit_once('/').map_or("", |(dir, _)| dir);
        let mut after = None;
        loop {
            let page = state
                .store
                .list_secrets(
                    tenant_id,
                    &ListQuery {
                        prefix: prefix.to_owned(),
                        include_expired: true,
                        after_path: after.clone(),
                        limit: 500,
                        ..Default::default()
                    },
                )
                .await?;
            for record in &page.items {
                if globs.allows(&record.path, Permission::Read) {
                    found.push(record.path.clone());
                }
            }
            if !page.has_more || found.len() > MAX_SECRETS_PER_REQUEST {
                break;
            }
            after = page.items.last().map(|r| r.path.clone());
        }
    }
    found.sort();
    found.dedup();
    if found.len() > MAX_SECRETS_PER_REQUEST {
        return Err(ApiError::validation(format!(
            "paths: more than {MAX_SECRETS_PER_REQUEST} secrets match; narrow the globs"
        )));
    }
    Ok(found)
}

/// Sets (or with `None` clears) one secret's rotation policy together with its schedule
/// change and its `action` audit entry, in one store call; whether the secret changed.
async fn set_secret_policy(
    state: &AppState,
    p: &Principal,
    path: &str,
    policy_id: Option<&str>,
    schedule: &ScheduleChange,
    action: &str,
) -> ApiResult<bool> {
    let entry = audit::step_event(
        state,
        StepActor::Caller(p),
        &p.tenant_id,
        action,
        "secret",
        path,
        None,
        "success",
        None,
    )?;
    Ok(state
        .store
        .set_secret_rotation_policy(&p.tenant_id, path, policy_id, schedule, Some(&entry))
        .await?)
}

/// Attaches the policy to existing secrets (paths or globs) and starts their schedules.
/// The body's error counts after authorization.
pub async fn assign(
    state: &AppState,
    p: &Principal,
    id: &str,
    request: ApiResult<AssignRequest>,
) -> ApiResult<AssignResponse> {
    can_write_secrets(p)?;
    let request = request?;
    let policy = existing(state, p, id).await?;
    let timing = schedule_of(&policy)?;
    let paths = matching_secrets(state, &p.tenant_id, &request.paths).await?;
    let mut changed = Vec::new();
    for path in paths {
        let now = state.clock.now();
        let current = state
            .store
            .get_rotation_schedule(&p.tenant_id, &path)
            .await?;
        if current.as_ref().is_some_and(|s| s.policy_id == policy.id) {
            continue;
        }
        let schedule = fresh_schedule(&p.tenant_id, &path, &policy, &timing, now, None);
        let change = ScheduleChange::Upsert(schedule);
        if set_secret_policy(
            state,
            p,
            &path,
            Some(&policy.id),
            &change,
            "assign_rotation",
        )
        .await?
        {
            changed.push(path);
        }
    }
    Ok(AssignResponse {
        policy_id: policy.id,
        count: changed.len() as u64,
        paths: changed,
    })
}

/// Detaches the policy from the matching secrets; they stop rotating. The body's error
/// counts after authorization.
pub async fn unassign(
    state: &AppState,
    p: &Principal,
    id: &str,
    request: ApiResult<AssignRequest>,
) -> ApiResult<AssignResponse> {
    can_write_secrets(p)?;
    let request = request?;
    let policy = existing(state, p, id).await?;
    let paths = matching_secrets(state, &p.tenant_id, &request.paths).await?;
    let mut changed = Vec::new();
    for path in paths {
        // A secret deleted since it matched is skipped, not an error.
        let record = match state.store.get_secret(&p.tenant_id, &path).await {
            Ok(r) => r,
            Err(StoreError::NotFound(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        if record.rotation_policy_id.as_deref() != Some(policy.id.as_str()) {
            continue;
        }
        let change = ScheduleChange::Delete {
            tenant_id: p.tenant_id.clone(),
            path: path.clone(),
        };
        if set_secret_policy(state, p, &path, None, &change, "unassign_rotation").await? {
            changed.push(path);
        }
    }
    Ok(AssignResponse {
        policy_id: policy.id,
        count: changed.len() as u64,
        paths: changed,
    })
}

/// The scheduled secrets of a policy that match `filter` (all without one), in schedule
/// order; refused when more than [`MAX_SECRETS_PER_REQUEST`] would rotate.
async fn triggered_paths(
    state: &AppState,
    tenant_id: &str,
    policy_id: &str,
    filter: Option<&scaivault_core::policy::PolicySet>,
) -> ApiResult<Vec<String>> {
    let mut paths = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .list_rotation_schedules(
                tenant_id,
                &ScheduleQuery {
                    policy_id: Some(policy_id.to_owned()),
                    after: after.clone(),
                    limit: 500,
                    ..Default::default()
                },
            )
            .await?;
        for s in &page.items {
            if filter.is_none_or(|f| f.allows(&s.path, Permission::Read)) {
                paths.push(s.path.clone());
            }
        }
        if !page.has_more || paths.len() > MAX_SECRETS_PER_REQUEST {
            break;
        }
        after = page
            .items
            .last()
            .map(|s| (s.next_rotation_at, s.path.clone()));
    }
    if paths.len() > MAX_SECRETS_PER_REQUEST {
        return Err(ApiError::validation(format!(
            "more than {MAX_SECRETS_PER_REQUEST} secrets would rotate; narrow it with paths"
        )));
    }
    Ok(paths)
}

/// Rotates the policy's secrets now (all, or those matching `paths`). Secrets without a
/// generator get `rotation.due` and wait for a value, as on schedule. The body's error
/// counts after authorization.
pub async fn trigger(
    state: &AppState,
    p: &Principal,
    id: &str,
    request: ApiResult<TriggerRequest>,
) -> ApiResult<TriggerResponse> {
    can_write_secrets(p)?;
    let request = request?;
    let policy = existing(state, p, id).await?;
    let filter = request
        .paths
        .as_deref()
        .map(crate::events::compile_paths)
        .transpose()?;
    let paths = triggered_paths(state, &p.tenant_id, &policy.id, filter.as_ref()).await?;
    let mut runs = Vec::new();
    for path in paths {
        if let Some(run) = crate::rotation::rotate_under_policy(
            state,
            StepActor::Caller(p),
            &p.tenant_id,
            &path,
            RunTrigger::Trigger,
        )
        .await?
        {
            runs.push(run_dto(&run));
        }
    }
    Ok(TriggerResponse {
        policy_id: policy.id,
        runs,
    })
}

/// `status`, `limit`, `cursor` (and `path`, `policy_id` where allowed) of a runs query.
fn run_query(query: Option<&str>, allow_filters: bool) -> ApiResult<RunQuery> {
    let pairs = query_pairs(query);
    let known: &[&str] = if allow_filters {
        &["status", "limit", "cursor", "path", "policy_id"]
    } else {
        &["status", "limit", "cursor"]
    };
    reject_unknown(&pairs, known)?;
    let mut q = RunQuery {
        limit: 50,
        ..Default::default()
    };
    for (k, v) in pairs {
        match k.as_str() {
            "status" => {
                q.status = Some(RunStatus::parse(&v).ok_or_else(|| {
                    ApiError::validation(
                        "status: expected running, awaiting_value, succeeded or failed",
                    )
                })?)
            }
            "limit" => q.limit = parse_u64("limit", &v, 1, 200)? as u32,
            "cursor" => q.before_seq = Some(crate::cursor::decode_seq(&v)?),
            "path" => q.path = Some(v),
            _ => q.policy_id = Some(v),
        }
    }
    Ok(q)
}

async fn run_list(state: &AppState, p: &Principal, q: &RunQuery) -> ApiResult<RotationRunList> {
    let page = state.store.list_rotation_runs(&p.tenant_id, q).await?;
    let cursor = match (page.has_more, page.items.last()) {
        (true, Some(last)) => Some(crate::cursor::encode_seq(last.seq)),
        _ => None,
    };
    Ok(RotationRunList {
        runs: page.items.iter().map(run_dto).collect(),
        cursor,
        has_more: page.has_more,
    })
}

/// The policy's runs, newest first; `query` holds `status`, `limit` and `cursor`.
pub async fn history(
    state: &AppState,
    p: &Principal,
    id: &str,
    query: Option<&str>,
) -> ApiResult<RotationRunList> {
    can_read(p)?;
    let mut q = run_query(query, false)?;
    existing(state, p, id).await?;
    q.policy_id = Some(id.to_owned());
    run_list(state, p, &q).await
}

/// Runs of the tenant, newest first, by secret path, policy or status.
pub async fn runs(
    state: &AppState,
    p: &Principal,
    query: Option<&str>,
) -> ApiResult<RotationRunList> {
    can_read(p)?;
    let q = run_query(query, true)?;
    run_list(state, p, &q).await
}

/// One page of schedules for `q`, with `limit` and `cursor` (and the `extra` parameters the
/// caller already read) from `query`.
async fn schedule_list(
    state: &AppState,
    p: &Principal,
    mut q: ScheduleQuery,
    query: Option<&str>,
    extra: &[&str],
) -> ApiResult<ScheduledRotationList> {
    let pairs = query_pairs(query);
    let mut known = vec!["limit", "cursor"];
    known.extend_from_slice(extra);
    reject_unknown(&pairs, &known)?;
    q.limit = 50;
    for (k, v) in &pairs {
        match k.as_str() {
            "limit" => q.limit = parse_u64("limit", v, 1, 200)? as u32,
            "cursor" => q.after = Some(crate::cursor::decode_expiring(v)?),
            _ => {}
        }
    }
    let page = state
        .store
        .list_rotation_schedules(&p.tenant_id, &q)
        .await?;
    let cursor = match (page.has_more, page.items.last()) {
        (true, Some(last)) => Some(crate::cursor::encode_expiring(
            last.next_rotation_at,
            &last.path,
        )),
        _ => None,
    };
    Ok(ScheduledRotationList {
        secrets: page.items.iter().map(scheduled_dto).collect(),
        cursor,
        has_more: page.has_more,
    })
}

/// The policy's secrets and when each rotates next, soonest first.
pub async fn policy_secrets(
    state: &AppState,
    p: &Principal,
    id: &str,
    query: Option<&str>,
) -> ApiResult<ScheduledRotationList> {
    can_read(p)?;
    existing(state, p, id).await?;
    let q = ScheduleQuery {
        policy_id: Some(id.to_owned()),
        ..Default::default()
    };
    schedule_list(state, p, q, query, &[]).await
}

/// What rotates within the next `within_hours` hours (default 24; overdue and waiting ones
/// included), soonest first.
pub async fn due(
    state: &AppState,
    p: &Principal,
    query: Option<&str>,
) -> ApiResult<ScheduledRotationList> {
    can_read(p)?;
    let hours = query_pairs(query)
        .into_iter()
        .find(|(k, _)| k == "within_hours")
        .map(|(_, v)| parse_u64("within_hours", &v, 0, 876_000))
        .transpose()?
        .unwrap_or(24);
    let until = state.clock.now() + time::Duration::hours(hours as i64);
    let q = ScheduleQuery {
        due_before: Some(until),
        ..Default::default()
    };
    schedule_list(state, p, q, query, &["within_hours"]).await
}
