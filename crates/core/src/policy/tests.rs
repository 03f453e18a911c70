use super::*;
use proptest::prelude::*;

use Permission::{Admin, Delete, List, Read, Write};

fn rule(path: &str, permissions: &[Permission], effect: Effect) -> PolicyRule {
    PolicyRule {
        path: path.to_owned(),
        permissions: permissions.to_vec(),
        effect,
    }
}

fn allow(path: &str, permissions: &[Permission]) -> PolicyRule {
    rule(path, permissions, Effect::Allow)
}

fn deny(path: &str, permissions: &[Permission]) -> PolicyRule {
    rule(path, permissions, Effect::Deny)
}

fn policy(id: &str, rules: Vec<PolicyRule>) -> PolicyInput {
    PolicyInput {
        id: id.to_owned(),
        name: format!("{id}-name"),
        rules,
    }
}

fn set(rules: Vec<PolicyRule>) -> PolicySet {
    PolicySet::compile([policy("pol_1", rules)]).unwrap()
}

/// Whether a single-glob set grants `read` on `path`.
fn glob_matches(glob: &str, path: &str) -> bool {
    set(vec![allow(glob, &[Read])]).allows(path, Read)
}

#[test]
fn single_star_stays_in_one_segment() {
    assert!(glob_matches("prod/*", "prod/a"));
    assert!(!glob_matches("prod/*", "prod/a/b"));
    assert!(!glob_matches("prod/*", "prod"));
    assert!(glob_matches("prod/*/password", "prod/db/password"));
    assert!(!glob_matches("prod/*/password", "prod/db/x/password"));
    assert!(glob_matches("prod/db-*", "prod/db-main"));
    assert!(glob_matches("prod/db-*", "prod/db-"));
    assert!(!glob_matches("prod/db-*", "prod/db-main/x"));
    assert!(glob_matches("*", "anything"));
    assert!(!glob_matches("*", "a/b"));
}

#[test]
fn double_star_crosses_segments_but_not_the_bare_prefix() {
    let g = "environments/production/**";
    assert!(glob_matches(g, "environments/production/x"));
    assert!(glob_matches(g, "environments/production/x/y"));
    assert!(!glob_matches(g, "environments/production"));
    assert!(!glob_matches(g, "environments/productionx/y"));
    assert!(glob_matches("**/password", "password"));
    assert!(glob_matches("**/password", "a/b/password"));
    assert!(!glob_matches("**/password", "a/b/password2"));
    assert!(glob_matches("a/**/b", "a/b"));
    assert!(glob_matches("a/**/b", "a/x/y/b"));
    assert!(!glob_matches("a/**/b", "a/x/y/bc"));
    assert!(glob_matches("a/**/**/b", "a/b"));
    assert!(glob_matches("**", "a"));
    assert!(glob_matches("**", "a/b/c"));
}

#[test]
fn globs_are_anchored() {
    assert!(!glob_matches("prod/*", "xprod/a"));
    assert!(!glob_matches("prod/a", "prod/ab"));
    assert!(!glob_matches("prod/a", "x/prod/a"));
    assert!(!glob_matches("a", "a/b"));
    assert!(glob_matches("prod/a", "prod/a"));
}

#[test]
fn literal_characters() {
    assert!(glob_matches("a.b", "a.b"));
    assert!(!glob_matches("a.b", "aXb"));
    assert!(glob_matches(
        "tenants/acme/config.json",
        "tenants/acme/config.json"
    ));
    assert!(!glob_matches(
        "tenants/acme/config.json",
        "tenants/acme/configXjson"
    ));
    assert!(!glob_matches("App/key", "app/key"));
    assert!(glob_matches("a+b/(c)/$d^/e|f", "a+b/(c)/$d^/e|f"));
}

