//! Policy documents and their globs: the first line is a JSON array of rules (as
//! `POST /v1/policies` takes them), every further line a path to evaluate (as secret requests
//! and `POST /v1/policies/test` bring them). Nothing panics, validated rules always compile,
//! and `allows` agrees with `evaluate` for every permission.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scaivault_core::policy::{
    Permission, PolicyInput, PolicySet, RawRule, validate_glob, validate_rules,
};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = input.split('\n');
    let document = lines.next().unwrap_or_default();
    let paths: Vec<&str> = lines.collect();
    for line in &paths {
        let _ = validate_glob(line);
    }
    let Ok(raw) = serde_json::from_str::<Vec<RawRule>>(document) else {
        return;
    };
    for rule in &raw {
        let _ = validate_glob(&rule.path);
    }
    let Ok(rules) = validate_rules(&raw) else {
        return;
    };
    let set = PolicySet::compile([PolicyInput {
        id: "pol_fuzz".to_owned(),
        name: "fuzz".to_owned(),
        rules,
    }])
    .expect("validated rules compile");
    for path in paths {
        for permission in Permission::ALL {
            let decision = set.evaluate(path, permission);
            assert_eq!(decision.allowed, set.allows(path, permission), "{path:?}");
        }
    }
});
