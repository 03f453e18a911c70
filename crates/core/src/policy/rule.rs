//! Policy rules: the raw form as submitted, the validated form, and the errors in between.

use serde::{Deserialize, Serialize};

use super::glob::{GlobError, validate_glob};
use super::permission::{CATALOGUE, Effect, Permission};

/// Most rules one policy may hold. Matching cost barely grows with the rule count (one
/// `GlobSet`); the cap bounds compile time and memory per policy.
pub const MAX_RULES_PER_POLICY: usize = 10_000;

/// A rule as submitted: plain strings, so a bad value can be reported by its exact field.
/// Missing fields default to empty (and are then reported by [`validate_rules`]); a missing
/// `effect` means `allow`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
}

/// A validated rule: `path` is a valid glob, `permissions` is non-empty without duplicates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRule {
    pub path: String,
    pub permissions: Vec<Permission>,
    pub effect: Effect,
}

/// A policy that failed validation or compilation, e.g. `rules[2].path: glob is empty`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{field}: {kind}", policy_prefix(.policy_id.as_deref()))]
pub struct PolicyError {
    /// Set when the error comes from [`super::PolicySet::compile`], which sees many policies.
    pub policy_id: Option<String>,
    /// Where the problem is, e.g. `rules`, `rules[2].path`, `rules[0].permissions[1]`.
    pub field: String,
    pub kind: PolicyErrorKind,
}

fn policy_prefix(id: Option<&str>) -> String {
    id.map(|id| format!("policy {id}: ")).unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyErrorKind {
    #[error("at least one rule is required")]
    NoRules,
    #[error("at most {MAX_RULES_PER_POLICY} rules are allowed per policy")]
    TooManyRules,
    #[error("at least one permission is required")]
    NoPermissions,
    #[error("unknown permission '{0}' (expected one of: {CATALOGUE})")]
    UnknownPermission(String),
    #[error("unknown effect '{0}' (expected 'allow' or 'deny')")]
    UnknownEffect(String),
    #[error(transparent)]
    Glob(#[from] GlobError),
    /// `globset` refused a glob that passed validation; not expected, reported all the same.
    #[error("glob could not be compiled: {0}")]
    Compile(String),
}

impl PolicyError {
    pub(crate) fn new(field: impl Into<String>, kind: PolicyErrorKind) -> Self {
        Self {
            policy_id: None,
            field: field.into(),
            kind,
        }
    }
}

/// Validates a policy's rules; the first problem found is returned, named by its field.
/// Duplicate permissions within a rule are dropped (first occurrence kept).
pub fn validate_rules(rules: &[RawRule]) -> Result<Vec<PolicyRule>, PolicyError> {
    if rules.is_empty() {
        return Err(PolicyError::new("rules", PolicyErrorKind::NoRules));
    }
    if rules.len() > MAX_RULES_PER_POLICY {
        return Err(PolicyError::new("rules", PolicyErrorKind::TooManyRules));
    }
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| validate_rule(i, rule))
        .collect()
}

fn validate_rule(i: usize, rule: &RawRule) -> Result<PolicyRule, PolicyError> {
    validate_glob(&rule.path)
        .map_err(|e| PolicyError::new(format!("rules[{i}].path"), e.into()))?;
    if rule.permissions.is_empty() {
        return Err(PolicyError::new(
            format!("rules[{i}].permissions"),
            PolicyErrorKind::NoPermissions,
        ));
    }
    let mut permissions = Vec::with_capacity(rule.permissions.len());
    for (j, name) in rule.permissions.iter().enumerate() {
        let p = Permission::parse(name).ok_or_else(|| {
            PolicyError::new(
                format!("rules[{i}].permissions[{j}]"),
                PolicyErrorKind::UnknownPermission(name.clone()),
            )
        })?;
        if !permissions.contains(&p) {
            permissions.push(p);
        }
    }
    let effect = match &rule.effect {
        None => Effect::Allow,
        Some(name) => Effect::parse(name).ok_or_else(|| {
            PolicyError::new(
                format!("rules[{i}].effect"),
                PolicyErrorKind::UnknownEffect(name.clone()),
            )
        })?,
    };
    Ok(PolicyRule {
        path: rule.path.clone(),
        permissions,
        effect,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(path: &str, permissions: &[&str], effect: Option<&str>) -> RawRule {
        RawRule {
            path: path.to_owned(),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            effect: effect.map(str::to_owned),
        }
    }

    fn message(rules: &[RawRule]) -> String {
        validate_rules(rules).unwrap_err().to_string()
    }

    #[test]
    fn valid_rules_are_converted() {
        let rules = validate_rules(&[
            raw("app/**", &["read", "list", "read"], None),
            raw("app/secret", &["admin"], Some("deny")),
        ])
        .unwrap();
        assert_eq!(
            rules,
            vec![
                PolicyRule {
                    path: "app/**".into(),
                    permissions: vec![Permission::Read, Permission::List],
                    effect: Effect::Allow,
                },
                PolicyRule {
                    path: "app/secret".into(),
                    permissions: vec![Permission::Admin],
                    effect: Effect::Deny,
                },
            ]
        );
    }

    #[test]
    fn errors_name_the_field() {
        let good = raw("a/*", &["read"], None);
        assert_eq!(message(&[]), "rules: at least one rule is required");
        assert_eq!(
            message(&[good.clone(), good.clone(), raw("a**b", &["read"], None)]),
            "rules[2].path: '**' must be a whole segment, as in 'a/**/b'; use '*' within a segment"
        );
        assert_eq!(
            message(&[raw("", &["read"], None)]),
            "rules[0].path: glob is empty"
        );
        assert_eq!(
            message(&[raw("/a", &["read"], None)]),
            "rules[0].path: glob must not start with '/' (paths are relative, e.g. 'app/*')"
        );
        assert_eq!(
            message(&[raw("a/[bc]", &["read"], None)]),
            "rules[0].path: '[' is not supported: a glob is made of '*', '**', '?' and literal \
             characters"
        );
        assert_eq!(
            message(&[good.clone(), raw("a", &[], None)]),
            "rules[1].permissions: at least one permission is required"
        );
        assert_eq!(
            message(&[raw("a", &["read", "reed"], None)]),
            "rules[0].permissions[1]: unknown permission 'reed' (expected one of: read, list, \
             write, delete, rotate, admin, issue, revoke, lease, subscribe)"
        );
        assert_eq!(
            message(&[raw("a", &["read"], Some("Allow"))]),
            "rules[0].effect: unknown effect 'Allow' (expected 'allow' or 'deny')"
        );
        let err = validate_rules(&[raw("a", &["x"], None)]).unwrap_err();
        assert_eq!(err.field, "rules[0].permissions[0]");
        assert_eq!(err.kind, PolicyErrorKind::UnknownPermission("x".into()));
    }

    #[test]
    fn rule_count_is_capped() {
        let rule = raw("a", &["read"], None);
        assert!(validate_rules(&vec![rule.clone(); MAX_RULES_PER_POLICY]).is_ok());
        assert_eq!(
            message(&vec![rule; MAX_RULES_PER_POLICY + 1]),
            "rules: at most 10000 rules are allowed per policy"
        );
    }
}
