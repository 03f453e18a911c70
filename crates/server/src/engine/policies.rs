//! Path policies per tenant, their bindings, and explain: every operation behind
//! `/v1/policies`.
//!
//! Managing policies needs a tenant admin with `policies:write` (reading: `policies:read`).
//! Anyone may explain a decision about themselves; explaining it for another identity needs a
//! tenant admin. Every change empties this node's compiled-policy cache.

use scaivault_core::policy::{
    DecisionReason, Effect, Permission, PolicyRule, RawRule, validate_rules,
};
use scaivault_core::{IdentityType, Principal, Scope, SecretPath};
use scaivault_proto::ErrorCode;
use scaivault_proto::Timestamp;
use scaivault_proto::policies::*;
use scaivault_store::Entity;
use scaivault_store::{PolicyBinding, PolicyRecord, StoreError};

use crate::audit;
use crate::auth::{require_admin, require_scope};
use crate::authz;
use crate::error::{ApiError, ApiResult};
use crate::extract::truncate;
use crate::state::AppState;

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

fn binding_dto(b: PolicyBinding) -> Binding {
    Binding {
        policy_id: b.policy_id,
        identity_type: b.identity_type,
        identity_id: b.identity_id,
        created_at: Timestamp::new(b.created_at),
    }
}

/// The rules of a request: `rules`, or the one-rule form `path` + `permissions` (+ `effect`).
/// Returns the raw rules and whether the quick form was used.
fn raw_rules(request: &mut PolicyRequest) -> ApiResult<(Vec<RawRule>, bool)> {
    let quick = request.path.is_some() || request.permissions.is_some();
    let raw = match (request.rules.take(), quick) {
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
                .take()
                .ok_or_else(|| ApiError::validation("path is required with permissions"))?,
            permissions: request
                .permissions
                .take()
                .ok_or_else(|| ApiError::validation("permissions is required with path"))?,
            effect: request.effect.take(),
        }],
        (None, false) => {
            return Err(ApiError::validation(
                "rules is required (or path and permissions for a one-rule policy)",
            ));
        }
    };
    Ok((raw, quick))
}

/// Validates a create/replace body into (name, description, rules JSON).
fn parse_request(mut request: PolicyRequest) -> ApiResult<(String, Option<String>, String)> {
    let name = crate::extract::check_name("name", &request.name)?.to_owned();
    crate::extract::check_description(request.description.as_deref())?;
    let (raw, quick) = raw_rules(&mut request)?;
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
    Ok((name, request.description, json))
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
        .ok_or_else(|| ApiError::not_found(Entity::Policy))
}

/// Creates a policy. `request` is the body as parsed: its error counts only after the caller
/// is authorized (403 before 400).
pub async fn create(
    state: &AppState,
    p: &Principal,
    request: ApiResult<PolicyRequest>,
) -> ApiResult<Policy> {
    can_write(p)?;
    let (name, description, rules) = parse_request(request?)?;
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
        .insert_policy(&record, audit::success_event(state).as_ref())
        .await
        .map_err(conflict)?;
    audit::committed();
    crate::changes::policies_changed(state).await;
    policy_dto(&record)
}

/// One page of the tenant's policies; `query` holds `limit` and `cursor`.
pub async fn list(state: &AppState, p: &Principal, query: Option<&str>) -> ApiResult<PolicyList> {
    can_read(p)?;
    let (limit, after) = crate::extract::page_params(query)?;
    let page = state
        .store
        .list_policies(&p.tenant_id, after.as_deref(), limit)
        .await?;
    let cursor = crate::cursor::next_page_cursor(&page, |item| &item.id);
    Ok(PolicyList {
        policies: page
            .items
            .iter()
            .map(policy_dto)
            .collect::<ApiResult<Vec<_>>>()?,
        cursor,
        has_more: page.has_more,
    })
}

pub async fn get(state: &AppState, p: &Principal, id: &str) -> ApiResult<Policy> {
    can_read(p)?;
    policy_dto(&existing(state, p, id).await?)
}

/// Replaces a policy's name, description and rules (the body's error after authorization).
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: &str,
    request: ApiResult<PolicyRequest>,
) -> ApiResult<Policy> {
    can_write(p)?;
    let (name, description, rules) = parse_request(request?)?;
    let mut record = existing(state, p, id).await?;
    record.name = name;
    record.description = description;
    record.rules = rules;
    record.updated_at = state.clock.now();
    let updated = state
        .store
        .update_policy(&record, audit::success_event(state).as_ref())
        .await
        .map_err(conflict)?;
    if !updated {
        return Err(ApiError::not_found(Entity::Policy));
    }
    audit::committed();
    crate::changes::policies_changed(state).await;
    policy_dto(&record)
}

