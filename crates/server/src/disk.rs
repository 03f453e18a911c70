//! Free disk space: the threshold below which `/health/ready` warns (`min_free_disk`), and the
//! measurement behind it and `operator storage`.

use std::path::Path;

/// `min_free_disk`: bytes, or a share of the disk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MinFree {
    Bytes(u64),
    Percent(f64),
}

impl MinFree {
    /// `"1GiB"`, `"500MB"`, `"1048576"`, `"5%"`; `"0"` disables the warning.
    pub fn parse(value: &str) -> Result<Self, String> {
        let v = value.trim();
        if let Some(p) = v.strip_suffix('%') {
            let p: f64 = p
                .trim()
                .parse()
                .map_err(|_| format!("expected a percentage like 5%, got '{v}'"))?;
            if !(0.0..=100.0).contains(&p) {
                return Err(format!("a percentage is 0-100, got '{v}'"));
            }
            return Ok(Self::Percent(p));
        }
        let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
        let (number, unit) = v.split_at(split);
        let number: u64 = number
            .parse()
            .map_err(|_| format!("expected a size like 1GiB or 5%, got '{v}'"))?;
        let unit: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            "TB" => 1_000_000_000_000,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "TiB" => 1 << 40,
            other => {
                return Err(format!(
                    "unknown unit '{other}' (B, KB, MB, GB, KiB, MiB, GiB, TiB)"
                ));
            }
        };
        number
            .checked_mul(unit)
            .map(Self::Bytes)
            .ok_or_else(|| format!("too large: '{v}'"))
    }

    /// Whether `free` of `total` bytes is below the threshold.
    pub fn is_low(&self, space: Space) -> bool {
        match *self {
            Self::Bytes(min) => space.free < min,
            Self::Percent(p) => (space.free as f64) < space.total as f64 * p / 100.0,
        }
    }
}

/// Space on the filesystem holding a path, in bytes (`free`: available to this process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    pub free: u64,
    pub total: u64,
}

/// The space of the filesystem holding `path` (or its nearest existing ancestor).
pub fn space(path: &Path) -> std::io::Result<Space> {
    let mut at = path;
    while !at.exists() {
        match at.parent() {
            Some(parent) => at = parent,
            None => break,
        }
    }
    let s = rustix::fs::statvfs(at).map_err(std::io::Error::from)?;
    Ok(Space {
        free: s.f_bavail.saturating_mul(s.f_frsize),
        total: s.f_blocks.saturating_mul(s.f_frsize),
    })
}

/// `1.5 GiB`, `12.0 MiB`, `512 B`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse() {
        assert_eq!(MinFree::parse("1GiB"), Ok(MinFree::Bytes(1 << 30)));
        assert_eq!(MinFree::parse("500MB"), Ok(MinFree::Bytes(500_000_000)));
        assert_eq!(MinFree::parse("0"), Ok(MinFree::Bytes(0)));
        assert_eq!(MinFree::parse("5%"), Ok(MinFree::Percent(5.0)));
        assert!(MinFree::parse("5 parsecs").is_err());
        assert!(MinFree::parse("101%").is_err());
        let space = Space {
            free: 10,
            total: 100,
        };
        assert!(MinFree::Percent(11.0).is_low(space));
        assert!(!MinFree::Percent(10.0).is_low(space));
        assert!(MinFree::Bytes(11).is_low(space));
    }
}
