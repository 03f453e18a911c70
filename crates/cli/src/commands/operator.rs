//! The operator commands that talk to a running server over the API: `operator unseal`,
//! `operator rotate-keys`, `operator keys`. (The ones that work on the server host's files,
//! `operator init|backup|restore|migrate|storage|rewrap`, live in the server crate.)

use clap::Subcommand;
use scaivault_client::decode;
use scaivault_proto::keys::{KeyringStatus, SealStatus};

use crate::context::Context;
use crate::error::CliError;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum OnlineOperatorCommand {
    /// Ask a sealed server to try its root key provider (KMS, HSM, TPM) now, and wait for the
    /// attempt; no token needed. Exits 0 when the server is unsealed, 1 when it stays sealed
    #[command(after_help = "\
Examples:
  scaivault operator unseal
  SCAIVAULT_URL=https://vault-2.internal:8200 scaivault operator unseal --json")]
    Unseal {
        /// Print the seal status as JSON
        #[arg(long)]
        json: bool,
    },
    /// Rotate the data key: a new key (wrapped by the root key) seals every new value; older
    /// values keep opening and are re-sealed under it in the background. Needs an operator
    /// token (a partner admin of the installation's partner with tenants:admin)
    #[command(after_help = "\
Examples:
  scaivault operator rotate-keys
  scaivault operator rotate-keys --json | jq .rewrap
  scaivault operator keys            # follow the rewrap's progress")]
    RotateKeys {
        /// Print the keyring status as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show the keyring: data keys, the root key that wraps them, how many values each seals,
    /// and the background rewrap's progress (operators)
    #[command(after_help = "\
Examples:
  scaivault operator keys
  scaivault operator keys --json | jq '.rewrap.pending'")]
    Keys {
        /// Print the keyring status as JSON
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: OnlineOperatorCommand, ctx: &Context) -> Result<(), CliError> {
    match command {
        OnlineOperatorCommand::Unseal { json } => {
            let client = match ctx.client() {
                Ok(client) => client,
                Err(_) => ctx.anonymous_client()?,
            };
            let raw = client.unseal().raw().await?;
            let status: SealStatus = decode(&raw)?;
            if json {
                output::line(raw.body.trim())?;
            } else {
                output::print_fields(&[
                    ("Server", client.base_url().to_string()),
                    ("Sealed", status.sealed.to_string()),
                    ("Provider", status.provider.clone()),
                    (
                        "Reason",
                        status.reason.clone().unwrap_or_else(|| "-".to_owned()),
                    ),
                ])?;
            }
            if status.sealed {
                Err(CliError::general(
                    "sealed",
                    format!(
                        "the server is still sealed: {} (its log says why)",
                        status.reason.unwrap_or_default()
                    ),
                ))
            } else {
                Ok(())
            }
        }
        OnlineOperatorCommand::RotateKeys { json } => {
            let client = ctx.client()?;
            let raw = client.rotate_keys().raw().await?;
            let status: KeyringStatus = decode(&raw)?;
            if json {
                output::line(raw.body.trim())
            } else {
                output::line(&format!(
                    "Rotated: new data key {} seals every new value; {} older values are being re-sealed in the background (scaivault operator keys shows the progress).",
                    status.active_key_id, status.rewrap.pending
                ))
            }
        }
        OnlineOperatorCommand::Keys { json } => {
            let client = ctx.client()?;
            let raw = client.keyring_status().raw().await?;
            let status: KeyringStatus = decode(&raw)?;
            if json {
                return output::line(raw.body.trim());
            }
            output::print_fields(&[
                ("Root key", status.provider.clone()),
                ("Active data key", status.active_key_id.clone()),
                (
                    "Rewrap",
                    format!(
                        "{} pending, {} re-sealed, {} failed{}",
                        status.rewrap.pending,
                        status.rewrap.resealed,
                        status.rewrap.failed,
                        if status.rewrap.running {
                            " (running)"
                        } else {
                            ""
                        }
                    ),
                ),
            ])?;
            for key in &status.keys {
                output::line(&format!(
                    "  {}  {:<6} {:<6} {:>8} values  wrapped by {}  created {}",
                    key.key_id,
                    key.purpose,
                    if key.active { "active" } else { "" },
                    key.sealed_values,
                    key.wrapped_by,
                    key.created_at
                ))?;
            }
            Ok(())
        }
    }
}
