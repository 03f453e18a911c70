//! `scaivault config set|get|unset`

use clap::Subcommand;

use crate::context::{Context, Key, Source};
use crate::error::{CliError, exit};
use crate::output;

pub const EXAMPLES: &str = "\
Examples:
  scaivault config set base_url https://scaivault.scailabs.ai
  scaivault config get base_url
  scaivault config get
  scaivault config unset token

Keys: base_url, token, partner_id, tenant_id. The environment (SCAIVAULT_URL, SCAIVAULT_TOKEN,
SCAIVAULT_PARTNER_ID, SCAIVAULT_TENANT_ID) overrides the file.";

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Store a value in ~/.scaivault/config.json (created with mode 0600)
    #[command(after_help = "\
Examples:
  scaivault config set base_url https://scaivault.scailabs.ai
  scaivault config set tenant_id tnt_acme_dev")]
    Set {
        /// base_url, token, partner_id or tenant_id
        key: Key,
        value: String,
    },

    /// Print the effective value of a key (environment, then file, then default), or all keys
    #[command(after_help = "\
Examples:
  scaivault config get base_url
  scaivault config get            # all keys, with where each value comes from
  scaivault config get --json")]
    Get {
        /// base_url, token, partner_id or tenant_id; all keys when omitted
        key: Option<Key>,
        /// Print JSON (all keys; the token is masked)
        #[arg(long, conflicts_with = "key")]
        json: bool,
    },

    /// Remove a value from the config file
    #[command(after_help = "\
Examples:
  scaivault config unset tenant_id")]
    Unset {
        /// base_url, token, partner_id or tenant_id
        key: Key,
    },
}

pub fn run(command: ConfigCommand, mut ctx: Context) -> Result<(), CliError> {
    match command {
        ConfigCommand::Set { key, value } => {
            let value = value.trim().to_string();
            if value.is_empty() {
                return Err(CliError::validation(format!(
                    "{} cannot be empty",
                    key.name()
                )));
            }
            if key == Key::BaseUrl {
                scaivault_client::Client::new(&value)
                    .map_err(|e| CliError::validation(e.to_string()))?;
            }
            ctx.file.set(key, Some(value));
            ctx.save()?;
            let path = ctx.require_path()?.display().to_string();
            output::line(&format!("Saved {} to {path}", key.name()))?;
            warn_env_override(key);
            Ok(())
        }
        ConfigCommand::Unset { key } => {
            ctx.file.set(key, None);
            ctx.save()?;
            output::line(&format!("Removed {} from the config file", key.name()))?;
            warn_env_override(key);
            Ok(())
        }
        ConfigCommand::Get { key: Some(key), .. } => match ctx.resolve(key) {
            Some((value, _)) => output::line(&value),
            None => Err(CliError::new(
                exit::NOT_FOUND,
                "config_not_set",
                format!("{} is not set (config file or {})", key.name(), key.env()),
            )),
        },
        ConfigCommand::Get { key: None, json } => {
            let entries: Vec<(Key, Option<(String, Source)>)> =
                Key::ALL.iter().map(|k| (*k, ctx.resolve(*k))).collect();
            if json {
                let mut map = serde_json::Map::new();
                for (key, resolved) in &entries {
                    let value = resolved.as_ref().map(|(v, _)| shown(*key, v));
                    map.insert(
                        key.name().into(),
                        value.map_or(serde_json::Value::Null, Into::into),
                    );
                }
                return output::line(&serde_json::Value::Object(map).to_string());
            }
            let mut table = output::table(["KEY", "VALUE", "SOURCE"]);
            for (key, resolved) in &entries {
                match resolved {
                    Some((value, source)) => table.add_row([
                        key.name().to_string(),
                        shown(*key, value),
                        source.describe(),
                    ]),
                    None => table.add_row([key.name().to_string(), "-".into(), "unset".into()]),
                };
            }
            output::print_table(&table)
        }
    }
}

/// The token is masked in listings; `config get token` prints it in full on purpose.
fn shown(key: Key, value: &str) -> String {
    if key == Key::Token {
        let prefix: String = value.chars().take(4).collect();
        format!("{prefix}****")
    } else {
        value.to_string()
    }
}

fn warn_env_override(key: Key) {
    if std::env::var(key.env()).is_ok_and(|v| !v.trim().is_empty()) {
        eprintln!("Note: {} is set and overrides the config file.", key.env());
    }
}
