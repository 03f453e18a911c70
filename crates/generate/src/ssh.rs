//! The `ssh_key_pair` generator: an OpenSSH key pair. A field named `deploy` yields `deploy`,
//! the unencrypted private key in OpenSSH format (`-----BEGIN OPENSSH PRIVATE KEY-----`, what
//! `ssh-keygen` writes and `ssh -i` reads), and `deploy_public`, the public key as one
//! `authorized_keys` line (`ssh-ed25519 AAAA... comment`).
//!
//! Key material comes from aws-lc-rs (as for the PEM key pairs); the `ssh-key` crate only
//! encodes it, so it needs none of its own crypto or RNG features. RSA components are read
//! from aws-lc-rs's PKCS#8 export with the `pkcs8`/`pkcs1` DER parsers.

use aws_lc_rs::encoding::{AsBigEndian, AsDer, Curve25519SeedBin, EcPrivateKeyBin};
use aws_lc_rs::encoding::{EcPublicKeyUncompressedBin, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    KeyPair,
};
use ssh_encoding::{Decode, Encode};
use ssh_key::private::{
    EcdsaKeypair, Ed25519Keypair, Ed25519PrivateKey, KeypairData, RsaKeypair, RsaPrivateKey,
};
use ssh_key::public::{EcdsaPublicKey, Ed25519PublicKey, RsaPublicKey};
use ssh_key::{LineEnding, Mpint, PrivateKey};
use zeroize::Zeroizing;

use crate::GenerateError;
use crate::config::{Config, KeyKind, KeySpec, check_printable};
use crate::keys::{PemPair, rsa_key_size};

const ALGORITHM: KeySpec = KeySpec {
    name: "algorithm",
    kind: KeyKind::Choice {
        default: "ed25519",
        allowed: &["ed25519", "ecdsa-p256", "ecdsa-p384", "rsa"],
    },
    required: false,
    description: "ed25519 (ssh-ed25519), ecdsa-p256 (ecdsa-sha2-nistp256), ecdsa-p384 \
        (ecdsa-sha2-nistp384) or rsa (ssh-rsa key, usable with rsa-sha2-256/512 signatures)",
};
const BITS: KeySpec = KeySpec {
    name: "bits",
    kind: KeyKind::IntegerChoice {
        default: 3072,
        allowed: &[2048, 3072, 4096],
    },
    required: false,
    description: "RSA modulus size; only allowed with algorithm rsa",
};
const COMMENT: KeySpec = KeySpec {
    name: "comment",
    kind: KeyKind::Text {
        default: Some(""),
        max_chars: 256,
    },
    required: false,
    description: "comment stored in the private key and appended to the public key line \
        (e.g. `deploy@ci`); spaces allowed, no other whitespace or control characters",
};

pub(crate) const KEYS: &[KeySpec] = &[ALGORITHM, BITS, COMMENT];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Ed25519,
    EcdsaP256,
    EcdsaP384,
    Rsa(KeySize),
}

pub(crate) struct SshKeyPair {
    algorithm: Algorithm,
    comment: String,
}

impl SshKeyPair {
    pub fn compile(config: &Config<'_>) -> Result<Self, GenerateError> {
        let algorithm = match config.choice(&ALGORITHM)? {
            "rsa" => Algorithm::Rsa(rsa_key_size(config, &BITS)?),
            other => {
                if config.has(&BITS) {
                    return Err(config.error(&BITS, "is only allowed when algorithm is rsa"));
                }
                match other {
                    "ecdsa-p256" => Algorithm::EcdsaP256,
                    "ecdsa-p384" => Algorithm::EcdsaP384,
                    _ => Algorithm::Ed25519,
                }
            }
        };
        let comment = config.text(&COMMENT)?.unwrap_or("");
        check_printable(config, &COMMENT, comment, true)?;
        Ok(Self {
            algorithm,
            comment: comment.to_owned(),
        })
    }

    pub fn generate(&self) -> Result<PemPair, GenerateError> {
        let key_data = match self.algorithm {
            Algorithm::Ed25519 => ed25519()?,
            Algorithm::EcdsaP256 => ecdsa(&ECDSA_P256_SHA256_ASN1_SIGNING)?,
            Algorithm::EcdsaP384 => ecdsa(&ECDSA_P384_SHA384_ASN1_SIGNING)?,
            Algorithm::Rsa(size) => rsa(size)?,
        };
        let encoding = |_| GenerateError::KeyGeneration("OpenSSH key encoding");
        let private = PrivateKey::new(key_data, self.comment.as_str()).map_err(encoding)?;
        Ok(PemPair {
            private: private.to_openssh(LineEnding::LF).map_err(encoding)?,
            public: private.public_key().to_openssh().map_err(encoding)?,
        })
    }
}

