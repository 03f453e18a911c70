//! The client's error type.

use scaivault_proto::{ErrorBody, ErrorCode};

/// Everything that can go wrong talking to the server.
///
/// Messages never contain a token or a secret value: API messages are the server's (which makes
/// the same promise) and transport errors only describe the connection.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The base URL given to [`crate::Client::new`] is not an `http(s)://` URL.
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidBaseUrl { url: String, reason: String },

    /// A secret path the client refuses to send because the URL layer would rewrite it
    /// (`.` and `..` segments). The server would reject it with `invalid_path` anyway.
    #[error("{0}")]
    InvalidPath(String),

    /// The TCP/TLS connection could not be established (refused, DNS, unreachable, TLS).
    #[error("could not connect to {url}: {reason}")]
    Connect {
        url: String,
        reason: String,
        /// True when the peer actively refused the connection (nothing listening).
        refused: bool,
    },

    /// The connection was made but the exchange failed (reset, timeout, truncated body).
    #[error("request to {url} failed: {reason}")]
    Transport { url: String, reason: String },

    /// The server answered with an error status and the documented error envelope.
    #[error("{}: {}", .body.error.code, .body.error.message)]
    Api { status: u16, body: ErrorBody },

    /// The server answered with an error status but without a body in the documented envelope
    /// (a proxy page, or an error code newer than this client).
    #[error("{}: {}", .code.as_deref().unwrap_or("http_error"), .message)]
    Http {
        status: u16,
        code: Option<String>,
        message: String,
    },

    /// A success status whose body is not the expected JSON shape.
    #[error("could not decode the server's response (HTTP {status}): {reason}")]
    Decode { status: u16, reason: String },
}

impl Error {
    /// The HTTP status of an error response, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Http { status, .. } | Self::Decode { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// The API's error code, when the server sent one this client knows.
    pub fn api_code(&self) -> Option<ErrorCode> {
        match self {
            Self::Api { body, .. } => Some(body.error.code),
            _ => None,
        }
    }

    /// The error code as a string: the server's code for API errors, a client-side code
    /// (`connection_failed`, `invalid_path`, ...) otherwise.
    pub fn code(&self) -> String {
        match self {
            Self::InvalidBaseUrl { .. } => "invalid_base_url".into(),
            Self::InvalidPath(_) => ErrorCode::InvalidPath.as_str().into(),
            Self::Connect { .. } => "connection_failed".into(),
            Self::Transport { .. } => "transport_error".into(),
            Self::Api { body, .. } => body.error.code.as_str().into(),
            Self::Http { code, status, .. } => {
                code.clone().unwrap_or_else(|| format!("http_{status}"))
            }
            Self::Decode { .. } => "decode_error".into(),
        }
    }

    /// The human-readable part, without the code.
    pub fn message(&self) -> String {
        match self {
            Self::Api { body, .. } => body.error.message.clone(),
            Self::Http { message, .. } => message.clone(),
            Self::InvalidPath(m) => m.clone(),
            other => other.to_string(),
        }
    }

    /// The server's request id, for correlating with its logs.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Api { body, .. } => Some(body.error.request_id.as_str()),
            _ => None,
        }
    }
}
