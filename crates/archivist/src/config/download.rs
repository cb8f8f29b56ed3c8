//! The `download` key of a joined community (spec 61): `"all"` (the
//! default), `"latest"`, `{ from = DATE, to = DATE }` (either may be left
//! out; RFC 3339, a bare date, a TOML date or Unix seconds), or
//! `{ last = "30d" }`. Read from the TOML value by hand, so that every
//! mistake names its key and what was expected.

use archive_index::{DownloadPolicy, TimeRange, parse_duration, parse_timestamp};

use super::ConfigError;

const EXPECTED: &str =
    "expected \"all\", \"latest\", { from = DATE, to = DATE } or { last = \"30d\" }";

/// The policy `value` at `key` (`joined[0].download`) says.
pub(super) fn download_policy(
    key: &str,
    value: &toml::Value,
) -> Result<DownloadPolicy, ConfigError> {
    match value {
        toml::Value::String(name) => match name.as_str() {
            "all" => Ok(DownloadPolicy::All),
            "latest" => Ok(DownloadPolicy::Latest),
            _ => Err(ConfigError::invalid(key, format!("{name:?}: {EXPECTED}"))),
        },
        toml::Value::Table(table) if table.contains_key("last") => {
            if let Some(other) = table.keys().find(|k| *k != "last") {
                return Err(ConfigError::invalid(
                    format!("{key}.{other}"),
                    "`last` stands alone",
                ));
            }
            let last_key = format!("{key}.last");
            let text = table["last"].as_str().ok_or_else(|| {
                ConfigError::invalid(&last_key, "expected a duration such as \"30d\"")
            })?;
            let seconds = parse_duration(text).map_err(|e| ConfigError::invalid(&last_key, e))?;
            Ok(DownloadPolicy::Last { seconds })
        }
        toml::Value::Table(table) => {
            if let Some(other) = table.keys().find(|k| *k != "from" && *k != "to") {
                return Err(ConfigError::invalid(format!("{key}.{other}"), EXPECTED));
            }
            let time = |name: &str| {
                table
                    .get(name)
                    .map(|v| timestamp(&format!("{key}.{name}"), v))
                    .transpose()
            };
            let (from, to) = (time("from")?, time("to")?);
            if from.is_none() && to.is_none() {
                return Err(ConfigError::invalid(key, EXPECTED));
            }
            let window = TimeRange {
                from: from.unwrap_or(0),
                to: to.unwrap_or(u64::MAX),
            };
            if window.from >= window.to {
                return Err(ConfigError::invalid(key, "`from` must be before `to`"));
            }
            Ok(DownloadPolicy::Window(window))
        }
        _ => Err(ConfigError::invalid(key, EXPECTED)),
    }
}

/// Unix seconds from a string (RFC 3339 or Unix seconds), an integer, or a
/// TOML date or offset date-time.
fn timestamp(key: &str, value: &toml::Value) -> Result<u64, ConfigError> {
    let text = match value {
        toml::Value::Integer(n) => {
            return u64::try_from(*n).map_err(|_| ConfigError::invalid(key, "before 1970"));
        }
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        _ => {
            return Err(ConfigError::invalid(
                key,
                "expected a date (RFC 3339, as \"2026-01-01\") or Unix seconds",
            ));
        }
    };
    parse_timestamp(&text).map_err(|e| ConfigError::invalid(key, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(toml_value: &str) -> Result<DownloadPolicy, ConfigError> {
        let table: toml::Table = format!("download = {toml_value}").parse().unwrap();
        download_policy("joined[0].download", &table["download"])
    }

    #[test]
    fn each_form_reads() {
        assert_eq!(policy("\"all\"").unwrap(), DownloadPolicy::All);
        assert_eq!(policy("\"latest\"").unwrap(), DownloadPolicy::Latest);
        assert_eq!(
            policy("{ last = \"30d\" }").unwrap(),
            DownloadPolicy::Last {
                seconds: 30 * 86_400
            }
        );
        let window = |from, to| DownloadPolicy::Window(TimeRange { from, to });
        assert_eq!(
            policy("{ from = \"2026-01-01\", to = \"2026-03-01\" }").unwrap(),
            window(1_767_225_600, 1_772_323_200)
        );
        // TOML's own dates and Unix seconds name the same instants.
        assert_eq!(
            policy("{ from = 2026-01-01, to = 2026-03-01T00:00:00Z }").unwrap(),
            window(1_767_225_600, 1_772_323_200)
        );
        assert_eq!(
            policy("{ from = 1767225600 }").unwrap(),
            window(1_767_225_600, u64::MAX)
        );
        assert_eq!(
            policy("{ to = \"1970-01-02\" }").unwrap(),
            window(0, 86_400)
        );
    }

    #[test]
    fn mistakes_name_their_key() {
        let key_of = |v: &str| policy(v).unwrap_err().key().unwrap().to_owned();
        assert_eq!(key_of("\"everything\""), "joined[0].download");
        assert_eq!(key_of("{ last = \"30y\" }"), "joined[0].download.last");
        assert_eq!(key_of("{ last = 30 }"), "joined[0].download.last");
        assert_eq!(
            key_of("{ last = \"3d\", from = 1 }"),
            "joined[0].download.from"
        );
        assert_eq!(
            key_of("{ from = \"2026-02-30\" }"),
            "joined[0].download.from"
        );
        assert_eq!(
            key_of("{ to = 2026-01-01T00:00:00 }"),
            "joined[0].download.to"
        );
        assert_eq!(key_of("{ form = 1 }"), "joined[0].download.form");
        assert_eq!(key_of("{}"), "joined[0].download");
        assert_eq!(key_of("{ from = 5, to = 5 }"), "joined[0].download");
        assert_eq!(key_of("{ from = -1 }"), "joined[0].download.from");
        assert_eq!(key_of("7"), "joined[0].download");
    }
}
