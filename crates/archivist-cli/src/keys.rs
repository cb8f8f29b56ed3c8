//! `archivist keys`: an encrypted community's hash-ratchet keys as files.

use std::{
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use archive_crypto::{GroupId, GroupKey, HrKey, Keyring};
use archive_index::CommunityId;
use archive_store::{Database, StoredKey};
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
    /// Store the keys of a key file in a node's store (importing again adds nothing).
    #[command(
        after_help = "Example:\n  archivist keys import --db member-data/store.sqlite community-keys.json"
    )]
    Import {
        /// The node's store; created if missing.
        #[arg(long, value_name = "FILE")]
        db: PathBuf,
        /// The key file.
        file: PathBuf,
    },
    /// Write a community's stored keys to a new key file (mode 0600).
    #[command(
        after_help = "Example:\n  archivist keys export --db owner-data/store.sqlite --community 0x02… \
        --out community-keys.json"
    )]
    Export {
        /// The node's store.
        #[arg(long, value_name = "FILE")]
        db: PathBuf,
        /// The community ID, 0x + 66 hex.
        #[arg(long)]
        community: CommunityId,
        /// Where to write the key file; never overwritten.
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
            let now_ms =
                u64::try_from(now_ms).context("the system clock is past year 500 million")?;
            let key = HrKey::generate(group, now_ms, None)?;
            archive_crypto::write_key_file(&out, std::slice::from_ref(&key))?;
            Ok(json!({
                "community": community.to_string(),
                "key_id": key.key_id().to_string(),
                "timestamp_ms": key.timestamp_ms,
                "key_file": out.display().to_string(),
            }))
        }
        KeysCommand::Import { db, file } => import(&db, &file),
        KeysCommand::Export { db, community, out } => export(&db, &community, &out),
    }
}

/// Stores every key of `file`, each under the community its group ID names.
fn import(db: &Path, file: &Path) -> anyhow::Result<serde_json::Value> {
    // The whole file is validated before the store is opened.
    let bytes = read_bounded(file)?;
    let keys = archive_crypto::parse_key_file(&bytes)
        .with_context(|| format!("reading keys from {}", file.display()))?;
    let mut by_community: Vec<(CommunityId, Vec<StoredKey>)> = Vec::new();
    for key in &keys {
        let community = CommunityId(key.group.as_bytes().try_into().map_err(|_| {
            anyhow::anyhow!(
                "{}: group ID {} is not a community ID (33 bytes)",
                file.display(),
                key.group
            )
        })?);
        let stored = StoredKey {
            timestamp_ms: key.timestamp_ms,
            key: key.key.0,
        };
        match by_community.iter_mut().find(|(c, _)| *c == community) {
            Some((_, list)) => list.push(stored),
            None => by_community.push((community, vec![stored])),
        }
    }
    let mut store = match Database::open(db) {
        Ok(store) => store,
        // A node runs on this store: it takes the file from its keys inbox
        // within seconds and puts the keys to use without a restart.
        Err(archive_store::Error::Locked { .. }) => return hand_to_running_node(db, &bytes),
        Err(e) => return Err(e).with_context(|| format!("--db {}", db.display())),
    };
    let (mut new, mut already_present) = (0, 0);
    for (community, keys) in &by_community {
        let report = store.import_keys(community, keys)?;
        new += report.new;
        already_present += report.already_present;
    }
    Ok(json!({
        "communities": by_community.iter().map(|(c, _)| c.to_string()).collect::<Vec<_>>(),
        "new": new,
        "already_present": already_present,
    }))
}

/// Puts the (validated) key file into the running node's keys inbox beside
/// its store, written whole (0600, then renamed) so the node never reads
/// half a file.
fn hand_to_running_node(db: &Path, bytes: &[u8]) -> anyhow::Result<serde_json::Value> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let data_dir = db.parent().unwrap_or(Path::new("."));
    let inbox = archivist::keys_inbox(data_dir);
    std::fs::create_dir_all(&inbox).with_context(|| format!("creating {}", inbox.display()))?;
    let digest = archivist::index::keccak256(bytes);
    let name = format!("{}.json", hex::encode(&digest[..8]));
    let (partial, done) = (inbox.join(format!("{name}.partial")), inbox.join(&name));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("writing {}", partial.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&partial, &done)?;
    Ok(json!({
        "handed_to_running_node": done.display().to_string(),
        "note": "the node holding the store imports these keys within seconds",
    }))
}

/// Writes `community`'s stored keys to a new key file at `out`.
fn export(db: &Path, community: &CommunityId, out: &Path) -> anyhow::Result<serde_json::Value> {
    // A typo must not look like a community without keys.
    anyhow::ensure!(
        db.is_file(),
        "--db {}: no store there (check the path)",
        db.display()
    );
    let store = Database::open_read_only(db).with_context(|| format!("--db {}", db.display()))?;
    let stored = store.community_keys(community)?;
    anyhow::ensure!(
        !stored.is_empty(),
        "--db {} holds no keys of community {community}",
        db.display()
    );
    let group = GroupId::new(&community.0)?;
    let keys: Vec<HrKey> = stored
        .into_iter()
        .map(|k| HrKey {
            group: group.clone(),
            timestamp_ms: k.timestamp_ms,
            key: GroupKey(k.key),
        })
        .collect();
    archive_crypto::write_key_file(out, &keys)?;
    Ok(json!({
        "community": community.to_string(),
        "keys": keys.len(),
        "key_ids": keys.iter().map(|k| k.key_id().to_string()).collect::<Vec<_>>(),
        "key_file": out.display().to_string(),
    }))
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
pub(crate) fn read_bounded(path: &Path) -> anyhow::Result<Vec<u8>> {
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
