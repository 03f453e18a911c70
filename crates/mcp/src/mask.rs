//! Masking of secret values: the decision (operator permission AND explicit request) and the
//! replacement. Pure functions, no I/O.

use serde_json::{Map, Value};

/// What replaces every masked value: fixed, so it says nothing about the value's length.
pub const MASK: &str = "********";

/// Values are revealed only when the operator started the server with `--allow-reveal` AND
/// the call asked for `reveal: true`. A model cannot reveal on its own.
pub fn should_reveal(operator_allows: bool, requested: bool) -> bool {
    operator_allows && requested
}

/// `data` with every value replaced by [`MASK`]; the field names stay.
pub fn mask_data(data: &Map<String, Value>) -> Map<String, Value> {
    data.keys()
        .map(|k| (k.clone(), Value::String(MASK.to_owned())))
        .collect()
}

/// Masks the `data` object of a secret read (in place) unless `reveal`; adds `fields` (the
/// field names) and `masked`.
pub fn mask_read(body: &mut Value, reveal: bool) {
    let Some(obj) = body.as_object_mut() else {
        return;
    };
    let data = match obj.get("data") {
        Some(Value::Object(data)) => data.clone(),
        Some(_) => Map::new(),
        None => Map::new(),
    };
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    let fields: Vec<Value> = names
        .into_iter()
        .map(|k| Value::String(k.clone()))
        .collect();
    if !reveal {
        obj.insert("data".into(), Value::Object(mask_data(&data)));
    }
    obj.insert("fields".into(), Value::Array(fields));
    obj.insert("masked".into(), Value::Bool(!reveal));
}

/// Masks the named string fields of a response (in place) unless `reveal` (an issued
/// certificate's `private_key`); adds `masked`.
pub fn mask_fields(body: &mut Value, fields: &[&str], reveal: bool) {
    let Some(obj) = body.as_object_mut() else {
        return;
    };
    if !reveal {
        for field in fields {
            if let Some(value) = obj.get_mut(*field) {
                *value = Value::String(MASK.to_owned());
            }
        }
    }
    obj.insert("masked".into(), Value::Bool(!reveal));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn named_fields_are_masked_unless_revealed() {
        let issued = json!({"id": "cert_1", "certificate": "PEM", "private_key": "KEY"});
        let mut masked = issued.clone();
        mask_fields(&mut masked, &["private_key"], false);
        assert_eq!(
            masked,
            json!({"id": "cert_1", "certificate": "PEM", "private_key": MASK, "masked": true})
        );
        let mut revealed = issued;
        mask_fields(&mut revealed, &["private_key"], true);
        assert_eq!(revealed["private_key"], "KEY");
        assert_eq!(revealed["masked"], false);
    }

    #[test]
    fn reveal_needs_both_the_operator_and_the_call() {
        assert!(!should_reveal(false, false));
        assert!(
            !should_reveal(false, true),
            "a model cannot reveal on its own"
        );
        assert!(
            !should_reveal(true, false),
            "with the flag it must still ask"
        );
        assert!(should_reveal(true, true));
    }

    #[test]
    fn masked_reads_keep_names_and_hide_values_and_lengths() {
        let mut body = json!({
            "path": "app/db",
            "version": 2,
            "data": {"password": "hunter2-long-value", "port": 5432, "nested": {"k": "v"}},
            "metadata": {"description": "db"}
        });
        mask_read(&mut body, false);
        assert_eq!(
            body["data"],
            json!({"password": MASK, "port": MASK, "nested": MASK})
        );
        assert_eq!(body["fields"], json!(["nested", "password", "port"]));
        assert_eq!(body["masked"], true);
        let text = body.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("5432"), "{text}");
        assert_eq!(body["metadata"]["description"], "db");
    }

    #[test]
    fn revealed_reads_are_unchanged_but_annotated() {
        let mut body = json!({"data": {"password": "hunter2"}});
        mask_read(&mut body, true);
        assert_eq!(body["data"]["password"], "hunter2");
        assert_eq!(body["masked"], false);
        assert_eq!(body["fields"], json!(["password"]));
    }
}
