//! `scaivault pki acme register|accounts|issue|orders` and `scaivault pki dns-providers
//! create|list|get|delete`: certificates from ACME CAs (docs/acme.md), as the CLI reference
//! shows them (`pki acme register --provider letsencrypt --email ...`, `pki acme issue
//! --account acme_abc --domains api.acme.example --challenge dns-01`). `--json` prints the
//! API's response unchanged.
//!
//! `issue` places the order and follows it (one line per change of status on stderr) until the
//! certificate is stored or the CA's problem comes back; `--no-wait` returns at once.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use scaivault_client::{Client, decode};
use scaivault_proto::acme::{
    AcmeAccount, AcmeAccountList, AcmeOrder, AcmeOrderList, CreateAcmeOrderRequest,
    CreateDnsProviderRequest, DnsProvider, DnsProviderList, RegisterAcmeAccountRequest,
};
use serde_json::{Map, Value};

use crate::commands::pages;
use crate::commands::pki::read_file;
use crate::error::CliError;
use crate::output::{self, or_dash};

pub const ACME_EXAMPLES: &str = "\
Examples:
  scaivault pki acme register --provider letsencrypt --email certs@acme.example --agree-tos
  scaivault pki acme register --provider zerossl --email certs@acme.example \\
    --eab-kid KID --eab-hmac-key HMAC --agree-tos
  scaivault pki acme issue --account acme_abc --domains api.acme.example --challenge dns-01 \\
    --dns-provider dnsp_abc
  scaivault pki acme issue --account acme_abc --domains '*.acme.example,acme.example' \\
    --challenge dns-01 --dns-provider dnsp_abc
  scaivault pki acme orders list --status failed
  scaivault pki acme accounts list";

pub const DNS_EXAMPLES: &str = "\
Examples:
  scaivault pki dns-providers create --name knot --type rfc2136 \\
    --setting server=192.0.2.53:53 --setting zone=acme.example --setting tsig_key_name=acme \\
    --credential tsig_secret=@tsig.b64
  scaivault pki dns-providers create --name aws --type route53 --setting hosted_zone_id=Z123 \\
    --credentials-file route53-creds.json
  scaivault pki dns-providers list
  scaivault pki dns-providers delete dnsp_abc";

#[derive(Debug, Subcommand)]
pub enum AcmeCommand {
    /// Register an account at an ACME CA (its key is generated and sealed in ScaiVault)
    #[command(
        after_help = "Examples:\n  scaivault pki acme register --provider letsencrypt --email certs@acme.example --agree-tos\n  scaivault pki acme register --provider custom --directory-url https://ca.internal/acme/directory \\\n    --ca-bundle ca.pem --email certs@acme.example --agree-tos"
    )]
    Register(RegisterArgs),
    /// Accounts: list, show, deactivate
    #[command(
        subcommand,
        after_help = "Examples:\n  scaivault pki acme accounts list\n  scaivault pki acme accounts get acme_abc\n  scaivault pki acme accounts deactivate acme_abc"
    )]
    Accounts(AccountsCommand),
    /// Order a certificate and follow the order until it is issued (or failed)
    #[command(
        after_help = "Examples:\n  scaivault pki acme issue --account acme_abc --domains api.acme.example --challenge http-01\n  scaivault pki acme issue --account acme_abc --domains '*.acme.example' --challenge dns-01 \\\n    --dns-provider dnsp_abc --path tls/wildcard"
    )]
    Issue(IssueArgs),
    /// Orders: list, show
    #[command(
        subcommand,
        after_help = "Examples:\n  scaivault pki acme orders list --status failed\n  scaivault pki acme orders get acmeo_abc"
    )]
    Orders(OrdersCommand),
}

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// List the tenant's ACME accounts
    #[command(
        after_help = "Examples:\n  scaivault pki acme accounts list\n  scaivault pki acme accounts list --json | jq -r '.accounts[].id'"
    )]
    List(JsonArgs),
    /// Show one account
    #[command(after_help = "Examples:\n  scaivault pki acme accounts get acme_abc")]
    Get(IdArgs),
    /// Deactivate an account at the CA, for good
    #[command(after_help = "Examples:\n  scaivault pki acme accounts deactivate acme_abc")]
    Deactivate(IdArgs),
}

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// List orders (renewals included), optionally of one status
    #[command(
        after_help = "Examples:\n  scaivault pki acme orders list\n  scaivault pki acme orders list --status scheduled"
    )]
    List(ListOrdersArgs),
    /// Show one order, with the CA's problem document when it failed
    #[command(
        after_help = "Examples:\n  scaivault pki acme orders get acmeo_abc\n  scaivault pki acme orders get acmeo_abc --json | jq .problem"
    )]
    Get(IdArgs),
}

