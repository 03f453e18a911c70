//! Bearer tokens (`skt_...`) and their digests. The server stores only
//! HMAC-SHA256(pepper, token): a leaked database does not yield usable tokens, and lookups stay
//! a single indexed equality (no per-request argon2).

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::random::random_bytes;

/// Prefix of personal access tokens, as in the docs.
pub const TOKEN_PREFIX: &str = "skt_";

/// Prefix of service-account API keys.
pub const API_KEY_PREFIX: &str = "svk_";

/// A new random token: `skt_` + 32 random bytes, base64url.
pub fn generate_token() -> Result<Zeroizing<String>, CryptoError> {
    generate_with_prefix(TOKEN_PREFIX)
}

/// A new random service-account API key: `svk_` + 32 random bytes, base64url.
pub fn generate_api_key() -> Result<Zeroizing<String>, CryptoError> {
    generate_with_prefix(API_KEY_PREFIX)
}

fn generate_with_prefix(prefix: &str) -> Result<Zeroizing<String>, CryptoError> {
    let bytes = random_bytes(32)?;
    Ok(Zeroizing::new(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(bytes.as_slice())
    )))
}

/// Computes token digests under the server's pepper.
pub struct TokenHasher {
    key: hmac::Key,
}

impl std::fmt::Debug for TokenHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHasher { .. }")
    }
}

impl TokenHasher {
    pub fn new(pepper: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, pepper),
        }
    }

    /// Hex digest of `token`.
    pub fn digest(&self, token: &str) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let tag = hmac::sign(&self.key, token.as_bytes());
        let mut out = String::with_capacity(tag.as_ref().len() * 2);
        for b in tag.as_ref() {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        out
    }

    /// A separate HMAC key for another purpose (e.g. the audit chains), derived from the pepper
    /// as HMAC(pepper, label): keys for different labels are independent, and none reveals the
    /// pepper.
    pub fn derive_key(&self, label: &[u8]) -> hmac::Key {
        let material = hmac::sign(&self.key, label);
        hmac::Key::new(hmac::HMAC_SHA256, material.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_and_unique() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert!(a.starts_with("skt_"));
        assert_ne!(*a, *b);
        assert_eq!(a.len(), 4 + 43);
    }

    #[test]
    fn digest_depends_on_pepper() {
        let h1 = TokenHasher::new(b"pepper-one");
        let h2 = TokenHasher::new(b"pepper-two");
        assert_eq!(h1.digest("skt_x"), h1.digest("skt_x"));
        assert_ne!(h1.digest("skt_x"), h2.digest("skt_x"));
        assert_eq!(h1.digest("skt_x").len(), 64);
        assert!(
            h1.digest("skt_x")
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
}
