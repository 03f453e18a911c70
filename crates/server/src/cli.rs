//! The `scaivault server` and `scaivault operator` commands (the client commands live in the
//! `scaivault` binary crate).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::config::LogFormat;
use crate::serve;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  scaivault server --dev
  scaivault server --dev --listen 127.0.0.1:8300 --data-dir ./vault-data
  scaivault server --config /etc/scaivault/scaivault.toml")]
pub struct ServerArgs {
    /// Development mode: embedded store, no configuration file, an admin root token
    #[arg(long)]
    pub dev: bool,
    /// Configuration file (TOML); each key can also be set as an environment variable, e.g.
    /// SCAIVAULT_LISTEN
    #[arg(long, value_name = "FILE", conflicts_with = "dev")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8200]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Dev mode: the root token to accept (default: a random skt_ token printed at start)
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SCAIVAULT_DEV_ROOT_TOKEN",
        hide_env_values = true,
        requires = "dev"
    )]
    pub dev_root_token: Option<String>,
    /// Dev mode: start a test clock that only moves through `POST /v1/sys/test-clock`
    /// (which also runs the background jobs that are due), to test rotation and expiry
    /// schedules without waiting. Never in production.
    #[arg(long, requires = "dev")]
    pub dev_test_clock: bool,
    /// Dev mode: let webhooks reach this network although it is internal (e.g. 127.0.0.0/8 for
    /// a local receiver); repeatable. Production uses `webhook_allowed_networks`
    #[arg(long, value_name = "CIDR", requires = "dev")]
    pub dev_webhook_network: Vec<String>,
    /// Where state is kept; dev mode without it uses a fresh temporary directory
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format (overrides the configuration)
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Initialize a production install: create the root key (if missing) and the keyring, and
    /// print a one-time bootstrap admin token
    #[command(
        after_help = "Example:\n  scaivault operator init --config /etc/scaivault/scaivault.toml"
    )]
    Init {
        /// Configuration file (TOML)
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// pkcs11: generate the root key in the HSM (sensitive, never extractable) when the
        /// token has no key with `key_label`
        #[arg(long)]
        create_key: bool,
    },
    /// Move the keyring under another root key provider without touching any value: each data
    /// key is unwrapped with the configured provider and wrapped with the target (its
    /// `[root_key.<kind>]` section must be configured); then set `provider` to the target and
    /// restart. Recorded in the audit trail
    #[command(after_help = "Examples:
  scaivault operator rewrap --config /etc/scaivault/scaivault.toml --to-provider pkcs11 --create-key
  scaivault operator rewrap --config /etc/scaivault/scaivault.toml --to-provider awskms")]
    Rewrap {
        /// Configuration file (TOML)
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The provider to move the keyring to
        #[arg(long, value_name = "KIND", value_parser = ["file", "awskms", "pkcs11", "tpm"])]
        to_provider: String,
        /// pkcs11: generate the target key in the HSM if the token has none with its label
        #[arg(long)]
        create_key: bool,
    },
    /// Write a consistent snapshot of the embedded store to a file, while the server runs, and
    /// verify it (integrity, keyring, audit chains). Keep the root key separately.
    #[command(
        after_help = "Example:\n  scaivault operator backup --config /etc/scaivault/scaivault.toml --output /backups/scaivault-2026-11-25.db"
    )]
    Backup {
        /// Configuration file (TOML)
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The snapshot file to create (must not exist)
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Put a snapshot made by `operator backup` in place of the embedded store (server
    /// stopped), after verifying it opens with this installation's root key
    #[command(
        after_help = "Example:\n  scaivault operator restore --config /etc/scaivault/scaivault.toml --input /backups/scaivault-2026-11-25.db"
    )]
    Restore {
        /// Configuration file (TOML)
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The snapshot to restore
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
        /// Replace an existing store
        #[arg(long)]
        force: bool,
    },
    /// Move the embedded store into PostgreSQL (server stopped): copies every row as stored
    /// (values stay encrypted: the servers on PostgreSQL need the same root key file), with a
    /// progress bar; resumable after an interruption; verified (row counts, SHA-256 digests,
    /// audit chains)
    Migrate(crate::migrate::MigrateArgs),
    /// What uses the space: rows and size per table, the audit archive, the retention
    /// settings, bytes per audit entry, and the days the free space lasts at the current rate
    #[command(
        after_help = "Example:\n  scaivault operator storage --config /etc/scaivault/scaivault.toml"
    )]
    Storage {
        /// Configuration file (TOML)
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

/// PIN arguments: given on the command line, read from a file, or asked for at a prompt (never
/// echoed) when neither is given.
#[derive(Debug, Args)]
pub struct UserPinArgs {
    /// The user PIN (prefer --userpin-file or the prompt: arguments show in `ps`)
    #[arg(long, value_name = "PIN", conflicts_with = "userpin_file")]
    pub userpin: Option<String>,
    /// A file holding the user PIN
    #[arg(long, value_name = "FILE")]
    pub userpin_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum TpmCommand {
    /// Create the wrapping key in the TPM (and the keyring under it, if the store has none):
    /// the user PIN authorizes its use, the security officer PIN recovers a backup
    #[command(after_help = "Examples:
  scaivault tpm init --config /etc/scaivault/scaivault.toml --sopin <so-pin> --userpin <user-pin>
  scaivault tpm init --config /etc/scaivault/scaivault.toml   # asks for both PINs")]
    Init {
        /// Configuration file (TOML) with `[root_key] provider = \"tpm\"`
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The security officer PIN (prefer --sopin-file or the prompt)
        #[arg(long, value_name = "PIN", conflicts_with = "sopin_file")]
        sopin: Option<String>,
        /// A file holding the security officer PIN
        #[arg(long, value_name = "FILE")]
        sopin_file: Option<PathBuf>,
        #[command(flatten)]
        user: UserPinArgs,
    },
    /// Show the TPM (present, manufacturer), the key's blobs and handle, and whether the keyring
    /// opens
    #[command(
        after_help = "Examples:\n  scaivault tpm status --config /etc/scaivault/scaivault.toml"
    )]
    Status {
        /// Configuration file (TOML)
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Write the wrapping key's backup blob, encrypted under keys derived from the PINs (never
    /// the plaintext key); without it, a new host cannot recover the data
    #[command(
        after_help = "Examples:\n  scaivault tpm backup --config /etc/scaivault/scaivault.toml --output backup.blob --userpin <user-pin>"
    )]
    Backup {
        /// Configuration file (TOML)
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The backup file to create (must not exist)
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
        #[command(flatten)]
        user: UserPinArgs,
    },
    /// Restore the wrapping key from a backup blob into this host's TPM (a new TPM), so the
    /// same data opens
    #[command(
        after_help = "Examples:\n  scaivault tpm restore --config /etc/scaivault/scaivault.toml --input backup.blob --userpin <user-pin>"
    )]
    Restore {
        /// Configuration file (TOML)
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The backup file written by `tpm backup`
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
        #[command(flatten)]
        user: UserPinArgs,
        /// Recover with the security officer PIN instead (the user PIN is lost): the backup's
        /// SO envelope is opened with it and the user PIN given becomes the key's new user PIN
        #[arg(long, value_name = "PIN", conflicts_with = "sopin_file")]
        sopin: Option<String>,
        /// A file holding the security officer PIN (see --sopin)
        #[arg(long, value_name = "FILE")]
        sopin_file: Option<PathBuf>,
        /// Replace an existing key file
        #[arg(long)]
        force: bool,
    },
}

