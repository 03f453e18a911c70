//! Durations as users write them: `90d`, `48h`, `30m`, `1h30m`, `7d,1d` (lists are split by the
//! caller). Units: `s`, `m`, `h`, `d`, `w` (and humantime's long forms). No bare numbers: `90`
//! is ambiguous, so it is refused.

use std::time::Duration;

/// The longest duration accepted anywhere (100 years): protects timestamp arithmetic.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The caller sent something that is not a duration.
    #[error("invalid duration {0:?}: use a number and a unit, e.g. 90d, 48h, 30m, 1h30m")]
    Malformed(String),
    /// Zero is never a useful lifetime or interval.
    #[error("duration must be greater than zero")]
    Zero,
    #[error("duration is longer than 100 years")]
    TooLong,
}

/// Parses a positive duration such as `90d` or `1h30m`.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let s = input.trim();
    let malformed = || DurationError::Malformed(truncate_for_message(input));
    // humantime accepts a bare "0" and spaces between parts; we want one compact token with units.
    if s.is_empty() || s.contains(char::is_whitespace) || s.chars().all(|c| c.is_ascii_digit()) {
        return Err(malformed());
    }
    let d = humantime::parse_duration(s).map_err(|_| malformed())?;
    if d.is_zero() {
        return Err(DurationError::Zero);
    }
    if d > MAX_DURATION {
        return Err(DurationError::TooLong);
    }
    Ok(d)
}

fn truncate_for_message(s: &str) -> String {
    s.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn documented_forms() {
        assert_eq!(parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse_duration("48h"), Ok(Duration::from_secs(48 * 3600)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(30 * 60)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in [
            "",
            " ",
            "90",
            "d",
            "h1",
            "1x",
            "-1h",
            "1h 30m",
            "1h-30m",
            "ninety days",
            "0s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(parse_duration("0d"), Err(DurationError::Zero));
        assert_eq!(parse_duration("40000d"), Err(DurationError::TooLong));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse_duration(&s);
        }

        #[test]
        fn unit_arithmetic(n in 1u64..10_000, unit in prop::sample::select(vec![("s", 1u64), ("m", 60), ("h", 3600), ("d", 86_400)])) {
            let parsed = parse_duration(&format!("{n}{}", unit.0)).unwrap();
            prop_assert_eq!(parsed, Duration::from_secs(n * unit.1));
        }

        #[test]
        fn compound_is_sum(h in 1u64..1000, m in 1u64..60) {
            let parsed = parse_duration(&format!("{h}h{m}m")).unwrap();
            prop_assert_eq!(parsed, Duration::from_secs(h * 3600 + m * 60));
        }
    }
}
