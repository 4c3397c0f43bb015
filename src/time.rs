//! Simulated time: integer milliseconds from the scenario start.
//!
//! Durations are written in scenarios as a sequence of `<integer><unit>` parts with units `d`, `h`,
//! `m`, `s` and `ms`, for example `8h`, `1h30m`, `24h5m` or `250ms`. The same form is used when a
//! duration is printed, so a value from an output can be pasted back into a scenario.

use std::fmt;

/// An instant of simulated time, in milliseconds from the scenario start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(pub u64);

/// A length of simulated time, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimDuration(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    /// An instant later than any instant a scenario can reach.
    pub const NEVER: SimTime = SimTime(u64::MAX);

    pub fn ms(self) -> u64 {
        self.0
    }

    /// Returns the instant `d` later, saturating at [`SimTime::NEVER`].
    pub fn after(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }

    /// Returns the instant `d` earlier, saturating at zero.
    pub fn before(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_sub(d.0))
    }

    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);

    pub const fn from_millis(ms: u64) -> SimDuration {
        SimDuration(ms)
    }

    pub const fn from_secs(s: u64) -> SimDuration {
        SimDuration(s * 1_000)
    }

    pub const fn from_mins(m: u64) -> SimDuration {
        SimDuration(m * 60_000)
    }

    pub const fn from_hours(h: u64) -> SimDuration {
        SimDuration(h * 3_600_000)
    }

    pub fn ms(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// Formats milliseconds as hours, minutes, seconds and milliseconds, omitting zero parts:
/// `0s`, `250ms`, `12m30s`, `48h10m`. Days are written as hours, as token lifetimes are.
pub fn format_duration(ms: u64) -> String {
    let mut out = Vec::with_capacity(16);
    push_duration(&mut out, ms);
    String::from_utf8(out).expect("digits and unit letters are ASCII")
}

/// Appends the form of [`format_duration`] to `out`, without allocating when `out` has room.
pub fn push_duration(out: &mut Vec<u8>, ms: u64) {
    if ms == 0 {
        out.extend_from_slice(b"0s");
        return;
    }
    let parts: [(u64, &[u8]); 4] = [
        (ms / 3_600_000, b"h"),
        (ms / 60_000 % 60, b"m"),
        (ms / 1_000 % 60, b"s"),
        (ms % 1_000, b"ms"),
    ];
    for (value, unit) in parts {
        if value > 0 {
            push_decimal(out, value);
            out.extend_from_slice(unit);
        }
    }
}

/// Appends the decimal digits of `value` to `out`.
pub fn push_decimal(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// An invalid duration string, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationParseError(pub String);

impl fmt::Display for DurationParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a duration such as `8h`, `1h30m`, `24h5m`, `90s`, `250ms` or `2d` into milliseconds.
///
/// Units may appear in any order but each at most once; `0` alone is accepted as zero.
pub fn parse_duration(text: &str) -> Result<SimDuration, DurationParseError> {
    let s = text.trim();
    if s == "0" {
        return Ok(SimDuration::ZERO);
    }
    if s.is_empty() {
        return Err(DurationParseError(
            "empty duration; write for example `8h`, `1h30m` or `250ms`".into(),
        ));
    }
    let bytes = s.as_bytes();
    let mut total: u64 = 0;
    let mut seen: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(DurationParseError(format!(
                "invalid duration `{text}`: expected a number at `{}`; write for example `8h`, `1h30m` or `250ms`",
                &s[start..]
            )));
        }
        let number: u64 = s[start..i].parse().map_err(|_| {
            DurationParseError(format!("invalid duration `{text}`: number too large"))
        })?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[unit_start..i];
        let factor: u64 = match unit {
            "d" => 86_400_000,
            "h" => 3_600_000,
            "m" | "min" => 60_000,
            "s" => 1_000,
            "ms" => 1,
            "" => {
                return Err(DurationParseError(format!(
                    "invalid duration `{text}`: `{number}` has no unit; valid units are d, h, m, s, ms"
                )));
            }
            other => {
                return Err(DurationParseError(format!(
                    "invalid duration `{text}`: unknown unit `{other}`; valid units are d, h, m, s, ms"
                )));
            }
        };
        if seen.contains(&unit) {
            return Err(DurationParseError(format!(
                "invalid duration `{text}`: unit `{unit}` appears twice"
            )));
        }
        seen.push(unit);
        let part = number.checked_mul(factor).ok_or_else(|| {
            DurationParseError(format!("invalid duration `{text}`: value too large"))
        })?;
        total = total.checked_add(part).ok_or_else(|| {
            DurationParseError(format!("invalid duration `{text}`: value too large"))
        })?;
    }
    Ok(SimDuration(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compound_durations() {
        assert_eq!(parse_duration("8h").unwrap().ms(), 8 * 3_600_000);
        assert_eq!(parse_duration("1h30m").unwrap().ms(), 90 * 60_000);
        assert_eq!(
            parse_duration("24h5m").unwrap().ms(),
            (24 * 60 + 5) * 60_000
        );
        assert_eq!(parse_duration("250ms").unwrap().ms(), 250);
        assert_eq!(parse_duration("2d").unwrap().ms(), 48 * 3_600_000);
        assert_eq!(parse_duration("0").unwrap().ms(), 0);
        assert_eq!(parse_duration("0s").unwrap().ms(), 0);
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in ["", "8", "h", "8x", "1h1h", "-5m", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn formats_round_trip() {
        for ms in [0, 250, 1_000, 750_000, 173_400_000, 86_700_000, 3_600_001] {
            let text = format_duration(ms);
            assert_eq!(parse_duration(&text).unwrap().ms(), ms, "{text}");
        }
        assert_eq!(format_duration(750_000), "12m30s");
        assert_eq!(format_duration(173_400_000), "48h10m");
    }
}
