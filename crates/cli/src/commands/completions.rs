//! `scaivault completions bash|zsh|fish|...`

use clap::Args;
use clap_complete::Shell;

use crate::error::CliError;
use crate::output;

pub const EXAMPLES: &str = "\
Examples:
  scaivault completions bash > /etc/bash_completion.d/scaivault
  scaivault completions zsh > \"${fpath[1]}/_scaivault\"
  scaivault completions fish > ~/.config/fish/completions/scaivault.fish";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to generate the completion script for
    #[arg(value_enum)]
    shell: Shell,
}

pub fn run(args: &CompletionsArgs, command: &mut clap::Command) -> Result<(), CliError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, command, "scaivault", &mut script);
    output::emit(&String::from_utf8_lossy(&script))
}
