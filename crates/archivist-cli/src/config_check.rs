//! A node's configuration as `run` and `status` load it: errors name the
//! environment variable when one set the bad key, and the files a node needs
//! are checked, under their config keys, before anything is created on disk.

use std::{
    io::ErrorKind,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use archivist::{Config, ConfigError, ENV_PREFIX};

/// Reads the configuration like [`Config::load`], naming the `--config`
/// argument or the `ARCHIVIST_…` variable that a bad value came from.
pub(crate) fn load(path: Option<&Path>) -> anyhow::Result<Config> {
    Config::load(path).map_err(|e| match &e {
        ConfigError::Read { path, source } if source.kind() == ErrorKind::NotFound => {
            anyhow::anyhow!(
                "--config {}: no such file (the examples are examples/owner.toml and \
                 examples/member.toml; without --config the embedded defaults are used)",
                path.display()
            )
        }
        ConfigError::Read { path, source } => {
            anyhow::anyhow!("--config {}: {source}", path.display())
        }
        _ => match e
            .key()
            .and_then(|key| overriding_variable(key, |name| std::env::var_os(name).is_some()))
        {
            Some(variable) => anyhow::anyhow!("{e} (set by the environment variable {variable})"),
            None => e.into(),
        },
    })
}

/// The `ARCHIVIST_…` variable that would set `key` (`torrent.listen` →
/// `ARCHIVIST_TORRENT__LISTEN`), if `is_set` says it is set. A key inside a
/// list (`owned[0].topics`) cannot come from the environment.
fn overriding_variable(key: &str, is_set: impl Fn(&str) -> bool) -> Option<String> {
    if key.contains('[') {
        return None;
    }
    let name = format!("{ENV_PREFIX}{}", key.replace('.', "__").to_uppercase());
    is_set(&name).then_some(name)
}

/// Checks what a starting node reads or creates, so a mistake is reported
/// under its config key before the node creates its store: each owned
/// community's key file exists (a warning when others may read it), and
/// `data_dir` is, or can be made, a folder.
pub(crate) fn check_before_start(config: &Config) -> anyhow::Result<()> {
    for (i, owned) in config.owned.iter().enumerate() {
        check_key_file(&format!("owned[{i}].key_file"), &owned.key_file)?;
    }
    let data_dir = &config.data_dir;
    if data_dir.exists() && !data_dir.is_dir() {
        anyhow::bail!(
            "config key `data_dir`: {} is a file, not a folder: point data_dir at a folder \
             (it is created if missing)",
            data_dir.display()
        );
    }
    std::fs::create_dir_all(data_dir).map_err(|e| {
        anyhow::anyhow!(
            "config key `data_dir`: cannot create the folder {}: {e} (is a parent a file, or \
             not writable?)",
            data_dir.display()
        )
    })
}

fn check_key_file(key: &str, path: &PathBuf) -> anyhow::Result<()> {
    let metadata = std::fs::metadata(path).map_err(|e| {
        if e.kind() == ErrorKind::NotFound {
            anyhow::anyhow!(
                "config key `{key}`: the key file {} does not exist: create it with \
                 `archivist keygen --out {}` (relative paths in a config file are relative to \
                 that file)",
                path.display(),
                path.display()
            )
        } else {
            anyhow::anyhow!("config key `{key}`: the key file {}: {e}", path.display())
        }
    })?;
    anyhow::ensure!(
        metadata.is_file(),
        "config key `{key}`: {} is not a file; it should be a key written by `archivist keygen`",
        path.display()
    );
    warn_if_readable_by_others(path, metadata.permissions().mode());
    Ok(())
}

/// A community key signs the announcements members trust: anyone who can
/// read it can announce for the community.
pub(crate) fn warn_if_readable_by_others(path: &Path, mode: u32) {
    if mode & 0o077 != 0 {
        tracing::warn!(
            "the community key {} can be read by other users (mode {:o}): anyone who reads it \
             can announce for the community; run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_the_variable_that_sets_it() {
        let set = |name: &str| name == "ARCHIVIST_TORRENT__LISTEN" || name == "ARCHIVIST_DATA_DIR";
        assert_eq!(
            overriding_variable("torrent.listen", set).as_deref(),
            Some("ARCHIVIST_TORRENT__LISTEN")
        );
        assert_eq!(
            overriding_variable("data_dir", set).as_deref(),
            Some("ARCHIVIST_DATA_DIR")
        );
        assert_eq!(overriding_variable("codex.url", set), None);
        assert_eq!(overriding_variable("owned[0].key_file", |_| true), None);
    }
}
