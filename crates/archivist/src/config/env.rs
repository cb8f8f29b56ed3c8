//! `ARCHIVIST_…` environment overrides, laid over the file's table before
//! it is checked, so a bad value is reported under its key either way.

use super::ConfigError;

/// Environment variables starting with this override file keys: the rest
/// of the name, lowercased, with `__` between a section and its key
/// (`ARCHIVIST_DATA_DIR`, `ARCHIVIST_TORRENT__LISTEN`). Values are TOML
/// values (`true`, `20`, `["a", "b"]`); anything that does not parse as
/// one is taken as a string.
pub const ENV_PREFIX: &str = "ARCHIVIST_";

/// Sets the key an `ARCHIVIST_…` variable names. Only tables of the file's
/// shape are created, so a typo ends up as an unknown key and is reported.
pub(super) fn apply_override(
    table: &mut toml::Table,
    variable: &str,
    rest: &str,
    value: &str,
) -> Result<(), ConfigError> {
    let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    if path.iter().any(String::is_empty) {
        return Err(ConfigError::invalid(
            variable,
            "an environment override needs KEY or SECTION__KEY after ARCHIVIST_",
        ));
    }
    // A TOML value if it is one (`true`, `20`, `["a"]`), else a string.
    let value = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    let (last, sections) = path.split_last().expect("split yields at least one part");
    let mut at = table;
    for section in sections {
        let entry = at
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        at = entry.as_table_mut().ok_or_else(|| {
            ConfigError::invalid(
                section.clone(),
                format!("{variable} treats it as a section"),
            )
        })?;
    }
    at.insert(last.clone(), value);
    Ok(())
}