/// Runs `scaivault tpm ...`. Exit codes: 0 done, 1 error, 2 wrong PIN.
pub fn run_tpm(command: TpmCommand) -> ExitCode {
    crate::tpm_cli::run(command)
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// Runs `scaivault server`; returns when the server has shut down.
pub fn run_server(args: ServerArgs) -> ExitCode {
    let result = runtime()
        .map_err(|e| crate::StartupError::Io(e.to_string()))
        .and_then(|rt| rt.block_on(serve::serve(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn run_operator(command: OperatorCommand) -> ExitCode {
    let result = runtime()
        .map_err(|e| crate::StartupError::Io(e.to_string()))
        .and_then(|rt| match command {
            OperatorCommand::Init { config, create_key } => {
                rt.block_on(serve::operator_init(config, create_key))
            }
            OperatorCommand::Rewrap {
                config,
                to_provider,
                create_key,
            } => match scaivault_keys::ProviderKind::parse(&to_provider) {
                Some(to) => rt.block_on(crate::rewrap::rewrap(config, to, create_key)),
                None => Err(crate::StartupError::Config(format!(
                    "unknown provider {to_provider}"
                ))),
            },
            OperatorCommand::Backup { config, output } => {
                rt.block_on(crate::backup::backup(config, output))
            }
            OperatorCommand::Restore {
                config,
                input,
                force,
            } => rt.block_on(crate::backup::restore(config, input, force)),
            OperatorCommand::Migrate(args) => rt.block_on(crate::migrate::migrate(args)),
            OperatorCommand::Storage { config, json } => {
                rt.block_on(crate::storage_report::report(config, json))
            }
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
