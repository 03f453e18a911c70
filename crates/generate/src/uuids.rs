//! The `uuid` generator: RFC 9562 UUIDs, version 4 (random) or 7 (Unix time + random).
//!
//! The random bits come from the OS CSPRNG through [`Rng`]; the `uuid` crate only lays out the
//! version and variant bits, so there is one source of randomness for the whole crate.

use std::time::{SystemTime, UNIX_EPOCH};

use uuid::Builder;
use zeroize::Zeroizing;

use crate::GenerateError;
use crate::config::{Config, KeyKind, KeySpec};
use crate::random::Rng;

const VERSION: KeySpec = KeySpec {
    name: "version",
    kind: KeyKind::IntegerChoice {
        default: 4,
        allowed: &[4, 7],
    },
    required: false,
    description: "4: 122 random bits; 7: 48-bit Unix time in milliseconds then 74 random bits \
        (sortable by creation time, and reveals it)",
};

pub(crate) const KEYS: &[KeySpec] = &[VERSION];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UuidVersion {
    V4,
    V7,
}

impl UuidVersion {
    pub fn compile(config: &Config<'_>) -> Result<Self, GenerateError> {
        match config.integer(&VERSION)? {
            7 => Ok(Self::V7),
            _ => Ok(Self::V4),
        }
    }

    /// Lowercase hyphenated form, e.g. `0b7c5d0e-...`.
    pub fn generate(self, rng: &mut Rng, now: SystemTime) -> Result<String, GenerateError> {
        let uuid = match self {
            Self::V4 => {
                let mut bytes = Zeroizing::new([0u8; 16]);
                rng.fill(&mut bytes[..])?;
                Builder::from_random_bytes(*bytes).into_uuid()
            }
            Self::V7 => {
                let mut bytes = Zeroizing::new([0u8; 10]);
                rng.fill(&mut bytes[..])?;
                let millis = now
                    .duration_since(UNIX_EPOCH)
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                    .unwrap_or(0);
                Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
            }
        };
        Ok(uuid.hyphenated().to_string())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashSet;
    use std::time::Duration;
    use uuid::{Uuid, Variant, Version};

    fn compile(config: serde_json::Value) -> Result<UuidVersion, GenerateError> {
        UuidVersion::compile(&Config::new(&config, "fields[0].config", "uuid", KEYS)?)
    }

    #[test]
    #[allow(
        clippy::disallowed_methods,
        reason = "version 4 ignores the time; any instant will do"
    )]
    fn version_4_parses_back_as_random() {
        let mut rng = Rng::new();
        let version = compile(json!({})).unwrap();
        let mut seen = HashSet::new();
        for _ in 0..100 {
            let text = version.generate(&mut rng, SystemTime::now()).unwrap();
            let uuid = Uuid::parse_str(&text).unwrap();
            assert_eq!(uuid.get_version(), Some(Version::Random));
            assert_eq!(uuid.get_variant(), Variant::RFC4122);
            assert_eq!(text, text.to_lowercase());
            assert_eq!(text.len(), 36);
            assert!(seen.insert(text));
        }
    }

    #[test]
    fn version_7_carries_the_time() {
        let mut rng = Rng::new();
        let version = compile(json!({"version": 7})).unwrap();
        let now = UNIX_EPOCH + Duration::from_millis(1_767_225_600_123);
        let text = version.generate(&mut rng, now).unwrap();
        let uuid = Uuid::parse_str(&text).unwrap();
        assert_eq!(uuid.get_version(), Some(Version::SortRand));
        let (seconds, nanos) = uuid.get_timestamp().unwrap().to_unix();
        assert_eq!((seconds, nanos / 1_000_000), (1_767_225_600, 123));
        assert_ne!(text, version.generate(&mut rng, now).unwrap());
    }

    #[test]
    fn validation_messages() {
        for bad in [json!({"version": 5}), json!({"version": "4"})] {
            assert_eq!(
                compile(bad).unwrap_err().to_string(),
                "fields[0].config.version: must be one of 4, 7"
            );
        }
    }
}
