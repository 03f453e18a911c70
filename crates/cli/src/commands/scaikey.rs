//! `scaivault scaikey register|status|sync|sync-status`: tenant onboarding.
//!
//! A self-hosted ScaiVault is its own identity registry: `register` creates a tenant (or a
//! partner) and its first admin here, and identities later arrive with the claims of each
//! ScaiKey JWT. There is no separate registry to synchronise with, so `sync` and `sync-status`
//! explain that and exit 1 instead of pretending to do something.

use clap::builder::PossibleValuesParser;
use clap::{Args, Subcommand};
use scaivault_client::{Client, decode};
use scaivault_proto::identity::{RegisterRequest, RegisterResponse, Tenant, TenantList};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::commands::pages;
use crate::context::Context;
use crate::error::{CliError, exit};
use crate::output::{self, or_dash};

pub const EXAMPLES: &str = "\
Examples:
  scaivault scaikey register --scope tenant --tenant-slug acme --email admin@acme.example
  scaivault scaikey status

Self-hosted ScaiVault is its own identity registry: `scaikey sync` and `sync-status` are not
available. Identities and groups arrive with each JWT's claims; set synced groups with
PUT /v1/identity/users/{id}/groups.";

/// The error code of `sync` and `sync-status`.
pub const SYNC_UNAVAILABLE: &str = "sync_not_available";

const SYNC_MESSAGE: &str = "this ScaiVault is self-hosted and is its own identity registry, so there is no ScaiKey identity sync to trigger or inspect. Identities and their groups arrive with the claims of each ScaiKey JWT; to set an identity's groups yourself, use PUT /v1/identity/users/{id}/groups (a tenant admin).";

#[derive(Debug, Subcommand)]
pub enum ScaikeyCommand {
    /// Register a new tenant (or partner) and its first admin; prints the admin's token once
    #[command(after_help = "\
Examples:
  scaivault scaikey register --scope tenant --tenant-slug acme --email admin@acme.example
  scaivault scaikey register --scope partner --partner-name \"Acme Group\" --email ops@acme.example
  scaivault scaikey register --scope tenant --tenant-slug acme --email admin@acme.example --json | jq -r .token

--scope tenant needs a partner admin (the tenant goes into your partner, or --partner-id for
operators); --scope partner needs an operator. The new admin is user:<email>; its token
(skt_..., valid 30 days) is shown only in this output.")]
    Register(RegisterArgs),

    /// Show who you are and, for partner admins, the partner's tenants
    #[command(after_help = "\
Examples:
  scaivault scaikey status
  scaivault scaikey status --json | jq -r '.tenants[].slug'")]
    Status {
        /// Print {\"identity\": WHOAMI, \"tenants\": [...] or null} as JSON
        #[arg(long)]
        json: bool,
    },

    /// Not available on a self-hosted ScaiVault (exits 1 and says why)
    #[command(after_help = "\
Examples:
  scaivault scaikey sync   # explains that identities arrive with JWT claims")]
    Sync,

    /// Not available on a self-hosted ScaiVault (exits 1 and says why)
    #[command(after_help = "\
Examples:
  scaivault scaikey sync-status --history   # explains that there is nothing to report")]
    SyncStatus {
        /// Accepted for compatibility with the hosted CLI; there is no history
        #[arg(long)]
        history: bool,
    },
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// tenant: a new tenant with its first tenant admin; partner: a new partner with its first
    /// partner admin (operators only)
    #[arg(long, value_parser = PossibleValuesParser::new(["tenant", "partner"]))]
    scope: String,
    /// The new tenant's slug: lowercase letters, digits and '-' (--scope tenant)
    #[arg(long, value_name = "SLUG")]
    tenant_slug: Option<String>,
    /// The new partner's name (--scope partner)
    #[arg(long, value_name = "NAME")]
    partner_name: Option<String>,
    /// The first admin's email address; the admin becomes user:EMAIL
    #[arg(long)]
    email: String,
    /// --scope tenant: the partner to create the tenant in (default: yours; another needs an
    /// operator)
    #[arg(long, value_name = "PARTNER")]
    partner_id: Option<String>,
    /// Print the API's JSON response unchanged (it contains the token)
    #[arg(long)]
    json: bool,
}

pub async fn run(command: ScaikeyCommand, ctx: &Context) -> Result<(), CliError> {
    match command {
        ScaikeyCommand::Register(args) => register(&ctx.client()?, args).await,
        ScaikeyCommand::Status { json } => status(&ctx.client()?, json).await,
        ScaikeyCommand::Sync | ScaikeyCommand::SyncStatus { .. } => Err(sync_unavailable()),
    }
}

fn sync_unavailable() -> CliError {
    CliError::general(SYNC_UNAVAILABLE, SYNC_MESSAGE).with_hint(
        "Run `scaivault scaikey status` to see your identity and tenants, or `scaivault auth whoami`.",
    )
}

