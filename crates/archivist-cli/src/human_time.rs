//! Unix seconds as a reader reads them (`2020-01-01 00:00:00 UTC`), for event
//! lines, `status` and import reports, without a calendar dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// `secs` since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub(crate) fn utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The current time as [`utc`] writes it.
pub(crate) fn now() -> String {
    utc(now_secs())
}

/// Seconds since the Unix epoch now (0 on a clock set before 1970).
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A span in seconds as `3 d 4 h`, `5 min 2 s`: the two largest units.
pub(crate) fn span(secs: u64) -> String {
    let units = [(86_400, "d"), (3600, "h"), (60, "min"), (1, "s")];
    let parts: Vec<String> = units
        .iter()
        .scan(secs, |left, &(size, name)| {
            let n = *left / size;
            *left %= size;
            Some((n, name))
        })
        .skip_while(|&(n, _)| n == 0)
        .take(2)
        .filter(|&(n, _)| n > 0)
        .map(|(n, name)| format!("{n} {name}"))
        .collect();
    if parts.is_empty() {
        "0 s".to_owned()
    } else {
        parts.join(" ")
    }
}

/// Howard Hinnant's `civil_from_days` for days since 1970-01-01 (proleptic
/// Gregorian), which holds for every `u64` second count a store can hold.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_and_spans() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_577_836_800), "2020-01-01 00:00:00 UTC");
        // A leap day and the second before a new year.
        assert_eq!(utc(1_582_977_600), "2020-02-29 12:00:00 UTC");
        assert_eq!(utc(1_609_459_199), "2020-12-31 23:59:59 UTC");
        assert_eq!(utc(4_102_444_800), "2100-01-01 00:00:00 UTC");
        assert_eq!(span(0), "0 s");
        assert_eq!(span(20), "20 s");
        assert_eq!(span(3 * 86_400 + 4 * 3600 + 7), "3 d 4 h");
        assert_eq!(span(86_400 + 30), "1 d");
        assert_eq!(span(302), "5 min 2 s");
    }
}
