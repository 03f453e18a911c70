//! `/v1/rotation`: rotation policies (`rot_...`), their assignment to secrets, triggering,
//! the history of runs and the schedule of what rotates when (docs/rotation.md).
//!
//! Reading needs `policies:read`; changing policies needs a tenant admin with `policies:write`,
//! and assigning, unassigning and triggering (which act on secrets) `secrets:write` as well. The rotations themselves are in `crate::rotation`.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use scaivault_core::rotation::{Schedule, format_duration};
use scaivault_core::{Principal, Scope};
use scaivault_proto::rotation::*;
use scaivault_proto::{ErrorBody, ErrorCode, Timestamp};
use scaivault_store::{
    Entity, ListQuery, RotationPolicyRecord, RunQuery, RunStatus, RunTrigger, ScheduleChange,
    ScheduleQuery, ScheduleRecord, StoreError,
};

use crate::audit::{self, StepActor};
use crate::auth::{Authenticated, require_admin, require_scope};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, OptionalJsonBody, parse_u64, query_pairs, reject_unknown};
use crate::rotation::{fresh_schedule, run_dto, schedule_of};
use crate::routes::secret_policies::id_from_name;
use crate::state::AppState;

/// Most secrets one assign or trigger request acts on.
const MAX_SECRETS_PER_REQUEST: usize = 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/rotation/policies",
            get(list_rotation_policies).post(create_rotation_policy),
        )
        .route(
            "/v1/rotation/policies/{id}",
            get(get_rotation_policy)
                .put(update_rotation_policy)
                .delete(delete_rotation_policy),
        )
        .route("/v1/rotation/policies/{id}/assign", post(assign))
        .route("/v1/rotation/policies/{id}/unassign", post(unassign))
        .route("/v1/rotation/policies/{id}/trigger", post(trigger))
        .route("/v1/rotation/policies/{id}/history", get(history))
        .route("/v1/rotation/policies/{id}/secrets", get(policy_secrets))
        .route("/v1/rotation/due", get(due))
        .route("/v1/rotation/runs", get(runs))
}

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
        .ok_or_else(|| ApiError::from(StoreError::NotFound(Entity::RotationPolicy)))
}

/// Creates a rotation policy; its id is derived from the name (`quarterly` -> `rot_quarterly`).
#[utoipa::path(post, path = "/v1/rotation/policies", tag = "rotation", request_body = RotationPolicyRequest,
    responses((status = 201, body = RotationPolicy), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn create_rotation_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<RotationPolicyRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<RotationPolicy>)> {
    can_write(&p)?;
    let JsonBody(request) = body?;
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
        .insert_rotation_policy(&record, audit::success_event(&state).as_ref())
        .await
        .map_err(conflict)?;
    audit::committed();
    Ok((StatusCode::CREATED, Json(dto(&record))))
}

#[utoipa::path(get, path = "/v1/rotation/policies", tag = "rotation",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = RotationPolicyList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn list_rotation_policies(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<RotationPolicyList>> {
    can_read(&p)?;
    let (limit, after) = crate::extract::page_params(uri.query())?;
    let page = state
        .store
        .list_rotation_policies(&p.tenant_id, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |item| &item.id);
    Ok(Json(RotationPolicyList {
        rotation_policies: page.items.iter().map(dto).collect(),
        cursor,
        has_more: page.has_more,
    }))
}

