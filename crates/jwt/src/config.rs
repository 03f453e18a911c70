use std::time::Duration;

use serde::Deserialize;

/// One trusted token issuer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// Exact value of the `iss` claim (no normalisation: trailing slashes matter).
    pub issuer: String,
    /// Accepted `aud` values; a token must name at least one of them. Must not be empty.
    pub audiences: Vec<String>,
    /// Where the issuer's public keys come from.
    pub key_source: KeySource,
}

/// Where an issuer's verification keys come from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum KeySource {
    /// A JWKS document fetched over HTTP(S), lazily on first use and refreshed periodically and
    /// when a token names an unknown `kid`.
    JwksUrl(String),
    /// A JWKS document (JSON text) given in the configuration; never refreshed.
    InlineJwks(String),
    /// One pinned public key (SPKI `PUBLIC KEY` PEM, or `RSA PUBLIC KEY` for RSA), used only with
    /// `algorithm`. With `kid: None` it matches tokens with any or no `kid`.
    PublicKeyPem {
        pem: String,
        algorithm: Algorithm,
        #[serde(default)]
        kid: Option<String>,
    },
}

/// The JWS algorithms this crate accepts. `none` and HMAC (HS*) are deliberately absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RSA key, at least 2048 bits).
    #[serde(rename = "RS256")]
    Rs256,
    /// RSASSA-PSS with SHA-256 (RSA key, at least 2048 bits).
    #[serde(rename = "PS256")]
    Ps256,
    /// ECDSA on P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256,
    /// ECDSA on P-384 with SHA-384.
    #[serde(rename = "ES384")]
    Es384,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

/// The type of public key an [`Algorithm`] needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyType {
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
}

impl Algorithm {
    /// The JOSE name (`alg` header value).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::EdDsa => "EdDSA",
        }
    }

    /// Parses a JOSE `alg` name; names are case-sensitive (RFC 7515 §4.1.1).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Rs256,
            Self::Ps256,
            Self::Es256,
            Self::Es384,
            Self::EdDsa,
        ]
        .into_iter()
        .find(|alg| alg.as_str() == name)
    }

    pub(crate) fn key_type(self) -> KeyType {
        match self {
            Self::Rs256 | Self::Ps256 => KeyType::Rsa,
            Self::Es256 => KeyType::EcP256,
            Self::Es384 => KeyType::EcP384,
            Self::EdDsa => KeyType::Ed25519,
        }
    }

    pub(crate) fn to_library(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Rs256 => jsonwebtoken::Algorithm::RS256,
            Self::Ps256 => jsonwebtoken::Algorithm::PS256,
            Self::Es256 => jsonwebtoken::Algorithm::ES256,
            Self::Es384 => jsonwebtoken::Algorithm::ES384,
            Self::EdDsa => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tuning of [`crate::JwtVerifier`]; the defaults suit production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifierOptions {
    /// Clock skew tolerated on `exp` and `nbf` (whole seconds are used). Default 30 s.
    pub leeway: Duration,
    /// Age after which a fetched JWKS is refreshed (by the next verify; the other concurrent
    /// verifies keep using the cached keys meanwhile). Default 5 min.
    pub jwks_refresh_interval: Duration,
    /// Minimum spacing between two JWKS fetches of one issuer, whatever triggered them (an
    /// unknown `kid`, a stale set, or a retry after a failure). Bounds what tokens with made-up
    /// `kid`s can make us fetch. Default 10 s.
    pub unknown_kid_refresh_min_interval: Duration,
    /// Whole-request timeout of a JWKS fetch. Default 5 s.
    pub http_timeout: Duration,
}

impl Default for VerifierOptions {
    fn default() -> Self {
        Self {
            leeway: Duration::from_secs(30),
            jwks_refresh_interval: Duration::from_secs(5 * 60),
            unknown_kid_refresh_min_interval: Duration::from_secs(10),
            http_timeout: Duration::from_secs(5),
        }
    }
}
