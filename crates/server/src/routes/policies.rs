//! `/v1/policies`: path policies per tenant, their bindings, and explain (`POST /v1/policies/test`).
//!
//! Managing policies needs a tenant admin with `policies:write` (reading: `policies:read`).
//! Anyone may explain a decision about themselves; explaining it for another identity needs a
//! tenant admin. Every change empties this node's compiled-policy cache.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use scaivault_core::policy::{
    DecisionReason, Effect, Permission, PolicyRule, RawRule, validate_rules,
};
use scaivault_core::{IdentityType, Principal, Scope};
use scaivault_proto::policies::*;
use scaivault_proto::{ErrorBody, ErrorCode, Timestamp};
use scaivault_store::{Entity, PolicyBinding, PolicyRecord, StoreError};

use crate::audit;
use crate::auth::{Authenticated, require_admin, require_scope};
use crate::authz;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, truncate};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/policies", get(list_policies).post(create_policy))
        .route("/v1/policies/test", post(test_policy))
        .route(
            "/v1/policies/{id}",
            get(get_policy).put(update_policy).delete(delete_policy),
        )
        .route("/v1/policies/{id}/bindings", get(list_bindings).post(bind))
        .route("/v1/policies/{id}/bindings/{identity_id}", delete(unbind))
}

fn can_read(p: &Principal) -> ApiResult<()> {
    require_scope(p, Scope::PoliciesRead)?;
    require_admin(p, "reading policies")
}

fn can_write(p: &Principal) -> ApiResult<()> {
    require_scope(p, Scope::PoliciesWrite)?;
    require_admin(p, "changing policies")
}

fn rule_dto(r: &PolicyRule) -> Rule {
    Rule {
        path: r.path.clone(),
        permissions: r
            .permissions
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect(),
        effect: Some(r.effect.as_str().to_owned()),
    }
}

fn policy_dto(record: &PolicyRecord) -> ApiResult<Policy> {
    Ok(Policy {
        id: record.id.clone(),
        name: record.name.clone(),
        description: record.description.clone(),
        rules: authz::rules_of(record)?.iter().map(rule_dto).collect(),
        created_at: Timestamp::new(record.created_at),
        updated_at: Timestamp::new(record.updated_at),
    })
}

/// Validates a create/replace body into (name, description, rules JSON).
fn parse_request(request: PolicyRequest) -> ApiResult<(String, Option<String>, String)> {
    let name = crate::extract::check_name("name", &request.name)?;
    crate::extract::check_description(request.description.as_deref())?;
    let quick = request.path.is_some() || request.permissions.is_some();
    let raw: Vec<RawRule> = match (request.rules, quick) {
        (Some(_), true) => {
            return Err(ApiError::validation(
                "give either rules, or path and permissions, not both",
            ));
        }
        (Some(rules), false) => rules
            .into_iter()
            .map(|r| RawRule {
                path: r.path,
                permissions: r.permissions,
                effect: r.effect,
            })
            .collect(),
        (None, true) => vec![RawRule {
            path: request
                .path
                .ok_or_else(|| ApiError::validation("path is required with permissions"))?,
            permissions: request
                .permissions
                .ok_or_else(|| ApiError::validation("permissions is required with path"))?,
            effect: request.effect,
        }],
        (None, false) => {
            return Err(ApiError::validation(
                "rules is required (or path and permissions for a one-rule policy)",
            ));
        }
    };
    let rules = validate_rules(&raw).map_err(|e| {
        let message = e.to_string();
        // The quick form has no `rules` array: name its own fields.
        let message = if quick {
            message.replacen("rules[0].", "", 1)
        } else {
            message
        };
        ApiError::validation(message)
    })?;
    let json = serde_json::to_string(&rules).map_err(ApiError::internal)?;
    Ok((name.to_owned(), request.description, json))
}

fn conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Duplicate => ApiError::new(
            ErrorCode::Conflict,
            "a policy with this name already exists in the tenant",
        ),
        e => e.into(),
    }
}

async fn existing(state: &AppState, p: &Principal, id: &str) -> ApiResult<PolicyRecord> {
    state
        .store
        .get_policy(&p.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::from(StoreError::NotFound(Entity::Policy)))
}

/// Creates a policy from `rules`, or from `path` + `permissions` (+ `effect`).
#[utoipa::path(post, path = "/v1/policies", tag = "policies", request_body = PolicyRequest,
    responses((status = 201, body = Policy), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn create_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    body: Result<JsonBody<PolicyRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<Policy>)> {
    can_write(&p)?;
    let JsonBody(request) = body?;
    let (name, description, rules) = parse_request(request)?;
    let now = state.clock.now();
    let record = PolicyRecord {
        id: scaivault_crypto::random::random_id("pol_")?,
        tenant_id: p.tenant_id.clone(),
        name,
        description,
        rules,
        created_at: now,
        updated_at: now,
    };
    audit::note_resource(&record.id);
    state
        .store
        .insert_policy(&record, audit::success_event(&state).as_ref())
        .await
        .map_err(conflict)?;
    audit::committed();
    crate::changes::policies_changed(&state).await;
    Ok((StatusCode::CREATED, Json(policy_dto(&record)?)))
}

