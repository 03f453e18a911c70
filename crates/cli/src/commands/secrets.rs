//! `scaivault secrets ...`

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand};
use scaivault_client::{Client, DeleteMode, ExpiringQuery, ListSecretsQuery, RawResponse, decode};
use scaivault_proto::secrets::{
    ExpiringSecret, ExpiringSecretsResponse, ListSecretsResponse, PatchSecretRequest,
    RotateSecretRequest, SecretMetadata, SecretMetadataResponse, SecretOptions, SecretSummary,
    SecretType, WriteSecretRequest,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::context::Context;
use crate::error::CliError;
use crate::output::{self, or_dash};
use crate::{commands::export, input};

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
const TYPES: [&str; 5] = ["kv", "json", "certificate", "ssh_key", "api_key"];

fn type_parser() -> impl TypedValueParser<Value = SecretType> {
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
    Read(ReadArgs),

    /// Write a secret: creates it, or a new version of it
    #[command(after_help = "\
Examples:
  scaivault secrets write app/db/credentials username=admin password=s3cret
  scaivault secrets write app/config --type json --json-file config.json
  scaivault secrets write app/api-key key=abc --expires-in 30d
  printf %s \"$PASSWORD\" | scaivault secrets write app/db/credentials password=-")]
    Write(WriteArgs),

    /// List secrets (follows pagination up to --limit)
    #[command(after_help = "\
Examples:
  scaivault secrets list
  scaivault secrets list --prefix environments/production/ --limit 100
  scaivault secrets list --json | jq -r '.secrets[].path'")]
    List(ListArgs),

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
    Rotate(RotateArgs),

    /// List secrets that expire within N days, soonest first
    #[command(after_help = "\
Examples:
  scaivault secrets expiring --days 30 --prefix environments/production/
  scaivault secrets expiring --days 14 --json | jq -r '.secrets[] | \"\\(.path) expires \\(.expires_at)\"' | sort")]
    Expiring(ExpiringArgs),

    /// Export every secret under a prefix as env lines, JSON or YAML
    #[command(after_help = "\
Examples:
  scaivault secrets export --prefix app/ --format env > .env
  scaivault secrets export --prefix app/ --format json | jq '.\"app/db\".username'
  scaivault secrets export --prefix app/ --format yaml")]
    Export(export::ExportArgs),
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Secret path, e.g. app/db/credentials
    path: String,
    /// Read this version instead of the current one
    #[arg(long, value_name = "N")]
    version: Option<u64>,
    /// Print only this field's value (and a newline)
    #[arg(long, value_name = "FIELD", conflicts_with = "json")]
    field: Option<String>,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

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
struct MetaArgs {
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
    fn metadata(&self) -> Option<SecretMetadata> {
        let meta = SecretMetadata {
            description: self.description.clone(),
            tags: (!self.tags.is_empty()).then(|| self.tags.clone()),
            owner: self.owner.clone(),
        };
        (meta != SecretMetadata::default()).then_some(meta)
    }

