//! Data keys and AES-256-GCM sealing of secret values.
//!
//! Framing of a sealed value: `0x01 || nonce (12 bytes) || ciphertext || tag (16 bytes)`; the id
//! of the data key is stored beside it so keys can rotate. Nonces are random (96 bits) per
//! seal, which keeps the collision probability negligible far beyond 2^32 seals per key; key
//! rotation (not built yet: one data key seals everything today) would bound the count per key.

use std::collections::HashMap;

use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::random::random_bytes;

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Length in bytes of a data key (AES-256).
pub const DATA_KEY_LEN: usize = 32;

/// A sealed secret value as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedValue {
    pub key_id: String,
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedValue")
            .field("key_id", &self.key_id)
            .field("len", &self.ciphertext.len())
            .finish()
    }
}

/// The associated data binding a secret version's ciphertext to where it belongs. Fields are
/// length-prefixed so no two (tenant, path, version) triples encode alike.
pub fn secret_aad(tenant_id: &str, path: &str, version: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + tenant_id.len() + path.len());
    aad.extend_from_slice(b"scaivault/secret/v1\0");
    for field in [tenant_id.as_bytes(), path.as_bytes()] {
        aad.extend_from_slice(&(field.len() as u64).to_be_bytes());
        aad.extend_from_slice(field);
    }
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// Fresh random data key material.
pub fn generate_data_key() -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    random_bytes(DATA_KEY_LEN)
}

/// The unwrapped data keys, one of them active for new seals. Key material lives only inside
/// aws-lc-rs key objects, which cleanse it when dropped.
pub struct Keyring {
    active: String,
    keys: HashMap<String, RandomizedNonceKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active)
            .field("key_count", &self.keys.len())
            .finish()
    }
}

impl Keyring {
    /// Builds a keyring from unwrapped keys; `active` must be one of them.
    pub fn new(
        active: &str,
        keys: impl IntoIterator<Item = (String, Zeroizing<Vec<u8>>)>,
    ) -> Result<Self, CryptoError> {
        let mut map = HashMap::new();
        for (id, material) in keys {
            let key = RandomizedNonceKey::new(&AES_256_GCM, &material)
                .map_err(|_| CryptoError::Internal)?;
            map.insert(id, key);
        }
        if !map.contains_key(active) {
            return Err(CryptoError::UnknownKey(active.to_owned()));
        }
        Ok(Self {
            active: active.to_owned(),
            keys: map,
        })
    }

    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    /// Encrypts `plaintext` under the active key, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<SealedValue, CryptoError> {
        let key = self
            .keys
            .get(&self.active)
            .ok_or_else(|| CryptoError::UnknownKey(self.active.clone()))?;
        let mut in_out = Vec::with_capacity(plaintext.len() + TAG_LEN);
        in_out.extend_from_slice(plaintext);
        let nonce = key
            .seal_in_place_append_tag(Aad::from(aad), &mut in_out)
            .map_err(|_| CryptoError::Internal)?;
        let mut ciphertext = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        ciphertext.push(FORMAT_V1);
        ciphertext.extend_from_slice(nonce.as_ref());
        ciphertext.extend_from_slice(&in_out);
        Ok(SealedValue {
            key_id: self.active.clone(),
            ciphertext,
        })
    }

    /// Decrypts a sealed value; fails unless `aad` is exactly the one it was sealed with.
    pub fn open(
        &self,
        sealed: &SealedValue,
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let key = self
            .keys
            .get(&sealed.key_id)
            .ok_or_else(|| CryptoError::UnknownKey(sealed.key_id.clone()))?;
        let body = match sealed.ciphertext.split_first() {
            Some((&FORMAT_V1, body)) if body.len() >= NONCE_LEN + TAG_LEN => body,
            _ => return Err(CryptoError::Malformed),
        };
        let (nonce, ciphertext) = body.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Malformed)?;
        let mut in_out = Zeroizing::new(ciphertext.to_vec());
        let len = key
            .open_in_place(nonce, Aad::from(aad), &mut in_out)
            .map_err(|_| CryptoError::OpenFailed)?
            .len();
        in_out.truncate(len);
        Ok(in_out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring() -> Keyring {
        Keyring::new(
            "key_a",
            [("key_a".to_owned(), generate_data_key().unwrap())],
        )
        .unwrap()
    }

    #[test]
    fn round_trip() {
        let ring = keyring();
        let aad = secret_aad("tnt_a", "app/db", 1);
        let sealed = ring.seal(&aad, b"{\"password\":\"hunter2\"}").unwrap();
        assert!(!sealed.ciphertext.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(
            ring.open(&sealed, &aad).unwrap().as_slice(),
            b"{\"password\":\"hunter2\"}"
        );
    }

    /// Like Vault's TestAESGCMBarrier_MoveIntegrityV2: a ciphertext moved to another tenant,
    /// path or version does not open.
    #[test]
    fn moved_ciphertext_fails_to_open() {
        let ring = keyring();
        let sealed = ring.seal(&secret_aad("tnt_a", "app/db", 1), b"v").unwrap();
        for aad in [
            secret_aad("tnt_b", "app/db", 1),
            secret_aad("tnt_a", "app/dc", 1),
            secret_aad("tnt_a", "app/db", 2),
            // Length prefixes: shifting bytes between fields must not collide.
            secret_aad("tnt_aa", "pp/db", 1),
        ] {
            assert!(matches!(
                ring.open(&sealed, &aad),
                Err(CryptoError::OpenFailed)
            ));
        }
    }

    #[test]
    fn tampering_and_garbage_fail_cleanly() {
        let ring = keyring();
        let aad = secret_aad("t", "p", 1);
        let mut sealed = ring.seal(&aad, b"value").unwrap();
        let last = sealed.ciphertext.len() - 1;
        sealed.ciphertext[last] ^= 1;
        assert!(matches!(
            ring.open(&sealed, &aad),
            Err(CryptoError::OpenFailed)
        ));
        for junk in [vec![], vec![1u8], vec![2u8; 40], vec![1u8; 20]] {
            let s = SealedValue {
                key_id: "key_a".into(),
                ciphertext: junk,
            };
            assert!(ring.open(&s, &aad).is_err());
        }
        let s = SealedValue {
            key_id: "key_zz".into(),
            ciphertext: vec![1u8; 40],
        };
        assert!(matches!(
            ring.open(&s, &aad),
            Err(CryptoError::UnknownKey(_))
        ));
    }

    #[test]
    fn nonces_differ_between_seals() {
        let ring = keyring();
        let a = ring.seal(b"aad", b"same").unwrap();
        let b = ring.seal(b"aad", b"same").unwrap();
        assert_ne!(a.ciphertext, b.ciphertext);
    }
}
