//! `scaivault tpm init|status|backup|restore`: the TPM 2.0 root key on this host.

use std::process::ExitCode;

use crate::cli::TpmCommand;

/// Runs one `scaivault tpm` command. Exit codes: 0 done, 1 error, 2 wrong PIN.
#[cfg(feature = "tpm")]
pub fn run(command: TpmCommand) -> ExitCode {
    let _ = command;
    eprintln!("error: not built yet");
    ExitCode::FAILURE
}

/// Without the `tpm` feature the commands exist (so help and scripts see them) and say why
/// they cannot run.
#[cfg(not(feature = "tpm"))]
pub fn run(command: TpmCommand) -> ExitCode {
    let _ = command;
    eprintln!(
        "error: this scaivault was built without TPM support; build it with `--features tpm` \
         (needs libtss2-dev)"
    );
    ExitCode::FAILURE
}
