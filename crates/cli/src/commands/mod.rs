//! One module per command group. Each exposes a clap `Subcommand` (or `Args`), an `EXAMPLES`
//! string for its `--help`, and a `run` function.

pub mod auth;
pub mod completions;
pub mod config;
mod export;
pub mod run;
pub mod secrets;
