//! `archivist keys`: an encrypted community's hash-ratchet keys as files.

use std::{
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use archive_crypto::{GroupId, HrKey, Keyring};
use archive_index::CommunityId;
use serde_json::json;

/// What to do with keys.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeysCommand {
    /// Make a fresh key for an encrypted community and write it as a key file.
    #[command(
        after_help = "The key file is JSON, {\"keys\": [{\"group_id\", \"key\", \"timestamp_ms\"}]}, \
        created with mode 0600; an existing file is never overwritten.\n\n\
        Example:\n  archivist keys new --community 0x02… --out community-keys.json"
    )]
    New {
        /// The community ID, 0x + 66 hex.
        #[arg(long)]
        community: CommunityId,
        /// Where to write the key file.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

pub(crate) fn run(command: KeysCommand) -> anyhow::Result<serde_json::Value> {
    match command {
        KeysCommand::New { community, out } => {
            let group = GroupId::new(&community.0)?;
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .context("the system clock is before 1970")?
                .as_millis();
            let now_ms = u64::try_from(now_ms).context("the system clock is past year 500 million")?;
            let key = HrKey::generate(group, now_ms, None)?;
            archive_crypto::write_key_file(&out, std::slice::from_ref(&key))?;
            Ok(json!({
                "community": community.to_string(),
                "key_id": key.key_id().to_string(),
                "timestamp_ms": key.timestamp_ms,
                "key_file": out.display().to_string(),
            }))
        }
    }
}

/// The keys of the key file at `path` (`--keys FILE`), or an empty keyring
/// without one, so that an encrypted blob read without keys fails naming the
/// key ID it needs.
pub(crate) fn load_keyring(path: Option<&Path>) -> anyhow::Result<Keyring> {
    let mut keyring = Keyring::new();
    if let Some(path) = path {
        let bytes = read_bounded(path)?;
        let keys = archive_crypto::parse_key_file(&bytes)
            .with_context(|| format!("reading keys from {}", path.display()))?;
        for key in keys {
            keyring.insert(key);
        }
    }
    Ok(keyring)
}

/// The file at `path`, refused before reading when larger than a key file may be.
fn read_bounded(path: &Path) -> anyhow::Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    anyhow::ensure!(
        len <= archive_crypto::MAX_KEY_FILE_LEN as u64,
        "{}: {len} bytes is larger than a key file may be ({} bytes)",
        path.display(),
        archive_crypto::MAX_KEY_FILE_LEN
    );
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}
