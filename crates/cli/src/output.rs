//! Writing to stdout: raw API JSON, tables, single values, env/YAML renderings.

use std::io::{IsTerminal, Write};

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
use serde_json::Value;

use crate::error::CliError;

/// Writes `text` to stdout. A closed pipe (`| head`) is not an error.
pub fn emit(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::io("writing to stdout", &e)),
    }
}

/// Writes `text` and a newline.
pub fn line(text: &str) -> Result<(), CliError> {
    emit(&format!("{text}\n"))
}

/// Prints an API response body exactly as received (plus a final newline if it lacks one).
pub fn raw_json(body: &str) -> Result<(), CliError> {
    if body.ends_with('\n') {
        emit(body)
    } else {
        line(body)
    }
}

/// A borderless, column-aligned table with upper-case headers (kubectl style).
pub fn table<const N: usize>(headers: [&str; N]) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.set_content_arrangement(if std::io::stdout().is_terminal() {
        ContentArrangement::Dynamic
    } else {
        ContentArrangement::Disabled
    });
    table.set_header(headers);
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
        column.set_cell_alignment(CellAlignment::Left);
    }
    table
}

/// Prints a table built with [`table`], without trailing spaces.
pub fn print_table(table: &Table) -> Result<(), CliError> {
    let mut text = String::new();
    for row in table.lines() {
        text.push_str(row.trim_end());
        text.push('\n');
    }
    emit(&text)
}

/// A two-column "label  value" block for single objects.
pub fn print_fields(rows: &[(&str, String)]) -> Result<(), CliError> {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut text = String::new();
    for (label, value) in rows {
        text.push_str(format!("{label:<width$}  {value}").trim_end());
        text.push('\n');
    }
    emit(&text)
}

/// A JSON value as a human sees it: strings bare, everything else as compact JSON.
pub fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `Some(x)` displayed, `None` as `-`.
pub fn or_dash(value: Option<impl ToString>) -> String {
    value.map(|v| v.to_string()).unwrap_or_else(|| "-".into())
}

/// A secret field name as an environment variable name: upper-cased, every character outside
/// `[A-Z0-9_]` replaced by `_`, and `_` prepended when it would start with a digit. `None` when
/// nothing usable remains.
pub fn env_name(field: &str) -> Option<String> {
    let mut name: String = field
        .chars()
        .map(|c| {
            let c = c.to_ascii_uppercase();
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.chars().all(|c| c == '_') {
        return None;
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    Some(name)
}

/// Quotes `value` for POSIX shells and dotenv files: bare when it only holds safe characters,
/// otherwise single-quoted with `'` written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    let safe = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:@%+,=".contains(c));
    if safe {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// A YAML document for a map of maps (as `secrets export --format yaml` emits). Keys and
/// strings are double-quoted JSON strings, which YAML reads identically; nested values are
/// written in flow style (JSON), also valid YAML.
pub fn yaml_document(map: &serde_json::Map<String, Value>) -> String {
    let mut out = String::new();
    if map.is_empty() {
        out.push_str("{}\n");
        return out;
    }
    for (key, value) in map {
        out.push_str(&Value::String(key.clone()).to_string());
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push_str(":\n");
                for (k, v) in inner {
                    out.push_str("  ");
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push_str(": ");
                    out.push_str(&v.to_string());
                    out.push('\n');
                }
            }
            other => {
                out.push_str(": ");
                out.push_str(&other.to_string());
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever the value, a POSIX shell reads back exactly that value.
        #[test]
        fn shell_quote_round_trips_through_sh(value in r"[ -~\n\té€]{0,24}") {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", shell_quote(&value)))
                .output()
                .unwrap();
            prop_assert_eq!(String::from_utf8(out.stdout).unwrap(), value);
        }

        #[test]
        fn env_names_are_valid_identifiers(field in "\\PC{0,16}") {
            if let Some(name) = env_name(&field) {
                prop_assert!(!name.is_empty());
                prop_assert!(!name.starts_with(|c: char| c.is_ascii_digit()));
                prop_assert!(name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'));
            }
        }
    }

    #[test]
    fn env_names() {
        assert_eq!(env_name("username").as_deref(), Some("USERNAME"));
        assert_eq!(env_name("db-host.name").as_deref(), Some("DB_HOST_NAME"));
        assert_eq!(env_name("1st").as_deref(), Some("_1ST"));
        assert_eq!(env_name("--"), None);
        assert_eq!(env_name(""), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("abc-1.2"), "abc-1.2");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's $HOME"), r"'it'\''s $HOME'");
        assert_eq!(shell_quote("a\nb"), "'a\nb'");
    }

    #[test]
    fn yaml() {
        let v: serde_json::Map<String, Value> =
            serde_json::from_str(r#"{"app/db":{"user":"a\"b","n":1,"o":{"x":[1]}},"empty":{}}"#)
                .unwrap();
        assert_eq!(
            yaml_document(&v),
            "\"app/db\":\n  \"n\": 1\n  \"o\": {\"x\":[1]}\n  \"user\": \"a\\\"b\"\n\"empty\": {}\n"
        );
    }
}
