//! `scaivault`: `scaivault server` / `scaivault operator` run and administer the server (see the
//! server crate); every other command is an HTTP client of a running server.
//!
//! Each command group lives in its own module under `commands/` and exposes a clap
//! `Subcommand` plus an async `run`; adding a group is adding a module and one variant here.

mod commands;
mod context;
mod error;
mod input;
mod output;

use std::future::Future;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use scaivault_server::cli::{OperatorCommand, ServerArgs};

use crate::context::Context;
use crate::error::{CliError, exit};

/// mimalloc instead of the system allocator: a secret read allocates a few dozen small buffers,
/// and allocation was ~11% of the server's CPU on the read path (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXAMPLES: &str = "\
Examples:
  scaivault config set base_url https://scaivault.scailabs.ai
  scaivault auth login --token \"$SCAIVAULT_TOKEN\"
  scaivault auth whoami
  scaivault secrets write app/db/credentials username=admin password=s3cret
  scaivault secrets read app/db/credentials --field password
  scaivault secrets list --json | jq -r '.secrets[].path'
  scaivault run --path app/db/credentials -- ./migrate.sh

Environment variables override the config file: SCAIVAULT_URL, SCAIVAULT_TOKEN,
SCAIVAULT_PARTNER_ID, SCAIVAULT_TENANT_ID; SCAIVAULT_DEBUG=1 prints every HTTP request and
response (tokens and secret values redacted).

Exit codes: 0 success, 1 general error, 2 auth, 3 authz, 4 not found, 5 validation.";

/// ScaiVault secrets management: server and command-line client.
#[derive(Debug, Parser)]
#[command(
    name = "scaivault",
    version,
    arg_required_else_help = true,
    after_help = EXAMPLES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `scaivault operator`: the commands on the server host's files (server crate) and the ones
/// that talk to a running server (`unseal`, `rotate-keys`, `keys`).
#[derive(Debug, Subcommand)]
enum OperatorCli {
    #[command(flatten)]
    Local(OperatorCommand),
    #[command(flatten)]
    Online(commands::operator::OnlineOperatorCommand),
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the ScaiVault server
    Server(ServerArgs),

