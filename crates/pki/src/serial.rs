//! Certificate serial numbers.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::PkiError;

/// A certificate serial number: a positive integer of at most 20 octets, held as its big-endian
/// magnitude without leading zero octets (so the same number always has the same bytes and hex).
/// Serialized as its hex form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Serial(Vec<u8>);

impl Serial {
    /// 16 random octets (aws-lc-rs's RNG), the top bit cleared and the next one set, so the number
    /// is positive, non-zero and always 16 octets (32 hex digits).
    pub fn random() -> Self {
        todo!()
    }

    /// Lowercase hex without separators, e.g. "4f1a...".
    pub fn to_hex(&self) -> String {
        todo!()
    }

    /// Parses hex (either case; ':' separators and a leading "0x" are accepted). Refuses empty,
    /// zero and values longer than 20 octets.
    pub fn from_hex(s: &str) -> Result<Self, PkiError> {
        todo!()
    }

    /// The big-endian magnitude, without leading zero octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial({})", self.to_hex())
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl TryFrom<String> for Serial {
    type Error = PkiError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Serial::from_hex(&s)
    }
}

impl From<Serial> for String {
    fn from(s: Serial) -> Self {
        s.to_hex()
    }
}
