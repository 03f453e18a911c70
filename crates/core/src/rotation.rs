//! The rotation schedule as pure functions of time: when a secret rotates next, when its
//! `rotation.due` warnings go out, how failed attempts back off, and the optional cron window.
//! The scheduler (server) stores the results and acts on them; everything here is tested
//! without a clock by passing instants in.

use std::str::FromStr;
use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};

use crate::duration::{DurationError, parse_duration};

/// The shortest interval accepted: rotating more often is a bug, not a policy.
pub const MIN_INTERVAL: StdDuration = StdDuration::from_secs(60);
/// At most this many warnings per policy.
pub const MAX_WARNINGS: usize = 10;
/// First retry after a failed rotation; doubles per failure up to [`MAX_RETRY_DELAY`].
pub const FIRST_RETRY_DELAY: StdDuration = StdDuration::from_secs(60);
pub const MAX_RETRY_DELAY: StdDuration = StdDuration::from_secs(3600);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    #[error("{field}: {source}")]
    Duration {
        field: &'static str,
        source: DurationError,
    },
    #[error("interval: must be at least 1m")]
    IntervalTooShort,
    #[error("grace_period: must be shorter than the interval")]
    GraceTooLong,
    #[error("warn_before[{index}]: must be shorter than the interval")]
    WarningTooEarly { index: usize },
    #[error("warn_before: at most {MAX_WARNINGS} warnings, each given once")]
    Warnings,
    #[error("window: {0}")]
    Window(String),
}

/// A cron-style window (`minute hour day-of-month month day-of-week`, UTC): a due rotation
/// waits for the next minute that matches.
#[derive(Debug, Clone)]
pub struct Window {
    cron: croner::Cron,
    expression: String,
}

impl Window {
    pub fn parse(expression: &str) -> Result<Self, RotationError> {
        let expression = expression.trim();
        // Five fields exactly: seconds and years would be surprising in a maintenance window.
        if expression.split_whitespace().count() != 5 {
            return Err(RotationError::Window(
                "use five fields: minute hour day-of-month month day-of-week, e.g. \"0 2-4 * * 1-5\""
                    .into(),
            ));
        }
        let cron =
            croner::Cron::from_str(expression).map_err(|e| RotationError::Window(e.to_string()))?;
        // A pattern that never matches (e.g. 30 February) would stop rotation silently.
        let probe = Self {
            cron,
            expression: expression.to_owned(),
        };
        if probe.next_at_or_after(OffsetDateTime::UNIX_EPOCH).is_none() {
            return Err(RotationError::Window("the expression never matches".into()));
        }
        Ok(probe)
    }

    pub fn as_str(&self) -> &str {
        &self.expression
    }

    /// The first instant at or after `t` (rounded up to the minute) inside the window.
    pub fn next_at_or_after(&self, t: OffsetDateTime) -> Option<OffsetDateTime> {
        let start = chrono::DateTime::from_timestamp(t.unix_timestamp(), t.nanosecond())?;
        let next = self.cron.find_next_occurrence(&start, true).ok()?;
        OffsetDateTime::from_unix_timestamp(next.timestamp()).ok()
    }
}

/// A validated rotation policy's timing.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub interval: StdDuration,
    pub grace: StdDuration,
    /// Largest first.
    pub warn_before: Vec<StdDuration>,
    pub window: Option<Window>,
}

fn parse_field(field: &'static str, value: &str) -> Result<StdDuration, RotationError> {
    parse_duration(value).map_err(|source| RotationError::Duration { field, source })
}

fn span(d: StdDuration) -> Duration {
    Duration::try_from(d).unwrap_or(Duration::MAX)
}

impl Schedule {
    /// Validates a policy as users write it (`90d`, `48h`, `["7d", "1d"]`, cron window).
    pub fn parse(
        interval: &str,
        grace: Option<&str>,
        warn_before: &[String],
        window: Option<&str>,
    ) -> Result<Self, RotationError> {
        let interval = parse_field("interval", interval)?;
        let grace = match grace {
            Some(g) if !g.trim().is_empty() && g.trim() != "0" => parse_field("grace_period", g)?,
            _ => StdDuration::ZERO,
        };
        let mut warnings = Vec::with_capacity(warn_before.len());
        for (index, w) in warn_before.iter().enumerate() {
            let d = parse_duration(w).map_err(|source| RotationError::Duration {
                field: "warn_before",
                source,
            })?;
            if d >= interval {
                return Err(RotationError::WarningTooEarly { index });
            }
            warnings.push(d);
        }
        let window = window
            .filter(|w| !w.trim().is_empty())
            .map(Window::parse)
            .transpose()?;
        Self::new(interval, grace, warnings, window)
    }

