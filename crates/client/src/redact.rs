//! Redaction of secret material from JSON bodies, for debug output.

use serde_json::Value;

/// What replaces a redacted value.
pub const REDACTED: &str = "[REDACTED]";

/// Keys whose whole value is secret: every leaf below them is replaced, keys are kept.
const SECRET_CONTAINERS: &[&str] = &["data", "new_value"];

/// Keys whose value is secret wherever they appear.
const SECRET_KEYS: &[&str] = &[
    "token",
    "password",
    "private_key",
    "client_secret",
    "secret",
    "api_key",
    "key_material",
    "webhook_secret",
];

/// Returns `body` with secret values replaced by [`REDACTED`]: every leaf under `data` and
/// `new_value`, and the values of `token`, `password`, ... anywhere. A body that is not JSON is
/// summarised by its length only, since it cannot be inspected.
pub fn redact_body(body: &str) -> String {
    if body.trim().is_empty() {
        return String::new();
    }
    match serde_json::from_str::<Value>(body) {
        Ok(mut value) => {
            redact_value(&mut value);
            value.to_string()
        }
        Err(_) => format!("<{} bytes, not JSON>", body.len()),
    }
}

/// Redacts `value` in place (see [`redact_body`]).
pub fn redact_value(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if SECRET_CONTAINERS.contains(&key.as_str()) {
                    redact_leaves(child);
                } else if SECRET_KEYS.contains(&key.as_str()) && !child.is_null() {
                    *child = Value::String(REDACTED.into());
                } else {
                    redact_value(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        _ => {}
    }
}

fn redact_leaves(value: &mut Value) {
    match value {
        Value::Object(map) => map.values_mut().for_each(redact_leaves),
        Value::Array(items) => items.iter_mut().for_each(redact_leaves),
        Value::Null => {}
        other => *other = Value::String(REDACTED.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// No value under `data` or `new_value` survives, however deeply nested.
        #[test]
        fn no_data_value_survives(
            fields in proptest::collection::btree_map("[a-z]{1,8}", "VAL[A-Za-z0-9]{8}", 0..6),
            nested in proptest::collection::vec("VAL[A-Za-z0-9]{8}", 0..4),
        ) {
            let body = serde_json::json!({
                "path": "app/x",
                "data": fields,
                "new_value": {"list": nested, "deep": {"more": fields}},
            });
            let out = redact_body(&body.to_string());
            prop_assert!(!out.contains("VAL"), "{}", out);
            prop_assert!(out.contains("app/x"));
        }
    }

    #[test]
    fn redacts_data_and_tokens_but_keeps_shape() {
        let body = r#"{"path":"app/db","data":{"user":"admin","pw":"s3cret","n":[1,{"x":"y"}]},
            "new_value":{"password":"p"},"token":"skt_abc","nested":{"password":"x"},"version":2}"#;
        let out = redact_body(body);
        assert!(!out.contains("s3cret"));
        assert!(!out.contains("admin"));
        assert!(!out.contains("skt_abc"));
        assert!(!out.contains("\"y\""));
        assert!(out.contains("\"user\":\"[REDACTED]\""));
        assert!(out.contains("\"path\":\"app/db\""));
        assert!(out.contains("\"version\":2"));
    }

    #[test]
    fn non_json_is_summarised() {
        assert_eq!(redact_body("password=hunter2"), "<16 bytes, not JSON>");
        assert_eq!(redact_body(""), "");
    }
}
