//! `scaivault secrets export`, and the secret-to-environment mapping shared with `run`.

use std::collections::BTreeMap;

use clap::{Args, ValueEnum};
use scaivault_client::{Client, ListSecretsQuery};
use serde_json::{Map, Value};

use super::list_all;
use crate::error::CliError;
use crate::output;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// KEY=value lines, shell-quoted (field names upper-cased)
    Env,
    /// {"path": {"field": value, ...}, ...}
    Json,
    /// The JSON structure as YAML
    Yaml,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only secrets whose path starts with this prefix (default: all)
    #[arg(long)]
    prefix: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Env)]
    format: Format,
}

pub async fn run(client: &Client, args: ExportArgs) -> Result<(), CliError> {
    let query = ListSecretsQuery {
        prefix: args.prefix.clone(),
        ..ListSecretsQuery::default()
    };
    let listing = list_all(client, query, None).await?;
    let mut secrets: Map<String, Value> = Map::new();
    for summary in &listing.secrets {
        let secret = client.read_secret(&summary.path, None).await?;
        secrets.insert(secret.path, Value::Object(secret.data));
    }
    if secrets.is_empty() {
        eprintln!(
            "No secrets{}.",
            args.prefix
                .as_deref()
                .map(|p| format!(" under {p:?}"))
                .unwrap_or_default()
        );
    }
    match args.format {
        Format::Json => {
            let text = serde_json::to_string_pretty(&Value::Object(secrets))
                .map_err(|e| CliError::general("encode_error", e.to_string()))?;
            output::line(&text)
        }
        Format::Yaml => output::emit(&output::yaml_document(&secrets)),
        Format::Env => {
            let mut text = String::new();
            let data: Vec<(&str, &Map<String, Value>)> = secrets
                .iter()
                .filter_map(|(path, v)| v.as_object().map(|m| (path.as_str(), m)))
                .collect();
            for (name, value) in env_vars(&data)? {
                text.push_str(&format!("{name}={}\n", output::shell_quote(&value)));
            }
            output::emit(&text)
        }
    }
}

/// The environment variables for the given secrets' fields: names from
/// [`output::env_name`], values as strings (non-strings as compact JSON). A later secret's
/// field overrides an earlier one's with a warning on stderr naming both paths (never values).
pub fn env_vars(
    secrets: &[(&str, &Map<String, Value>)],
) -> Result<BTreeMap<String, String>, CliError> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut origin: BTreeMap<String, String> = BTreeMap::new();
    for (path, data) in secrets {
        for (field, value) in *data {
            let Some(name) = output::env_name(field) else {
                eprintln!(
                    "warning: skipping field {field:?} of {path}: not usable as a variable name"
                );
                continue;
            };
            let value = output::plain(value);
            if value.contains('\0') {
                return Err(CliError::validation(format!(
                    "field {field:?} of {path} contains a NUL byte and cannot be an environment variable"
                )));
            }
            if let Some(previous) = origin.insert(name.clone(), path.to_string())
                && previous != *path
            {
                eprintln!("warning: {name} from {path} overrides {name} from {previous}");
            } else if vars.contains_key(&name) {
                eprintln!("warning: several fields of {path} map to {name}; the last one wins");
            }
            vars.insert(name, value);
        }
    }
    Ok(vars)
}
