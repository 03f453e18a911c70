//! Key sets: parsing JWKS documents and PEM keys, and picking the key for a token.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use jsonwebtoken::DecodingKey;
use serde::Deserialize;

use crate::config::{Algorithm, KeyType};
use crate::error::JwtError;

/// RSA keys below 2048 bits are skipped (aws-lc-rs would refuse them at verify time anyway).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// JWK members are base64url; tolerate padding, which some publishers emit.
const JWK_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One public key usable for verification.
#[derive(Debug)]
pub(crate) struct VerificationKey {
    kid: Option<String>,
    /// A pinned PEM key configured without a kid stands for whatever kid the issuer uses.
    matches_any_kid: bool,
    key_type: KeyType,
    /// The JWK's `alg` (or the PEM's configured algorithm): the key is used for nothing else.
    alg: Option<Algorithm>,
    pub(crate) key: DecodingKey,
}

impl VerificationKey {
    fn accepts(&self, alg: Algorithm) -> bool {
        self.key_type == alg.key_type() && self.alg.is_none_or(|pinned| pinned == alg)
    }
}

/// An issuer's keys at one point in time; replaced wholesale on refresh.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    keys: Vec<VerificationKey>,
}

impl KeySet {
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Parses a JWKS document. Keys we cannot use (encryption keys, HMAC secrets, other curves,
    /// short RSA moduli, algorithms we do not accept) are skipped, not errors: a JWKS may hold
    /// keys meant for other consumers. Fails only if the document itself is not a JWKS.
    pub(crate) fn from_jwks_json(json: &[u8]) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct RawJwkSet {
            keys: Vec<serde_json::Value>,
        }
        let raw: RawJwkSet = serde_json::from_slice(json)
            .map_err(|_| "not a JWKS document (expected an object with a `keys` array)")?;
        let mut keys = Vec::with_capacity(raw.keys.len());
        for value in raw.keys {
            match serde_json::from_value::<RawJwk>(value)
                .map_err(|_| "not a JWK object")
                .and_then(RawJwk::into_key)
            {
                Ok(key) => keys.push(key),
                Err(reason) => tracing::debug!(reason, "skipping unusable JWK"),
            }
        }
        Ok(Self { keys })
    }

    /// One pinned PEM public key, used only with `alg`.
    pub(crate) fn from_pem(pem: &str, alg: Algorithm, kid: Option<String>) -> Result<Self, String> {
        // jsonwebtoken would also take a private key PEM; refuse it so one is never kept around
        // by mistake.
        if pem.contains("PRIVATE KEY") {
            return Err("PEM holds a private key; configure the public key".to_owned());
        }
        let bad_pem = |_| format!("PEM is not a {alg} public key");
        let key_type = alg.key_type();
        let key = match key_type {
            KeyType::Rsa => DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(bad_pem)?,
            KeyType::EcP256 | KeyType::EcP384 => {
                DecodingKey::from_ec_pem(pem.as_bytes()).map_err(bad_pem)?
            }
            KeyType::Ed25519 => DecodingKey::from_ed_pem(pem.as_bytes()).map_err(bad_pem)?,
        };
        // The EC/Ed PEM loaders return the raw public point; its length tells the curve.
        let expected_len = match key_type {
            KeyType::Rsa => None,
            KeyType::EcP256 => Some(65),
            KeyType::EcP384 => Some(97),
            KeyType::Ed25519 => Some(32),
        };
        if let Some(expected) = expected_len {
            let raw = key.try_get_as_bytes().map_err(bad_pem)?;
            if raw.len() != expected {
                return Err(format!("PEM is not a {alg} public key (wrong curve)"));
            }
        }
        Ok(Self {
            keys: vec![VerificationKey {
                matches_any_kid: kid.is_none(),
                kid,
                key_type,
                alg: Some(alg),
                key,
            }],
        })
    }

