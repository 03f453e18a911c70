//! `secrets write` and `secrets rotate`

use clap::Args;
use scaivault_client::{Client, decode};
use scaivault_proto::secrets::{RotateSecretRequest, SecretType, WriteSecretRequest};

use super::{MetaArgs, type_parser};
use crate::error::CliError;
use crate::{input, output};

#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Secret path, e.g. app/db/credentials
    path: String,
    /// Fields as key=value; a value of `-` is read from stdin (one trailing newline removed)
    #[arg(value_name = "KEY=VALUE")]
    pairs: Vec<String>,
    /// Secret type
    #[arg(long = "type", value_name = "TYPE", value_parser = type_parser())]
    secret_type: Option<SecretType>,
    /// Read the payload from a JSON object file (`-` for stdin); key=value pairs override it
    #[arg(long, value_name = "FILE")]
    json_file: Option<String>,
    /// Expire after this long, e.g. 30d or 24h
    #[arg(long, value_name = "DURATION")]
    expires_in: Option<String>,
    #[command(flatten)]
    meta: MetaArgs,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

/// Non-secret metadata and options shared by `write` and `patch`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Secret path
    path: String,
    /// The new value as key=value pairs (`-` reads a value from stdin); omit to let a rotation
    /// policy generate it
    #[arg(value_name = "KEY=VALUE")]
    pairs: Vec<String>,
    /// New value from a JSON object file (`-` for stdin)
    #[arg(long, value_name = "FILE")]
    json_file: Option<String>,
    /// Why (recorded in the audit log)
    #[arg(long)]
    reason: Option<String>,
    /// How long the previous version stays readable, e.g. 1h (default: retired at once)
    #[arg(long, value_name = "DURATION")]
    grace_period: Option<String>,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

pub(super) async fn write(client: &Client, args: WriteArgs) -> Result<(), CliError> {
    if args.pairs.is_empty() && args.json_file.is_none() {
        return Err(CliError::validation(
            "nothing to write: give key=value pairs or --json-file",
        ));
    }
    let data = input::payload(&args.pairs, args.json_file.as_deref())?;
    let request = WriteSecretRequest {
        data,
        secret_type: args.secret_type,
        metadata: args.meta.metadata(),
        options: args.meta.options(args.expires_in.clone()),
    };
    let raw = client
        .write_secret(&args.path, &request)
        .raw()
        .await
        .map_err(|e| {
            let error = CliError::from(e);
            if error.code == "secret_exists" {
                error.with_hint(format!(
                    "The path is soft-deleted: restore it with `scaivault secrets restore {0}` or purge it with `scaivault secrets delete {0} --hard`.",
                    args.path
                ))
            } else {
                error
            }
        })?;
    if args.json {
        return output::raw_json(&raw.body);
    }
    let written: scaivault_proto::secrets::WriteSecretResponse = decode(&raw)?;
    let mut text = if written.created {
        format!("Created {} (version {})", written.path, written.version)
    } else {
        format!(
            "Updated {}: version {}{}",
            written.path,
            written.version,
            written
                .previous_version
                .map(|p| format!(" (previous {p})"))
                .unwrap_or_default()
        )
    };
    if let Some(expires) = written.expires_at {
        text.push_str(&format!(", expires {expires}"));
    }
    output::line(&text)
}

pub(super) async fn rotate(client: &Client, args: RotateArgs) -> Result<(), CliError> {
    let new_value = if args.pairs.is_empty() && args.json_file.is_none() {
        None
    } else {
        Some(input::payload(&args.pairs, args.json_file.as_deref())?)
    };
    let request = RotateSecretRequest {
        reason: args.reason,
        new_value,
        grace_period: args.grace_period,
    };
    let raw = client.rotate_secret(&args.path, &request).raw().await?;
    if args.json {
        return output::raw_json(&raw.body);
    }
    let rotated: scaivault_proto::secrets::RotateSecretResponse = decode(&raw)?;
    output::line(&format!(
        "Rotated {}: version {} -> {} (version {} readable until {})",
        rotated.path,
        rotated.previous_version,
        rotated.version,
        rotated.previous_version,
        rotated.previous_version_retires_at
    ))
}
