//! Compiled policies and their evaluation.

use std::cell::RefCell;

use globset::{Candidate, GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Serialize;

use super::glob::{Pattern, globset_pattern, is_matchable_path, validate_glob};
use super::permission::{Effect, Permission};
use super::rule::{PolicyError, PolicyErrorKind, PolicyRule};

/// One policy bound to the caller, as [`PolicySet::compile`] takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyInput {
    pub id: String,
    pub name: String,
    pub rules: Vec<PolicyRule>,
}

/// All the policies bound to one caller, compiled into a single `GlobSet` so matching cost
/// stays nearly flat as rules are added. Immutable, `Send + Sync`, meant to be shared in an
/// `Arc`.
#[derive(Clone, Debug)]
pub struct PolicySet {
    globs: GlobSet,
    /// Indexed like the globs in `globs`, which were added in policy order then rule order,
    /// so a lower index is an earlier rule.
    rules: Vec<CompiledRule>,
    policies: Vec<PolicyMeta>,
}

#[derive(Clone, Debug)]
struct CompiledRule {
    policy: usize,
    rule_index: usize,
    /// Permission bits this rule covers, `admin` already expanded.
    mask: u16,
    effect: Effect,
    path: Box<str>,
    /// Per-character check for globs containing `?` (see `glob`).
    exact: Option<Pattern>,
}

#[derive(Clone, Debug)]
struct PolicyMeta {
    id: Box<str>,
    name: Box<str>,
}

/// The outcome of [`PolicySet::evaluate`]. `allowed` is true exactly when `reason` is
/// [`DecisionReason::Allowed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Decision<'a> {
    pub allowed: bool,
    pub reason: DecisionReason<'a>,
}

/// Which rule decided, borrowed from the [`PolicySet`]. `rule_index` is the rule's position
/// in its policy's `rules`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DecisionReason<'a> {
    /// A matching deny rule (the first in policy then rule order); deny beats every allow.
    Denied {
        policy_id: &'a str,
        policy_name: &'a str,
        rule_index: usize,
        rule_path: &'a str,
    },
    /// The first matching allow rule in policy then rule order, and no matching deny.
    Allowed {
        policy_id: &'a str,
        policy_name: &'a str,
        rule_index: usize,
        rule_path: &'a str,
    },
    /// No rule covers this path and permission: denied by default.
    NoMatch,
}