    fn options(&self, expires_in: Option<String>) -> Option<SecretOptions> {
        let options = SecretOptions {
            max_versions: self.max_versions,
            expires_in,
            ..SecretOptions::default()
        };
        (options != SecretOptions::default()).then_some(options)
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only paths starting with this prefix
    #[arg(long)]
    prefix: Option<String>,
    /// Return at most this many secrets in total (default: all)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    limit: Option<u32>,
    /// Only secrets with this tag (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Only secrets of this type
    #[arg(long = "type", value_name = "TYPE", value_parser = type_parser())]
    secret_type: Option<SecretType>,
    /// Print the API's JSON (pages merged when more than one was fetched)
    #[arg(long)]
    json: bool,
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

#[derive(Debug, Args)]
pub struct ExpiringArgs {
    /// Expiring within this many days (server default when omitted)
    #[arg(long, value_name = "N")]
    days: Option<u32>,
    /// Only paths starting with this prefix
    #[arg(long)]
    prefix: Option<String>,
    /// Print the API's JSON (pages merged when more than one was fetched)
    #[arg(long)]
    json: bool,
}

pub async fn run(command: SecretsCommand, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        SecretsCommand::Read(args) => read(&client, args).await,
        SecretsCommand::Write(args) => write(&client, args).await,
        SecretsCommand::List(args) => list(&client, args).await,
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
        SecretsCommand::Rotate(args) => rotate(&client, args).await,
        SecretsCommand::Expiring(args) => expiring(&client, args).await,
        SecretsCommand::Export(args) => export::run(&client, args).await,
    }
}

async fn read(client: &Client, args: ReadArgs) -> Result<(), CliError> {
    let raw = client.read_secret(&args.path, args.version).raw().await?;
    if args.json {
        return output::raw_json(&raw.body);
    }
    let secret: scaivault_proto::secrets::ReadSecretResponse = decode(&raw)?;
    if let Some(field) = &args.field {
        return match secret.data.get(field) {
            Some(value) => output::line(&output::plain(value)),
            None => Err(CliError::not_found(
                "field_not_found",
                format!("secret {} has no field {field:?}", secret.path),
            )),
        };
    }
    let mut rows = vec![
        ("Path", secret.path.clone()),
        ("Version", secret.version.to_string()),
        ("Type", secret.secret_type.as_str().to_string()),
        ("Created", secret.created_at.to_string()),
        ("Updated", secret.updated_at.to_string()),
    ];
    if let Some(expires) = secret.expires_at {
        rows.push(("Expires", expires.to_string()));
    }
    push_metadata_rows(&mut rows, &secret.metadata);
    output::print_fields(&rows)?;
    output::emit("\n")?;
    let mut table = output::table(["KEY", "VALUE"]);
    for (key, value) in &secret.data {
        table.add_row([key.clone(), output::plain(value)]);
    }
    output::print_table(&table)
}

fn push_metadata_rows(rows: &mut Vec<(&str, String)>, metadata: &SecretMetadata) {
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

async fn write(client: &Client, args: WriteArgs) -> Result<(), CliError> {
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
    let raw = client.write_secret(&args.path, &request).raw().await?;
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

async fn rotate(client: &Client, args: RotateArgs) -> Result<(), CliError> {
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

/// Server maximum page size.
const MAX_PAGE: u32 = 200;

/// One list page whose items are kept byte-for-byte.
#[derive(Deserialize)]
struct RawPage {
    secrets: Vec<Box<RawValue>>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    total_count: Option<u64>,
}

#[derive(Serialize)]
struct MergedPage<'a> {
    secrets: Vec<&'a RawValue>,
    cursor: Option<&'a str>,
    has_more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_count: Option<u64>,
}

/// The `--json` output of a paginated listing: the single page unchanged, or the pages merged
/// into one document of the same shape (items unchanged, cursor and has_more of the last page).
fn merged_json(pages: &[RawResponse]) -> Result<String, CliError> {
    if let [only] = pages {
        return Ok(only.body.clone());
    }
    let parsed: Vec<RawPage> = pages
        .iter()
        .map(|p| {
            serde_json::from_str(&p.body).map_err(|e| {
                CliError::general("decode_error", format!("unexpected list response: {e}"))
            })
        })
        .collect::<Result<_, _>>()?;
    let last = parsed.last();
    let merged = MergedPage {
        secrets: parsed
            .iter()
            .flat_map(|p| p.secrets.iter().map(AsRef::as_ref))
            .collect(),
        cursor: last.and_then(|p| p.cursor.as_deref()),
        has_more: last.is_some_and(|p| p.has_more),
        total_count: last.and_then(|p| p.total_count),
    };
    serde_json::to_string(&merged).map_err(|e| CliError::general("encode_error", e.to_string()))
}

/// The secrets of a listing, following cursors until `limit` secrets (all when `None`).
pub struct Listing {
    pub pages: Vec<RawResponse>,
    pub secrets: Vec<SecretSummary>,
    pub has_more: bool,
    pub total_count: u64,
}

pub async fn list_all(
    client: &Client,
    mut query: ListSecretsQuery,
    limit: Option<u32>,
) -> Result<Listing, CliError> {
    let mut listing = Listing {
        pages: Vec::new(),
        secrets: Vec::new(),
        has_more: false,
        total_count: 0,
    };
    loop {
        let fetched = u32::try_from(listing.secrets.len()).unwrap_or(u32::MAX);
        let want = limit.map_or(MAX_PAGE, |l| l.saturating_sub(fetched).min(MAX_PAGE));
        if want == 0 {
            break;
        }
        query.limit = Some(want);
        let raw = client.list_secrets(&query).raw().await?;
        let page: ListSecretsResponse = decode(&raw)?;
        listing.pages.push(raw);
        listing.secrets.extend(page.secrets);
        listing.has_more = page.has_more;
        listing.total_count = page.total_count;
        match (page.has_more, page.cursor) {
            (true, Some(cursor)) => query.cursor = Some(cursor),
            _ => break,
        }
    }
    Ok(listing)
}

async fn list(client: &Client, args: ListArgs) -> Result<(), CliError> {
    let query = ListSecretsQuery {
        prefix: args.prefix,
        tags: args.tags,
        secret_type: args.secret_type,
        ..ListSecretsQuery::default()
    };
    let listing = list_all(client, query, args.limit).await?;
    if args.json {
        return output::raw_json(&merged_json(&listing.pages)?);
    }
    if listing.secrets.is_empty() {
        return output::line("No secrets found.");
    }
    let mut table = output::table(["PATH", "TYPE", "VERSION", "UPDATED", "EXPIRES", "TAGS"]);
    for s in &listing.secrets {
        table.add_row([
            s.path.clone(),
            s.secret_type.as_str().to_string(),
            s.version.to_string(),
            s.updated_at.to_string(),
            or_dash(s.expires_at),
            s.tags.join(","),
        ]);
    }
    output::print_table(&table)?;
    if listing.has_more {
        eprintln!(
            "Showing {} of {} secrets; raise --limit to see more.",
            listing.secrets.len(),
            listing.total_count
        );
    }
    Ok(())
}

async fn expiring(client: &Client, args: ExpiringArgs) -> Result<(), CliError> {
    let mut query = ExpiringQuery {
        days: args.days,
        prefix: args.prefix,
        limit: None,
        cursor: None,
    };
    let mut pages = Vec::new();
    let mut secrets: Vec<ExpiringSecret> = Vec::new();
    loop {
        let raw = client.expiring_secrets(&query).raw().await?;
        let page: ExpiringSecretsResponse = decode(&raw)?;
        pages.push(raw);
        secrets.extend(page.secrets);
        match (page.has_more, page.cursor) {
            (true, Some(cursor)) => query.cursor = Some(cursor),
            _ => break,
        }
    }
    if args.json {
        return output::raw_json(&merged_json(&pages)?);
    }
    if secrets.is_empty() {
        return output::line(&match args.days {
            Some(days) => format!("No secrets expire within {days} days."),
            None => "No secrets expiring soon.".to_string(),
        });
    }
    let mut table = output::table(["PATH", "EXPIRES", "DAYS LEFT"]);
    for s in secrets {
        table.add_row([
            s.path,
            s.expires_at.to_string(),
            s.days_remaining.to_string(),
        ]);
    }
    output::print_table(&table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_merge_items_unchanged() {
        let p1 = RawResponse {
            status: 200,
            body: r#"{"secrets":[{"z":1,"a":2}],"cursor":"c1","has_more":true,"total_count":2}"#
                .into(),
        };
        let p2 = RawResponse {
            status: 200,
            body: r#"{"secrets":[{"path":"b"}],"cursor":null,"has_more":false,"total_count":2}"#
                .into(),
        };
        assert_eq!(merged_json(std::slice::from_ref(&p1)).unwrap(), p1.body);
        assert_eq!(
            merged_json(&[p1, p2]).unwrap(),
            r#"{"secrets":[{"z":1,"a":2},{"path":"b"}],"cursor":null,"has_more":false,"total_count":2}"#
        );
    }
}
