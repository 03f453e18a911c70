//! Verification of ScaiKey-issued JWTs (bearer tokens) against configured issuers.
//!
//! Trust model, in short:
//! - Only issuers named in the configuration are trusted, each with its own accepted audiences and
//!   its own key source (a JWKS URL, an inline JWKS, or a pinned PEM public key). The unverified
//!   `iss` claim only *selects* which configuration to check against; a token is accepted only if
//!   its signature verifies with one of that issuer's keys and its signed `iss`, `aud`, `exp` and
//!   `nbf` are valid.
//! - Only asymmetric algorithms are accepted (RS256, PS256, ES256, ES384, EdDSA). `none` and every
//!   HMAC algorithm are refused before any key is looked at, and a key is used only for the
//!   algorithm family of its type (RSA, P-256, P-384, Ed25519), which rules out algorithm
//!   confusion such as an HS256 token "signed" with an issuer's RSA public key.
//! - Keys come only from the configuration or the configured JWKS URL; header fields such as
//!   `jku`, `x5u` or an embedded `jwk` are ignored. A JWKS refresh replaces the key set wholesale,
//!   so keys the issuer rotated out stop working.
//! - Errors never carry token text, and the token is never logged.
//!
//! Signature verification itself is done by `jsonwebtoken` (aws-lc-rs backend); this crate only
//! decides which key and which checks apply.

mod claims;
mod config;
mod error;
mod keys;
mod remote;
mod verifier;

pub use claims::VerifiedClaims;
pub use config::{Algorithm, IssuerConfig, KeySource, VerifierOptions};
pub use error::JwtError;
pub use verifier::JwtVerifier;

/// Whether `token` has the shape of a compact JWS: three non-empty base64url parts separated by
/// dots. This only routes bearer tokens (ScaiVault's own `skt_`/`key_` tokens never match); it
/// says nothing about validity.
pub fn looks_like_jwt(token: &str) -> bool {
    let mut parts = 0;
    for part in token.split('.') {
        parts += 1;
        if parts > 3 || part.is_empty() || !part.bytes().all(is_base64url_byte) {
            return false;
        }
    }
    parts == 3
}

fn is_base64url_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::looks_like_jwt;

    #[test]
    fn jwt_shape() {
        assert!(looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"));
        assert!(!looks_like_jwt("skt_abcdef"));
        assert!(!looks_like_jwt("key_abc.def"));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a.b.c.d"));
        assert!(!looks_like_jwt("a..c"));
        assert!(!looks_like_jwt("a.b."));
        assert!(!looks_like_jwt("a.b.c="));
        assert!(!looks_like_jwt("a.b+.c"));
        assert!(!looks_like_jwt(""));
    }
}
