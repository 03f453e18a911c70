//! JSON request bodies, decoded as the server's `JsonBody` extractor does (a JSON value, then
//! `serde_path_to_error` into the request type) and then checked with the core validators the
//! services apply to their fields (paths, globs, durations, policy rules). The first byte picks
//! the request type, the rest is the body. Nothing panics, and whatever decodes re-encodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scaivault_core::policy::{RawRule, validate_glob, validate_rules};
use scaivault_core::{SecretPath, parse_duration, validate_prefix};
use scaivault_proto::{auth, identity, policies, rotation, secrets, subscriptions};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The server's decoding: a JSON object first, then the typed request with the failing field's
/// path (`extract::parse_json`).
fn decode<T: DeserializeOwned + Serialize>(body: &[u8]) -> Option<T> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.as_object()?;
    let request: T = serde_path_to_error::deserialize(value)
        .map_err(|e| e.path().to_string())
        .ok()?;
    serde_json::to_vec(&request).expect("a decoded request re-encodes");
    Some(request)
}

fn durations<'a>(values: impl IntoIterator<Item = &'a String>) {
    for value in values {
        let _ = parse_duration(value);
    }
}

fn paths<'a>(values: impl IntoIterator<Item = &'a String>) {
    for value in values {
        let _ = SecretPath::parse(value);
        let _ = validate_prefix(value);
        let _ = validate_glob(value);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    match kind % 12 {
        0 => {
            if let Some(r) = decode::<secrets::WriteSecretRequest>(body)
                && let Some(options) = &r.options
            {
                durations(&options.expires_in);
            }
        }
        1 => {
            if let Some(r) = decode::<secrets::PatchSecretRequest>(body)
                && let Some(options) = &r.options
            {
                durations(&options.expires_in);
            }
        }
        2 => {
            if let Some(r) = decode::<secrets::RotateSecretRequest>(body) {
                durations(&r.grace_period);
            }
        }
        3 => {
            if let Some(r) = decode::<auth::CreateTokenRequest>(body) {
                durations(&r.ttl);
            }
        }
        4 => {
            if let Some(r) = decode::<identity::CreateApiKeyRequest>(body) {
                durations(&r.ttl);
            }
        }
        5 => {
            if let Some(r) = decode::<policies::PolicyRequest>(body) {
                let rules: Vec<RawRule> = r
                    .rules
                    .unwrap_or_default()
                    .into_iter()
                    .map(|rule| RawRule {
                        path: rule.path,
                        permissions: rule.permissions,
                        effect: rule.effect,
                    })
                    .collect();
                let _ = validate_rules(&rules);
                paths(&r.path);
            }
        }
        6 => {
            if let Some(r) = decode::<policies::PolicyTestRequest>(body) {
                paths([&r.path]);
            }
        }
        7 => {
            if let Some(r) = decode::<subscriptions::CreateSubscriptionRequest>(body) {
                paths(&r.paths);
            }
        }
        8 => {
            if let Some(r) = decode::<rotation::RotationPolicyRequest>(body) {
                durations([&r.interval]);
                durations(&r.grace_period);
                durations(&r.warn_before);
            }
        }
        9 => {
            if let Some(r) = decode::<rotation::AssignRequest>(body) {
                paths(&r.paths);
            }
        }
        10 => {
            let _ = decode::<rotation::SecretPolicyRequest>(body);
        }
        _ => {
            let _ = decode::<identity::RegisterRequest>(body);
            let _ = decode::<identity::CreateTenantRequest>(body);
            let _ = decode::<identity::CreateServiceAccountRequest>(body);
        }
    }
});