    /// Validates a policy from stored seconds.
    pub fn new(
        interval: StdDuration,
        grace: StdDuration,
        mut warn_before: Vec<StdDuration>,
        window: Option<Window>,
    ) -> Result<Self, RotationError> {
        if interval < MIN_INTERVAL {
            return Err(RotationError::IntervalTooShort);
        }
        if grace >= interval {
            return Err(RotationError::GraceTooLong);
        }
        if let Some(index) = warn_before.iter().position(|w| *w >= interval) {
            return Err(RotationError::WarningTooEarly { index });
        }
        warn_before.sort_unstable_by(|a, b| b.cmp(a));
        let before = warn_before.len();
        warn_before.dedup();
        if warn_before.len() != before || warn_before.len() > MAX_WARNINGS {
            return Err(RotationError::Warnings);
        }
        Ok(Self {
            interval,
            grace,
            warn_before,
            window,
        })
    }

    /// When a secret rotated (or was assigned) at `base` rotates next: one interval later,
    /// moved to the window's next opening. Measuring from the actual rotation means a
    /// rotation missed during downtime runs once, not once per missed interval.
    pub fn next_rotation(&self, base: OffsetDateTime) -> OffsetDateTime {
        let due = base.saturating_add(span(self.interval));
        match &self.window {
            Some(w) => w.next_at_or_after(due).unwrap_or(due),
            None => due,
        }
    }

    /// The next warning for a rotation due at `due`: the earliest `due - warn_before[i]` that
    /// is later than `after` (warnings that passed while nobody was looking are skipped, so
    /// downtime sends one warning, not a burst). `None` when no warning is left.
    pub fn next_warning(
        &self,
        due: OffsetDateTime,
        after: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        self.warn_before
            .iter()
            .map(|w| due.saturating_sub(span(*w)))
            .filter(|t| *t > after && *t < due)
            .min()
    }

    /// The warning offset that `warning_at` stands for (for the event's data).
    pub fn warning_offset(&self, due: OffsetDateTime, warning_at: OffsetDateTime) -> StdDuration {
        StdDuration::try_from(due - warning_at).unwrap_or_default()
    }

    /// When the previous version retires after a rotation at `now`.
    pub fn retires_at(&self, now: OffsetDateTime) -> OffsetDateTime {
        now.saturating_add(span(self.grace))
    }
}

/// How long to wait after the `attempt`-th consecutive failure (1-based): 1m, 2m, 4m, ...
/// capped at 1h. Never sooner, so a broken generator cannot spin.
pub fn retry_delay(attempt: u32) -> StdDuration {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    FIRST_RETRY_DELAY
        .checked_mul(factor)
        .unwrap_or(MAX_RETRY_DELAY)
        .min(MAX_RETRY_DELAY)
}

