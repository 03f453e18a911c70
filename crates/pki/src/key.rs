//! Key types and private keys.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::PkiError;

/// The key algorithms a CA or certificate may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum KeyType {
    /// ECDSA on P-256 with SHA-256 (the default).
    #[default]
    #[serde(rename = "ec-p256")]
    EcP256,
    /// ECDSA on P-384 with SHA-384.
    #[serde(rename = "ec-p384")]
    EcP384,
    /// RSA 2048 bits, PKCS#1 v1.5 with SHA-256.
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    /// RSA 3072 bits, PKCS#1 v1.5 with SHA-256.
    #[serde(rename = "rsa-3072")]
    Rsa3072,
    /// RSA 4096 bits, PKCS#1 v1.5 with SHA-256.
    #[serde(rename = "rsa-4096")]
    Rsa4096,
    /// Ed25519.
    #[serde(rename = "ed25519")]
    Ed25519,
}

impl KeyType {
    /// Every key type, in documentation order.
    pub const ALL: [KeyType; 6] = [
        KeyType::EcP256,
        KeyType::EcP384,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
        KeyType::Ed25519,
    ];

    /// The wire name: "ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519".
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::EcP256 => "ec-p256",
            KeyType::EcP384 => "ec-p384",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
            KeyType::Ed25519 => "ed25519",
        }
    }

    /// True for the RSA key types.
    pub fn is_rsa(self) -> bool {
        matches!(self, KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096)
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = PkiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyType::ALL
            .into_iter()
            .find(|kt| kt.as_str() == s)
            .ok_or_else(|| PkiError::InvalidKey(format!("unknown key type {s:?}")))
    }
}

/// A private key able to sign certificates, CRLs and OCSP responses.
///
/// Its `Debug` output names only the key type; the key bytes leave only through
/// [`PrivateKey::to_pkcs8_der`] / [`PrivateKey::to_pkcs8_pem`], wrapped in `Zeroizing`.
pub struct PrivateKey {
    pub(crate) key_type: KeyType,
    pub(crate) pair: rcgen::KeyPair,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("key_type", &self.key_type)
            .finish_non_exhaustive()
    }
}

impl Drop for PrivateKey {
    fn drop(&mut self) {
        // rcgen keeps the PKCS#8 bytes beside the aws-lc key (which frees its own memory).
        zeroize::Zeroize::zeroize(&mut self.pair);
    }
}

impl PrivateKey {
    /// Generates a fresh key of the given type (aws-lc-rs through rcgen).
    pub fn generate(kt: KeyType) -> Result<Self, PkiError> {
        let pair = match kt {
            KeyType::Rsa2048 => rsa_generate(rcgen::RsaKeySize::_2048)?,
            KeyType::Rsa3072 => rsa_generate(rcgen::RsaKeySize::_3072)?,
            KeyType::Rsa4096 => rsa_generate(rcgen::RsaKeySize::_4096)?,
            KeyType::EcP256 | KeyType::EcP384 => {
                rcgen::KeyPair::generate_for(signature_algorithm(kt))
                    .map_err(|e| PkiError::Crypto(format!("key generation failed: {e}")))?
            }
            KeyType::Ed25519 => {
                let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
                    .map_err(|e| PkiError::Crypto(format!("key generation failed: {e}")))?;
                ed25519_as_pkcs8_v1(&pair)?
            }
        };
        Ok(PrivateKey { key_type: kt, pair })
    }

