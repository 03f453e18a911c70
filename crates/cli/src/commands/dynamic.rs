//! `scaivault dynamic engines|roles|creds|leases ...`: dynamic credentials (docs/dynamic.md),
//! exactly as the CLI reference's Dynamic secrets section shows it, plus engine and role
//! administration. `--json` prints the API's response unchanged everywhere.
//!
//! A lease's credential is printed once, by `creds`; no other command shows a password or key.
//! Engine passwords and secret keys can come from the environment (`SCAIVAULT_ENGINE_PASSWORD`,
//! `SCAIVAULT_ENGINE_SECRET_ACCESS_KEY`) so they stay out of shell history.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use scaivault_client::{Client, LeaseFilter, decode};
use scaivault_proto::dynamic::{
    CreateEngineRequest, CreateRoleRequest, CredsRequest, Engine, EngineList, Lease, LeaseCreated,
    LeaseList, LeaseRenewRequest, RevokePrefixRequest, RevokePrefixResult, Role, RoleList,
    UpdateEngineRequest, UpdateRoleRequest,
};
use serde_json::{Map, Value, json};

use crate::commands::pages;
use crate::commands::pki::{read_file, write_file};
use crate::context::Context;
use crate::error::CliError;
use crate::output::{self, or_dash};

pub const EXAMPLES: &str = "\
Examples:
  scaivault dynamic engines list
  scaivault dynamic roles list postgres-prod
  # Generate a lease and use it
  scaivault dynamic creds postgres-prod readonly --ttl 2h --json
  # -> { \"lease_id\": \"...\", \"data\": { \"connection_url\": \"...\" } }
  scaivault dynamic leases list --engine postgres-prod
  scaivault dynamic leases renew lease_abc --ttl 1h
  scaivault dynamic leases revoke lease_abc";

#[derive(Debug, Subcommand)]
pub enum DynamicCommand {
    /// Engines: a tenant's connection to a database, an AWS account or an SSH CA
    #[command(subcommand, after_help = ENGINES_EXAMPLES)]
    Engines(EnginesCommand),
    /// Roles of an engine: what a lease's credential may do and how long it lives
    #[command(subcommand, after_help = ROLES_EXAMPLES)]
    Roles(RolesCommand),
    /// Get a credential on a lease (printed once)
    #[command(after_help = CREDS_EXAMPLES)]
    Creds(CredsArgs),
    /// Leases: list, show, renew, revoke
    #[command(subcommand, after_help = LEASES_EXAMPLES)]
    Leases(LeasesCommand),
}

const ENGINES_EXAMPLES: &str = "\
Examples:
  scaivault dynamic engines list
  SCAIVAULT_ENGINE_PASSWORD=... scaivault dynamic engines create postgres-prod --type postgres \\
    --connection-url postgres://vault@db.internal:5432/app
  scaivault dynamic engines create aws-dev --type aws --region eu-west-1 \\
    --access-key-id AKIA... --secret-access-key-stdin < key.txt
  scaivault dynamic engines create ssh-prod --type ssh
  scaivault dynamic engines ca ssh-prod > /etc/ssh/trusted-user-ca-keys.pem
  scaivault dynamic engines rotate-root postgres-prod
  scaivault dynamic engines delete postgres-prod --force";

const ROLES_EXAMPLES: &str = "\
Examples:
  scaivault dynamic roles list postgres-prod
  scaivault dynamic roles create postgres-prod readonly \\
    --creation-statements \"CREATE ROLE \\\"{{name}}\\\" WITH LOGIN PASSWORD '{{password}}' \\
      VALID UNTIL '{{expiration}}'; GRANT SELECT ON ALL TABLES IN SCHEMA public TO \\\"{{name}}\\\";\" \\
    --default-ttl 1h --max-ttl 24h
  scaivault dynamic roles create aws-dev s3-read --credential-type iam_user \\
    --policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess
  scaivault dynamic roles create ssh-prod ops --allowed-users ops,deploy --default-user ops";

const CREDS_EXAMPLES: &str = "\
Examples:
  scaivault dynamic creds postgres-prod readonly --ttl 2h --json
  scaivault dynamic creds ssh-prod ops --public-key-file ~/.ssh/id_ed25519.pub --cert-out ~/.ssh/id_ed25519-cert.pub

