//! RFC 3339 timestamps in UTC with a `Z` suffix and at most microsecond precision, as the docs
//! write them (`2026-04-23T14:30:00Z`, `2026-04-23T14:30:00.123456Z`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// A point in time, always UTC, truncated to whole microseconds so that it survives a round trip
/// through storage (which keeps microseconds) unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, utoipa::ToSchema)]
#[schema(value_type = String, format = DateTime, example = "2026-04-23T14:30:00Z")]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Wraps `at`, converted to UTC and truncated to microseconds.
    pub fn new(at: OffsetDateTime) -> Self {
        let utc = at.to_offset(UtcOffset::UTC);
        let micros = utc.microsecond();
        Self(utc.replace_microsecond(micros).unwrap_or(utc))
    }

    /// Microseconds since the Unix epoch (the storage representation).
    pub fn unix_micros(self) -> i64 {
        // i128 -> i64 cannot overflow for any year `time` represents by default (±9999).
        (self.0.unix_timestamp_nanos() / 1_000) as i64
    }

    /// Inverse of [`Timestamp::unix_micros`]; `None` when out of range.
    pub fn from_unix_micros(micros: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
            .ok()
            .map(Self)
    }

    /// Parses an RFC 3339 timestamp with any offset (stored as UTC).
    pub fn parse(s: &str) -> Option<Self> {
        OffsetDateTime::parse(s, &Rfc3339).ok().map(Self::new)
    }

    pub fn as_offset_date_time(self) -> OffsetDateTime {
        self.0
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(at: OffsetDateTime) -> Self {
        Self::new(at)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )?;
        if t.microsecond() != 0 {
            write!(f, ".{:06}", t.microsecond())?;
        }
        f.write_str("Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).ok_or_else(|| {
            serde::de::Error::custom("expected an RFC 3339 timestamp such as 2026-04-23T14:30:00Z")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_docs() {
        let t = Timestamp::parse("2026-04-23T14:30:00Z").unwrap();
        assert_eq!(t.to_string(), "2026-04-23T14:30:00Z");
        let t = Timestamp::parse("2026-04-23T16:30:00.123456789+02:00").unwrap();
        assert_eq!(t.to_string(), "2026-04-23T14:30:00.123456Z");
    }

    #[test]
    fn survives_storage_round_trip() {
        let t = Timestamp::parse("2026-04-23T14:30:00.000001Z").unwrap();
        assert_eq!(Timestamp::from_unix_micros(t.unix_micros()), Some(t));
    }

    #[test]
    fn rejects_garbage() {
        assert!(Timestamp::parse("yesterday").is_none());
        assert!(Timestamp::parse("2026-04-23").is_none());
    }
}