    /// Reads a PKCS#8 DER private key of one of the [`KeyType`]s.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, PkiError> {
        let pkcs8 = rustls_pki_types::PrivatePkcs8KeyDer::from(der);
        for alg in [
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &rcgen::PKCS_ECDSA_P384_SHA384,
            &rcgen::PKCS_ED25519,
            &rcgen::PKCS_RSA_SHA256,
        ] {
            // Each attempt fails cleanly on a key of another algorithm.
            if let Ok(pair) = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, alg) {
                let spki = rcgen::PublicKeyData::subject_public_key_info(&pair);
                let key_type = key_type_of_spki_der(&spki).ok_or_else(|| {
                    PkiError::InvalidKey("unsupported key type or size".to_string())
                })?;
                let pair = if key_type == KeyType::Ed25519 {
                    ed25519_as_pkcs8_v1(&pair)?
                } else {
                    pair
                };
                return Ok(PrivateKey { key_type, pair });
            }
        }
        Err(PkiError::InvalidKey(
            "not a PKCS#8 EC P-256/P-384, RSA or Ed25519 private key".to_string(),
        ))
    }

    /// Reads a PEM private key: PKCS#8 ("PRIVATE KEY"), SEC1 ("EC PRIVATE KEY", an "EC
    /// PARAMETERS" block before it is skipped) or PKCS#1 ("RSA PRIVATE KEY"). Encrypted keys are
    /// refused.
    pub fn from_pem(pem: &str) -> Result<Self, PkiError> {
        for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
            let block = block.map_err(|_| PkiError::InvalidKey("malformed PEM".to_string()))?;
            let label = block.label.clone();
            let der = Zeroizing::new(block.contents);
            match label.as_str() {
                "PRIVATE KEY" => return PrivateKey::from_pkcs8_der(&der),
                "EC PRIVATE KEY" => return PrivateKey::from_pkcs8_der(&sec1_to_pkcs8(&der)?),
                "RSA PRIVATE KEY" => return PrivateKey::from_pkcs8_der(&pkcs1_to_pkcs8(&der)?),
                "ENCRYPTED PRIVATE KEY" => {
                    return Err(PkiError::InvalidKey(
                        "encrypted private keys are not supported; decrypt it first".to_string(),
                    ));
                }
                _ => continue,
            }
        }
        Err(PkiError::InvalidKey(
            "no PEM private key block found".to_string(),
        ))
    }

    /// The key as PKCS#8 DER.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.pair.serialize_der())
    }

    /// The key as PKCS#8 PEM ("PRIVATE KEY").
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(crate::pem_encode("PRIVATE KEY", &self.to_pkcs8_der()))
    }

    /// A second handle on the same key (through its PKCS#8 encoding).
    pub fn try_clone(&self) -> Result<Self, PkiError> {
        PrivateKey::from_pkcs8_der(&self.to_pkcs8_der())
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The public half as SubjectPublicKeyInfo DER.
    pub fn public_key_der(&self) -> Vec<u8> {
        rcgen::PublicKeyData::subject_public_key_info(&self.pair)
    }

    /// The raw public key (the SubjectPublicKeyInfo's BIT STRING contents).
    pub(crate) fn public_key_raw(&self) -> &[u8] {
        self.pair.public_key_raw()
    }
}

/// The signature algorithm a key of this type signs with.
pub(crate) fn signature_algorithm(kt: KeyType) -> &'static rcgen::SignatureAlgorithm {
    match kt {
        KeyType::EcP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyType::EcP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => &rcgen::PKCS_RSA_SHA256,
        KeyType::Ed25519 => &rcgen::PKCS_ED25519,
    }
}

/// The same Ed25519 key held as PKCS#8 v1 (RFC 5208, no embedded public key): aws-lc-rs
/// generates v2 (RFC 5958), which OpenSSL 3.0 cannot read, and the key leaves as PKCS#8.
fn ed25519_as_pkcs8_v1(pair: &rcgen::KeyPair) -> Result<rcgen::KeyPair, PkiError> {
    let v2 = Zeroizing::new(pair.serialize_der());
    let aws = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&v2)
        .map_err(|_| PkiError::InvalidKey("not an Ed25519 private key".to_string()))?;
    let v1 = aws
        .to_pkcs8v1()
        .map_err(|_| PkiError::InvalidKey("Ed25519 key could not be re-encoded".to_string()))?;
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(v1.as_ref());
    rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_ED25519)
        .map_err(|_| PkiError::InvalidKey("Ed25519 key could not be re-read".to_string()))
}

fn rsa_generate(size: rcgen::RsaKeySize) -> Result<rcgen::KeyPair, PkiError> {
    rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size)
        .map_err(|e| PkiError::Crypto(format!("RSA key generation failed: {e}")))
}