#[test]
fn question_mark_is_one_character_in_a_segment() {
    assert!(glob_matches("db?", "db1"));
    assert!(!glob_matches("db?", "db"));
    assert!(!glob_matches("db?", "db12"));
    assert!(!glob_matches("a?b", "a/b"));
    assert!(glob_matches("caf?/key", "café/key"));
    assert!(!glob_matches("x/??", "x/é"));
    assert!(glob_matches("x/??", "x/éé"));
    assert!(glob_matches("x/*?", "x/日"));
    assert!(!glob_matches("x/*?", "x/日/y"));
    assert!(glob_matches("**/?", "a/b/日"));
}

#[test]
fn unicode_segments() {
    assert!(glob_matches("café/ключ/*", "café/ключ/日本"));
    assert!(!glob_matches("café/ключ/*", "cafe/ключ/日本"));
    assert!(glob_matches("環境/**", "環境/本番/db"));
    assert!(glob_matches("*é", "ééé"));
}

#[test]
fn no_policies_deny_everything() {
    let empty = PolicySet::compile(Vec::new()).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.len(), 0);
    let d = empty.evaluate("a/b", Read);
    assert_eq!(
        d,
        Decision {
            allowed: false,
            reason: DecisionReason::NoMatch
        }
    );
    assert!(!PolicySet::default().allows("a", Admin));
    let unmatched = set(vec![allow("app/*", &[Read])]);
    assert!(!unmatched.is_empty());
    assert_eq!(
        unmatched.evaluate("other/x", Read).reason,
        DecisionReason::NoMatch
    );
}

#[test]
fn permission_must_be_granted() {
    let s = set(vec![allow("app/**", &[Read, List])]);
    assert!(s.allows("app/x", Read));
    assert!(s.allows("app/x", List));
    for p in [Write, Delete, Admin, Permission::Rotate, Permission::Issue] {
        assert_eq!(
            s.evaluate("app/x", p).reason,
            DecisionReason::NoMatch,
            "{p}"
        );
    }
}

#[test]
fn admin_implies_every_permission() {
    let s = set(vec![allow("app/**", &[Admin])]);
    for p in Permission::ALL {
        assert!(s.allows("app/x", p), "{p}");
    }
    // But no other permission implies admin.
    let s = set(vec![allow("app/**", &Permission::ALL[..5])]);
    assert!(!s.allows("app/x", Admin));
    // A deny of admin denies everything.
    let s = set(vec![allow("**", &[Admin]), deny("app/secret", &[Admin])]);
    for p in Permission::ALL {
        assert!(!s.allows("app/secret", p), "{p}");
        assert!(s.allows("app/other", p), "{p}");
    }
}

#[test]
fn deny_wins_regardless_of_order() {
    let allow_rule = allow("app/**", &[Read, Write]);
    let deny_rule = deny("app/secret/*", &[Read]);
    let orders = [
        vec![policy("pol_a", vec![allow_rule.clone(), deny_rule.clone()])],
        vec![policy("pol_a", vec![deny_rule.clone(), allow_rule.clone()])],
        vec![
            policy("pol_a", vec![allow_rule.clone()]),
            policy("pol_d", vec![deny_rule.clone()]),
        ],
        vec![
            policy("pol_d", vec![deny_rule.clone()]),
            policy("pol_a", vec![allow_rule.clone()]),
        ],
    ];
    for policies in orders {
        let s = PolicySet::compile(policies).unwrap();
        let d = s.evaluate("app/secret/key", Read);
        assert!(!d.allowed);
        assert!(
            matches!(
                d.reason,
                DecisionReason::Denied {
                    rule_path: "app/secret/*",
                    ..
                }
            ),
            "{d:?}"
        );
        assert!(!s.allows("app/secret/key", Read));
        // The deny covers read only.
        assert!(s.allows("app/secret/key", Write));
        assert!(s.allows("app/other", Read));
    }
}