fn register_request(args: RegisterArgs) -> Result<RegisterRequest, CliError> {
    match args.scope.as_str() {
        "tenant" => {
            if args.tenant_slug.is_none() {
                return Err(CliError::validation("--scope tenant needs --tenant-slug"));
            }
            if args.partner_name.is_some() {
                return Err(CliError::validation(
                    "--partner-name is for --scope partner; a tenant is created in an existing partner (--partner-id)",
                ));
            }
        }
        _ => {
            if args.partner_name.is_none() {
                return Err(CliError::validation("--scope partner needs --partner-name"));
            }
            if args.tenant_slug.is_some() || args.partner_id.is_some() {
                return Err(CliError::validation(
                    "--tenant-slug and --partner-id are for --scope tenant",
                ));
            }
        }
    }
    Ok(RegisterRequest {
        scope: args.scope,
        tenant_slug: args.tenant_slug,
        partner_name: args.partner_name,
        email: args.email,
        partner_id: args.partner_id,
    })
}

async fn register(client: &Client, args: RegisterArgs) -> Result<(), CliError> {
    let json = args.json;
    let request = register_request(args)?;
    let raw = client.register(&request).raw().await?;
    if json {
        return output::raw_json(&raw.body);
    }
    let r: RegisterResponse = decode(&raw)?;
    let what = match &r.tenant_id {
        Some(tenant) => format!("tenant {tenant} in partner {}", r.partner_id),
        None => format!("partner {}", r.partner_id),
    };
    eprintln!(
        "Registered {what}. The admin token below is shown only once: store it now (e.g. `scaivault auth login --token -`)."
    );
    output::print_fields(&[
        ("Partner", r.partner_id.clone()),
        ("Tenant", or_dash(r.tenant_id.as_deref())),
        ("Admin", r.identity_id.clone()),
        ("Token ID", r.token_id.clone()),
        ("Expires", or_dash(r.expires_at)),
        ("Token", r.token.clone()),
    ])
}

/// `scaikey status --json`: the whoami response as sent, and the tenants in reach (`null` when
/// the caller may not list tenants).
#[derive(Serialize)]
struct StatusDoc<'a> {
    identity: &'a RawValue,
    tenants: Option<&'a [Tenant]>,
}

async fn status(client: &Client, json: bool) -> Result<(), CliError> {
    let whoami = client.whoami().raw().await?;
    let me: scaivault_proto::auth::WhoAmIResponse = decode(&whoami)?;
    // Partner admins see their partner's tenants, tenant admins their own; anyone else is
    // refused, which is not an error here.
    let tenants = match pages::fetch_all::<TenantList, _>(async |cursor| {
        client.list_tenants(None, cursor.as_deref()).raw().await
    })
    .await
    {
        Ok(pages) => Some(pages),
        Err(e) if e.exit == exit::AUTHZ => None,
        Err(e) => return Err(e),
    };
    if json {
        let identity: &RawValue = serde_json::from_str(&whoami.body)
            .map_err(|e| CliError::general("decode_error", e.to_string()))?;
        let doc = StatusDoc {
            identity,
            tenants: tenants.as_ref().map(|p| p.items.as_slice()),
        };
        let doc = serde_json::to_string(&doc)
            .map_err(|e| CliError::general("encode_error", e.to_string()))?;
        return output::line(&doc);
    }
    output::print_fields(&[
        ("Server", client.base_url().to_string()),
        (
            "Registry",
            "this ScaiVault (self-hosted; identities arrive with ScaiKey JWT claims)".into(),
        ),
        ("Identity", me.identity_id),
        ("Type", me.identity_type),
        ("Tenant", me.tenant_id),
        ("Partner", me.partner_id),
        ("Scopes", me.scopes.join(", ")),
    ])?;
    match tenants {
        None => Ok(()),
        Some(pages) if pages.items.is_empty() => {
            output::line("")?;
            output::line("No tenants.")
        }
        Some(pages) => {
            output::line("")?;
            output::print_table(&tenants_table(&pages.items))
        }
    }
}

fn tenants_table(tenants: &[Tenant]) -> comfy_table::Table {
    let mut table = output::table(["TENANT", "SLUG", "NAME", "PARTNER", "CREATED"]);
    for t in tenants {
        table.add_row([
            t.id.clone(),
            t.slug.clone(),
            t.name.clone(),
            t.partner_id.clone(),
            t.created_at.to_string(),
        ]);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(scope: &str) -> RegisterArgs {
        RegisterArgs {
            scope: scope.into(),
            tenant_slug: None,
            partner_name: None,
            email: "admin@acme.example".into(),
            partner_id: None,
            json: false,
        }
    }

    #[test]
    fn register_flags_must_match_the_scope() {
        assert_eq!(register_request(args("tenant")).unwrap_err().exit, 5);
        assert_eq!(register_request(args("partner")).unwrap_err().exit, 5);
        let ok = register_request(RegisterArgs {
            tenant_slug: Some("acme".into()),
            ..args("tenant")
        })
        .unwrap();
        assert_eq!(ok.tenant_slug.as_deref(), Some("acme"));
        let mixed = RegisterArgs {
            partner_name: Some("P".into()),
            tenant_slug: Some("acme".into()),
            ..args("partner")
        };
        assert_eq!(register_request(mixed).unwrap_err().exit, 5);
    }

    #[test]
    fn sync_explains_instead_of_pretending() {
        let err = sync_unavailable();
        assert_eq!(err.exit, exit::GENERAL);
        assert_eq!(err.code, SYNC_UNAVAILABLE);
        assert!(err.message.contains("JWT"), "{err:?}");
        assert!(
            err.message.contains("PUT /v1/identity/users/{id}/groups"),
            "{err:?}"
        );
    }
}