One-shot lease for a script:
  lease=$(scaivault dynamic creds postgres-prod readonly --ttl 30m --json)
  url=$(echo \"$lease\" | jq -r '.data.connection_url')
  lease_id=$(echo \"$lease\" | jq -r '.lease_id')
  psql \"$url\" -c \"SELECT count(*) FROM users\"
  scaivault dynamic leases revoke \"$lease_id\"";

const LEASES_EXAMPLES: &str = "\
Examples:
  scaivault dynamic leases list --engine postgres-prod
  scaivault dynamic leases renew lease_abc --ttl 1h
  scaivault dynamic leases revoke lease_abc
  scaivault dynamic leases revoke-prefix --engine postgres-prod --role readonly";

#[derive(Debug, Subcommand)]
pub enum EnginesCommand {
    /// List the tenant's engines
    #[command(
        after_help = "Examples:\n  scaivault dynamic engines list\n  scaivault dynamic engines list --json | jq -r '.engines[].name'"
    )]
    List(JsonArgs),
    /// Show one engine (never its password or key)
    #[command(after_help = "Examples:\n  scaivault dynamic engines get postgres-prod --json")]
    Get(EngineArgs),
    /// Create an engine; the connection is checked first
    #[command(
        after_help = "Examples:\n  SCAIVAULT_ENGINE_PASSWORD=... scaivault dynamic engines create postgres-prod --type postgres \\\n    --connection-url postgres://vault@db.internal:5432/app\n  scaivault dynamic engines create mariadb --type mysql --connection-url mysql://vault@db:3306/ --password-stdin < pw.txt\n  scaivault dynamic engines create aws-dev --type aws --region eu-west-1 --access-key-id AKIA... \\\n    --password-stdin < secret-key.txt\n  scaivault dynamic engines create ssh-prod --type ssh"
    )]
    Create(CreateEngineArgs),
    /// Change an engine's settings; secrets not given are kept
    #[command(
        after_help = "Examples:\n  scaivault dynamic engines update postgres-prod --max-open-connections 8\n  scaivault dynamic engines update postgres-prod --connection-url postgres://vault@db2.internal:5432/app"
    )]
    Update(UpdateEngineArgs),
    /// Delete an engine (refused while leases are live, unless --force revokes them)
    #[command(
        after_help = "Examples:\n  scaivault dynamic engines delete postgres-old\n  scaivault dynamic engines delete postgres-old --force"
    )]
    Delete(DeleteEngineArgs),
    /// Replace the engine's own password or key with one only ScaiVault knows
    #[command(after_help = "Examples:\n  scaivault dynamic engines rotate-root postgres-prod")]
    RotateRoot(EngineArgs),
    /// Print an SSH engine's CA public key (for sshd's TrustedUserCAKeys)
    #[command(
        after_help = "Examples:\n  scaivault dynamic engines ca ssh-prod > /etc/ssh/trusted-user-ca-keys.pub\n  # sshd_config: TrustedUserCAKeys /etc/ssh/trusted-user-ca-keys.pub"
    )]
    Ca(EngineNameArg),
}

#[derive(Debug, Subcommand)]
pub enum RolesCommand {
    /// List an engine's roles
    #[command(after_help = "Examples:\n  scaivault dynamic roles list postgres-prod")]
    List(RolesListArgs),
    /// Show one role
    #[command(
        after_help = "Examples:\n  scaivault dynamic roles get postgres-prod readonly --json"
    )]
    Get(RoleArgs),
    /// Create a role
    #[command(
        after_help = "Examples:\n  scaivault dynamic roles create postgres-prod readonly \\\n    --creation-statements \"CREATE ROLE \\\"{{name}}\\\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';\" \\\n    --default-ttl 1h --max-ttl 24h --max-leases 50\n  scaivault dynamic roles create ssh-prod ops --allowed-users ops --default-user ops --default-ttl 10m"
    )]
    Create(CreateRoleArgs),
    /// Change a role
    #[command(
        after_help = "Examples:\n  scaivault dynamic roles update postgres-prod readonly --max-ttl 8h"
    )]
    Update(UpdateRoleArgs),
    /// Delete a role
    #[command(after_help = "Examples:\n  scaivault dynamic roles delete postgres-prod readonly")]
    Delete(RoleArgs),
}

