//! The `bytes` generator: `length` random bytes, encoded as hex or base64 (for API keys, HMAC
//! keys, encryption keys and other binary secrets stored as text).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

use crate::GenerateError;
use crate::config::{Config, KeyKind, KeySpec};
use crate::random::Rng;

const LENGTH: KeySpec = KeySpec {
    name: "length",
    kind: KeyKind::Integer {
        default: 32,
        min: 1,
        max: 1024,
    },
    required: false,
    description: "number of random bytes (before encoding)",
};
const ENCODING: KeySpec = KeySpec {
    name: "encoding",
    kind: KeyKind::Choice {
        default: "hex",
        allowed: &["hex", "base64", "base64url"],
    },
    required: false,
    description: "hex: lowercase hexadecimal; base64: standard alphabet with `=` padding \
        (RFC 4648 section 4); base64url: URL-safe alphabet without padding (section 5)",
};

pub(crate) const KEYS: &[KeySpec] = &[LENGTH, ENCODING];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Hex,
    Base64,
    Base64Url,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct RandomBytes {
    length: usize,
    encoding: Encoding,
}

impl RandomBytes {
    pub fn compile(config: &Config<'_>) -> Result<Self, GenerateError> {
        let length = usize::try_from(config.integer(&LENGTH)?)
            .map_err(|_| GenerateError::Internal("length"))?;
        let encoding = match config.choice(&ENCODING)? {
            "base64" => Encoding::Base64,
            "base64url" => Encoding::Base64Url,
            _ => Encoding::Hex,
        };
        Ok(Self { length, encoding })
    }

    pub fn generate(&self, rng: &mut Rng) -> Result<Zeroizing<String>, GenerateError> {
        let mut bytes = Zeroizing::new(vec![0u8; self.length]);
        rng.fill(&mut bytes)?;
        // Encode into pre-sized buffers so no intermediate copy escapes zeroization.
        let mut out = Zeroizing::new(String::with_capacity(self.length * 2 + 4));
        match self.encoding {
            Encoding::Hex => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                for byte in bytes.iter() {
                    out.push(char::from(HEX[usize::from(byte >> 4)]));
                    out.push(char::from(HEX[usize::from(byte & 0x0f)]));
                }
            }
            Encoding::Base64 => STANDARD.encode_string(bytes.as_slice(), &mut out),
            Encoding::Base64Url => URL_SAFE_NO_PAD.encode_string(bytes.as_slice(), &mut out),
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn generate(config: serde_json::Value) -> Result<Zeroizing<String>, GenerateError> {
        let config = Config::new(&config, "fields[0].config", "bytes", KEYS)?;
        RandomBytes::compile(&config)?.generate(&mut Rng::new())
    }

    #[test]
    fn encodings_decode_back_to_the_requested_length() {
        let hex = generate(json!({})).unwrap();
        assert_eq!(hex.len(), 64);
        assert!(
            hex.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );

        let b64 = generate(json!({"length": 31, "encoding": "base64"})).unwrap();
        assert_eq!(STANDARD.decode(b64.as_bytes()).unwrap().len(), 31);
        assert!(b64.ends_with('='));

        let url = generate(json!({"length": 1024, "encoding": "base64url"})).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(url.as_bytes()).unwrap().len(), 1024);
        assert!(!url.contains(['+', '/', '=']));

        assert_eq!(generate(json!({"length": 1})).unwrap().len(), 2);
    }

    #[test]
    fn validation_messages() {
        let cases = [
            (
                json!({"length": 0}),
                "fields[0].config.length: must be between 1 and 1024",
            ),
            (
                json!({"length": 1025}),
                "fields[0].config.length: must be between 1 and 1024",
            ),
            (
                json!({"encoding": "base32"}),
                "fields[0].config.encoding: must be one of hex, base64, base64url",
            ),
        ];
        for (config, expected) in cases {
            assert_eq!(generate(config).unwrap_err().to_string(), expected);
        }
    }
}