/// Verdict of a scan: the deciding rule, if any.
enum Verdict<'a> {
    Denied(&'a CompiledRule),
    Allowed(&'a CompiledRule),
    NoMatch,
}

thread_local! {
    /// Reused by every evaluation on this thread, so the hot path does not allocate once warm.
    static MATCHES: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

impl PolicySet {
    /// A set with no rules: every request is denied.
    pub fn empty() -> Self {
        Self {
            globs: GlobSet::empty(),
            rules: Vec::new(),
            policies: Vec::new(),
        }
    }

    /// Compiles the policies bound to a caller. Order matters only for which rule is reported
    /// (the first matching one), never for the outcome. Globs are validated again here since
    /// stored rules are trusted no more than submitted ones; rules without permissions are
    /// dropped as they can match nothing.
    pub fn compile(policies: impl IntoIterator<Item = PolicyInput>) -> Result<Self, PolicyError> {
        let mut builder = GlobSetBuilder::new();
        let mut rules = Vec::new();
        let mut metas = Vec::new();
        for (policy, input) in policies.into_iter().enumerate() {
            for (rule_index, rule) in input.rules.iter().enumerate() {
                let mask = rule.permissions.iter().fold(0, |m, p| m | p.grant_mask());
                if mask == 0 {
                    continue;
                }
                let fail = |kind: PolicyErrorKind| PolicyError {
                    policy_id: Some(input.id.clone()),
                    field: format!("rules[{rule_index}].path"),
                    kind,
                };
                validate_glob(&rule.path).map_err(|e| fail(e.into()))?;
                // Unreachable for a validated glob; reported rather than unwrapped all the same.
                let glob = GlobBuilder::new(&globset_pattern(&rule.path))
                    .literal_separator(true)
                    .backslash_escape(true)
                    .build()
                    .map_err(|e| fail(PolicyErrorKind::Compile(e.to_string())))?;
                builder.add(glob);
                rules.push(CompiledRule {
                    policy,
                    rule_index,
                    mask,
                    effect: rule.effect,
                    path: rule.path.as_str().into(),
                    exact: Pattern::for_glob(&rule.path),
                });
            }
            metas.push(PolicyMeta {
                id: input.id.into(),
                name: input.name.into(),
            });
        }
        let globs = builder.build().map_err(|e| PolicyError {
            policy_id: None,
            field: "rules".into(),
            kind: PolicyErrorKind::Compile(e.to_string()),
        })?;
        Ok(Self {
            globs,
            rules,
            policies: metas,
        })
    }

    /// True when no rule is compiled, i.e. everything is denied.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Number of compiled rules across all policies.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Decides whether `permission` on `path` is allowed, and says which rule decided.
    pub fn evaluate(&self, path: &str, permission: Permission) -> Decision<'_> {
        match self.verdict(path, permission) {
            Verdict::Denied(i) => {
                let (policy_id, policy_name, rule_index, rule_path) = self.describe(i);
                Decision {
                    allowed: false,
                    reason: DecisionReason::Denied {
                        policy_id,
                        policy_name,
                        rule_index,
                        rule_path,
                    },
                }
            }
            Verdict::Allowed(i) => {
                let (policy_id, policy_name, rule_index, rule_path) = self.describe(i);
                Decision {
                    allowed: true,
                    reason: DecisionReason::Allowed {
                        policy_id,
                        policy_name,
                        rule_index,
                        rule_path,
                    },
                }
            }
            Verdict::NoMatch => Decision {
                allowed: false,
                reason: DecisionReason::NoMatch,
            },
        }
    }

    /// Same outcome as `evaluate(path, permission).allowed`.
    pub fn allows(&self, path: &str, permission: Permission) -> bool {
        matches!(self.verdict(path, permission), Verdict::Allowed(_))
    }

    fn describe<'a>(&'a self, rule: &'a CompiledRule) -> (&'a str, &'a str, usize, &'a str) {
        // `rule.policy` always indexes `policies`: both are filled together in `compile`.
        let policy = &self.policies[rule.policy];
        (&policy.id, &policy.name, rule.rule_index, &rule.path)
    }

    fn verdict(&self, path: &str, permission: Permission) -> Verdict<'_> {
        if self.rules.is_empty() || !is_matchable_path(path) {
            return Verdict::NoMatch;
        }
        MATCHES.with(|cell| match cell.try_borrow_mut() {
            Ok(mut matches) => self.scan(path, permission, &mut matches),
            // Only if re-entered on this thread, which nothing here does; stay correct anyway.
            Err(_) => self.scan(path, permission, &mut Vec::new()),
        })
    }

    fn scan(&self, path: &str, permission: Permission, matches: &mut Vec<usize>) -> Verdict<'_> {
        let bit = permission.bit();
        self.globs
            .matches_candidate_into(&Candidate::from_bytes(path.as_bytes()), matches);
        // `matches` is ascending, i.e. in policy then rule order.
        let mut first_allow = None;
        for &i in matches.iter() {
            let Some(rule) = self.rules.get(i) else {
                continue;
            };
            // Cheapest test first; the exact `?` check only for rules that could decide.
            if rule.mask & bit == 0 || rule.exact.as_ref().is_some_and(|p| !p.matches(path)) {
                continue;
            }
            match rule.effect {
                Effect::Deny => return Verdict::Denied(rule),
                Effect::Allow if first_allow.is_none() => first_allow = Some(rule),
                Effect::Allow => {}
            }
        }
        first_allow.map_or(Verdict::NoMatch, Verdict::Allowed)
    }
}

impl Default for PolicySet {
    fn default() -> Self {
        Self::empty()
    }
}