    /// Picks the key for a token. `Err(UnknownKey)` with a `kid` means "not in this set" (the
    /// caller may refresh and retry); a key that is found but of the wrong type is
    /// `KeyTypeMismatch`, never a fallback to another key.
    pub(crate) fn select(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<&VerificationKey, JwtError> {
        match kid {
            Some(kid) => {
                let exact: Vec<&VerificationKey> = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .collect();
                let candidates = if exact.is_empty() {
                    self.keys.iter().filter(|k| k.matches_any_kid).collect()
                } else {
                    exact
                };
                if candidates.is_empty() {
                    return Err(JwtError::UnknownKey);
                }
                candidates
                    .into_iter()
                    .find(|k| k.accepts(alg))
                    .ok_or(JwtError::KeyTypeMismatch)
            }
            // Without a kid, only an unambiguous choice is safe.
            None => {
                let mut compatible = self.keys.iter().filter(|k| k.accepts(alg));
                match (compatible.next(), compatible.next()) {
                    (Some(key), None) => Ok(key),
                    (None, _) if !self.keys.is_empty() => Err(JwtError::KeyTypeMismatch),
                    _ => Err(JwtError::UnknownKey),
                }
            }
        }
    }
}

/// The JWK members we look at; everything else is ignored.
#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

impl RawJwk {
    fn into_key(self) -> Result<VerificationKey, &'static str> {
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err("key is not for signatures");
        }
        let alg = match self.alg.as_deref() {
            None => None,
            Some(name) => Some(Algorithm::from_name(name).ok_or("key algorithm not accepted")?),
        };
        let (key_type, key) = match (self.kty.as_str(), self.crv.as_deref()) {
            ("RSA", _) => {
                let n = decode_member(self.n.as_deref())?;
                let e = decode_member(self.e.as_deref())?;
                let significant = n.iter().skip_while(|b| **b == 0).count();
                if significant < MIN_RSA_MODULUS_BYTES {
                    return Err("RSA key shorter than 2048 bits");
                }
                (KeyType::Rsa, DecodingKey::from_rsa_raw_components(&n, &e))
            }
            ("EC", Some("P-256")) => (KeyType::EcP256, ec_key(&self.x, &self.y, 32)?),
            ("EC", Some("P-384")) => (KeyType::EcP384, ec_key(&self.x, &self.y, 48)?),
            ("OKP", Some("Ed25519")) => {
                let x = decode_member(self.x.as_deref())?;
                if x.len() != 32 {
                    return Err("Ed25519 key of wrong length");
                }
                (KeyType::Ed25519, DecodingKey::from_ed_der(&x))
            }
            _ => return Err("key type or curve not accepted"),
        };
        if alg.is_some_and(|alg| alg.key_type() != key_type) {
            return Err("key algorithm does not fit key type");
        }
        Ok(VerificationKey {
            kid: self.kid,
            matches_any_kid: false,
            key_type,
            alg,
            key,
        })
    }
}

fn decode_member(value: Option<&str>) -> Result<Vec<u8>, &'static str> {
    let value = value.ok_or("key member missing")?;
    JWK_BASE64
        .decode(value)
        .map_err(|_| "key member is not base64url")
}

