//! `scaivault mcp`: a Model Context Protocol server for AI agents (crates/mcp), over stdio or
//! Streamable HTTP, with this CLI's configuration and token. docs/mcp.md.

use std::io::Write;
use std::net::SocketAddr;

use clap::Args;

use crate::context::Context;
use crate::error::CliError;

pub const EXAMPLES: &str = "\
Examples:
  scaivault mcp
  scaivault mcp --read-only --paths 'app/**'
  scaivault mcp --allow-reveal --paths 'dev/**' --paths 'shared/*'
  scaivault mcp --http 127.0.0.1:8765

An agent's mcpServers entry (Claude Desktop, Cursor, ...):
  {\"mcpServers\": {\"scaivault\": {\"command\": \"scaivault\", \"args\": [\"mcp\", \"--read-only\"],
   \"env\": {\"SCAIVAULT_URL\": \"https://scaivault.example\", \"SCAIVAULT_TOKEN\": \"skt_...\"}}}}

Values are masked (\"********\") unless --allow-reveal is given AND the call passes reveal: true.
With --http, every HTTP caller acts with this process's token: only loopback addresses are
accepted unless --allow-remote is given. Logs go to stderr; in stdio mode stdout carries only
the protocol.";

#[derive(Debug, Args)]
pub struct McpArgs {
    /// Serve Streamable HTTP on ADDR (e.g. 127.0.0.1:8765; port 0 picks one) at /mcp instead
    /// of stdio
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,

    /// Allow --http on a non-loopback address. Every HTTP caller then acts with this process's
    /// token: put an authenticating proxy in front
    #[arg(long, requires = "http")]
    allow_remote: bool,

    /// Offer no tool that changes anything (write, patch, delete, restore, rotate)
    #[arg(long)]
    read_only: bool,

    /// Let read_secret return values when a call passes reveal: true (masked otherwise)
    #[arg(long)]
    allow_reveal: bool,

    /// Confine tools and resources to secret paths matching GLOB (policy glob syntax, e.g.
    /// 'app/**'); repeatable. Applies on top of the token's own policies
    #[arg(long = "paths", value_name = "GLOB")]
    paths: Vec<String>,
}

pub async fn run(args: McpArgs, ctx: &Context) -> Result<(), CliError> {
    let client = ctx.client()?;
    let options = scaivault_mcp::Options {
        read_only: args.read_only,
        allow_reveal: args.allow_reveal,
        paths: args.paths,
    };
    let server = scaivault_mcp::VaultMcp::new(client, options).map_err(CliError::validation)?;
    let result = match args.http {
        None => scaivault_mcp::serve_stdio(server).await,
        Some(addr) => {
            scaivault_mcp::serve_http(
                server,
                addr,
                args.allow_remote,
                |bound| {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "scaivault mcp listening on http://{bound}/mcp");
                    let _ = out.flush();
                },
                shutdown_signal(),
            )
            .await
        }
    };
    result.map_err(|message| CliError::general("mcp_error", message))
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
