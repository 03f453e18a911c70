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
    ///
    /// aws-lc's RNG aborts the process rather than fail; should it ever report an error anyway,
    /// the octets come from SHA-256 over the process id, a monotonic instant and a process-wide
    /// counter (unique within the process; the store's unique index catches the rest).
    pub fn random() -> Self {
        use aws_lc_rs::rand::{SecureRandom, SystemRandom};
        let mut bytes = [0u8; 16];
        if SystemRandom::new().fill(&mut bytes).is_err() {
            bytes = fallback_octets();
        }
        bytes[0] = (bytes[0] & 0x7f) | 0x40;
        Serial(bytes.to_vec())
    }

    /// Lowercase hex without separators, e.g. "4f1a...".
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses hex (either case; ':' separators and a leading "0x" are accepted). Refuses empty,
    /// zero and values longer than 20 octets as a DER INTEGER (RFC 5280 4.1.2.2).
    pub fn from_hex(s: &str) -> Result<Self, PkiError> {
        let invalid = |why: &str| PkiError::InvalidName(format!("invalid serial {s:?}: {why}"));
        let trimmed = s.trim();
        let trimmed = trimmed
            .strip_prefix("0x")
            .or_else(|| trimmed.strip_prefix("0X"))
            .unwrap_or(trimmed);
        let digits: Vec<u8> = trimmed.bytes().filter(|b| *b != b':').collect();
        if digits.is_empty() {
            return Err(invalid("empty"));
        }
        let mut values = Vec::with_capacity(digits.len());
        for d in digits {
            let v = (d as char)
                .to_digit(16)
                .ok_or_else(|| invalid("not hexadecimal"))?;
            values.push(v as u8);
        }
        // An odd number of digits has an implicit leading zero.
        if values.len() % 2 == 1 {
            values.insert(0, 0);
        }
        let bytes: Vec<u8> = values.chunks(2).map(|p| (p[0] << 4) | p[1]).collect();
        let serial = Serial::from_magnitude(&bytes);
        if serial.0 == [0] {
            return Err(invalid("zero"));
        }
        // 20 octets as a DER INTEGER: a 20-octet magnitude with its top bit set would need a
        // 21st (sign) octet.
        let too_long = serial.0.len() > 20 || (serial.0.len() == 20 && serial.0[0] & 0x80 != 0);
        if too_long {
            return Err(invalid("longer than 20 octets"));
        }
        Ok(serial)
    }

    /// From a big-endian magnitude (leading zero octets, such as a DER INTEGER's sign octet, are
    /// dropped). Not range-checked: for serials read from existing certificates.
    pub(crate) fn from_magnitude(bytes: &[u8]) -> Self {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        let trimmed = &bytes[start..];
        if trimmed.is_empty() {
            Serial(vec![0])
        } else {
            Serial(trimmed.to_vec())
        }
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

fn fallback_octets() -> [u8; 16] {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let instant = format!("{:?}", std::time::Instant::now());
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(&std::process::id().to_be_bytes());
    ctx.update(&n.to_be_bytes());
    ctx.update(instant.as_bytes());
    let digest = ctx.finish();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest.as_ref()[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_is_positive_16_octets() {
        for _ in 0..64 {
            let s = Serial::random();
            assert_eq!(s.as_bytes().len(), 16);
            assert_eq!(s.as_bytes()[0] & 0x80, 0);
            assert_eq!(s.to_hex().len(), 32);
            assert_eq!(Serial::from_hex(&s.to_hex()).unwrap(), s);
        }
        assert_ne!(Serial::random(), Serial::random());
    }

    #[test]
    fn hex_forms() {
        let s = Serial::from_hex("0A:bc:01").unwrap();
        assert_eq!(s.as_bytes(), &[0x0a, 0xbc, 0x01]);
        assert_eq!(s.to_hex(), "0abc01");
        assert_eq!(Serial::from_hex("0x00abc").unwrap().to_hex(), "0abc");
        assert_eq!(Serial::from_hex("1").unwrap().as_bytes(), &[1]);
        assert_eq!(
            Serial::from_hex(&"7f".repeat(20)).unwrap().as_bytes().len(),
            20
        );
        for bad in [
            "",
            "0",
            "00:00",
            "xyz",
            &"01".repeat(21),
            &"80".repeat(20),
            "12 34",
        ] {
            assert!(Serial::from_hex(bad).is_err(), "{bad:?} accepted");
        }
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"0abc01\"");
        assert_eq!(serde_json::from_str::<Serial>(&json).unwrap(), s);
    }
}
