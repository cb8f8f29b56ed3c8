//! The times and durations a download policy is written with: RFC 3339
//! timestamps (a bare `YYYY-MM-DD` is midnight UTC) or Unix seconds, and
//! durations such as `30d`. No calendar crate: the proleptic Gregorian
//! arithmetic is a few lines and keeps this crate's dependencies as they are.

use crate::error::{Error, Result};

const SECONDS_PER_DAY: i64 = 86_400;

/// Unix seconds from RFC 3339 (`2026-01-01T12:00:00Z`, `…+02:00`, fractions
/// truncated, or a bare `2026-01-01` at midnight UTC) or from decimal Unix
/// seconds (`1767225600`). Times before 1970 are rejected.
pub fn parse_timestamp(input: &str) -> Result<u64> {
    let text = input.trim();
    let invalid = |reason: &'static str| Error::InvalidTime {
        what: "timestamp",
        input: input.chars().take(80).collect(),
        reason,
    };
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map_err(|_| invalid("Unix seconds past the largest 64-bit value"));
    }
    let b = text.as_bytes();
    let number = |from: usize, len: usize| -> Result<i64> {
        let digits = b
            .get(from..from + len)
            .filter(|d| d.iter().all(u8::is_ascii_digit))
            .ok_or_else(|| invalid("expected RFC 3339 (2026-01-01T00:00:00Z) or Unix seconds"))?;
        Ok(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let expect = |at: usize, allowed: &[u8]| -> Result<()> {
        match b.get(at) {
            Some(c) if allowed.contains(c) => Ok(()),
            _ => Err(invalid(
                "expected RFC 3339 (2026-01-01T00:00:00Z) or Unix seconds",
            )),
        }
    };
    let (year, month, day) = (number(0, 4)?, number(5, 2)?, number(8, 2)?);
    expect(4, b"-")?;
    expect(7, b"-")?;
    if !(1..=12).contains(&month) {
        return Err(invalid("month out of range"));
    }
    if !(1..=days_in_month(year, month)).contains(&day) {
        return Err(invalid("day out of range for its month"));
    }
    let mut seconds = days_from_civil(year, month, day) * SECONDS_PER_DAY;
    if b.len() > 10 {
        expect(10, b"Tt ")?;
        let (hour, minute, second) = (number(11, 2)?, number(14, 2)?, number(17, 2)?);
        expect(13, b":")?;
        expect(16, b":")?;
        if hour > 23 || minute > 59 || second > 60 {
            return Err(invalid("time of day out of range"));
        }
        seconds += hour * 3600 + minute * 60 + second;
        let mut at = 19;
        if b.get(at) == Some(&b'.') {
            at += 1;
            let start = at;
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            if at == start {
                return Err(invalid("a fraction of a second needs digits"));
            }
        }
        match b.get(at) {
            Some(b'Z' | b'z') if b.len() == at + 1 => {}
            Some(sign @ (b'+' | b'-')) if b.len() == at + 6 => {
                let (hours, minutes) = (number(at + 1, 2)?, number(at + 4, 2)?);
                expect(at + 3, b":")?;
                if hours > 23 || minutes > 59 {
                    return Err(invalid("UTC offset out of range"));
                }
                let offset = hours * 3600 + minutes * 60;
                seconds -= if *sign == b'+' { offset } else { -offset };
            }
            _ => {
                return Err(invalid(
                    "expected a UTC offset (Z or ±HH:MM) after the time",
                ));
            }
        }
    }
    u64::try_from(seconds).map_err(|_| invalid("before 1970-01-01T00:00:00Z"))
}

/// `seconds` as RFC 3339 in UTC (`2026-01-01T00:00:00Z`), or as decimal Unix
/// seconds past year 9999; [`parse_timestamp`] reads either back exactly.
pub fn format_timestamp(seconds: u64) -> String {
    let Ok(signed) = i64::try_from(seconds) else {
        return seconds.to_string();
    };
    let (days, rest) = (signed / SECONDS_PER_DAY, signed % SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    if year > 9999 {
        return seconds.to_string();
    }
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Seconds from a duration such as `30d`: a whole number and one unit of
/// `s`, `m`, `h`, `d` or `w`; at least one second.
pub fn parse_duration(input: &str) -> Result<u64> {
    let text = input.trim();
    let invalid = |reason: &'static str| Error::InvalidTime {
        what: "duration",
        input: input.chars().take(80).collect(),
        reason,
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| invalid("needs a unit: s, m, h, d or w (as in 30d)"))?;
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(invalid(
            "expected a whole number before the unit (as in 30d)",
        ));
    }
    let unit_seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(invalid("unknown unit; use s, m, h, d or w (as in 30d)")),
    };
    let seconds = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_seconds))
        .ok_or_else(|| invalid("longer than 64-bit seconds"))?;
    if seconds == 0 {
        return Err(invalid("must be at least one second"));
    }
    Ok(seconds)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(parse_timestamp("1970-01-01").unwrap(), 0);
        assert_eq!(parse_timestamp("2026-01-01").unwrap(), 1_767_225_600);
        assert_eq!(
            parse_timestamp("2026-01-01T00:00:00Z").unwrap(),
            1_767_225_600
        );
        assert_eq!(
            parse_timestamp("2026-01-01T02:00:00.999+02:00").unwrap(),
            1_767_225_600
        );
        assert_eq!(
            parse_timestamp("2025-12-31T19:00:00-05:00").unwrap(),
            1_767_225_600
        );
        assert_eq!(parse_timestamp("2024-02-29").unwrap(), 1_709_164_800);
        assert_eq!(parse_timestamp(" 1767225600 ").unwrap(), 1_767_225_600);
        assert_eq!(format_timestamp(1_767_225_600), "2026-01-01T00:00:00Z");
    }

    #[test]
    fn bad_timestamps_are_named() {
        for bad in [
            "",
            "2026-13-01",
            "2025-02-29",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00+2:00",
            "2026-01-01T00:00:00.Z",
            "1969-12-31T23:59:59Z",
            "99999999999999999999999",
            "yesterday",
            "2026/01/01",
        ] {
            let e = parse_timestamp(bad).expect_err(bad);
            assert!(
                matches!(
                    e,
                    Error::InvalidTime {
                        what: "timestamp",
                        ..
                    }
                ),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_duration("2w").unwrap(), 14 * 86_400);
        assert_eq!(parse_duration("90m").unwrap(), 5400);
        assert_eq!(parse_duration("12h").unwrap(), 43_200);
        assert_eq!(parse_duration("45s").unwrap(), 45);
        for bad in [
            "",
            "30",
            "d",
            "0d",
            "30y",
            "-3d",
            "3.5d",
            "99999999999999999999w",
        ] {
            let e = parse_duration(bad).expect_err(bad);
            assert!(
                matches!(
                    e,
                    Error::InvalidTime {
                        what: "duration",
                        ..
                    }
                ),
                "{bad}: {e}"
            );
        }
    }

    proptest! {
        #[test]
        fn formatted_timestamps_parse_back(seconds in any::<u64>()) {
            prop_assert_eq!(parse_timestamp(&format_timestamp(seconds)).unwrap(), seconds);
        }

        #[test]
        fn unix_seconds_parse_as_themselves(seconds in any::<u64>()) {
            prop_assert_eq!(parse_timestamp(&seconds.to_string()).unwrap(), seconds);
        }

        #[test]
        fn an_offset_names_the_same_instant(
            seconds in 86_400u64..253_402_214_400,
            offset_minutes in -1439i64..=1439,
        ) {
            // The same instant written in local time at `offset_minutes`.
            let local = format_timestamp((seconds as i64 + offset_minutes * 60) as u64);
            let sign = if offset_minutes < 0 { '-' } else { '+' };
            let abs = offset_minutes.abs();
            let text = format!("{}{sign}{:02}:{:02}", &local[..19], abs / 60, abs % 60);
            prop_assert_eq!(parse_timestamp(&text).unwrap(), seconds);
        }

        #[test]
        fn days_round_trip(days in -1_000_000i64..3_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert!((1..=12).contains(&m) && (1..=days_in_month(y, m)).contains(&d));
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn durations_scale_by_their_unit(n in 1u64..1_000_000, unit in 0usize..5) {
            let (suffix, factor) = [("s", 1), ("m", 60), ("h", 3600), ("d", 86_400), ("w", 604_800)][unit];
            prop_assert_eq!(parse_duration(&format!("{n}{suffix}")).unwrap(), n * factor);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
            let _ = parse_timestamp(&text);
            let _ = parse_duration(&text);
        }
    }
}