fn failed(what: &'static str) -> impl Fn(aws_lc_rs::error::Unspecified) -> GenerateError {
    move |_| GenerateError::KeyGeneration(what)
}

fn ed25519() -> Result<KeypairData, GenerateError> {
    let pair = Ed25519KeyPair::generate().map_err(failed("Ed25519 key generation"))?;
    let seed = pair.seed().map_err(failed("Ed25519 seed export"))?;
    let seed: Curve25519SeedBin<'_> = seed.as_be_bytes().map_err(failed("Ed25519 seed export"))?;
    let mut private = Zeroizing::new([0u8; Ed25519PrivateKey::BYTE_SIZE]);
    let mut public = [0u8; Ed25519PublicKey::BYTE_SIZE];
    if seed.as_ref().len() != private.len() || pair.public_key().as_ref().len() != public.len() {
        return Err(GenerateError::KeyGeneration("Ed25519 key sizes"));
    }
    private.copy_from_slice(seed.as_ref());
    public.copy_from_slice(pair.public_key().as_ref());
    Ok(KeypairData::Ed25519(Ed25519Keypair {
        public: Ed25519PublicKey(public),
        private: Ed25519PrivateKey::from_bytes(&private),
    }))
}

/// ssh-key builds ECDSA private keys only from its own wire format (or with its RustCrypto
/// curve features), so the keypair is written in that format and decoded:
/// `string curve, string Q (uncompressed SEC1 point), mpint d`.
fn ecdsa(
    algorithm: &'static aws_lc_rs::signature::EcdsaSigningAlgorithm,
) -> Result<KeypairData, GenerateError> {
    let conversion = GenerateError::KeyGeneration("ECDSA key conversion");
    let pair = EcdsaKeyPair::generate(algorithm).map_err(failed("ECDSA key generation"))?;
    let point: EcPublicKeyUncompressedBin<'_> = pair
        .public_key()
        .as_be_bytes()
        .map_err(failed("ECDSA public key export"))?;
    let scalar: EcPrivateKeyBin<'_> = pair
        .private_key()
        .as_be_bytes()
        .map_err(failed("ECDSA private key export"))?;
    let public = EcdsaPublicKey::from_sec1_bytes(point.as_ref()).map_err(|_| conversion.clone())?;

    let mut wire = Zeroizing::new(Vec::with_capacity(256));
    public.encode(&mut *wire).map_err(|_| conversion.clone())?;
    // An mpint of exactly the field size (with a leading zero when the top bit is set), which
    // is what OpenSSH writes and what ssh-key's decoder expects; Mpint would strip leading
    // zero bytes and change the length.
    let d = scalar.as_ref();
    let needs_zero = d.first().is_some_and(|b| *b >= 0x80);
    let length =
        u32::try_from(d.len() + usize::from(needs_zero)).map_err(|_| conversion.clone())?;
    wire.extend_from_slice(&length.to_be_bytes());
    if needs_zero {
        wire.push(0);
    }
    wire.extend_from_slice(d);

    let mut reader: &[u8] = &wire;
    let keypair = EcdsaKeypair::decode(&mut reader).map_err(|_| conversion.clone())?;
    if !reader.is_empty() {
        return Err(conversion);
    }
    Ok(KeypairData::Ecdsa(keypair))
}

