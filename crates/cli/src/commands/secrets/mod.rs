//! `scaivault secrets ...`: one submodule per command family; the small commands live here.

pub mod export;
mod list;
mod read;
mod write;

pub use list::list_all;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand};
use scaivault_client::{DeleteMode, decode};
use scaivault_proto::secrets::{
    PatchSecretRequest, SecretMetadata, SecretMetadataResponse, SecretOptions, SecretType,
};

use crate::context::Context;
use crate::error::CliError;
use crate::output::{self, or_dash};

pub const EXAMPLES: &str = "\
Examples:
  # Read
  scaivault secrets read app/db/credentials
  scaivault secrets read app/db/credentials --version 2
  scaivault secrets read app/db/credentials --field password
  scaivault secrets read app/db/credentials --json
  # Write: repeated key=value pairs, --json-file, or --type
  scaivault secrets write app/db/credentials username=admin password=s3cret
  scaivault secrets write app/config --type json --json-file config.json
  scaivault secrets write app/api-key key=abc --expires-in 30d
  # List
  scaivault secrets list
  scaivault secrets list --prefix environments/production/ --limit 100
  # Delete
  scaivault secrets delete app/old --hard
  # Versions
  scaivault secrets versions app/db/credentials
  # Rotate
  scaivault secrets rotate app/db/credentials password=n3w --grace-period 1h
  # Find expiring
  scaivault secrets expiring --days 30 --prefix environments/production/";

/// The `--type` values, as the API spells them.
pub(super) const TYPES: [&str; 5] = ["kv", "json", "certificate", "ssh_key", "api_key"];

pub(super) fn type_parser() -> impl TypedValueParser<Value = SecretType> {
    PossibleValuesParser::new(TYPES).map(|s| SecretType::parse(&s).unwrap_or_default())
}

/// Most output-producing commands take `--json`.
#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print the API's JSON response unchanged
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PathArgs {
    /// Secret path, e.g. app/db/credentials
    pub path: String,
    #[command(flatten)]
    pub output: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Read a secret's current (or a given) version
    #[command(after_help = "\
Examples:
  scaivault secrets read app/db/credentials
  scaivault secrets read app/db/credentials --version 2
  scaivault secrets read app/db/credentials --field password
  scaivault secrets read app/db/credentials --json | jq -r '.data.username'")]
    Read(read::ReadArgs),

    /// Write a secret: creates it, or a new version of it
    #[command(after_help = "\
Examples:
  scaivault secrets write app/db/credentials username=admin password=s3cret
  scaivault secrets write app/config --type json --json-file config.json
  scaivault secrets write app/api-key key=abc --expires-in 30d
  printf %s \"$PASSWORD\" | scaivault secrets write app/db/credentials password=-")]
    Write(write::WriteArgs),

    /// List secrets (follows pagination up to --limit)
    #[command(after_help = "\
Examples:
  scaivault secrets list
  scaivault secrets list --prefix environments/production/ --limit 100
  scaivault secrets list --json | jq -r '.secrets[].path'")]
    List(list::ListArgs),

    /// Delete a secret (soft by default: restorable), or one version of it
    #[command(after_help = "\
Examples:
  scaivault secrets delete app/old
  scaivault secrets delete app/old --hard
  scaivault secrets delete app/db/credentials --version 2")]
    Delete(DeleteArgs),

    /// Restore a soft-deleted secret
    #[command(after_help = "\
Examples:
  scaivault secrets restore app/old")]
    Restore(PathArgs),

    /// List a secret's versions, newest first
    #[command(after_help = "\
Examples:
  scaivault secrets versions app/db/credentials
  scaivault secrets versions app/db/credentials --json | jq '.versions[0].version'")]
    Versions(PathArgs),

    /// Show a secret's metadata without reading its value
    #[command(after_help = "\
Examples:
  scaivault secrets metadata app/db/credentials
  scaivault secrets metadata app/db/credentials --json | jq '.current_version'")]
    Metadata(PathArgs),

    /// Change metadata and options without creating a new version
    #[command(after_help = "\
Examples:
  scaivault secrets patch app/db/password --tag postgres --tag production --max-versions 25
  scaivault secrets patch app/db/password --description \"PostgreSQL production password\"")]
    Patch(PatchArgs),

    /// Rotate a secret now: the new value becomes current, the old one stays readable for the grace period
    #[command(after_help = "\
Examples:
  scaivault secrets rotate app/db/credentials password=n3w-strong-password
  scaivault secrets rotate app/db/credentials --json-file new.json --reason \"Suspected compromise\" --grace-period 1h")]
    Rotate(write::RotateArgs),

    /// List secrets that expire within N days, soonest first
    #[command(after_help = "\
Examples:
  scaivault secrets expiring --days 30 --prefix environments/production/
  scaivault secrets expiring --days 14 --json | jq -r '.secrets[] | \"\\(.path) expires \\(.expires_at)\"' | sort")]
    Expiring(list::ExpiringArgs),

    /// Export every secret under a prefix as env lines, JSON or YAML
    #[command(after_help = "\
Examples:
  scaivault secrets export --prefix app/ --format env > .env
  scaivault secrets export --prefix app/ --format json | jq '.\"app/db\".username'
  scaivault secrets export --prefix app/ --format yaml")]
    Export(export::ExportArgs),
}

#[derive(Debug, Args)]
pub(super) struct MetaArgs {
    /// Human-readable description (not secret)
    #[arg(long)]
    description: Option<String>,
    /// Tag (repeatable; replaces the tag list)
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Owner identity (team, user or group)
    #[arg(long)]
    owner: Option<String>,
    /// Keep at most this many versions (1-100)
    #[arg(long, value_name = "N")]
    max_versions: Option<u32>,
}

