//! Authorization over paths: token scopes AND path policies, default deny, deny wins.
//!
//! Tenant admins (and partner admins acting on their partner's tenants) may do everything in
//! the tenant; their requests are still audited. Everyone else needs a policy bound to them
//! (directly, or to one of their groups) that allows the permission on the path.
//!
//! Compiled policy sets are cached per (tenant, identity, groups). Any policy or binding change
//! through this node bumps a generation and empties the cache, so it takes effect on the next
//! request. With several nodes on one database (the PostgreSQL issue) the other nodes need a
//! change notification (LISTEN/NOTIFY); until then the cache is exact for one node.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use scaivault_core::Principal;
use scaivault_core::policy::{DecisionReason, Permission, PolicyInput, PolicyRule, PolicySet};
use scaivault_store::PolicyRecord;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

const CACHE_MAX_ENTRIES: usize = 10_000;

type Key = (String, String, Vec<String>);

/// A compiled set with the generation it was compiled at and when.
type Entry = (u64, Instant, Arc<PolicySet>);

#[derive(Debug, Default)]
pub struct PolicyCache {
    generation: AtomicU64,
    entries: RwLock<HashMap<Key, Entry>>,
    /// On a store shared by several nodes, entries expire after this (other nodes' changes do
    /// not reach this cache otherwise).
    max_age: Option<Duration>,
}

impl PolicyCache {
    pub fn new(max_age: Option<Duration>) -> Self {
        Self {
            max_age,
            ..Self::default()
        }
    }

    /// After any change to policies or bindings.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn get(&self, key: &Key) -> Option<Arc<PolicySet>> {
        let generation = self.generation.load(Ordering::Acquire);
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(g, at, _)| {
                *g == generation && self.max_age.is_none_or(|max| at.elapsed() < max)
            })
            .map(|(_, _, set)| set.clone())
    }

    fn put(&self, key: Key, generation: u64, set: Arc<PolicySet>) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        // Filled only if no change happened while the policies were being read.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= CACHE_MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (generation, Instant::now(), set));
    }
}

/// The stored rules of a policy (validated when they were written).
pub fn rules_of(record: &PolicyRecord) -> ApiResult<Vec<PolicyRule>> {
    serde_json::from_str(&record.rules)
        .map_err(|_| ApiError::internal(format!("policy {} has unreadable rules", record.id)))
}

/// The compiled policies bound to an identity or any of its groups in a tenant.
pub async fn policy_set(
    state: &AppState,
    tenant_id: &str,
    identity_id: &str,
    groups: &[String],
) -> ApiResult<Arc<PolicySet>> {
    let key = (
        tenant_id.to_owned(),
        identity_id.to_owned(),
        groups.to_vec(),
    );
    if let Some(set) = state.policies.get(&key) {
        return Ok(set);
    }
    let generation = state.policies.generation.load(Ordering::Acquire);
    let mut identities = Vec::with_capacity(groups.len() + 1);
    identities.push(identity_id.to_owned());
    identities.extend(groups.iter().cloned());
    let set = Arc::new(compile_bound(state, tenant_id, &identities).await?);
    state.policies.put(key, generation, set.clone());
    Ok(set)
}

/// Compiles every policy bound to any of `identities` (an identity and its groups), uncached.
pub async fn compile_bound(
    state: &AppState,
    tenant_id: &str,
    identities: &[String],
) -> ApiResult<PolicySet> {
    let records = state.store.policies_bound_to(tenant_id, identities).await?;
    let inputs = records
        .iter()
        .map(|r| {
            Ok(PolicyInput {
                id: r.id.clone(),
                name: r.name.clone(),
                rules: rules_of(r)?,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    PolicySet::compile(inputs).map_err(ApiError::internal)
}

/// Whether policies need to be consulted for this caller at all.
pub fn is_unrestricted(p: &Principal) -> bool {
    // Tenant admins own their tenant; partner-scoped secrets follow the partner rules
    // (every identity of the partner reads, partner admins write: see tenancy.rs).
    p.is_tenant_admin || p.tenant_id == p.partner_id
}

/// The caller's policy set, or `None` when the caller is not restricted by policies.
pub async fn caller_policies(state: &AppState, p: &Principal) -> ApiResult<Option<Arc<PolicySet>>> {
    if is_unrestricted(p) {
        return Ok(None);
    }
    policy_set(state, &p.tenant_id, &p.identity_id, &p.groups)
        .await
        .map(Some)
}

/// Requires `permission` on `path` (after the scope check done by the caller).
pub async fn authorize(
    state: &AppState,
    p: &Principal,
    path: &str,
    permission: Permission,
) -> ApiResult<()> {
    match caller_policies(state, p).await? {
        None => Ok(()),
        Some(set) => {
            let decision = set.evaluate(path, permission);
            if decision.allowed {
                Ok(())
            } else {
                Err(denied(&decision.reason, path, permission))
            }
        }
    }
}

/// The 403 of a refused permission: the deny rule that decided, or that no policy allows it.
pub fn denied(reason: &DecisionReason<'_>, path: &str, permission: Permission) -> ApiError {
    ApiError::access_denied(explain_deny(reason, path, permission).unwrap_or_else(|| {
        format!(
            "no policy allows {permission} on {path} (see `scaivault policies test {path} {permission}`)"
        )
    }))
}

/// Names the deny rule behind a decision (`None` when no deny rule decided); the wording of
/// `POST /v1/policies/test` and of the 403 alike.
pub fn explain_deny(
    reason: &DecisionReason<'_>,
    path: &str,
    permission: Permission,
) -> Option<String> {
    match reason {
        DecisionReason::Denied {
            policy_id,
            policy_name,
            rule_index,
            rule_path,
        } => Some(format!(
            "denied: rule {rule_index} ({rule_path}) of policy {policy_name} ({policy_id}) denies {permission} on {path}; a deny wins over any allow"
        )),
        DecisionReason::Allowed { .. } | DecisionReason::NoMatch => None,
    }
}