/// RSA components (n, e, d, p, q and iqmp = q^-1 mod p, which is PKCS#1's `coefficient`)
/// from aws-lc-rs's PKCS#8 export.
fn rsa(size: KeySize) -> Result<KeypairData, GenerateError> {
    let conversion = |_| GenerateError::KeyGeneration("RSA key conversion");
    let pair = RsaKeyPair::generate(size).map_err(failed("RSA key generation"))?;
    let document: Pkcs8V1Der<'_> = pair.as_der().map_err(failed("RSA PKCS#8 encoding"))?;
    let info = pkcs8::PrivateKeyInfo::try_from(document.as_ref())
        .map_err(|_| GenerateError::KeyGeneration("RSA PKCS#8 parsing"))?;
    let key = pkcs1::RsaPrivateKey::try_from(info.private_key)
        .map_err(|_| GenerateError::KeyGeneration("RSA PKCS#1 parsing"))?;
    if key.other_prime_infos.is_some() {
        return Err(GenerateError::KeyGeneration("multi-prime RSA key"));
    }
    let mpint = |value: pkcs1::UintRef<'_>| Mpint::from_positive_bytes(value.as_bytes());
    Ok(KeypairData::Rsa(RsaKeypair {
        public: RsaPublicKey {
            e: mpint(key.public_exponent).map_err(conversion)?,
            n: mpint(key.modulus).map_err(conversion)?,
        },
        private: RsaPrivateKey {
            d: mpint(key.private_exponent).map_err(conversion)?,
            iqmp: mpint(key.coefficient).map_err(conversion)?,
            p: mpint(key.prime1).map_err(conversion)?,
            q: mpint(key.prime2).map_err(conversion)?,
        },
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;

    fn generate(config: serde_json::Value) -> Result<PemPair, GenerateError> {
        let config = Config::new(&config, "fields[0].config", "ssh_key_pair", KEYS)?;
        SshKeyPair::compile(&config)?.generate()
    }

    /// Parses both outputs back with ssh-key, and with `ssh-keygen -y` where installed (it is
    /// on the project's machines; the parse-back alone still proves the format).
    fn check(pair: &PemPair, prefix: &str, comment: &str) {
        assert!(
            pair.private
                .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n")
        );
        assert!(
            pair.private
                .ends_with("-----END OPENSSH PRIVATE KEY-----\n")
        );
        assert!(pair.public.starts_with(prefix), "{}", pair.public);
        assert!(!pair.public.contains('\n'));
        let parsed = PrivateKey::from_openssh(pair.private.as_bytes()).unwrap();
        assert!(!parsed.is_encrypted());
        assert_eq!(parsed.comment(), comment);
        assert_eq!(parsed.public_key().to_openssh().unwrap(), pair.public);
        let public = ssh_key::PublicKey::from_openssh(&pair.public).unwrap();
        assert_eq!(public.key_data(), parsed.public_key().key_data());

        if Command::new("ssh-keygen").arg("-?").output().is_err() {
            eprintln!("ssh-keygen not installed: checked by parsing back only");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        std::fs::write(&path, pair.private.as_bytes()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let output = Command::new("ssh-keygen")
            .args(["-y", "-P", "", "-f"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "ssh-keygen -y failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let derived = String::from_utf8(output.stdout).unwrap();
        let mut fields = pair.public.split(' ');
        let (kind, blob) = (fields.next().unwrap(), fields.next().unwrap());
        assert!(
            derived.starts_with(&format!("{kind} {blob}")),
            "{derived} vs {}",
            pair.public
        );
    }

    #[test]
    fn ed25519_is_the_default() {
        let pair = generate(json!({"comment": "deploy@ci"})).unwrap();
        check(&pair, "ssh-ed25519 AAAA", "deploy@ci");
        assert!(pair.public.ends_with(" deploy@ci"));
        let other = generate(json!({})).unwrap();
        check(&other, "ssh-ed25519 AAAA", "");
        assert_ne!(pair.public, other.public);
    }

    #[test]
    fn ecdsa_keys() {
        for _ in 0..8 {
            // Repeated: about half of all scalars need the leading-zero mpint form.
            check(
                &generate(json!({"algorithm": "ecdsa-p256"})).unwrap(),
                "ecdsa-sha2-nistp256 AAAA",
                "",
            );
        }
        check(
            &generate(json!({"algorithm": "ecdsa-p384", "comment": "a b"})).unwrap(),
            "ecdsa-sha2-nistp384 AAAA",
            "a b",
        );
    }

    #[test]
    fn rsa_keys() {
        let pair = generate(json!({"algorithm": "rsa", "bits": 2048})).unwrap();
        check(&pair, "ssh-rsa AAAA", "");
        let parsed = PrivateKey::from_openssh(pair.private.as_bytes()).unwrap();
        let rsa = parsed.key_data().rsa().unwrap();
        assert_eq!(rsa.public.n.as_positive_bytes().unwrap().len(), 256);
        assert_eq!(rsa.public.e.as_positive_bytes(), Some(&[1u8, 0, 1][..]));
    }

    #[test]
    fn validation_messages() {
        let cases = [
            (
                json!({"algorithm": "dsa"}),
                "fields[0].config.algorithm: must be one of ed25519, ecdsa-p256, ecdsa-p384, rsa",
            ),
            (
                json!({"bits": 4096}),
                "fields[0].config.bits: is only allowed when algorithm is rsa",
            ),
            (
                json!({"algorithm": "rsa", "bits": 1024}),
                "fields[0].config.bits: must be one of 2048, 3072, 4096",
            ),
            (
                json!({"comment": "a\nb"}),
                "fields[0].config.comment: contains a non-printable character (U+000A)",
            ),
        ];
        for (config, expected) in cases {
            assert_eq!(
                generate(config).map(|_| ()).unwrap_err().to_string(),
                expected
            );
        }
    }
}