impl MetaArgs {
    pub(super) fn metadata(&self) -> Option<SecretMetadata> {
        let meta = SecretMetadata {
            description: self.description.clone(),
            tags: (!self.tags.is_empty()).then(|| self.tags.clone()),
            owner: self.owner.clone(),
        };
        (meta != SecretMetadata::default()).then_some(meta)
    }

    pub(super) fn options(&self, expires_in: Option<String>) -> Option<SecretOptions> {
        let options = SecretOptions {
            max_versions: self.max_versions,
            expires_in,
            ..SecretOptions::default()
        };
        (options != SecretOptions::default()).then_some(options)
    }
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Secret path
    path: String,
    /// Delete permanently (no restore)
    #[arg(long, conflicts_with = "version")]
    hard: bool,
    /// Delete only this version
    #[arg(long, value_name = "N")]
    version: Option<u64>,
}

#[derive(Debug, Args)]
pub struct PatchArgs {
    /// Secret path
    path: String,
    #[command(flatten)]
    meta: MetaArgs,
    /// Expire after this long from now, e.g. 30d
    #[arg(long, value_name = "DURATION")]
    expires_in: Option<String>,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

pub async fn run(command: SecretsCommand, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        SecretsCommand::Read(args) => read::run(&client, args).await,
        SecretsCommand::Write(args) => write::write(&client, args).await,
        SecretsCommand::List(args) => list::list(&client, args).await,
        SecretsCommand::Delete(args) => {
            let mode = match (args.hard, args.version) {
                (true, _) => DeleteMode::Permanent,
                (false, Some(v)) => DeleteMode::Version(v),
                (false, None) => DeleteMode::Soft,
            };
            client.delete_secret(&args.path, mode).await?;
            output::line(&match mode {
                DeleteMode::Permanent => format!("Permanently deleted {}", args.path),
                DeleteMode::Version(v) => format!("Deleted version {v} of {}", args.path),
                DeleteMode::Soft => format!(
                    "Deleted {0} (restore with `scaivault secrets restore {0}`)",
                    args.path
                ),
            })
        }
        SecretsCommand::Restore(args) => {
            let raw = client.restore_secret(&args.path).raw().await?;
            if args.output.json {
                return output::raw_json(&raw.body);
            }
            let restored: scaivault_proto::secrets::RestoreSecretResponse = decode(&raw)?;
            output::line(&format!(
                "Restored {} (current version {})",
                restored.path, restored.current_version
            ))
        }
        SecretsCommand::Versions(args) => {
            let raw = client.secret_versions(&args.path).raw().await?;
            if args.output.json {
                return output::raw_json(&raw.body);
            }
            let versions: scaivault_proto::secrets::VersionsResponse = decode(&raw)?;
            let mut table = output::table(["VERSION", "CREATED", "CURRENT", "RETIRES"]);
            for v in versions.versions {
                table.add_row([
                    v.version.to_string(),
                    v.created_at.to_string(),
                    if v.is_current { "yes" } else { "no" }.to_string(),
                    or_dash(v.retires_at),
                ]);
            }
            output::print_table(&table)
        }
        SecretsCommand::Metadata(args) => {
            let raw = client.secret_metadata(&args.path).raw().await?;
            if args.output.json {
                return output::raw_json(&raw.body);
            }
            print_metadata(decode(&raw)?)
        }
        SecretsCommand::Patch(args) => {
            let request = PatchSecretRequest {
                metadata: args.meta.metadata(),
                options: args.meta.options(args.expires_in.clone()),
            };
            if request.metadata.is_none() && request.options.is_none() {
                return Err(CliError::validation(
                    "nothing to change: give --description, --tag, --owner, --max-versions or --expires-in",
                ));
            }
            let raw = client.patch_secret(&args.path, &request).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            print_metadata(decode(&raw)?)
        }
        SecretsCommand::Rotate(args) => write::rotate(&client, args).await,
        SecretsCommand::Expiring(args) => list::expiring(&client, args).await,
        SecretsCommand::Export(args) => export::run(&client, args).await,
    }
}

pub(super) fn push_metadata_rows(rows: &mut Vec<(&str, String)>, metadata: &SecretMetadata) {
    if let Some(d) = &metadata.description {
        rows.push(("Description", d.clone()));
    }
    if let Some(tags) = metadata.tags.as_ref().filter(|t| !t.is_empty()) {
        rows.push(("Tags", tags.join(", ")));
    }
    if let Some(o) = &metadata.owner {
        rows.push(("Owner", o.clone()));
    }
}

fn print_metadata(m: SecretMetadataResponse) -> Result<(), CliError> {
    let mut rows = vec![
        ("Path", m.path.clone()),
        ("Type", m.secret_type.as_str().to_string()),
        ("Current version", m.current_version.to_string()),
        ("Versions", m.version_count.to_string()),
        ("Max versions", m.max_versions.to_string()),
        ("Created", m.created_at.to_string()),
        ("Updated", m.updated_at.to_string()),
        ("Expires", or_dash(m.expires_at)),
        ("Last accessed", or_dash(m.last_accessed_at)),
        ("Accesses (30d)", m.access_count_30d.to_string()),
    ];
    if let Some(policy) = &m.rotation_policy {
        rows.push(("Rotation policy", policy.id.clone()));
        rows.push(("Next rotation", or_dash(policy.next_rotation)));
    }
    if let Some(id) = &m.secret_policy_id {
        rows.push(("Secret policy", id.clone()));
    }
    push_metadata_rows(&mut rows, &m.metadata);
    output::print_fields(&rows)
}