#[derive(Debug, Subcommand)]
pub enum LeasesCommand {
    /// List leases (filters: engine, role, identity, live only)
    #[command(
        after_help = "Examples:\n  scaivault dynamic leases list --engine postgres-prod\n  scaivault dynamic leases list --live --json | jq -r '.leases[] | \"\\(.id) \\(.status) \\(.expires_at)\"'"
    )]
    List(ListLeasesArgs),
    /// Show one lease (never its credential)
    #[command(after_help = "Examples:\n  scaivault dynamic leases get lease_abc")]
    Get(LeaseArgs),
    /// Extend a lease (never past its role's max TTL from issue)
    #[command(after_help = "Examples:\n  scaivault dynamic leases renew lease_abc --ttl 1h")]
    Renew(RenewArgs),
    /// Revoke a lease now: the credential is torn down
    #[command(after_help = "Examples:\n  scaivault dynamic leases revoke lease_abc")]
    Revoke(LeaseArgs),
    /// Revoke every live lease of an engine, or of one of its roles
    #[command(
        after_help = "Examples:\n  scaivault dynamic leases revoke-prefix --engine postgres-prod\n  scaivault dynamic leases revoke-prefix --engine postgres-prod --role readonly"
    )]
    RevokePrefix(RevokePrefixArgs),
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print the API's JSON response (pages merged when there is more than one)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct EngineNameArg {
    /// The engine's name
    engine: String,
}