#[derive(Debug, Subcommand)]
pub enum DnsProvidersCommand {
    /// Create a DNS provider for dns-01 (docs/dns-providers.md lists each type's fields)
    #[command(
        after_help = "Examples:\n  scaivault pki dns-providers create --name bind --type rfc2136 --setting server=192.0.2.53 \\\n    --setting zone=acme.example --setting tsig_key_name=acme --credential tsig_secret=@tsig.b64\n  scaivault pki dns-providers create --name cf --type cloudflare --setting zone_id=023e105f \\\n    --credentials-file cloudflare.json"
    )]
    Create(CreateDnsArgs),
    /// List DNS providers (never their credentials)
    #[command(
        after_help = "Examples:\n  scaivault pki dns-providers list\n  scaivault pki dns-providers list --json"
    )]
    List(JsonArgs),
    /// Show one DNS provider
    #[command(after_help = "Examples:\n  scaivault pki dns-providers get dnsp_abc")]
    Get(IdArgs),
    /// Delete a DNS provider (refused while an order or a renewal uses it)
    #[command(after_help = "Examples:\n  scaivault pki dns-providers delete dnsp_abc")]
    Delete(IdArgs),
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print the API's JSON response (pages merged when there is more than one)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The id (acme_..., acmeo_... or dnsp_...)
    id: String,
    /// Print the API's JSON response unchanged
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// letsencrypt, letsencrypt-staging, zerossl, buypass, buypass-staging, google,
    /// google-staging or custom
    #[arg(long)]
    provider: String,
    /// Contact address for the CA's notices
    #[arg(long)]
    email: Option<String>,
    /// The ACME directory URL (custom only)
    #[arg(long, value_name = "URL")]
    directory_url: Option<String>,
    /// External account binding key id (ZeroSSL, Google: required)
    #[arg(long, value_name = "KID", requires = "eab_hmac_key")]
    eab_kid: Option<String>,
    /// External account binding HMAC key, base64url as the CA prints it
    #[arg(long, value_name = "KEY", requires = "eab_kid")]
    eab_hmac_key: Option<String>,
    /// PEM roots to trust for the CA's HTTPS endpoint (a private CA)
    #[arg(long, value_name = "FILE")]
    ca_bundle: Option<PathBuf>,
    /// Agree to the CA's terms of service without being asked (at a terminal the CLI asks;
    /// without one, registering is the agreement)
    #[arg(long)]
    agree_tos: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The ACME account (acme_...)
    #[arg(long, value_name = "ACCOUNT_ID")]
    account: String,
    /// Names, comma separated (wildcards with dns-01); the first is the subject
    #[arg(long, value_delimiter = ',', required = true)]
    domains: Vec<String>,
    /// http-01 or dns-01
    #[arg(long)]
    challenge: String,
    /// dns-01: the DNS provider (dnsp_...; default: the tenant's only one); http-01: a webhook
    /// provider for another front end
    #[arg(long, value_name = "DNS_PROVIDER_ID")]
    dns_provider: Option<String>,
    /// ecdsa-p256 (default) or rsa-2048
    #[arg(long)]
    key_type: Option<String>,
    /// Secret path for certificate and key (default pki/acme/FIRST-NAME)
    #[arg(long)]
    path: Option<String>,
    /// Return once the order is placed instead of following it
    #[arg(long)]
    no_wait: bool,
    /// How long to follow the order (it goes on in the server after that)
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    wait_timeout: String,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ListOrdersArgs {
    /// pending, scheduled, processing, valid or failed
    #[arg(long)]
    status: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct CreateDnsArgs {
    /// Unique name in the tenant
    #[arg(long)]
    name: String,
    /// rfc2136, route53, cloudflare, google-clouddns, azure-dns, digitalocean or webhook
    #[arg(long = "type", value_name = "TYPE")]
    kind: String,
    /// A setting, KEY=VALUE (repeatable); VALUE is JSON when it parses as JSON (numbers,
    /// lists), a string otherwise
    #[arg(long = "setting", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    /// A credential, KEY=VALUE or KEY=@FILE (repeatable); prefer @FILE or --credentials-file,
    /// a value on the command line is visible to other local users
    #[arg(long = "credential", value_name = "KEY=VALUE")]
    credentials: Vec<String>,
    /// Credentials as a JSON object in a file (`-` for stdin)
    #[arg(long, value_name = "FILE")]
    credentials_file: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub async fn run_acme(client: &Client, cmd: AcmeCommand) -> Result<(), CliError> {
    match cmd {
        AcmeCommand::Register(args) => register(client, args).await,
        AcmeCommand::Accounts(cmd) => accounts(client, cmd).await,
        AcmeCommand::Issue(args) => issue(client, args).await,
        AcmeCommand::Orders(cmd) => orders(client, cmd).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Accounts

fn account_fields(a: &AcmeAccount) -> Vec<(&'static str, String)> {
    vec![
        ("ID", a.id.clone()),
        ("Provider", a.provider.clone()),
        ("Directory", a.directory_url.clone()),
        ("Contacts", a.contacts.join(", ")),
        ("Status", a.status.clone()),
        ("Account URL", a.account_url.clone()),
        ("EAB key id", or_dash(a.eab_kid.as_ref())),
        ("Created", a.created_at.to_string()),
    ]
}

impl pages::Page for AcmeAccountList {
    type Item = AcmeAccount;
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool) {
        (self.accounts, self.cursor, self.has_more)
    }
}

impl pages::Page for AcmeOrderList {
    type Item = AcmeOrder;
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool) {
        (self.orders, self.cursor, self.has_more)
    }
}

impl pages::Page for DnsProviderList {
    type Item = DnsProvider;
    fn split(self) -> (Vec<Self::Item>, Option<String>, bool) {
        (self.dns_providers, self.cursor, self.has_more)
    }
}

/// Registering agrees to the CA's terms of service. At a terminal the CLI asks (unless
/// `--agree-tos`); without one (scripts, CI) running `register` is the agreement, and the CLI
/// says so on stderr. The API itself takes nothing less than `terms_of_service_agreed: true`.
fn agree_to_terms(args: &RegisterArgs) -> Result<bool, CliError> {
    let directory = args
        .directory_url
        .clone()
        .unwrap_or_else(|| format!("the {} ACME directory", args.provider));
    if args.agree_tos {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "Registering agrees to the terms of service of {directory} (pass --agree-tos to say so explicitly)."
        );
        return Ok(true);
    }
    eprint!("Registering means agreeing to the terms of service of {directory}. Agree? [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| CliError::io("reading the answer", &e))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

async fn register(client: &Client, args: RegisterArgs) -> Result<(), CliError> {
    if !agree_to_terms(&args)? {
        return Err(CliError::validation(
            "not registered: the terms of service were not agreed to",
        ));
    }
    let request = RegisterAcmeAccountRequest {
        provider: args.provider.clone(),
        email: args.email.clone(),
        directory_url: args.directory_url.clone(),
        eab_kid: args.eab_kid.clone(),
        eab_hmac_key: args.eab_hmac_key.clone(),
        ca_bundle: args.ca_bundle.as_deref().map(read_file).transpose()?,
        terms_of_service_agreed: true,
    };
    let raw = client.register_acme_account(&request).raw().await?;
    if args.json {
        return output::raw_json(&raw.body);
    }
    let account: AcmeAccount = decode(&raw)?;
    output::line(&format!(
        "Registered ACME account {} at {}",
        account.id, account.provider
    ))?;
    output::print_fields(&account_fields(&account))
}

async fn accounts(client: &Client, cmd: AccountsCommand) -> Result<(), CliError> {
    match cmd {
        AccountsCommand::List(args) => {
            let pages = pages::fetch_all::<AcmeAccountList, _>(async |cursor| {
                client
                    .list_acme_accounts(None, cursor.as_deref())
                    .raw()
                    .await
            })
            .await?;
            if args.json {
                return output::raw_json(&pages::merged_json(&pages.bodies, "accounts")?);
            }
            if pages.items.is_empty() {
                return output::line("No ACME accounts.");
            }
            let mut table = output::table(["ID", "PROVIDER", "CONTACTS", "STATUS", "CREATED"]);
            for a in pages.items {
                table.add_row([
                    a.id,
                    a.provider,
                    a.contacts.join(", "),
                    a.status,
                    a.created_at.to_string(),
                ]);
            }
            output::print_table(&table)
        }
        AccountsCommand::Get(args) => {
            let raw = client.get_acme_account(&args.id).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            output::print_fields(&account_fields(&decode(&raw)?))
        }
        AccountsCommand::Deactivate(args) => {
            let raw = client.deactivate_acme_account(&args.id).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let a: AcmeAccount = decode(&raw)?;
            output::line(&format!("Deactivated ACME account {}", a.id))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Orders

fn problem_text(p: &Value) -> String {
    let kind = p.get("type").and_then(Value::as_str).unwrap_or("problem");
    let detail = p.get("detail").and_then(Value::as_str).unwrap_or("");
    let mut text = format!("{kind}: {detail}");
    if let Some(subs) = p.get("subproblems").and_then(Value::as_array) {
        for s in subs {
            text.push_str(&format!(
                "\n  {}: {} {}",
                s.get("identifier").and_then(Value::as_str).unwrap_or("-"),
                s.get("type").and_then(Value::as_str).unwrap_or(""),
                s.get("detail").and_then(Value::as_str).unwrap_or("")
            ));
        }
    }
    text
}

fn order_fields(o: &AcmeOrder) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("ID", o.id.clone()),
        ("Account", o.account_id.clone()),
        ("Domains", o.domains.join(", ")),
        ("Challenge", o.challenge.clone()),
        ("DNS provider", or_dash(o.dns_provider_id.as_ref())),
        ("Key type", o.key_type.clone()),
        ("Status", o.status.clone()),
        ("Order URL", or_dash(o.order_url.as_ref())),
        ("Certificate", or_dash(o.certificate_id.as_ref())),
        ("Secret path", o.secret_path.clone()),
        ("Attempts", o.attempts.to_string()),
        ("Next attempt", o.next_attempt_at.to_string()),
        ("Renewal of", or_dash(o.renewal_of.as_ref())),
    ];
    if let Some(p) = &o.problem {
        rows.push(("Problem", problem_text(p)));
    }
    rows
}

async fn issue(client: &Client, args: IssueArgs) -> Result<(), CliError> {
    let wait = scaivault_core::parse_duration(&args.wait_timeout)
        .map_err(|e| CliError::validation(format!("--wait-timeout: {e}")))?;
    let request = CreateAcmeOrderRequest {
        account_id: args.account,
        domains: args.domains,
        challenge: args.challenge,
        dns_provider_id: args.dns_provider,
        key_type: args.key_type,
        path: args.path,
    };
    let raw = client.create_acme_order(&request).raw().await?;
    let mut order: AcmeOrder = decode(&raw)?;
    if args.no_wait {
        if args.json {
            return output::raw_json(&raw.body);
        }
        output::line(&format!("Placed order {} ({})", order.id, order.status))?;
        return Ok(());
    }
    eprintln!("Order {}: {}", order.id, order.status);
    let started = Instant::now();
    let mut last_status = order.status.clone();
    let mut last_body = raw.body;
    while order.status != "valid" && order.status != "failed" {
        if started.elapsed() > wait {
            return Err(CliError::general(
                "timeout",
                format!(
                    "order {} is still {} after {}; it goes on in the server: \
                     `scaivault pki acme orders get {}`",
                    order.id, order.status, args.wait_timeout, order.id
                ),
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let raw = client.get_acme_order(&order.id).raw().await?;
        order = decode(&raw)?;
        last_body = raw.body;
        if order.status != last_status {
            eprintln!("Order {}: {}", order.id, order.status);
            last_status = order.status.clone();
        }
    }
    if args.json {
        output::raw_json(&last_body)?;
    } else {
        output::print_fields(&order_fields(&order))?;
    }
    if order.status == "failed" {
        let problem = order.problem.as_ref().map(problem_text).unwrap_or_default();
        return Err(CliError::general(
            "acme_order_failed",
            format!("order {} failed: {problem}", order.id),
        ));
    }
    if !args.json {
        eprintln!(
            "The certificate and its key are stored at {}: read them with `scaivault secrets read {}`.",
            order.secret_path, order.secret_path
        );
    }
    Ok(())
}

async fn orders(client: &Client, cmd: OrdersCommand) -> Result<(), CliError> {
    match cmd {
        OrdersCommand::List(args) => {
            let status = args.status.clone();
            let pages = pages::fetch_all::<AcmeOrderList, _>(async |cursor| {
                client
                    .list_acme_orders(status.as_deref(), None, cursor.as_deref())
                    .raw()
                    .await
            })
            .await?;
            if args.json {
                return output::raw_json(&pages::merged_json(&pages.bodies, "orders")?);
            }
            if pages.items.is_empty() {
                return output::line("No ACME orders.");
            }
            let mut table = output::table([
                "ID",
                "DOMAINS",
                "CHALLENGE",
                "STATUS",
                "CERTIFICATE",
                "NEXT ATTEMPT",
            ]);
            for o in pages.items {
                table.add_row([
                    o.id,
                    o.domains.join(","),
                    o.challenge,
                    o.status,
                    or_dash(o.certificate_id),
                    o.next_attempt_at.to_string(),
                ]);
            }
            output::print_table(&table)
        }
        OrdersCommand::Get(args) => {
            let raw = client.get_acme_order(&args.id).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            output::print_fields(&order_fields(&decode(&raw)?))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DNS providers

/// `KEY=VALUE`: VALUE as JSON when it parses (numbers, lists, booleans), else a string;
/// `@FILE` (credentials only) reads the value from a file, trimmed.
fn pair(raw: &str, files: bool) -> Result<(String, Value), CliError> {
    let (key, value) = raw
        .split_once('=')
        .filter(|(k, _)| !k.trim().is_empty())
        .ok_or_else(|| {
            CliError::validation(format!("expected KEY=VALUE, got {:?}", key_only(raw)))
        })?;
    if files && let Some(path) = value.strip_prefix('@') {
        let text = read_file(std::path::Path::new(path))?;
        return Ok((key.trim().to_owned(), Value::String(text.trim().to_owned())));
    }
    let parsed = match serde_json::from_str::<Value>(value) {
        Ok(v @ (Value::Number(_) | Value::Array(_) | Value::Bool(_) | Value::Object(_))) => v,
        _ => Value::String(value.to_owned()),
    };
    Ok((key.trim().to_owned(), parsed))
}

/// The key of a malformed pair, for the error message (never the value: it may be a secret).
fn key_only(raw: &str) -> &str {
    raw.split('=').next().unwrap_or_default()
}

fn provider_fields(d: &DnsProvider) -> Vec<(&'static str, String)> {
    vec![
        ("ID", d.id.clone()),
        ("Name", d.name.clone()),
        ("Type", d.kind.clone()),
        (
            "Settings",
            serde_json::to_string(&d.settings).unwrap_or_default(),
        ),
        ("Credentials", d.credential_fields.join(", ")),
        ("Created", d.created_at.to_string()),
    ]
}

pub async fn run_dns(client: &Client, cmd: DnsProvidersCommand) -> Result<(), CliError> {
    match cmd {
        DnsProvidersCommand::Create(args) => {
            let mut settings = Map::new();
            for s in &args.settings {
                let (k, v) = pair(s, false)?;
                settings.insert(k, v);
            }
            let mut credentials = Map::new();
            if let Some(path) = &args.credentials_file {
                let text = read_file(path)?;
                match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(m)) => credentials.extend(m),
                    _ => {
                        return Err(CliError::validation(
                            "--credentials-file: a JSON object expected",
                        ));
                    }
                }
            }
            for c in &args.credentials {
                let (k, v) = pair(c, true)?;
                credentials.insert(k, v);
            }
            let request = CreateDnsProviderRequest {
                name: args.name,
                kind: args.kind,
                settings,
                credentials,
            };
            let raw = client.create_dns_provider(&request).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            let d: DnsProvider = decode(&raw)?;
            output::line(&format!("Created DNS provider {} ({})", d.id, d.name))?;
            output::print_fields(&provider_fields(&d))?;
            if let Some(secret) = &d.webhook_secret {
                eprintln!(
                    "The webhook's signing secret (shown once; the receiver verifies with it): {secret}"
                );
            }
            Ok(())
        }
        DnsProvidersCommand::List(args) => {
            let pages = pages::fetch_all::<DnsProviderList, _>(async |cursor| {
                client
                    .list_dns_providers(None, cursor.as_deref())
                    .raw()
                    .await
            })
            .await?;
            if args.json {
                return output::raw_json(&pages::merged_json(&pages.bodies, "dns_providers")?);
            }
            if pages.items.is_empty() {
                return output::line("No DNS providers.");
            }
            let mut table = output::table(["ID", "NAME", "TYPE", "CREATED"]);
            for d in pages.items {
                table.add_row([d.id, d.name, d.kind, d.created_at.to_string()]);
            }
            output::print_table(&table)
        }
        DnsProvidersCommand::Get(args) => {
            let raw = client.get_dns_provider(&args.id).raw().await?;
            if args.json {
                return output::raw_json(&raw.body);
            }
            output::print_fields(&provider_fields(&decode(&raw)?))
        }
        DnsProvidersCommand::Delete(args) => {
            client.delete_dns_provider(&args.id).raw().await?;
            if args.json {
                return output::raw_json("{}");
            }
            output::line(&format!("Deleted DNS provider {}", args.id))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_parse_json_values_and_keep_strings() {
        assert_eq!(
            pair("ttl=60", false).ok(),
            Some(("ttl".into(), serde_json::json!(60)))
        );
        assert_eq!(
            pair("nameservers=[\"127.0.0.1:53\"]", false).ok(),
            Some(("nameservers".into(), serde_json::json!(["127.0.0.1:53"])))
        );
        assert_eq!(
            pair("zone=acme.example", false).ok(),
            Some(("zone".into(), serde_json::json!("acme.example")))
        );
        // A malformed pair is named by its key only.
        assert!(pair("tsig_secret", true).is_err());
    }
}
