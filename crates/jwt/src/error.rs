/// Why a token (or a configuration) was refused.
///
/// No variant carries token text, so these are safe to log; the server answers all of them with
/// 401 `authentication_required`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not a compact JWS, or its header/claims are not the JSON we expect.
    #[error("token is not a well-formed JWT")]
    Malformed,
    /// `none`, HMAC, or any algorithm outside the accepted asymmetric set.
    #[error("token algorithm `{0}` is not accepted")]
    UnsupportedAlgorithm(String),
    /// The token's `iss` names no configured issuer.
    #[error("token issuer is not trusted")]
    UnknownIssuer,
    /// No key of the issuer matches the token's `kid` (even after a refresh), or the token has no
    /// `kid` and the issuer's keys do not single one out.
    #[error("token key is not known for its issuer")]
    UnknownKey,
    /// The selected key's type does not fit the token's algorithm.
    #[error("token algorithm does not fit its key")]
    KeyTypeMismatch,
    #[error("token signature is invalid")]
    InvalidSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token audience is not accepted")]
    WrongAudience,
    #[error("token issuer does not match")]
    WrongIssuer,
    #[error("token lacks required claim `{0}`")]
    MissingClaim(&'static str),
    /// The issuer's JWKS could not be fetched and no keys are cached.
    #[error("issuer keys are unavailable: {0}")]
    JwksUnavailable(String),
    /// Raised by [`crate::JwtVerifier::new`] only.
    #[error("invalid JWT verifier configuration: {0}")]
    InvalidConfig(String),
}

impl JwtError {
    /// Maps a `jsonwebtoken` failure; only its kind is kept (its text is never needed).
    pub(crate) fn from_library(err: &jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind;
        match err.kind() {
            ErrorKind::InvalidSignature => Self::InvalidSignature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidAudience => Self::WrongAudience,
            ErrorKind::InvalidIssuer => Self::WrongIssuer,
            ErrorKind::MissingRequiredClaim(claim) => Self::MissingClaim(claim_name(claim)),
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidKeyFormat => Self::KeyTypeMismatch,
            ErrorKind::InvalidToken
            | ErrorKind::InvalidClaimFormat(_)
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_) => Self::Malformed,
            // Key-parsing failures and anything newer: the signature could not be verified.
            _ => Self::InvalidSignature,
        }
    }
}

/// The static name of a required claim (only those we ask `jsonwebtoken` to require).
fn claim_name(claim: &str) -> &'static str {
    match claim {
        "exp" => "exp",
        "iss" => "iss",
        "aud" => "aud",
        "sub" => "sub",
        "nbf" => "nbf",
        _ => "unknown",
    }
}