#[utoipa::path(get, path = "/v1/rotation/policies/{id}", tag = "rotation",
    params(("id" = String, Path, description = "rot_...")),
    responses((status = 200, body = RotationPolicy), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn get_rotation_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<RotationPolicy>> {
    can_read(&p)?;
    Ok(Json(dto(&existing(&state, &p, &id).await?)))
}

/// Replaces a rotation policy's settings. Secrets keep their scheduled time; the new interval
/// applies from their next rotation (trigger to rotate now).
#[utoipa::path(put, path = "/v1/rotation/policies/{id}", tag = "rotation", request_body = RotationPolicyRequest,
    params(("id" = String, Path, description = "rot_...")),
    responses((status = 200, body = RotationPolicy), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn update_rotation_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<JsonBody<RotationPolicyRequest>, ApiError>,
) -> ApiResult<Json<RotationPolicy>> {
    can_write(&p)?;
    let JsonBody(request) = body?;
    let mut record = existing(&state, &p, &id).await?;
    apply_request(&mut record, request)?;
    record.updated_at = state.clock.now();
    if !state
        .store
        .update_rotation_policy(&record, audit::success_event(&state).as_ref())
        .await
        .map_err(conflict)?
    {
        return Err(ApiError::from(StoreError::NotFound(Entity::RotationPolicy)));
    }
    audit::committed();
    Ok(Json(dto(&record)))
}

/// Deletes a rotation policy: its secrets stop rotating (they keep their values).
#[utoipa::path(delete, path = "/v1/rotation/policies/{id}", tag = "rotation",
    params(("id" = String, Path, description = "rot_...")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn delete_rotation_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    can_write(&p)?;
    if !state
        .store
        .delete_rotation_policy(&p.tenant_id, &id, audit::success_event(&state).as_ref())
        .await?
    {
        return Err(ApiError::from(StoreError::NotFound(Entity::RotationPolicy)));
    }
    audit::committed();
    Ok(StatusCode::NO_CONTENT)
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
                if globs.allows(&record.path, scaivault_core::policy::Permission::Read) {
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

/// Attaches the policy to existing secrets (paths or globs) and starts their schedules.
/// Secrets written later get it with `options.rotation_policy_id`.
#[utoipa::path(post, path = "/v1/rotation/policies/{id}/assign", tag = "rotation", request_body = AssignRequest,
    params(("id" = String, Path, description = "rot_...")),
    responses((status = 200, body = AssignResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:write", "secrets:write"])))]
pub async fn assign(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<JsonBody<AssignRequest>, ApiError>,
) -> ApiResult<Json<AssignResponse>> {
    can_write_secrets(&p)?;
    let JsonBody(request) = body?;
    let policy = existing(&state, &p, &id).await?;
    let timing = schedule_of(&policy)?;
    let paths = matching_secrets(&state, &p.tenant_id, &request.paths).await?;
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
        let entry = audit::step_event(
            &state,
            StepActor::Caller(&p),
            &p.tenant_id,
            "assign_rotation",
            "secret",
            &path,
            None,
            "success",
            None,
        )?;
        if state
            .store
            .set_secret_rotation_policy(
                &p.tenant_id,
                &path,
                Some(&policy.id),
                &ScheduleChange::Upsert(schedule),
                Some(&entry),
            )
            .await?
        {
            changed.push(path);
        }
    }
    Ok(Json(AssignResponse {
        policy_id: policy.id,
        count: changed.len() as u64,
        paths: changed,
    }))
}

/// Detaches the policy from the matching secrets; they stop rotating.
#[utoipa::path(post, path = "/v1/rotation/policies/{id}/unassign", tag = "rotation", request_body = AssignRequest,
    params(("id" = String, Path, description = "rot_...")),
    responses((status = 200, body = AssignResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:write", "secrets:write"])))]
pub async fn unassign(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<JsonBody<AssignRequest>, ApiError>,
) -> ApiResult<Json<AssignResponse>> {
    can_write_secrets(&p)?;
    let JsonBody(request) = body?;
    let policy = existing(&state, &p, &id).await?;
    let paths = matching_secrets(&state, &p.tenant_id, &request.paths).await?;
    let mut changed = Vec::new();
    for path in paths {
        let record = match state.store.get_secret(&p.tenant_id, &path).await {
            Ok(r) => r,
            Err(StoreError::NotFound(Entity::Secret)) => continue,
            Err(e) => return Err(e.into()),
        };
        if record.rotation_policy_id.as_deref() != Some(policy.id.as_str()) {
            continue;
        }
        let entry = audit::step_event(
            &state,
            StepActor::Caller(&p),
            &p.tenant_id,
            "unassign_rotation",
            "secret",
            &path,
            None,
            "success",
            None,
        )?;
        let delete = ScheduleChange::Delete {
            tenant_id: p.tenant_id.clone(),
            path: path.clone(),
        };
        if state
            .store
            .set_secret_rotation_policy(&p.tenant_id, &path, None, &delete, Some(&entry))
            .await?
        {
            changed.push(path);
        }
    }
    Ok(Json(AssignResponse {
        policy_id: policy.id,
        count: changed.len() as u64,
        paths: changed,
    }))
}

/// Rotates the policy's secrets now (all, or those matching `paths`). Secrets without a
/// generator get `rotation.due` and wait for a value, as on schedule.
#[utoipa::path(post, path = "/v1/rotation/policies/{id}/trigger", tag = "rotation", request_body = Option<TriggerRequest>,
    params(("id" = String, Path, description = "rot_...")),
    responses((status = 200, body = TriggerResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:write", "secrets:write"])))]
pub async fn trigger(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<OptionalJsonBody<TriggerRequest>, ApiError>,
) -> ApiResult<Json<TriggerResponse>> {
    can_write_secrets(&p)?;
    let OptionalJsonBody(request) = body?;
    let policy = existing(&state, &p, &id).await?;
    let filter = request
        .paths
        .as_deref()
        .map(crate::events::compile_paths)
        .transpose()?;
    let mut paths = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .store
            .list_rotation_schedules(
                &p.tenant_id,
                &ScheduleQuery {
                    policy_id: Some(policy.id.clone()),
                    after: after.clone(),
                    limit: 500,
                    ..Default::default()
                },
            )
            .await?;
        for s in &page.items {
            if filter
                .as_ref()
                .is_none_or(|f| f.allows(&s.path, scaivault_core::policy::Permission::Read))
            {
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
    let mut runs = Vec::new();
    for path in paths {
        if let Some(run) = crate::rotation::rotate_under_policy(
            &state,
            StepActor::Caller(&p),
            &p.tenant_id,
            &path,
            RunTrigger::Trigger,
        )
        .await?
        {
            runs.push(run_dto(&run));
        }
    }
    Ok(Json(TriggerResponse {
        policy_id: policy.id,
        runs,
    }))
}

/// `status`, `limit`, `cursor` (and `path`, `policy_id` where allowed) of a runs query.
fn run_query(uri: &Uri, allow_filters: bool) -> ApiResult<RunQuery> {
    let pairs = query_pairs(uri.query());
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

/// The policy's runs, newest first.
#[utoipa::path(get, path = "/v1/rotation/policies/{id}/history", tag = "rotation",
    params(("id" = String, Path, description = "rot_..."),
           ("status" = Option<String>, Query, description = "running, awaiting_value, succeeded or failed"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = RotationRunList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn history(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Json<RotationRunList>> {
    can_read(&p)?;
    let mut q = run_query(&uri, false)?;
    existing(&state, &p, &id).await?;
    q.policy_id = Some(id);
    Ok(Json(run_list(&state, &p, &q).await?))
}

/// Runs of the tenant, newest first, by secret path, policy or status.
#[utoipa::path(get, path = "/v1/rotation/runs", tag = "rotation",
    params(("path" = Option<String>, Query), ("policy_id" = Option<String>, Query),
           ("status" = Option<String>, Query, description = "running, awaiting_value, succeeded or failed"),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = RotationRunList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn runs(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<RotationRunList>> {
    can_read(&p)?;
    let q = run_query(&uri, true)?;
    Ok(Json(run_list(&state, &p, &q).await?))
}

async fn schedule_list(
    state: &AppState,
    p: &Principal,
    mut q: ScheduleQuery,
    uri: &Uri,
    extra: &[&str],
) -> ApiResult<ScheduledRotationList> {
    let pairs = query_pairs(uri.query());
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
#[utoipa::path(get, path = "/v1/rotation/policies/{id}/secrets", tag = "rotation",
    params(("id" = String, Path, description = "rot_..."),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = ScheduledRotationList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn policy_secrets(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    uri: Uri,
) -> ApiResult<Json<ScheduledRotationList>> {
    can_read(&p)?;
    existing(&state, &p, &id).await?;
    let q = ScheduleQuery {
        policy_id: Some(id),
        ..Default::default()
    };
    Ok(Json(schedule_list(&state, &p, q, &uri, &[]).await?))
}

/// What rotates within the next `within_hours` hours (default 24; overdue and waiting ones
/// included), soonest first.
#[utoipa::path(get, path = "/v1/rotation/due", tag = "rotation",
    params(("within_hours" = Option<u64>, Query, minimum = 0, maximum = 876000),
           ("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = ScheduledRotationList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn due(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<ScheduledRotationList>> {
    can_read(&p)?;
    let hours = query_pairs(uri.query())
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
    Ok(Json(
        schedule_list(&state, &p, q, &uri, &["within_hours"]).await?,
    ))
}
