//! CLI errors: the `Error: <code>: <message>` line, troubleshooting hints and exit codes.

use std::io::IsTerminal;
use std::process::ExitCode;

use scaivault_client::Error as ClientError;

/// Exit codes, exactly as the CLI reference lists them.
pub mod exit {
    pub const OK: u8 = 0;
    pub const GENERAL: u8 = 1;
    pub const AUTH: u8 = 2;
    pub const AUTHZ: u8 = 3;
    pub const NOT_FOUND: u8 = 4;
    pub const VALIDATION: u8 = 5;
}

/// The hint of the reference page's troubleshooting section for a missing or rejected token.
pub const NOT_AUTHENTICATED: &str =
    "Not authenticated. Run `scaivault auth login --token <token>` or set SCAIVAULT_TOKEN.";

/// A failed command: what to print on stderr and which code to exit with. Never holds a
/// secret value or a token.
#[derive(Debug)]
pub struct CliError {
    pub code: String,
    pub message: String,
    pub exit: u8,
    pub hints: Vec<String>,
}

impl CliError {
    pub fn new(exit: u8, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            exit,
            hints: Vec::new(),
        }
    }

    /// Exit 1.
    pub fn general(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(exit::GENERAL, code, message)
    }

    /// Exit 5, code `validation_error`: bad input detected before calling the server.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(exit::VALIDATION, "validation_error", message)
    }

    /// Exit 4.
    pub fn not_found(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(exit::NOT_FOUND, code, message)
    }

    /// Exit 2: no token configured at all.
    pub fn not_authenticated() -> Self {
        Self::new(exit::AUTH, "authentication_required", NOT_AUTHENTICATED)
    }

    pub fn io(what: &str, error: &std::io::Error) -> Self {
        Self::general("io_error", format!("{what}: {error}"))
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Prints the error and its hints to stderr.
    pub fn report(&self) {
        let prefix = if color_stderr() {
            "\x1b[1;31mError:\x1b[0m"
        } else {
            "Error:"
        };
        eprintln!("{prefix} {}: {}", self.code, self.message);
        for hint in &self.hints {
            eprintln!("{hint}");
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.exit)
    }
}

/// Maps an HTTP status to the documented exit code.
pub fn exit_for_status(status: u16) -> u8 {
    match status {
        401 => exit::AUTH,
        403 => exit::AUTHZ,
        404 => exit::NOT_FOUND,
        400 | 413 | 422 => exit::VALIDATION,
        _ => exit::GENERAL,
    }
}

impl From<ClientError> for CliError {
    fn from(error: ClientError) -> Self {
        let code = error.code();
        let message = error.message();
        match &error {
            ClientError::Connect { url, refused, .. } => {
                let base = base_of(url);
                let first = if *refused {
                    "Connection refused."
                } else {
                    "Could not connect."
                };
                Self::general(code, message).with_hint(format!(
                    "{first} Check `scaivault config get base_url` and try curl -s \"{base}/v1/health\""
                ))
            }
            ClientError::InvalidPath(_) => Self::new(exit::VALIDATION, code, message),
            ClientError::InvalidBaseUrl { .. } => Self::general(code, message).with_hint(
                "Set a valid URL with `scaivault config set base_url <url>` or SCAIVAULT_URL.",
            ),
            _ => {
                let exit = error.status().map(exit_for_status).unwrap_or(exit::GENERAL);
                let mut cli = Self::new(exit, code, message);
                match exit {
                    exit::AUTH => cli = cli.with_hint(NOT_AUTHENTICATED),
                    exit::AUTHZ => {
                        cli = cli.with_hint(
                            "Permission denied. Run `scaivault auth whoami` to see the token's identity and scopes.",
                        )
                    }
                    _ => {}
                }
                cli
            }
        }
    }
}

/// `http://host:port/prefix/v1/secrets/x` -> `http://host:port/prefix`.
fn base_of(url: &str) -> &str {
    match url.find("/v1/") {
        Some(i) => &url[..i],
        None => url.trim_end_matches("/v1"),
    }
}

fn color_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_documented_codes() {
        assert_eq!(exit_for_status(401), 2);
        assert_eq!(exit_for_status(403), 3);
        assert_eq!(exit_for_status(404), 4);
        assert_eq!(exit_for_status(400), 5);
        assert_eq!(exit_for_status(413), 5);
        assert_eq!(exit_for_status(409), 1);
        assert_eq!(exit_for_status(500), 1);
    }

    #[test]
    fn base_of_strips_the_route() {
        assert_eq!(
            base_of("http://127.0.0.1:8200/v1/secrets/a"),
            "http://127.0.0.1:8200"
        );
        assert_eq!(base_of("https://x/vault/v1/health"), "https://x/vault");
    }
}
