//! The crate's one error type.
//!
//! [`GenerateError::Invalid`] is the only variant a policy author can cause; its `Display` is
//! shown to users as a validation error, so it always names the offending field or config key
//! (`fields[0].config.length: must be between 8 and 4096`) and never contains a generated value.

/// Why a policy could not be compiled or generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    /// The field list or a field's config is invalid. The policy author is at fault; `path`
    /// names the field or key (`fields`, `fields[2].name`, `fields[0].config.length`, ...).
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },

    /// The operating system's random number generator failed. The platform is at fault; nothing
    /// was generated.
    #[error("the operating system's random number generator failed")]
    Random,

    /// The crypto library failed to generate or encode a key. The platform or library is at
    /// fault (for example a FIPS self-test failure).
    #[error("key generation failed: {0}")]
    KeyGeneration(&'static str),

    /// A random string with minimum character counts was rejected more often than a correctly
    /// compiled policy allows (probability below e^-64). Nobody is at fault in practice; seeing
    /// this means the random number generator is broken.
    #[error("{path}: no random string meeting the minimum character counts was found")]
    ConstraintsUnmet { path: String },

    /// A bug in this crate (an invariant that compile() should have guaranteed did not hold).
    #[error("internal error in the secret generator: {0}")]
    Internal(&'static str),
}

impl GenerateError {
    /// A validation error for `path` (a field or config key).
    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }

    /// True when the policy author is at fault (a 4xx rather than a 5xx).
    pub fn is_invalid(&self) -> bool {
        matches!(self, Self::Invalid { .. })
    }

    /// The field or config key an [`Invalid`](Self::Invalid) error is about.
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::Invalid { path, .. } | Self::ConstraintsUnmet { path } => Some(path),
            _ => None,
        }
    }
}
