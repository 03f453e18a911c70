//! `scaivault status`: is the server up and ready? (No token needed.)

use clap::Args;
use scaivault_proto::health::{HealthResponse, ReadyResponse};

use crate::context::Context;
use crate::error::CliError;
use crate::output;

pub const EXAMPLES: &str = "\
Examples:
  scaivault status
  SCAIVAULT_URL=https://scaivault.scailabs.ai scaivault status --json | jq -r '.ready.status'

Exits 0 when the server is ready, 1 when it answers but is not ready or cannot be reached.";

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print {"health": <GET /v1/health>, "ready": <GET /health/ready>} with both bodies unchanged
    #[arg(long)]
    json: bool,
}

pub async fn run(args: StatusArgs, ctx: Context) -> Result<(), CliError> {
    // The token is sent when there is one, but none is needed.
    let client = match ctx.client() {
        Ok(client) => client,
        Err(_) => ctx.anonymous_client()?,
    };
    let health_raw = client.health().raw().await?;
    let ready_raw = client.ready().raw().await?;
    let health: HealthResponse = scaivault_client::decode(&health_raw)?;
    let ready: ReadyResponse = scaivault_client::decode(&ready_raw)?;
    if args.json {
        // Both bodies decoded above, so they are JSON; embed them byte for byte.
        output::line(&format!(
            "{{\"health\":{},\"ready\":{}}}",
            health_raw.body.trim(),
            ready_raw.body.trim()
        ))?;
    } else {
        let checks: Vec<String> = ready
            .checks
            .iter()
            .map(|(name, state)| format!("{name} {state}"))
            .collect();
        output::print_fields(&[
            ("Server", client.base_url().to_string()),
            ("Version", health.version.clone()),
            ("Health", health.status.clone()),
            ("Ready", format!("{} ({})", ready.status, checks.join(", "))),
        ])?;
    }
    if ready.status == "ready" {
        Ok(())
    } else {
        Err(CliError::general(
            "service_unavailable",
            format!("the server at {} is not ready", client.base_url()),
        ))
    }
}