/// The tenant's policies.
#[utoipa::path(get, path = "/v1/policies", tag = "policies",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 200), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = PolicyList), (status = 403, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn list_policies(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    uri: Uri,
) -> ApiResult<Json<PolicyList>> {
    can_read(&p)?;
    let (limit, after) = crate::extract::page_params(uri.query())?;
    let page = state
        .store
        .list_policies(&p.tenant_id, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |item| &item.id);
    Ok(Json(PolicyList {
        policies: page
            .items
            .iter()
            .map(policy_dto)
            .collect::<ApiResult<Vec<_>>>()?,
        cursor,
        has_more: page.has_more,
    }))
}

#[utoipa::path(get, path = "/v1/policies/{id}", tag = "policies",
    params(("id" = String, Path, description = "pol_...")),
    responses((status = 200, body = Policy), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn get_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Policy>> {
    can_read(&p)?;
    Ok(Json(policy_dto(&existing(&state, &p, &id).await?)?))
}

/// Replaces a policy's name, description and rules; takes effect on the next request.
#[utoipa::path(put, path = "/v1/policies/{id}", tag = "policies", request_body = PolicyRequest,
    params(("id" = String, Path, description = "pol_...")),
    responses((status = 200, body = Policy), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn update_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<JsonBody<PolicyRequest>, ApiError>,
) -> ApiResult<Json<Policy>> {
    can_write(&p)?;
    let JsonBody(request) = body?;
    let (name, description, rules) = parse_request(request)?;
    let mut record = existing(&state, &p, &id).await?;
    record.name = name;
    record.description = description;
    record.rules = rules;
    record.updated_at = state.clock.now();
    if !state
        .store
        .update_policy(&record, audit::success_event(&state).as_ref())
        .await
        .map_err(conflict)?
    {
        return Err(ApiError::from(StoreError::NotFound(Entity::Policy)));
    }
    audit::committed();
    crate::changes::policies_changed(&state).await;
    Ok(Json(policy_dto(&record)?))
}

/// Deletes a policy and its bindings.
#[utoipa::path(delete, path = "/v1/policies/{id}", tag = "policies",
    params(("id" = String, Path, description = "pol_...")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn delete_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    can_write(&p)?;
    if !state
        .store
        .delete_policy(&p.tenant_id, &id, audit::success_event(&state).as_ref())
        .await?
    {
        return Err(ApiError::from(StoreError::NotFound(Entity::Policy)));
    }
    audit::committed();
    crate::changes::policies_changed(&state).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `user:x`, `group:x`, `service_account:x`; the prefix is added from the type when missing.
fn identity_id(identity_type: &str, id: &str) -> ApiResult<String> {
    let kind = IdentityType::parse(identity_type).ok_or_else(|| {
        ApiError::validation(format!(
            "identity_type: expected user, group or service_account, got '{}'",
            truncate(identity_type)
        ))
    })?;
    kind.qualify(id).ok_or_else(|| {
        let prefix = kind.as_str();
        ApiError::validation(format!(
            "identity_id: expected '{prefix}:...' for identity_type {prefix}"
        ))
    })
}

/// Binds the policy to a user, group or service account.
#[utoipa::path(post, path = "/v1/policies/{id}/bindings", tag = "policies", request_body = BindRequest,
    params(("id" = String, Path, description = "pol_...")),
    responses((status = 201, body = Binding), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn bind(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
    body: Result<JsonBody<BindRequest>, ApiError>,
) -> ApiResult<(StatusCode, Json<Binding>)> {
    can_write(&p)?;
    let JsonBody(request) = body?;
    let identity = identity_id(&request.identity_type, &request.identity_id)?;
    existing(&state, &p, &id).await?;
    let binding = PolicyBinding {
        policy_id: id.clone(),
        identity_id: identity,
        identity_type: request.identity_type,
        created_at: state.clock.now(),
    };
    audit::note_resource(&format!("{id}/{}", binding.identity_id));
    state
        .store
        .bind_policy(
            &p.tenant_id,
            &binding,
            audit::success_event(&state).as_ref(),
        )
        .await
        .map_err(|e| match e {
            StoreError::Duplicate => {
                ApiError::new(ErrorCode::Conflict, "the policy is already bound to it")
            }
            e => e.into(),
        })?;
    audit::committed();
    crate::changes::policies_changed(&state).await;
    Ok((
        StatusCode::CREATED,
        Json(Binding {
            policy_id: binding.policy_id,
            identity_type: binding.identity_type,
            identity_id: binding.identity_id,
            created_at: Timestamp::new(binding.created_at),
        }),
    ))
}

#[utoipa::path(get, path = "/v1/policies/{id}/bindings", tag = "policies",
    params(("id" = String, Path, description = "pol_...")),
    responses((status = 200, body = BindingList), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn list_bindings(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<BindingList>> {
    can_read(&p)?;
    existing(&state, &p, &id).await?;
    let bindings = state.store.policy_bindings(&p.tenant_id, &id).await?;
    Ok(Json(BindingList {
        bindings: bindings
            .into_iter()
            .map(|b| Binding {
                policy_id: b.policy_id,
                identity_type: b.identity_type,
                identity_id: b.identity_id,
                created_at: Timestamp::new(b.created_at),
            })
            .collect(),
    }))
}

#[utoipa::path(delete, path = "/v1/policies/{id}/bindings/{identity_id}", tag = "policies",
    params(("id" = String, Path, description = "pol_..."),
           ("identity_id" = String, Path, description = "e.g. group:developers")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = ["policies:write"])))]
pub async fn unbind(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path((id, identity)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    can_write(&p)?;
    if !state
        .store
        .unbind_policy(
            &p.tenant_id,
            &id,
            &identity,
            audit::success_event(&state).as_ref(),
        )
        .await?
    {
        return Err(ApiError::from(StoreError::NotFound(Entity::PolicyBinding)));
    }
    audit::committed();
    crate::changes::policies_changed(&state).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Explains a decision: allowed or not, and which policy and rule decided.
#[utoipa::path(post, path = "/v1/policies/test", tag = "policies", request_body = PolicyTestRequest,
    responses((status = 200, body = PolicyTestResponse), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = ["policies:read"])))]
pub async fn test_policy(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    JsonBody(request): JsonBody<PolicyTestRequest>,
) -> ApiResult<Json<PolicyTestResponse>> {
    let permission = Permission::parse(&request.permission).ok_or_else(|| {
        ApiError::validation(format!(
            "permission: unknown permission '{}' (known: {})",
            truncate(&request.permission),
            Permission::ALL.map(|p| p.as_str()).join(", ")
        ))
    })?;
    scaivault_core::SecretPath::parse(&request.path)?;
    let identity = request
        .identity_id
        .clone()
        .unwrap_or_else(|| p.identity_id.clone());
    let is_self = identity == p.identity_id;
    // Anyone may explain their own access; another identity's needs the scope (and an admin).
    if !is_self {
        require_scope(&p, Scope::PoliciesRead)?;
        require_admin(&p, "explaining another identity's access")?;
        if !["user:", "service_account:"]
            .iter()
            .any(|prefix| identity.starts_with(prefix))
        {
            return Err(ApiError::validation(
                "identity_id: 'user:...' or 'service_account:...'",
            ));
        }
    }
    let mut groups: Vec<String> = if is_self {
        p.groups.clone()
    } else {
        state.store.identity_groups(&p.tenant_id, &identity).await?
    };
    for g in request.groups.unwrap_or_default() {
        groups.push(if g.starts_with("group:") {
            g
        } else {
            format!("group:{g}")
        });
    }
    groups.sort();
    groups.dedup();
    let mut evaluated = vec![identity.clone()];
    evaluated.extend(groups.iter().cloned());

    if is_self && authz::is_unrestricted(&p) {
        return Ok(Json(PolicyTestResponse {
            allowed: true,
            identity_id: identity,
            evaluated_identities: evaluated,
            reason: "tenant_admin".to_owned(),
            decided_by: None,
            explanation: "tenant admins may do everything in their tenant (still audited)"
                .to_owned(),
        }));
    }
    // Uncached on purpose: explain shows the policies as stored now.
    let set = authz::compile_bound(&state, &p.tenant_id, &evaluated).await?;
    let decision = set.evaluate(&request.path, permission);
    let path = &request.path;
    let (reason, decided_by, explanation) = match decision.reason {
        DecisionReason::Denied {
            policy_id,
            policy_name,
            rule_index,
            rule_path,
        } => (
            "denied",
            Some(DecidingRule {
                policy_id: policy_id.to_owned(),
                policy_name: policy_name.to_owned(),
                rule_index,
                rule_path: rule_path.to_owned(),
                effect: Effect::Deny.as_str().to_owned(),
            }),
            authz::explain_deny(&decision.reason, path, permission).unwrap_or_default(),
        ),
        DecisionReason::Allowed {
            policy_id,
            policy_name,
            rule_index,
            rule_path,
        } => (
            "allowed",
            Some(DecidingRule {
                policy_id: policy_id.to_owned(),
                policy_name: policy_name.to_owned(),
                rule_index,
                rule_path: rule_path.to_owned(),
                effect: Effect::Allow.as_str().to_owned(),
            }),
            format!(
                "allowed: rule {rule_index} ({rule_path}) of policy {policy_name} ({policy_id}) allows {permission} on {path}"
            ),
        ),
        DecisionReason::NoMatch => (
            "no_match",
            None,
            format!(
                "denied by default: no policy bound to {} allows {permission} on {path}",
                evaluated.join(", ")
            ),
        ),
    };
    Ok(Json(PolicyTestResponse {
        allowed: decision.allowed,
        identity_id: identity,
        evaluated_identities: evaluated,
        reason: reason.to_owned(),
        decided_by,
        explanation,
    }))
}
