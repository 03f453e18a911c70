//! `scaivault auth login|whoami|logout|tokens`

use std::io::Read;

use clap::{Args, Subcommand};
use scaivault_proto::auth::CreateTokenRequest;

use crate::commands::next_cursor;
use crate::context::{Context, ENV_TOKEN};
use crate::error::CliError;
use crate::output::{self, or_dash};

pub const EXAMPLES: &str = "\
Examples:
  scaivault auth login --token \"$SCAIVAULT_TOKEN\"
  scaivault auth whoami
  scaivault auth tokens create --name ci-readonly --scopes secrets:read --ttl 30d
  scaivault auth logout";

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Verify a token and store it in ~/.scaivault/config.json
    #[command(after_help = "\
Examples:
  scaivault auth login --token \"$SCAIVAULT_TOKEN\"
  pass show scaivault | scaivault auth login --token -   # keep it out of shell history")]
    Login(LoginArgs),

    /// Show the identity, tenant and scopes of the current token
    #[command(after_help = "\
Examples:
  scaivault auth whoami
  scaivault auth whoami --json | jq -r '.scopes[]'")]
    Whoami {
        /// Print the API's JSON response
        #[arg(long)]
        json: bool,
    },

    /// Remove the stored token from ~/.scaivault/config.json
    #[command(after_help = "\
Examples:
  scaivault auth logout")]
    Logout,

    /// Create, list and revoke personal access tokens
    #[command(
        subcommand,
        after_help = "\
Examples:
  scaivault auth tokens create --name ci-readonly --scopes secrets:read
  scaivault auth tokens list
  scaivault auth tokens revoke tok_abc"
    )]
    Tokens(TokensCommand),
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The bearer token (skt_...); `-` reads it from stdin
    #[arg(long, value_name = "TOKEN")]
    token: String,
    /// Store the token without checking it against the server
    #[arg(long)]
    no_verify: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token; prints the plaintext token (shown once) on stdout
    #[command(after_help = "\
Examples:
  scaivault auth tokens create --name ci-readonly --scopes secrets:read
  TOKEN=$(scaivault auth tokens create --name deploy --scopes secrets:read,secrets:write --ttl 12h)")]
    Create {
        /// A name to recognise the token by
        #[arg(long)]
        name: String,
        /// Comma-separated scopes, a subset of your own (e.g. secrets:read,secrets:write)
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// Lifetime such as 30d or 12h (server default 30d)
        #[arg(long, value_name = "DURATION")]
        ttl: Option<String>,
        /// Print the API's JSON response (it contains the token)
        #[arg(long)]
        json: bool,
    },

    /// List your tokens (never their values)
    #[command(after_help = "\
Examples:
  scaivault auth tokens list
  scaivault auth tokens list --json | jq -r '.tokens[].id'")]
    List {
        /// Print the API's JSON response
        #[arg(long)]
        json: bool,
    },

    /// Revoke a token by id
    #[command(after_help = "\
Examples:
  scaivault auth tokens revoke tok_abc")]
    Revoke {
        /// Token id (tok_...)
        id: String,
    },
}

pub async fn run(command: AuthCommand, ctx: Context) -> Result<(), CliError> {
    match command {
        AuthCommand::Login(args) => login(args, ctx).await,
        AuthCommand::Whoami { json } => {
            let client = ctx.client()?;
            if json {
                return output::raw_json(&client.whoami().raw().await?.body);
            }
            let me = client.whoami().await?;
            output::print_fields(&[
                ("Identity", me.identity_id),
                ("Type", me.identity_type),
                ("Tenant", me.tenant_id),
                ("Partner", me.partner_id),
                ("Scopes", me.scopes.join(", ")),
                ("Server", client.base_url().to_string()),
            ])
        }
        AuthCommand::Logout => {
            let mut ctx = ctx;
            if ctx.file.token.is_none() {
                output::line("Not logged in (no token in the config file).")?;
            } else {
                ctx.file.token = None;
                ctx.save()?;
                output::line("Logged out: token removed from the config file.")?;
            }
            if std::env::var(ENV_TOKEN).is_ok_and(|v| !v.trim().is_empty()) {
                eprintln!("Note: {ENV_TOKEN} is still set in this environment.");
            }
            Ok(())
        }
        AuthCommand::Tokens(command) => tokens(command, &ctx).await,
    }
}

async fn login(args: LoginArgs, mut ctx: Context) -> Result<(), CliError> {
    let token = if args.token == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::io("reading stdin", &e))?;
        text.trim().to_string()
    } else {
        args.token.trim().to_string()
    };
    if token.is_empty() {
        return Err(CliError::validation("the token is empty"));
    }
    let path = ctx.require_path()?.display().to_string();
    let who = if args.no_verify {
        None
    } else {
        let client = ctx.anonymous_client()?.with_token(token.clone());
        Some(client.whoami().await?)
    };
    ctx.file.token = Some(token);
    ctx.save()?;
    match who {
        Some(me) => output::line(&format!(
            "Logged in to {} as {} (tenant {}). Token saved to {path}.",
            ctx.base_url(),
            me.identity_id,
            me.tenant_id
        ))?,
        None => output::line(&format!("Token saved to {path} (not verified)."))?,
    }
    if std::env::var(ENV_TOKEN).is_ok_and(|v| !v.trim().is_empty()) {
        eprintln!("Note: {ENV_TOKEN} is set and overrides the stored token.");
    }
    Ok(())
}

async fn tokens(command: TokensCommand, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        TokensCommand::Create {
            name,
            scopes,
            ttl,
            json,
        } => {
            let request = CreateTokenRequest { name, scopes, ttl };
            if json {
                return output::raw_json(&client.create_token(&request).raw().await?.body);
            }
            let created = client.create_token(&request).await?;
            eprintln!(
                "Created token {} ({}), scopes {}, expires {}. It is shown only once:",
                created.id,
                created.name,
                created.scopes.join(","),
                or_dash(created.expires_at)
            );
            output::line(&created.token)
        }
        TokensCommand::List { json } => {
            let mut cursor: Option<String> = None;
            let mut first_raw = None;
            let mut tokens = Vec::new();
            loop {
                let raw = client.list_tokens(cursor.as_deref(), None).raw().await?;
                let page: scaivault_proto::auth::TokenListResponse =
                    scaivault_client::decode(&raw)?;
                let count = page.tokens.len();
                tokens.extend(page.tokens);
                if first_raw.is_none() {
                    first_raw = Some(raw.body);
                }
                match next_cursor(page.has_more, page.cursor, cursor.as_deref(), count) {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            if json {
                return if cursor.is_none() {
                    output::raw_json(first_raw.as_deref().unwrap_or_default())
                } else {
                    let all =
                        serde_json::json!({"tokens": tokens, "cursor": null, "has_more": false});
                    output::line(&all.to_string())
                };
            }
            if tokens.is_empty() {
                return output::line("No tokens.");
            }
            let mut table =
                output::table(["ID", "NAME", "IDENTITY", "SCOPES", "CREATED", "EXPIRES"]);
            for t in tokens {
                table.add_row([
                    t.id,
                    t.name,
                    t.identity_id,
                    t.scopes.join(","),
                    t.created_at.to_string(),
                    or_dash(t.expires_at),
                ]);
            }
            output::print_table(&table)
        }
        TokensCommand::Revoke { id } => {
            client.revoke_token(&id).await?;
            output::line(&format!("Revoked {id}"))
        }
    }
}
