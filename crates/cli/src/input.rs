//! Secret payloads from the command line: `key=value` pairs, `-` for stdin, `--json-file`.

use std::io::Read;

use serde_json::{Map, Value};

use crate::error::CliError;

/// Reads all of stdin.
fn read_stdin() -> Result<String, CliError> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| CliError::io("reading stdin", &e))?;
    Ok(text)
}

/// Builds a payload from an optional JSON file (`-` = stdin) and `key=value` pairs (a value of
/// `-` = stdin, minus one trailing newline). Pairs override keys from the file. Stdin can be
/// consumed once only.
pub fn payload(pairs: &[String], json_file: Option<&str>) -> Result<Map<String, Value>, CliError> {
    let stdin_uses = pairs
        .iter()
        .filter(|p| p.split_once('=').is_some_and(|(_, v)| v == "-"))
        .count()
        + usize::from(json_file == Some("-"));
    if stdin_uses > 1 {
        return Err(CliError::validation(
            "stdin (`-`) can supply only one value or --json-file",
        ));
    }
    let mut data = match json_file {
        Some(source) => json_object(source)?,
        None => Map::new(),
    };
    for (position, pair) in pairs.iter().enumerate() {
        let Some((key, value)) = pair.split_once('=') else {
            // Not echoed: it may be a value typed without its key.
            return Err(CliError::validation(format!(
                "expected key=value, but field argument {} has no '='",
                position + 1
            )));
        };
        if key.is_empty() {
            return Err(CliError::validation("empty key in key=value argument"));
        }
        let value = if value == "-" {
            let mut text = read_stdin()?;
            if text.ends_with('\n') {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            text
        } else {
            value.to_string()
        };
        data.insert(key.to_string(), Value::String(value));
    }
    Ok(data)
}

/// Reads a JSON object from a file or stdin (`-`).
pub fn json_object(source: &str) -> Result<Map<String, Value>, CliError> {
    let text = if source == "-" {
        read_stdin()?
    } else {
        std::fs::read_to_string(source)
            .map_err(|e| CliError::io(&format!("reading {source}"), &e))?
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(CliError::validation(format!(
            "{} must contain a JSON object",
            display_source(source)
        ))),
        // serde_json's message carries only a position, never the content.
        Err(e) => Err(CliError::validation(format!(
            "{} is not valid JSON: {e}",
            display_source(source)
        ))),
    }
}

fn display_source(source: &str) -> String {
    if source == "-" {
        "stdin".into()
    } else {
        source.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_split_on_first_equals() {
        let data = payload(&["a=1".into(), "b=x=y".into(), "c=".into()], None).unwrap();
        assert_eq!(data["a"], "1");
        assert_eq!(data["b"], "x=y");
        assert_eq!(data["c"], "");
    }

    #[test]
    fn bad_pairs_are_validation_errors() {
        assert_eq!(payload(&["novalue".into()], None).unwrap_err().exit, 5);
        assert_eq!(payload(&["=v".into()], None).unwrap_err().exit, 5);
        assert_eq!(
            payload(&["a=-".into(), "b=-".into()], None)
                .unwrap_err()
                .exit,
            5
        );
    }

    #[test]
    fn json_file_is_merged_under_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.json");
        std::fs::write(&file, r#"{"a":{"nested":true},"b":"file"}"#).unwrap();
        let data = payload(&["b=arg".into()], Some(file.to_str().unwrap())).unwrap();
        assert_eq!(data["a"]["nested"], true);
        assert_eq!(data["b"], "arg");
        std::fs::write(&file, "[1]").unwrap();
        assert_eq!(
            payload(&[], Some(file.to_str().unwrap())).unwrap_err().exit,
            5
        );
    }
}