#[test]
fn reason_names_the_first_deciding_rule() {
    let s = PolicySet::compile([
        policy(
            "pol_1",
            vec![allow("x/*", &[Write]), allow("app/*", &[Read])],
        ),
        policy(
            "pol_2",
            vec![
                allow("app/**", &[Read]),
                deny("app/b", &[Read]),
                deny("**", &[Read]),
            ],
        ),
    ])
    .unwrap();
    assert_eq!(
        s.evaluate("app/a", Permission::Write),
        Decision {
            allowed: false,
            reason: DecisionReason::NoMatch
        }
    );
    assert_eq!(
        s.evaluate("x/a", Write),
        Decision {
            allowed: true,
            reason: DecisionReason::Allowed {
                policy_id: "pol_1",
                policy_name: "pol_1-name",
                rule_index: 0,
                rule_path: "x/*",
            },
        }
    );
    assert_eq!(
        s.evaluate("app/b", Read),
        Decision {
            allowed: false,
            reason: DecisionReason::Denied {
                policy_id: "pol_2",
                policy_name: "pol_2-name",
                rule_index: 1,
                rule_path: "app/b",
            },
        }
    );
    let s = PolicySet::compile([
        policy(
            "pol_1",
            vec![allow("x/*", &[Write]), allow("app/*", &[Read])],
        ),
        policy("pol_2", vec![allow("app/**", &[Read])]),
    ])
    .unwrap();
    assert_eq!(
        s.evaluate("app/a", Read).reason,
        DecisionReason::Allowed {
            policy_id: "pol_1",
            policy_name: "pol_1-name",
            rule_index: 1,
            rule_path: "app/*",
        }
    );
}

#[test]
fn malformed_paths_match_nothing() {
    let s = set(vec![allow("**", &[Admin])]);
    assert!(s.allows("a/b", Read));
    for bad in ["", "/a", "a/", "a//b", "a/./b", "..", "a/../b"] {
        assert_eq!(
            s.evaluate(bad, Read).reason,
            DecisionReason::NoMatch,
            "{bad:?}"
        );
    }
}

#[test]
fn compile_checks_globs_and_names_the_policy() {
    let err = PolicySet::compile([
        policy("pol_ok", vec![allow("a", &[Read])]),
        policy(
            "pol_bad",
            vec![allow("a", &[Read]), allow("a/[bc]", &[Read])],
        ),
    ])
    .unwrap_err();
    assert_eq!(err.policy_id.as_deref(), Some("pol_bad"));
    assert_eq!(err.field, "rules[1].path");
    assert_eq!(
        err.to_string(),
        "policy pol_bad: rules[1].path: '[' is not supported: a glob is made of '*', '**', '?' \
         and literal characters"
    );
    // A rule without permissions can grant nothing and is dropped, bad glob or not.
    let s = set(vec![allow("", &[])]);
    assert!(s.is_empty());
}

#[test]
fn validated_rules_feed_compile() {
    let rules = validate_rules(&[
        RawRule {
            path: "app/**".into(),
            permissions: vec!["read".into()],
            effect: None,
        },
        RawRule {
            path: "app/secret".into(),
            permissions: vec!["admin".into()],
            effect: Some("deny".into()),
        },
    ])
    .unwrap();
    let s = set(rules);
    assert!(s.allows("app/x", Read));
    assert!(!s.allows("app/secret", Read));
}

#[test]
fn many_rules() {
    let rules: Vec<PolicyRule> = (0..10_000)
        .map(|i| allow(&format!("tenant{i}/*/db-?/**"), &[Read]))
        .collect();
    let s = set(rules);
    assert_eq!(s.len(), 10_000);
    assert!(s.allows("tenant9999/x/db-1/password", Read));
    assert!(!s.allows("tenant10000/x/db-1/password", Read));
    assert!(!s.allows("tenant5/x/db-12/password", Read));
    assert!(matches!(
        s.evaluate("tenant42/x/db-1/a/b", Read).reason,
        DecisionReason::Allowed { rule_index: 42, .. }
    ));
}