/// SEC1 ECPrivateKey (P-256 or P-384) to PKCS#8, by aws-lc-rs.
fn sec1_to_pkcs8(der: &[u8]) -> Result<Zeroizing<Vec<u8>>, PkiError> {
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair,
    };
    for alg in [
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        &ECDSA_P384_SHA384_ASN1_SIGNING,
    ] {
        if let Ok(pair) = EcdsaKeyPair::from_private_key_der(alg, der) {
            let doc = pair
                .to_pkcs8v1()
                .map_err(|_| PkiError::InvalidKey("EC key could not be re-encoded".to_string()))?;
            return Ok(Zeroizing::new(doc.as_ref().to_vec()));
        }
    }
    Err(PkiError::InvalidKey(
        "not an EC P-256 or P-384 private key".to_string(),
    ))
}

/// PKCS#1 RSAPrivateKey to PKCS#8, by aws-lc-rs.
fn pkcs1_to_pkcs8(der: &[u8]) -> Result<Zeroizing<Vec<u8>>, PkiError> {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    let pair = aws_lc_rs::rsa::KeyPair::from_der(der)
        .map_err(|_| PkiError::InvalidKey("not an RSA private key".to_string()))?;
    let doc: Pkcs8V1Der<'static> = pair
        .as_der()
        .map_err(|_| PkiError::InvalidKey("RSA key could not be re-encoded".to_string()))?;
    Ok(Zeroizing::new(doc.as_ref().to_vec()))
}

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

/// The [`KeyType`] of a parsed SubjectPublicKeyInfo, None when it is not one ScaiVault issues for.
pub(crate) fn key_type_of_spki(
    spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>,
) -> Option<KeyType> {
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        OID_ED25519 => Some(KeyType::Ed25519),
        OID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()?
                .as_oid()
                .ok()?
                .to_id_string();
            match curve.as_str() {
                OID_P256 => Some(KeyType::EcP256),
                OID_P384 => Some(KeyType::EcP384),
                _ => None,
            }
        }
        OID_RSA_ENCRYPTION => match spki.parsed().ok()? {
            x509_parser::public_key::PublicKey::RSA(rsa) => match rsa.key_size() {
                2048 => Some(KeyType::Rsa2048),
                3072 => Some(KeyType::Rsa3072),
                4096 => Some(KeyType::Rsa4096),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

/// The [`KeyType`] of a SubjectPublicKeyInfo in DER.
pub(crate) fn key_type_of_spki_der(der: &[u8]) -> Option<KeyType> {
    use x509_parser::prelude::FromDer;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(der).ok()?;
    key_type_of_spki(&spki)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_type_strings() {
        let names = [
            "ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519",
        ];
        for (kt, name) in KeyType::ALL.into_iter().zip(names) {
            assert_eq!(kt.to_string(), name);
            assert_eq!(name.parse::<KeyType>().unwrap(), kt);
            assert_eq!(serde_json::to_string(&kt).unwrap(), format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<KeyType>(&format!("\"{name}\"")).unwrap(),
                kt
            );
        }
        assert_eq!(KeyType::default(), KeyType::EcP256);
        assert!("EC-P256".parse::<KeyType>().is_err());
        assert!("rsa-1024".parse::<KeyType>().is_err());
    }

    #[test]
    fn debug_hides_the_key_and_pkcs8_round_trips() {
        for kt in [
            KeyType::EcP256,
            KeyType::EcP384,
            KeyType::Ed25519,
            KeyType::Rsa2048,
        ] {
            let key = PrivateKey::generate(kt).unwrap();
            let debug = format!("{key:?}");
            assert!(debug.contains("key_type"), "{debug}");
            assert!(!debug.contains("pair"), "{debug}");
            let again = PrivateKey::from_pkcs8_der(&key.to_pkcs8_der()).unwrap();
            assert_eq!(again.key_type(), kt);
            assert_eq!(again.public_key_der(), key.public_key_der());
            let from_pem = PrivateKey::from_pem(&key.to_pkcs8_pem()).unwrap();
            assert_eq!(from_pem.public_key_der(), key.public_key_der());
            assert_eq!(key_type_of_spki_der(&key.public_key_der()), Some(kt));
        }
        assert!(matches!(
            PrivateKey::from_pkcs8_der(b"junk"),
            Err(PkiError::InvalidKey(_))
        ));
        assert!(matches!(
            PrivateKey::from_pem("junk"),
            Err(PkiError::InvalidKey(_))
        ));
    }
}