    /// Operator tasks on a server installation (run on the server host)
    #[command(
        subcommand,
        after_help = "Examples:\n  scaivault operator init --config /etc/scaivault/scaivault.toml\n  scaivault operator rotate-keys\n  scaivault operator unseal"
    )]
    Operator(OperatorCli),

    /// The TPM 2.0 root key on this host: init, status, backup, restore (run on the server host)
    #[command(
        subcommand,
        after_help = "Examples:\n  scaivault tpm init --sopin <so-pin> --userpin <user-pin>\n  scaivault tpm status\n  scaivault tpm backup --output backup.blob --userpin <user-pin>\n  scaivault tpm restore --input backup.blob --userpin <user-pin>"
    )]
    Tpm(scaivault_server::cli::TpmCommand),

    /// Read and change the client configuration (~/.scaivault/config.json)
    #[command(subcommand, after_help = commands::config::EXAMPLES)]
    Config(commands::config::ConfigCommand),

    /// Log in, log out, show the current identity, manage personal tokens
    #[command(subcommand, after_help = commands::auth::EXAMPLES)]
    Auth(commands::auth::AuthCommand),

    /// Read, write, list, version, delete, rotate and export secrets
    #[command(subcommand, after_help = commands::secrets::EXAMPLES)]
    Secrets(commands::secrets::SecretsCommand),

    /// Manage secret policies: how secret values are generated; preview a generated value
    #[command(subcommand, after_help = commands::secret_policies::EXAMPLES)]
    SecretPolicies(commands::secret_policies::SecretPoliciesCommand),

    /// Query, summarise and verify the audit trail (needs the audit:read scope)
    #[command(subcommand, after_help = commands::audit::EXAMPLES)]
    Audit(commands::audit::AuditCommand),

    /// Manage path policies and their bindings; explain access decisions
    #[command(subcommand, after_help = commands::policies::EXAMPLES)]
    Policies(commands::policies::PoliciesCommand),

    /// Manage rotation policies, assign them to secrets, trigger rotations, see runs and what is due
    #[command(subcommand, after_help = commands::rotation::EXAMPLES)]
    Rotation(commands::rotation::RotationCommand),

    /// Subscribe to events by path and type; long-poll them or deliver them by webhook
    #[command(subcommand, after_help = commands::subscriptions::EXAMPLES)]
    Subscriptions(commands::subscriptions::SubscriptionsCommand),

    /// The internal CA: certificate authorities, certificates, revocation, CSRs
    #[command(subcommand, after_help = commands::pki::EXAMPLES)]
    Pki(commands::pki::PkiCommand),

    /// Dynamic credentials: engines, roles, short-lived credentials on leases
    #[command(subcommand, after_help = commands::dynamic::EXAMPLES)]
    Dynamic(commands::dynamic::DynamicCommand),

    /// Manage service accounts and their API keys
    #[command(subcommand, after_help = commands::service_accounts::EXAMPLES)]
    ServiceAccounts(commands::service_accounts::ServiceAccountsCommand),

    /// Onboard tenants (ScaiKey registration) and show identity status
    #[command(subcommand, after_help = commands::scaikey::EXAMPLES)]
    Scaikey(commands::scaikey::ScaikeyCommand),

    /// Serve ScaiVault to AI agents over the Model Context Protocol (stdio or Streamable HTTP)
    #[command(after_help = commands::mcp::EXAMPLES)]
    Mcp(commands::mcp::McpArgs),

    /// Show whether the server is up and ready (no token needed)
    #[command(after_help = commands::status::EXAMPLES)]
    Status(commands::status::StatusArgs),

    /// Run a command with secret fields injected as environment variables
    #[command(after_help = commands::run::EXAMPLES)]
    Run(commands::run::RunArgs),

    /// Print a shell completion script
    #[command(after_help = commands::completions::EXAMPLES)]
    Completions(commands::completions::CompletionsArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match cli.command {
        Command::Server(args) => scaivault_server::cli::run_server(args),
        Command::Operator(OperatorCli::Local(cmd)) => scaivault_server::cli::run_operator(cmd),
        Command::Operator(OperatorCli::Online(cmd)) => client_command(|ctx| async move {
            commands::operator::run(cmd, &ctx)
                .await
                .map(|()| ExitCode::SUCCESS)
        }),
        Command::Tpm(cmd) => scaivault_server::cli::run_tpm(cmd),
        Command::Completions(args) => finish(
            commands::completions::run(&args, &mut Cli::command()).map(|()| ExitCode::SUCCESS),
        ),
        Command::Config(cmd) => finish(
            Context::load()
                .and_then(|ctx| commands::config::run(cmd, ctx).map(|()| ExitCode::SUCCESS)),
        ),
        Command::Auth(cmd) => client_command(|ctx| async move {
            commands::auth::run(cmd, ctx)
                .await
                .map(|()| ExitCode::SUCCESS)
        }),
        Command::Secrets(cmd) => client_command(|ctx| async move {
            commands::secrets::run(cmd, &ctx)
                .await
                .map(|()| ExitCode::SUCCESS)
        }),
        Command::SecretPolicies(cmd) => client_command(|ctx| async move {
            commands::secret_policies::run(cmd, &ctx)
                .await
                .map(|()| ExitCode::SUCCESS)
        }),
        Command::Audit(cmd) => client_command(|ctx| async move {
            commands::audit::run(cmd, &ctx)
                .await
                .map(|()| ExitCode::SUCCESS)
        }),
        Command::Policies(cmd) => {
            client_command(|ctx| async move { commands::policies::run(cmd, &ctx).await })
        }
        Command::Rotation(cmd) => client_command(|ctx| async move {
            commands::rotation::run(cmd, &ctx)
                .await
                .map(|()| ExitCode::SUCCESS)
        }),
        Command::Subscriptions(cmd) => client_command(|ctx| async move {
            commands::subscriptions::run(cmd, &ctx)
                .await
                .map(|()| ExitCode::SUCCESS)
        }),
        Command::Pki(cmd) => client_command(|ctx| async move {
            commands::pki::run(cmd, &ctx)
                .await
                .map(|()| ExitCode::SUCCESS)
        }),
        Command::Dynamic(cmd) => client_command(|ctx| async move {
            commands::dynamic::run(cmd, &ctx)
                .await
                .map(|()| ExitCode::SUCCESS)
        }),
        Command::ServiceAccounts(cmd) => client_command(|ctx| async move {
            commands::service_accounts::run(cmd, &ctx)
                .await
                .map(|()| ExitCode::SUCCESS)
        }),
        Command::Scaikey(cmd) => client_command(|ctx| async move {
            commands::scaikey::run(cmd, &ctx)
                .await
                .map(|()| ExitCode::SUCCESS)
        }),
        Command::Status(args) => client_command(|ctx| async move {
            commands::status::run(args, ctx)
                .await
                .map(|()| ExitCode::SUCCESS)
        }),
        Command::Mcp(args) => client_command(|ctx| async move {
            commands::mcp::run(args, &ctx)
                .await
                .map(|()| ExitCode::SUCCESS)
        }),
        Command::Run(args) => client_command(|ctx| commands::run::run(args, ctx)),
    }
}

/// Runs a client command on a single-threaded runtime and turns its error into the exit code.
fn client_command<F, Fut>(command: F) -> ExitCode
where
    F: FnOnce(Context) -> Fut,
    Fut: Future<Output = Result<ExitCode, CliError>>,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return finish(Err(CliError::io("starting the async runtime", &e))),
    };
    finish(Context::load().and_then(|ctx| runtime.block_on(command(ctx))))
}

fn finish(result: Result<ExitCode, CliError>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            e.report();
            e.exit_code()
        }
    }
}

/// clap's own errors, with exit codes that cannot be confused with the documented ones: help and
/// version exit 0, a bad value exits 5 (validation), any other usage error exits 1 (clap's
/// default 2 would read as "auth").
fn usage_error(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let code = match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => exit::OK,
        ErrorKind::InvalidValue | ErrorKind::ValueValidation | ErrorKind::InvalidUtf8 => {
            exit::VALIDATION
        }
        _ => exit::GENERAL,
    };
    let _ = error.print();
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_client_command_has_an_example() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let name = format!("{path} {}", cmd.get_name());
            let skip =
                name.contains(" server") || name.contains(" operator") || name.ends_with(" help");
            if !skip
                && !cmd
                    .get_after_help()
                    .is_some_and(|h| h.to_string().contains("Examples:"))
            {
                missing.push(name.clone());
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &name, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "no example in --help of {missing:?}");
    }
}