#[derive(Debug, Args)]
pub struct EngineArgs {
    /// The engine's name
    engine: String,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct DeleteEngineArgs {
    /// The engine's name
    engine: String,
    /// Revoke the engine's live leases first
    #[arg(long)]
    force: bool,
}

/// The settings of an engine, by type. Secrets also come from the environment or stdin.
#[derive(Debug, Args)]
pub struct EngineSettings {
    /// postgres, mysql: the connection URL (its password may be inline, or use --password)
    #[arg(long, value_name = "URL")]
    connection_url: Option<String>,
    /// postgres, mysql: the user, when not in the URL
    #[arg(long)]
    username: Option<String>,
    /// postgres, mysql: the password (prefer SCAIVAULT_ENGINE_PASSWORD or --password-stdin)
    #[arg(long, env = "SCAIVAULT_ENGINE_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Read the database password or the AWS secret access key from stdin
    #[arg(long)]
    password_stdin: bool,
    /// postgres, mysql: connections the engine keeps open at most
    #[arg(long)]
    max_open_connections: Option<u32>,
    /// aws: the region (default us-east-1)
    #[arg(long)]
    region: Option<String>,
    /// aws: the engine's access key id
    #[arg(long)]
    access_key_id: Option<String>,
    /// aws: the engine's secret access key (prefer SCAIVAULT_ENGINE_SECRET_ACCESS_KEY)
    #[arg(
        long,
        env = "SCAIVAULT_ENGINE_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    secret_access_key: Option<String>,
    /// aws: the IAM endpoint (moto, LocalStack, a VPC endpoint)
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// aws: the STS endpoint (default: --endpoint-url)
    #[arg(long, value_name = "URL")]
    sts_endpoint_url: Option<String>,
    /// ssh: the CA key type to generate: ed25519 (default) or ecdsa-p256
    #[arg(long)]
    key_type: Option<String>,
    /// ssh: an existing CA private key (OpenSSH PEM file) instead of a generated one
    #[arg(long, value_name = "FILE")]
    private_key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CreateEngineArgs {
    /// Unique in the tenant: lower case letters, digits, '.', '_' and '-'
    name: String,
    /// postgres, mysql (MySQL and MariaDB), aws or ssh
    #[arg(long = "type", value_name = "TYPE")]
    kind: String,
    #[command(flatten)]
    settings: EngineSettings,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct UpdateEngineArgs {
    /// The engine's name
    engine: String,
    #[command(flatten)]
    settings: EngineSettings,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RolesListArgs {
    /// The engine's name
    engine: String,
    /// Print the API's JSON response (pages merged)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RoleArgs {
    /// The engine's name
    engine: String,
    /// The role's name
    role: String,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

/// A role's settings, by engine type.
#[derive(Debug, Args)]
pub struct RoleSettings {
    /// Lease length when a request names none, e.g. 1h (default 1h)
    #[arg(long, value_name = "DURATION")]
    default_ttl: Option<String>,
    /// The longest a lease lives from issue, renewals included (default 24h)
    #[arg(long, value_name = "DURATION")]
    max_ttl: Option<String>,
    /// Cap on this role's live leases
    #[arg(long)]
    max_leases: Option<u32>,
    /// postgres, mysql: SQL run to create the user ({{name}}, {{password}}, {{expiration}})
    #[arg(long, value_name = "SQL")]
    creation_statements: Option<String>,
    /// postgres, mysql: SQL run to drop the user (default: end its sessions and drop it)
    #[arg(long, value_name = "SQL")]
    revocation_statements: Option<String>,
    /// postgres, mysql: SQL run on renewal (postgres default: ALTER ROLE ... VALID UNTIL)
    #[arg(long, value_name = "SQL")]
    renew_statements: Option<String>,
    /// aws: iam_user (default), assumed_role or federation_token
    #[arg(long)]
    credential_type: Option<String>,
    /// aws: a managed policy to attach (repeatable)
    #[arg(long = "policy-arn", value_name = "ARN")]
    policy_arns: Vec<String>,
    /// aws: an inline policy document (JSON text, or @FILE)
    #[arg(long, value_name = "JSON")]
    policy_document: Option<String>,
    /// aws: the role to assume (assumed_role)
    #[arg(long = "role-arn", value_name = "ARN")]
    role_arns: Vec<String>,
    /// ssh: the principals a certificate may name (comma-separated; * for any)
    #[arg(long, value_delimiter = ',', value_name = "USERS")]
    allowed_users: Vec<String>,
    /// ssh: the principal of certificates (default: the allowed users)
    #[arg(long)]
    default_user: Option<String>,
    /// ssh: a certificate extension (repeatable), e.g. permit-pty
    #[arg(long = "extension", value_name = "NAME")]
    extensions: Vec<String>,
    /// ssh: key types a caller's public key may have (comma-separated), e.g. ed25519,ecdsa
    #[arg(long, value_delimiter = ',', value_name = "TYPES")]
    allowed_key_types: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CreateRoleArgs {
    /// The engine's name
    engine: String,
    /// The role's name
    role: String,
    #[command(flatten)]
    settings: RoleSettings,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct UpdateRoleArgs {
    /// The engine's name
    engine: String,
    /// The role's name
    role: String,
    #[command(flatten)]
    settings: RoleSettings,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct CredsArgs {
    /// The engine's name
    engine: String,
    /// The role's name
    role: String,
    /// Lease length, e.g. 2h (default: the role's; never past its max TTL)
    #[arg(long, value_name = "DURATION")]
    ttl: Option<String>,
    /// ssh: sign this public key (without it a key pair is generated and its key printed)
    #[arg(long, value_name = "FILE")]
    public_key_file: Option<PathBuf>,
    /// ssh: write the signed certificate to this file
    #[arg(long, value_name = "FILE")]
    cert_out: Option<PathBuf>,
    /// ssh: write a generated private key to this file (mode 0600)
    #[arg(long, value_name = "FILE")]
    key_out: Option<PathBuf>,
    /// Print the API's JSON response unchanged (it holds the credential)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ListLeasesArgs {
    /// Only leases of this engine
    #[arg(long)]
    engine: Option<String>,
    /// Only leases of this role
    #[arg(long)]
    role: Option<String>,
    /// Only leases requested by this identity (user:..., sa:...)
    #[arg(long)]
    identity: Option<String>,
    /// Only live leases (not yet revoked)
    #[arg(long)]
    live: bool,
    /// Print the API's JSON response (pages merged)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct LeaseArgs {
    /// The lease id (lease_...)
    id: String,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RenewArgs {
    /// The lease id (lease_...)
    id: String,
    /// New length from now, e.g. 1h (default: the role's default TTL)
    #[arg(long, value_name = "DURATION")]
    ttl: Option<String>,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RevokePrefixArgs {
    /// The engine whose leases to revoke
    #[arg(long)]
    engine: String,
    /// Only this role's leases
    #[arg(long)]
    role: Option<String>,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

pub async fn run(command: DynamicCommand, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        DynamicCommand::Engines(cmd) => engines(&client, cmd).await,
        DynamicCommand::Roles(cmd) => roles(&client, cmd).await,
        DynamicCommand::Creds(args) => creds(&client, args).await,
        DynamicCommand::Leases(cmd) => leases(&client, cmd).await,
    }
}

fn read_stdin_line() -> Result<String, CliError> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .map_err(|e| CliError::io("reading stdin", &e))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

/// The API's settings object of an engine from the flags given (absent flags are left out, so
/// an update keeps them).
fn engine_settings(s: EngineSettings) -> Result<Map<String, Value>, CliError> {
    let mut map = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            map.insert(key.to_owned(), v);
        }
    };
    let stdin_secret = if s.password_stdin {
        Some(read_stdin_line()?)
    } else {
        None
    };
    let aws = s.access_key_id.is_some() || s.region.is_some() || s.endpoint_url.is_some();
    let (password, secret_key) = match stdin_secret {
        Some(secret) if aws => (s.password, Some(secret)),
        Some(secret) => (Some(secret), s.secret_access_key),
        None => (s.password, s.secret_access_key),
    };
    put("connection_url", s.connection_url.map(Value::from));
    put("username", s.username.map(Value::from));
    put("password", password.map(Value::from));
    put(
        "max_open_connections",
        s.max_open_connections.map(Value::from),
    );
    put("region", s.region.map(Value::from));
    put("access_key_id", s.access_key_id.map(Value::from));
    put("secret_access_key", secret_key.map(Value::from));
    put("endpoint_url", s.endpoint_url.map(Value::from));
    put("sts_endpoint_url", s.sts_endpoint_url.map(Value::from));
    put("key_type", s.key_type.map(Value::from));
    if let Some(path) = &s.private_key_file {
        put("private_key", Some(Value::from(read_file(path)?)));
    }
    Ok(map)
}

/// The API's settings object of a role from the flags given.
fn role_settings(s: &RoleSettings) -> Result<Map<String, Value>, CliError> {
    let mut map = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            map.insert(key.to_owned(), v);
        }
    };
    let list = |items: &[String]| (!items.is_empty()).then(|| json!(items));
    put(
        "creation_statements",
        s.creation_statements.clone().map(Value::from),
    );
    put(
        "revocation_statements",
        s.revocation_statements.clone().map(Value::from),
    );
    put(
        "renew_statements",
        s.renew_statements.clone().map(Value::from),
    );
    put(
        "credential_type",
        s.credential_type.clone().map(Value::from),
    );
    put("policy_arns", list(&s.policy_arns));
    put("role_arns", list(&s.role_arns));
    if let Some(doc) = &s.policy_document {
        let text = match doc.strip_prefix('@') {
            Some(path) => read_file(Path::new(path))?,
            None => doc.clone(),
        };
        put("policy_document", Some(Value::from(text)));
    }
    put("allowed_users", list(&s.allowed_users));
    put("default_user", s.default_user.clone().map(Value::from));
    if !s.extensions.is_empty() {
        let extensions: Map<String, Value> = s
            .extensions
            .iter()
            .map(|name| (name.clone(), Value::from("")))
            .collect();
        put("extensions", Some(Value::Object(extensions)));
    }
    put("allowed_key_types", list(&s.allowed_key_types));
    Ok(map)
}

// ---------------------------------------------------------------------------------------------
// Engines

fn engine_fields(e: &Engine) -> Vec<(&'static str, String)> {
    let mut rows = vec![("Name", e.name.clone()), ("Type", e.kind.clone())];
    if let Value::Object(config) = &e.config {
        for (key, value) in config {
            // The CA public key is long; `engines ca` prints it.
            if key != "public_key" {
                rows.push((config_label(key), output::plain(value)));
            }
        }
    }
    rows.extend([
        ("Live leases", e.live_leases.to_string()),
        ("Created", e.created_at.to_string()),
        ("Updated", e.updated_at.to_string()),
        ("Root rotated", or_dash(e.root_rotated_at.as_ref())),
    ]);
    rows
}

/// A label for a config key shown in the fields block (`connection_url` -> `connection_url`);
/// the keys are the API's, so users can match them with `--json`.
fn config_label(key: &str) -> &'static str {
    match key {
        "connection_url" => "Connection URL",
        "username" => "Username",
        "max_open_connections" => "Max connections",
        "region" => "Region",
        "access_key_id" => "Access key id",
        "endpoint_url" => "Endpoint",
        "sts_endpoint_url" => "STS endpoint",
        "key_type" => "Key type",
        _ => "Setting",
    }
}

impl pages::Page for EngineList {
    type Item = Engine;
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool) {
        (self.engines, self.cursor, self.has_more)
    }
}

impl pages::Page for RoleList {
    type Item = Role;
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool) {
        (self.roles, self.cursor, self.has_more)
    }
}

impl pages::Page for LeaseList {
    type Item = Lease;
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool) {
        (self.leases, self.cursor, self.has_more)
    }
}

async fn engines(client: &Client, cmd: EnginesCommand) -> Result<(), CliError> {
    match cmd {
        EnginesCommand::List(args) => {
            let pages = pages::fetch_all::<EngineList, _>(async |cursor| {
                client.list_engines(None, cursor.as_deref()).raw().await
            })
            .await?;
            if args.json {
                return output::raw_json(&pages::merged_json(&pages.bodies, "engines")?);
            }
            if pages.items.is_empty() {
                return output::line("No dynamic engines.");
            }
            let mut table = output::table(["NAME", "TYPE", "LIVE LEASES", "UPDATED"]);
            for e in pages.items {
                table.add_row([
                    e.name,
                    e.kind,
                    e.live_leases.to_string(),
                    e.updated_at.to_string(),
                ]);
            }
            output::print_table(&table)
        }
        EnginesCommand::Get(args) => {
            let raw = client.get_engine(&args.engine).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let engine: Engine = decode(&raw)?;
            output::print_fields(&engine_fields(&engine))
        }
        EnginesCommand::Create(args) => {
            let request = CreateEngineRequest {
                name: args.name,
                kind: args.kind,
                settings: engine_settings(args.settings)?,
            };
            let raw = client.create_engine(&request).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let engine: Engine = decode(&raw)?;
            output::line(&format!(
                "Created {} engine {} (connection checked)",
                engine.kind, engine.name
            ))?;
            output::print_fields(&engine_fields(&engine))
        }
        EnginesCommand::Update(args) => {
            let request = UpdateEngineRequest {
                settings: engine_settings(args.settings)?,
            };
            let raw = client.update_engine(&args.engine, &request).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let engine: Engine = decode(&raw)?;
            output::line(&format!("Updated engine {}", engine.name))?;
            output::print_fields(&engine_fields(&engine))
        }
        EnginesCommand::Delete(args) => {
            client.delete_engine(&args.engine, args.force).raw().await?;
            output::line(&format!("Deleted engine {}", args.engine))
        }
        EnginesCommand::RotateRoot(args) => {
            let raw = client.rotate_engine_root(&args.engine).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let engine: Engine = decode(&raw)?;
            output::line(&format!(
                "Rotated the root credential of engine {}; only ScaiVault knows the new one",
                engine.name
            ))
        }
        EnginesCommand::Ca(args) => {
            let raw = client.engine_ca_key(&args.engine).raw().await?;
            output::emit(&raw.body)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Roles

fn role_fields(r: &Role) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("Engine", r.engine.clone()),
        ("Name", r.name.clone()),
        ("Default TTL", format!("{}s", r.default_ttl)),
        ("Max TTL", format!("{}s", r.max_ttl)),
        ("Max leases", or_dash(r.max_leases)),
    ];
    if let Value::Object(config) = &r.config {
        for (key, value) in config {
            rows.push((role_label(key), output::plain(value)));
        }
    }
    rows.extend([
        ("Created", r.created_at.to_string()),
        ("Updated", r.updated_at.to_string()),
    ]);
    rows
}

fn role_label(key: &str) -> &'static str {
    match key {
        "creation_statements" => "Creation SQL",
        "revocation_statements" => "Revocation SQL",
        "renew_statements" => "Renew SQL",
        "credential_type" => "Credential type",
        "policy_arns" => "Policy ARNs",
        "policy_document" => "Policy document",
        "role_arns" => "Role ARNs",
        "allowed_users" => "Allowed users",
        "default_user" => "Default user",
        "extensions" => "Extensions",
        "allowed_key_types" => "Key types",
        _ => "Setting",
    }
}

async fn roles(client: &Client, cmd: RolesCommand) -> Result<(), CliError> {
    match cmd {
        RolesCommand::List(args) => {
            let pages = pages::fetch_all::<RoleList, _>(async |cursor| {
                client
                    .list_roles(&args.engine, None, cursor.as_deref())
                    .raw()
                    .await
            })
            .await?;
            if args.json {
                return output::raw_json(&pages::merged_json(&pages.bodies, "roles")?);
            }
            if pages.items.is_empty() {
                return output::line(&format!("Engine {} has no roles.", args.engine));
            }
            let mut table = output::table(["NAME", "DEFAULT TTL", "MAX TTL", "MAX LEASES"]);
            for r in pages.items {
                table.add_row([
                    r.name,
                    format!("{}s", r.default_ttl),
                    format!("{}s", r.max_ttl),
                    or_dash(r.max_leases),
                ]);
            }
            output::print_table(&table)
        }
        RolesCommand::Get(args) => {
            let raw = client.get_role(&args.engine, &args.role).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let role: Role = decode(&raw)?;
            output::print_fields(&role_fields(&role))
        }
        RolesCommand::Create(args) => {
            let request = CreateRoleRequest {
                name: args.role,
                default_ttl: args.settings.default_ttl.clone(),
                max_ttl: args.settings.max_ttl.clone(),
                max_leases: args.settings.max_leases,
                settings: role_settings(&args.settings)?,
            };
            let raw = client.create_role(&args.engine, &request).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let role: Role = decode(&raw)?;
            output::line(&format!("Created role {} on {}", role.name, role.engine))?;
            output::print_fields(&role_fields(&role))
        }
        RolesCommand::Update(args) => {
            let request = UpdateRoleRequest {
                default_ttl: args.settings.default_ttl.clone(),
                max_ttl: args.settings.max_ttl.clone(),
                max_leases: args.settings.max_leases,
                settings: role_settings(&args.settings)?,
            };
            let raw = client
                .update_role(&args.engine, &args.role, &request)
                .raw()
                .await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let role: Role = decode(&raw)?;
            output::line(&format!("Updated role {} on {}", role.name, role.engine))?;
            output::print_fields(&role_fields(&role))
        }
        RolesCommand::Delete(args) => {
            client.delete_role(&args.engine, &args.role).raw().await?;
            output::line(&format!(
                "Deleted role {} of engine {}",
                args.role, args.engine
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Credentials and leases

async fn creds(client: &Client, args: CredsArgs) -> Result<(), CliError> {
    let public_key = match &args.public_key_file {
        Some(path) => Some(read_file(path)?.trim().to_owned()),
        None => None,
    };
    let request = CredsRequest {
        ttl: args.ttl,
        public_key,
    };
    let raw = client
        .dynamic_creds(&args.engine, &args.role, &request)
        .raw()
        .await?;
    let lease: LeaseCreated = decode(&raw)?;
    let text = |key: &str| lease.data.get(key).and_then(Value::as_str);
    if let (Some(path), Some(cert)) = (&args.cert_out, text("signed_key")) {
        write_file(path, &format!("{}\n", cert.trim_end()), false)?;
    }
    if let (Some(path), Some(key)) = (&args.key_out, text("private_key")) {
        write_file(path, key, true)?;
    }
    if args.json {
        return output::raw_json(&raw.body);
    }
    let mut rows = vec![
        ("Lease", lease.lease_id.clone()),
        ("Duration", format!("{}s", lease.lease_duration)),
        ("Expires", lease.expires_at.to_string()),
        ("Renewable", lease.renewable.to_string()),
    ];
    let written = |key: &str| match key {
        "signed_key" => args.cert_out.is_some(),
        "private_key" => args.key_out.is_some(),
        _ => false,
    };
    let data: Vec<(String, String)> = lease
        .data
        .iter()
        .filter(|(key, _)| !written(key))
        .map(|(key, value)| (key.clone(), output::plain(value)))
        .collect();
    rows.extend(data.iter().map(|(k, v)| (k.as_str(), v.clone())));
    output::print_fields(&rows)
}

fn lease_fields(l: &Lease) -> Vec<(&'static str, String)> {
    vec![
        ("ID", l.id.clone()),
        ("Engine", l.engine.clone()),
        ("Role", l.role.clone()),
        ("Identity", l.identity.clone()),
        ("Status", l.status.clone()),
        ("Username", or_dash(l.username.as_ref())),
        ("Renewable", l.renewable.to_string()),
        ("Issued", l.issued_at.to_string()),
        ("Expires", l.expires_at.to_string()),
        ("Max expiry", l.max_expires_at.to_string()),
        ("Revoked", or_dash(l.revoked_at.as_ref())),
        ("Attempts", l.revocation_attempts.to_string()),
        ("Last error", or_dash(l.last_error.as_ref())),
    ]
}

async fn leases(client: &Client, cmd: LeasesCommand) -> Result<(), CliError> {
    match cmd {
        LeasesCommand::List(args) => {
            let filter = LeaseFilter {
                engine: args.engine,
                role: args.role,
                identity: args.identity,
                live: args.live,
            };
            let pages = pages::fetch_all::<LeaseList, _>(async |cursor| {
                client
                    .list_leases(&filter, None, cursor.as_deref())
                    .raw()
                    .await
            })
            .await?;
            if args.json {
                return output::raw_json(&pages::merged_json(&pages.bodies, "leases")?);
            }
            if pages.items.is_empty() {
                return output::line("No leases.");
            }
            let mut table = output::table([
                "ID", "ENGINE", "ROLE", "IDENTITY", "STATUS", "EXPIRES", "ERROR",
            ]);
            for l in pages.items {
                table.add_row([
                    l.id,
                    l.engine,
                    l.role,
                    l.identity,
                    l.status,
                    l.expires_at.to_string(),
                    or_dash(l.last_error),
                ]);
            }
            output::print_table(&table)
        }
        LeasesCommand::Get(args) => {
            let raw = client.get_lease(&args.id).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let lease: Lease = decode(&raw)?;
            output::print_fields(&lease_fields(&lease))
        }
        LeasesCommand::Renew(args) => {
            let request = LeaseRenewRequest { ttl: args.ttl };
            let raw = client.renew_lease(&args.id, &request).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let lease: Lease = decode(&raw)?;
            output::line(&format!(
                "Renewed {}: expires {}",
                lease.id, lease.expires_at
            ))
        }
        LeasesCommand::Revoke(args) => {
            let raw = client.revoke_lease(&args.id).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let lease: Lease = decode(&raw)?;
            if lease.status == "revoked" {
                output::line(&format!("Revoked {}", lease.id))
            } else {
                // 202: the target could not be reached; the server keeps retrying.
                output::line(&format!(
                    "Revocation of {} is pending ({}): the target could not be reached{}; \
                     ScaiVault retries with back-off",
                    lease.id,
                    lease.status,
                    lease
                        .last_error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                ))
            }
        }
        LeasesCommand::RevokePrefix(args) => {
            let request = RevokePrefixRequest {
                engine: args.engine,
                role: args.role,
            };
            let raw = client.revoke_lease_prefix(&request).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let result: RevokePrefixResult = decode(&raw)?;
            output::line(&format!(
                "Revoked {} lease(s); {} pending retry",
                result.revoked, result.pending
            ))
        }
    }
}