/// Deletes a policy and its bindings.
pub async fn delete(state: &AppState, p: &Principal, id: &str) -> ApiResult<()> {
    can_write(p)?;
    let deleted = state
        .store
        .delete_policy(&p.tenant_id, id, audit::success_event(state).as_ref())
        .await?;
    if !deleted {
        return Err(ApiError::not_found(Entity::Policy));
    }
    audit::committed();
    crate::changes::policies_changed(state).await;
    Ok(())
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

/// Binds the policy to a user, group or service account (the body's error after
/// authorization).
pub async fn bind(
    state: &AppState,
    p: &Principal,
    id: &str,
    request: ApiResult<BindRequest>,
) -> ApiResult<Binding> {
    can_write(p)?;
    let request = request?;
    let identity = identity_id(&request.identity_type, &request.identity_id)?;
    existing(state, p, id).await?;
    let binding = PolicyBinding {
        policy_id: id.to_owned(),
        identity_id: identity,
        identity_type: request.identity_type,
        created_at: state.clock.now(),
    };
    audit::note_resource(&format!("{id}/{}", binding.identity_id));
    state
        .store
        .bind_policy(&p.tenant_id, &binding, audit::success_event(state).as_ref())
        .await
        .map_err(|e| match e {
            StoreError::Duplicate => {
                ApiError::new(ErrorCode::Conflict, "the policy is already bound to it")
            }
            e => e.into(),
        })?;
    audit::committed();
    crate::changes::policies_changed(state).await;
    Ok(binding_dto(binding))
}

pub async fn list_bindings(state: &AppState, p: &Principal, id: &str) -> ApiResult<BindingList> {
    can_read(p)?;
    existing(state, p, id).await?;
    let bindings = state.store.policy_bindings(&p.tenant_id, id).await?;
    Ok(BindingList {
        bindings: bindings.into_iter().map(binding_dto).collect(),
    })
}

pub async fn unbind(state: &AppState, p: &Principal, id: &str, identity: &str) -> ApiResult<()> {
    can_write(p)?;
    let unbound = state
        .store
        .unbind_policy(
            &p.tenant_id,
            id,
            identity,
            audit::success_event(state).as_ref(),
        )
        .await?;
    if !unbound {
        return Err(ApiError::not_found(Entity::PolicyBinding));
    }
    audit::committed();
    crate::changes::policies_changed(state).await;
    Ok(())
}

/// Explains a decision: allowed or not, and which policy and rule decided.
pub async fn explain(
    state: &AppState,
    p: &Principal,
    request: PolicyTestRequest,
) -> ApiResult<PolicyTestResponse> {
    let permission = Permission::parse(&request.permission).ok_or_else(|| {
        ApiError::validation(format!(
            "permission: unknown permission '{}' (known: {})",
            truncate(&request.permission),
            Permission::ALL.map(|p| p.as_str()).join(", ")
        ))
    })?;
    SecretPath::parse(&request.path)?;
    let identity = request
        .identity_id
        .clone()
        .unwrap_or_else(|| p.identity_id.clone());
    let is_self = identity == p.identity_id;
    if !is_self {
        may_explain_for(p, &identity)?;
    }
    let evaluated = evaluated_identities(state, p, &identity, is_self, request.groups).await?;
    if is_self && authz::is_unrestricted(p) {
        return Ok(PolicyTestResponse {
            allowed: true,
            identity_id: identity,
            evaluated_identities: evaluated,
            reason: "tenant_admin".to_owned(),
            decided_by: None,
            explanation: "tenant admins may do everything in their tenant (still audited)"
                .to_owned(),
        });
    }
    // Uncached on purpose: explain shows the policies as stored now.
    let set = authz::compile_bound(state, &p.tenant_id, &evaluated).await?;
    let decision = set.evaluate(&request.path, permission);
    let (reason, decided_by, explanation) =
        describe(&decision.reason, &request.path, permission, &evaluated);
    Ok(PolicyTestResponse {
        allowed: decision.allowed,
        identity_id: identity,
        evaluated_identities: evaluated,
        reason: reason.to_owned(),
        decided_by,
        explanation,
    })
}

/// Anyone may explain their own access; another identity's needs the scope (and an admin).
fn may_explain_for(p: &Principal, identity: &str) -> ApiResult<()> {
    require_scope(p, Scope::PoliciesRead)?;
    require_admin(p, "explaining another identity's access")?;
    if !["user:", "service_account:"]
        .iter()
        .any(|prefix| identity.starts_with(prefix))
    {
        return Err(ApiError::validation(
            "identity_id: 'user:...' or 'service_account:...'",
        ));
    }
    Ok(())
}

/// The identity followed by its groups (the caller's own, or the stored ones of another
/// identity) and the extra groups asked about, sorted and without repeats.
async fn evaluated_identities(
    state: &AppState,
    p: &Principal,
    identity: &str,
    is_self: bool,
    extra_groups: Option<Vec<String>>,
) -> ApiResult<Vec<String>> {
    let mut groups: Vec<String> = if is_self {
        p.groups.clone()
    } else {
        state.store.identity_groups(&p.tenant_id, identity).await?
    };
    for g in extra_groups.unwrap_or_default() {
        groups.push(if g.starts_with("group:") {
            g
        } else {
            format!("group:{g}")
        });
    }
    groups.sort();
    groups.dedup();
    let mut evaluated = vec![identity.to_owned()];
    evaluated.extend(groups);
    Ok(evaluated)
}

fn deciding_rule(
    policy_id: &str,
    policy_name: &str,
    rule_index: usize,
    rule_path: &str,
    effect: Effect,
) -> DecidingRule {
    DecidingRule {
        policy_id: policy_id.to_owned(),
        policy_name: policy_name.to_owned(),
        rule_index,
        rule_path: rule_path.to_owned(),
        effect: effect.as_str().to_owned(),
    }
}

/// (reason, deciding rule, explanation) of a decision.
fn describe(
    reason: &DecisionReason<'_>,
    path: &str,
    permission: Permission,
    evaluated: &[String],
) -> (&'static str, Option<DecidingRule>, String) {
    match *reason {
        DecisionReason::Denied {
            policy_id,
            policy_name,
            rule_index,
            rule_path,
        } => (
            "denied",
            Some(deciding_rule(
                policy_id,
                policy_name,
                rule_index,
                rule_path,
                Effect::Deny,
            )),
            authz::explain_deny(reason, path, permission).unwrap_or_default(),
        ),
        DecisionReason::Allowed {
            policy_id,
            policy_name,
            rule_index,
            rule_path,
        } => (
            "allowed",
            Some(deciding_rule(
                policy_id,
                policy_name,
                rule_index,
                rule_path,
                Effect::Allow,
            )),
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
    }
}