/// `90d`, `48h`, `1h30m`, `0s`: the compact form stored seconds are shown in.
pub fn format_duration(d: StdDuration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn quarterly() -> Schedule {
        Schedule::parse("90d", Some("48h"), &["7d".into(), "1d".into()], None).unwrap()
    }

    #[test]
    fn validation_names_the_field() {
        let e = Schedule::parse("30s", None, &[], None).unwrap_err();
        assert_eq!(e, RotationError::IntervalTooShort);
        let e = Schedule::parse("1d", Some("2d"), &[], None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "grace_period: must be shorter than the interval"
        );
        let e = Schedule::parse("1d", None, &["12h".into(), "2d".into()], None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "warn_before[1]: must be shorter than the interval"
        );
        let e = Schedule::parse("1d", None, &["1h".into(), "60m".into()], None).unwrap_err();
        assert_eq!(e, RotationError::Warnings);
        let e = Schedule::parse("soon", None, &[], None).unwrap_err();
        assert!(
            e.to_string().starts_with("interval: invalid duration"),
            "{e}"
        );
        assert!(Schedule::parse("1d", None, &[], Some("0 2 * *")).is_err());
        assert!(Schedule::parse("1d", None, &[], Some("0 2 30 2 *")).is_err());
        assert!(Schedule::parse("1d", None, &[], Some("every night")).is_err());
    }

    #[test]
    fn warnings_are_sorted_largest_first() {
        let s = Schedule::parse("90d", None, &["1d".into(), "7d".into()], None).unwrap();
        assert_eq!(
            s.warn_before,
            vec![
                StdDuration::from_secs(7 * 86_400),
                StdDuration::from_secs(86_400)
            ]
        );
    }

    /// A simulated year, one hour per step: 4 rotations 90 days apart, two warnings before
    /// each, grace of exactly 48 hours.
    #[test]
    fn a_year_of_quarterly_rotation() {
        let s = quarterly();
        let start = datetime!(2026-01-01 00:00 UTC);
        let mut due = s.next_rotation(start);
        let mut warning = s.next_warning(due, start);
        let (mut rotations, mut warnings) = (Vec::new(), Vec::new());
        let mut now = start;
        while now < start + Duration::days(365) {
            now += Duration::hours(1);
            if let Some(w) = warning.filter(|w| *w <= now) {
                warnings.push(s.warning_offset(due, w));
                warning = s.next_warning(due, now);
            }
            if due <= now {
                rotations.push(now);
                assert_eq!(s.retires_at(now) - now, Duration::hours(48));
                due = s.next_rotation(now);
                warning = s.next_warning(due, now);
            }
        }
        assert_eq!(rotations.len(), 4, "{rotations:?}");
        assert_eq!(rotations[0], datetime!(2026-04-01 00:00 UTC));
        for pair in rotations.windows(2) {
            assert_eq!(pair[1] - pair[0], Duration::days(90));
        }
        let week = StdDuration::from_secs(7 * 86_400);
        let day = StdDuration::from_secs(86_400);
        assert_eq!(warnings, [week, day].repeat(4));
    }

    #[test]
    fn downtime_collapses_missed_work() {
        let s = quarterly();
        let start = datetime!(2026-01-01 00:00 UTC);
        let due = s.next_rotation(start);
        // Down for a whole year: on start, one rotation now, the next 90 days later.
        let back = start + Duration::days(400);
        assert!(due <= back);
        assert_eq!(s.next_rotation(back), back + Duration::days(90));
        // Both warnings passed while down: none is left for this cycle.
        assert_eq!(s.next_warning(due, back), None);
        // Back 3 days before the due time: the 7d warning is skipped, the 1d one still comes.
        let back = due - Duration::days(3);
        assert_eq!(s.next_warning(due, back), Some(due - Duration::days(1)));
    }

    #[test]
    fn the_window_delays_a_due_rotation_to_its_next_opening() {
        let s = Schedule::parse("1d", None, &[], Some("0 2 * * 1-5")).unwrap();
        // Friday 10:00 + 1 day = Saturday 10:00 -> Monday 02:00.
        let base = datetime!(2026-11-20 10:00 UTC);
        assert_eq!(s.next_rotation(base), datetime!(2026-11-23 02:00 UTC));
        // Already inside the window: at once.
        let s = Schedule::parse("1d", None, &[], Some("* * * * *")).unwrap();
        assert_eq!(s.next_rotation(base), base + Duration::days(1));
    }

    #[test]
    fn retries_back_off_and_cap() {
        let secs: Vec<u64> = (1..=9).map(|a| retry_delay(a).as_secs()).collect();
        assert_eq!(secs, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(retry_delay(200), MAX_RETRY_DELAY);
    }

    #[test]
    fn durations_format_compactly() {
        assert_eq!(format_duration(StdDuration::from_secs(90 * 86_400)), "90d");
        assert_eq!(format_duration(StdDuration::from_secs(48 * 3600)), "2d");
        assert_eq!(format_duration(StdDuration::from_secs(36 * 3600)), "1d12h");
        assert_eq!(format_duration(StdDuration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(StdDuration::ZERO), "0s");
    }
}
