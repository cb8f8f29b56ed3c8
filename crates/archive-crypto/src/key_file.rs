//! The key file: `{"keys": [{"group_id": "0x…", "key": "0x…", "timestamp_ms": N}]}`,
//! what `archivist keys new|import|export` read and write, and exactly the
//! `(group, timestamp, key)` triples status-go stores per key (spec B.8).
//!
//! [`write_key_file`] is the crate's one piece of I/O (std only): a key file
//! holds secrets, so it is created with mode 0600 and never replaces an
//! existing file, and a failed write leaves nothing behind.

use std::{
    fs::{self, File, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::{
    error::{Error, Result},
    key::{GroupId, GroupKey, HrKey, MAX_GROUP_ID_LEN},
};

/// Largest key file read; thousands of keys fit in it.
pub const MAX_KEY_FILE_LEN: usize = 1 << 20;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBody {
    keys: Vec<FileKey>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKey {
    group_id: String,
    key: String,
    timestamp_ms: u64,
}

fn bad_entry(entry: usize, reason: impl std::fmt::Display) -> Error {
    Error::KeyFile(format!("key {entry}: {reason}"))
}

fn parse_hex(entry: usize, field: &str, text: &str, max_len: usize) -> Result<Vec<u8>> {
    let digits = text
        .strip_prefix("0x")
        .ok_or_else(|| bad_entry(entry, format!("{field} does not start with 0x")))?;
    if digits.len() > 2 * max_len {
        return Err(bad_entry(
            entry,
            format!("{field} is longer than {max_len} bytes"),
        ));
    }
    hex::decode(digits).map_err(|e| bad_entry(entry, format!("{field} is not hex: {e}")))
}

/// Parses a key file, refusing files over [`MAX_KEY_FILE_LEN`], unknown
/// fields, malformed hex, keys that are not 32 bytes and zero timestamps.
/// Keys listed twice are returned once.
pub fn parse_key_file(bytes: &[u8]) -> Result<Vec<HrKey>> {
    if bytes.len() > MAX_KEY_FILE_LEN {
        return Err(Error::KeyFile(format!(
            "{} bytes, over the limit of {MAX_KEY_FILE_LEN}",
            bytes.len()
        )));
    }
    let body: FileBody =
        serde_json::from_slice(bytes).map_err(|e| Error::KeyFile(e.to_string()))?;
    let mut keys: Vec<HrKey> = Vec::with_capacity(body.keys.len());
    for (entry, raw) in body.keys.iter().enumerate() {
        let group = parse_hex(entry, "group_id", &raw.group_id, MAX_GROUP_ID_LEN)?;
        let group = GroupId::new(&group).map_err(|e| bad_entry(entry, e))?;
        let key: [u8; 32] = parse_hex(entry, "key", &raw.key, 32)?
            .try_into()
            .map_err(|k: Vec<u8>| bad_entry(entry, format!("key is {} bytes, not 32", k.len())))?;
        if raw.timestamp_ms == 0 {
            return Err(bad_entry(entry, "timestamp_ms is 0"));
        }
        let key = HrKey {
            group,
            timestamp_ms: raw.timestamp_ms,
            key: GroupKey(key),
        };
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// Renders keys as a key file (pretty JSON, one trailing newline).
pub fn render_key_file(keys: &[HrKey]) -> String {
    let body = FileBody {
        keys: keys
            .iter()
            .map(|k| FileKey {
                group_id: k.group.to_string(),
                key: format!("0x{}", hex::encode(k.key.0)),
                timestamp_ms: k.timestamp_ms,
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&body).expect("strings and integers serialize");
    text.push('\n');
    text
}

/// Writes `keys` to a new file at `path`, mode 0600, and fails if anything
/// exists there. The bytes go to a temporary file beside it first, are
/// synced, and appear at `path` by a hard link, which never replaces a file;
/// so `path` either does not exist or holds the whole key file.
pub fn write_key_file(path: &Path, keys: &[HrKey]) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    let text = render_key_file(keys);
    let temp = temp_path(path)?;
    let written = create_private(&temp)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .map_err(io(&temp))
        .and_then(|()| fs::hard_link(&temp, path).map_err(io(path)));
    let removed = fs::remove_file(&temp);
    written?;
    removed.map_err(io(&temp))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
    }
    Ok(())
}

fn temp_path(path: &Path) -> Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| Error::Io {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "names no file"),
    })?;
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix).map_err(|e| Error::Entropy(e.to_string()))?;
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(".{}.tmp", hex::encode(suffix)));
    Ok(path.with_file_name(temp))
}

fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> HrKey {
        HrKey {
            group: GroupId::new(&[0x02; 33]).unwrap(),
            timestamp_ms: 1_700_000_000_010,
            key: GroupKey([byte; 32]),
        }
    }

    #[test]
    fn renders_and_parses_back() {
        let keys = vec![key(1), key(2)];
        let text = render_key_file(&keys);
        assert!(text.contains(r#""group_id": "0x0202"#), "{text}");
        assert!(text.contains(r#""timestamp_ms": 1700000000010"#), "{text}");
        assert_eq!(parse_key_file(text.as_bytes()).unwrap(), keys);
        let twice = render_key_file(&[key(1), key(1)]);
        assert_eq!(parse_key_file(twice.as_bytes()).unwrap(), vec![key(1)]);
    }

    #[test]
    fn bad_files_name_what_is_wrong() {
        let group = format!("0x{}", "02".repeat(33));
        let cases = [
            (r#"{"keys": [}"#.to_owned(), "expected"),
            (r#"{"keys": [], "x": 1}"#.to_owned(), "unknown field"),
            (
                format!(
                    r#"{{"keys":[{{"group_id":"{group}","key":"0x{}","timestamp_ms":1}}]}}"#,
                    "ab".repeat(31)
                ),
                "key 0: key is 31 bytes",
            ),
            (
                format!(
                    r#"{{"keys":[{{"group_id":"{group}","key":"{}","timestamp_ms":1}}]}}"#,
                    "ab".repeat(32)
                ),
                "key does not start with 0x",
            ),
            (
                format!(
                    r#"{{"keys":[{{"group_id":"{group}","key":"0x{}","timestamp_ms":0}}]}}"#,
                    "ab".repeat(32)
                ),
                "timestamp_ms is 0",
            ),
            (
                format!(
                    r#"{{"keys":[{{"group_id":"0x","key":"0x{}","timestamp_ms":1}}]}}"#,
                    "ab".repeat(32)
                ),
                "group ID",
            ),
            (
                format!(
                    r#"{{"keys":[{{"group_id":"0x{}","key":"0x{}","timestamp_ms":1}}]}}"#,
                    "0".repeat(513),
                    "ab".repeat(32)
                ),
                "longer than 256 bytes",
            ),
        ];
        for (text, expected) in cases {
            let err = parse_key_file(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
        let huge = vec![b' '; MAX_KEY_FILE_LEN + 1];
        assert!(
            parse_key_file(&huge)
                .unwrap_err()
                .to_string()
                .contains("over the limit")
        );
    }

    proptest::proptest! {
        /// Any keys render to a file that parses back to the same keys.
        #[test]
        fn random_keys_round_trip(
            keys in proptest::collection::vec(
                (
                    proptest::collection::vec(proptest::prelude::any::<u8>(), 1..=MAX_GROUP_ID_LEN),
                    1..u64::MAX,
                    proptest::prelude::any::<[u8; 32]>(),
                ),
                0..8,
            ),
        ) {
            let mut keys: Vec<HrKey> = keys
                .into_iter()
                .map(|(group, timestamp_ms, key)| HrKey {
                    group: GroupId::new(&group).unwrap(),
                    timestamp_ms,
                    key: GroupKey(key),
                })
                .collect();
            keys.dedup();
            let parsed = parse_key_file(render_key_file(&keys).as_bytes()).unwrap();
            proptest::prop_assert_eq!(parsed, keys);
        }
    }

    #[test]
    fn writes_private_files_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        write_key_file(&path, &[key(7)]).unwrap();
        assert_eq!(
            parse_key_file(&fs::read(&path).unwrap()).unwrap(),
            vec![key(7)]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = write_key_file(&path, &[key(8)]).unwrap_err();
        assert!(
            matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists),
            "{err}"
        );
        assert_eq!(
            parse_key_file(&fs::read(&path).unwrap()).unwrap(),
            vec![key(7)],
            "the existing file is untouched"
        );
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
        let missing_dir = dir.path().join("absent/keys.json");
        assert!(write_key_file(&missing_dir, &[key(7)]).is_err());
    }
}