#[test]
fn policy_set_is_shareable() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<PolicySet>();
    let s = std::sync::Arc::new(set(vec![allow("a/*", &[Read])]));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let s = std::sync::Arc::clone(&s);
            std::thread::spawn(move || s.allows("a/b", Read) && !s.allows("a/b/c", Read))
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap());
    }
}

fn segment() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._@é日-]{1,8}".prop_filter("dot segments are not paths", |s| s != "." && s != "..")
}

fn segments(range: std::ops::Range<usize>) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(segment(), range)
}

fn permission() -> impl Strategy<Value = Permission> {
    prop::sample::select(Permission::ALL.to_vec())
}

/// Random allow rules built from glob-ish segments.
fn allow_rules() -> impl Strategy<Value = Vec<PolicyRule>> {
    let glob_segment = prop_oneof![Just("*".to_owned()), Just("**".to_owned()), segment()];
    let glob = prop::collection::vec(glob_segment, 1..4).prop_map(|s| s.join("/"));
    let perms = prop::collection::vec(permission(), 1..3);
    prop::collection::vec((glob, perms).prop_map(|(g, p)| allow(&g, &p)), 0..6)
}

proptest! {
    #[test]
    fn prefix_double_star_matches_strictly_below(prefix in segments(1..4), rest in segments(1..4)) {
        let prefix = prefix.join("/");
        let s = set(vec![allow(&format!("{prefix}/**"), &[Read])]);
        let below = format!("{}/{}", prefix, rest.join("/"));
        prop_assert!(s.allows(&below, Read));
        prop_assert!(!s.allows(&prefix, Read));
    }

    #[test]
    fn literal_glob_matches_its_path(path in segments(1..6)) {
        let path = path.join("/");
        prop_assert!(glob_matches(&path, &path));
    }

    #[test]
    fn star_matches_exactly_one_segment(
        path in segments(1..6),
        at in any::<prop::sample::Index>(),
    ) {
        let mut glob = path.clone();
        let i = at.index(glob.len());
        glob[i] = "*".to_owned();
        let glob = glob.join("/");
        prop_assert!(glob_matches(&glob, &path.join("/")));
        let mut longer = path.clone();
        longer.insert(i, "extra".to_owned());
        prop_assert!(!glob_matches(&glob, &longer.join("/")));
    }

    #[test]
    fn deny_everywhere_wins(
        rules in allow_rules(),
        path in segments(1..5),
        p in permission(),
        deny_first in any::<bool>(),
    ) {
        let deny_policy = policy("pol_deny", vec![deny("**", &[p])]);
        let allow_policy = policy("pol_allow", rules);
        let policies = if deny_first {
            vec![deny_policy, allow_policy]
        } else {
            vec![allow_policy, deny_policy]
        };
        let s = PolicySet::compile(policies).unwrap();
        let path = path.join("/");
        prop_assert!(!s.allows(&path, p));
        let is_deny = matches!(
            s.evaluate(&path, p).reason,
            DecisionReason::Denied { policy_id: "pol_deny", .. }
        );
        prop_assert!(is_deny);
    }

    #[test]
    fn order_never_changes_the_outcome(
        a in allow_rules(),
        b in allow_rules(),
        denied in allow_rules(),
        path in segments(1..5),
        p in permission(),
    ) {
        let denied: Vec<PolicyRule> =
            denied.into_iter().map(|r| PolicyRule { effect: Effect::Deny, ..r }).collect();
        let forward = PolicySet::compile([
            policy("a", a.clone()),
            policy("b", b.clone()),
            policy("d", denied.clone()),
        ])
        .unwrap();
        let mut all: Vec<PolicyRule> = a.into_iter().chain(b).chain(denied).collect();
        all.reverse();
        let backward = set(all);
        let path = path.join("/");
        let d = forward.evaluate(&path, p);
        prop_assert_eq!(d.allowed, backward.allows(&path, p));
        prop_assert_eq!(d.allowed, forward.allows(&path, p));
        prop_assert_eq!(d.allowed, matches!(d.reason, DecisionReason::Allowed { .. }));
    }
}