/// An uncompressed EC point (0x04 || x || y), which is what jsonwebtoken verifies against.
fn ec_key(
    x: &Option<String>,
    y: &Option<String>,
    coordinate_len: usize,
) -> Result<DecodingKey, &'static str> {
    let x = decode_member(x.as_deref())?;
    let y = decode_member(y.as_deref())?;
    if x.len() != coordinate_len || y.len() != coordinate_len {
        return Err("EC coordinate of wrong length");
    }
    let mut point = Vec::with_capacity(1 + 2 * coordinate_len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Ok(DecodingKey::from_ec_der(&point))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use super::*;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn skips_unusable_keys_and_keeps_usable_ones() {
        let jwks = serde_json::json!({ "keys": [
            { "kty": "oct", "k": b64(b"secret"), "kid": "hmac" },
            { "kty": "RSA", "kid": "short", "n": b64(&[0xff; 128]), "e": "AQAB" },
            { "kty": "RSA", "kid": "enc", "use": "enc", "n": b64(&[0xff; 256]), "e": "AQAB" },
            { "kty": "RSA", "kid": "rs512", "alg": "RS512", "n": b64(&[0xff; 256]), "e": "AQAB" },
            { "kty": "EC", "kid": "p521", "crv": "P-521", "x": b64(&[1; 66]), "y": b64(&[1; 66]) },
            { "kty": "EC", "kid": "badlen", "crv": "P-256", "x": b64(&[1; 31]), "y": b64(&[1; 32]) },
            { "kty": "RSA", "kid": "mismatch", "alg": "ES256", "n": b64(&[0xff; 256]), "e": "AQAB" },
            "not an object",
            { "kty": "RSA", "kid": "good-rsa", "n": b64(&[0xff; 256]), "e": "AQAB" },
            { "kty": "EC", "kid": "good-ec", "crv": "P-256", "x": b64(&[1; 32]), "y": b64(&[2; 32]) },
            { "kty": "OKP", "kid": "good-ed", "crv": "Ed25519", "x": b64(&[3; 32]) },
        ]});
        let set = KeySet::from_jwks_json(jwks.to_string().as_bytes()).unwrap();
        assert_eq!(set.len(), 3);
        assert!(set.select(Some("good-rsa"), Algorithm::Rs256).is_ok());
        assert!(set.select(Some("good-rsa"), Algorithm::Ps256).is_ok());
        assert_eq!(
            set.select(Some("good-rsa"), Algorithm::Es256).unwrap_err(),
            JwtError::KeyTypeMismatch
        );
        assert!(set.select(Some("good-ec"), Algorithm::Es256).is_ok());
        assert_eq!(
            set.select(Some("good-ec"), Algorithm::Es384).unwrap_err(),
            JwtError::KeyTypeMismatch
        );
        assert!(set.select(Some("good-ed"), Algorithm::EdDsa).is_ok());
        assert_eq!(
            set.select(Some("hmac"), Algorithm::Rs256).unwrap_err(),
            JwtError::UnknownKey
        );
        // No kid: exactly one compatible key is used, otherwise refuse.
        assert!(set.select(None, Algorithm::Rs256).is_ok());
        assert!(set.select(None, Algorithm::EdDsa).is_ok());
        assert_eq!(
            set.select(None, Algorithm::Es384).unwrap_err(),
            JwtError::KeyTypeMismatch
        );
    }

    #[test]
    fn ambiguous_kidless_choice_is_refused() {
        let jwks = serde_json::json!({ "keys": [
            { "kty": "RSA", "kid": "a", "n": b64(&[0xff; 256]), "e": "AQAB" },
            { "kty": "RSA", "kid": "b", "n": b64(&[0xfe; 256]), "e": "AQAB" },
        ]});
        let set = KeySet::from_jwks_json(jwks.to_string().as_bytes()).unwrap();
        assert_eq!(
            set.select(None, Algorithm::Rs256).unwrap_err(),
            JwtError::UnknownKey
        );
    }

    #[test]
    fn pinned_alg_restricts_use() {
        let jwks = serde_json::json!({ "keys": [
            { "kty": "RSA", "kid": "a", "alg": "RS256", "n": b64(&[0xff; 256]), "e": "AQAB" },
        ]});
        let set = KeySet::from_jwks_json(jwks.to_string().as_bytes()).unwrap();
        assert!(set.select(Some("a"), Algorithm::Rs256).is_ok());
        assert_eq!(
            set.select(Some("a"), Algorithm::Ps256).unwrap_err(),
            JwtError::KeyTypeMismatch
        );
    }

    #[test]
    fn rejects_non_jwks_documents() {
        assert!(KeySet::from_jwks_json(b"[]").is_err());
        assert!(KeySet::from_jwks_json(b"{\"kty\":\"RSA\"}").is_err());
        assert!(KeySet::from_jwks_json(b"not json").is_err());
        assert_eq!(KeySet::from_jwks_json(b"{\"keys\":[]}").unwrap().len(), 0);
    }

    #[test]
    fn refuses_private_and_garbage_pem() {
        let private = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(KeySet::from_pem(private, Algorithm::Rs256, None).is_err());
        assert!(KeySet::from_pem("garbage", Algorithm::Es256, None).is_err());
    }
}
