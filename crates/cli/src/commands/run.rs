//! `scaivault run --path P [--path P2] -- command args...`

use std::process::ExitCode;

use clap::Args;
use serde_json::{Map, Value};

use crate::commands::secrets::export::env_vars;
use crate::context::Context;
use crate::error::CliError;

pub const EXAMPLES: &str = "\
Examples:
  scaivault run --path app/db -- ./migrate.sh
  scaivault run --path app/db --path app/api -- sh -c 'psql \"postgres://$USERNAME:$PASSWORD@db/app\"'

Each field of each secret becomes an environment variable of the command only: the name is
upper-cased with characters outside [A-Z0-9_] replaced by `_` (field `db-host` -> DB_HOST). Later
--path options override earlier ones. The exit code is the command's.";

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Secret whose fields become environment variables (repeatable)
    #[arg(long = "path", value_name = "PATH", required = true)]
    paths: Vec<String>,
    /// The command to run and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

pub async fn run(args: RunArgs, ctx: Context) -> Result<ExitCode, CliError> {
    let client = ctx.client()?;
    let mut secrets: Vec<(String, Map<String, Value>)> = Vec::new();
    for path in &args.paths {
        let secret = client.read_secret(path, None).await?;
        secrets.push((secret.path, secret.data));
    }
    let borrowed: Vec<(&str, &Map<String, Value>)> =
        secrets.iter().map(|(p, d)| (p.as_str(), d)).collect();
    let vars = env_vars(&borrowed)?;
    let Some((program, rest)) = args.command.split_first() else {
        return Err(CliError::validation("no command given after `--`"));
    };
    let mut command = std::process::Command::new(program);
    command.args(rest).envs(&vars);
    exec(command, program)
}

/// Replaces this process with the command, so that its exit status and signals are exactly
/// the command's. Returns only on failure (126 not executable, 127 not found, as `env` does).
#[cfg(unix)]
fn exec(mut command: std::process::Command, program: &str) -> Result<ExitCode, CliError> {
    use std::os::unix::process::CommandExt;
    let error = command.exec();
    Err(spawn_error(program, &error))
}

#[cfg(not(unix))]
fn exec(mut command: std::process::Command, program: &str) -> Result<ExitCode, CliError> {
    let status = command.status().map_err(|e| spawn_error(program, &e))?;
    let code = status.code().unwrap_or(1);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

fn spawn_error(program: &str, error: &std::io::Error) -> CliError {
    let exit = match error.kind() {
        std::io::ErrorKind::NotFound => 127,
        std::io::ErrorKind::PermissionDenied => 126,
        _ => 1,
    };
    CliError::new(
        exit,
        "exec_failed",
        format!("could not run {program:?}: {error}"),
    )
}
