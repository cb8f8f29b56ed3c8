//! The node's own identity on the wire: the secp256k1 key that signs every
//! 26/WAKU2-PAYLOAD frame this node sends, and the installation ID its
//! `ProtocolMessage`s carry (status-go: the messenger's account key and the
//! device's installation ID). Both persist in one file beside the data dir.
//!
//! # Identity file format
//!
//! Two lines: the secret key exactly as in a community key file (`0x` + 64
//! hex digits), then the installation ID (1 to 64 visible ASCII characters;
//! a UUID when created here). Mode `0600` on unix. The file is created once,
//! atomically, and never rewritten: a frame signer that changed on every
//! start would look like a new device to status-go peers.

use std::{
    fmt, fs, io,
    path::{Path, PathBuf},
};

use archive_index::keccak256;
use archive_proto::{Message, protobuf::WakuMessageArchiveMetadata};
use k256::{ecdsa::SigningKey, elliptic_curve::Generate};

use crate::{
    error::{Error, Result},
    key::{
        parse_secret_line, read_small_file, secret_line, sign_recoverable, uncompressed,
        write_new_file,
    },
    wire::NodePublicKey,
};

/// The conventional file name of a node's identity, beside its data dir.
pub const NODE_IDENTITY_FILE: &str = "node-identity.key";

/// Longest installation ID read from a file; status-go's are 36-character UUIDs.
const MAX_INSTALLATION_ID_LEN: usize = 64;

/// A node's frame-signing key and installation ID.
///
/// `Debug` shows the public key and installation ID, never the secret.
#[derive(Clone)]
pub struct NodeIdentity {
    signing: SigningKey,
    installation_id: String,
}

impl NodeIdentity {
    /// A new random identity with a fresh UUID installation ID, from the
    /// operating system's RNG (as [`CommunityKey::generate`](crate::CommunityKey::generate)).
    pub fn generate() -> NodeIdentity {
        NodeIdentity {
            signing: SigningKey::generate(),
            installation_id: new_installation_id(),
        }
    }

    /// The identity with the given secret key and installation ID.
    pub fn from_parts(secret: &[u8; 32], installation_id: &str) -> Result<NodeIdentity> {
        let signing = SigningKey::from_slice(secret).map_err(|_| Error::InvalidSecretKey)?;
        if !valid_installation_id(installation_id) {
            return Err(Error::InvalidInstallationId);
        }
        Ok(NodeIdentity {
            signing,
            installation_id: installation_id.to_owned(),
        })
    }

    /// The public key frames are signed with.
    pub fn public_key(&self) -> NodePublicKey {
        NodePublicKey(uncompressed(self.signing.verifying_key()))
    }

    /// The installation ID announcements carry.
    pub fn installation_id(&self) -> &str {
        &self.installation_id
    }

    pub(crate) fn sign_prehash(&self, digest: &[u8; 32]) -> [u8; 65] {
        sign_recoverable(&self.signing, digest)
    }

    /// Reads an identity file (format in the module docs).
    pub fn read_file(path: impl AsRef<Path>) -> Result<NodeIdentity> {
        let path = path.as_ref();
        let text = read_small_file(path)?;
        let format = |reason| Error::KeyFileFormat {
            path: path.to_path_buf(),
            reason,
        };
        let mut lines = text.lines();
        let key_line = lines.next().unwrap_or_default().trim_end();
        let signing = parse_secret_line(path, key_line)?;
        let installation_id = lines
            .next()
            .map(str::trim_end)
            .ok_or_else(|| format("has no installation ID on its second line"))?;
        if !valid_installation_id(installation_id) {
            return Err(format(
                "second line must be an installation ID of 1 to 64 visible ASCII characters",
            ));
        }
        if lines.any(|line| !line.trim().is_empty()) {
            return Err(format("has more than two lines"));
        }
        Ok(NodeIdentity {
            signing,
            installation_id: installation_id.to_owned(),
        })
    }

    /// Writes the identity to a new file with mode 0600 (on unix); fails with
    /// [`Error::KeyFileExists`] rather than replace one.
    pub fn write_file(&self, path: impl AsRef<Path>) -> Result<()> {
        write_new_file(path.as_ref(), self.file_text().as_bytes())
    }

    /// Reads the identity at `path`, or creates it there on first start.
    ///
    /// Creation is atomic: the file is written under a temporary name in the
    /// same directory, synced, then hard-linked into place, which fails rather
    /// than replace a file another process created meanwhile (that one is then
    /// read). A crash leaves either no identity file or a complete one.
    pub fn load_or_create(path: impl AsRef<Path>) -> Result<NodeIdentity> {
        let path = path.as_ref();
        match NodeIdentity::read_file(path) {
            Err(Error::KeyFileMissing { .. }) => {}
            other => return other,
        }
        let identity = NodeIdentity::generate();
        let temporary = temporary_path(path)?;
        write_new_file(&temporary, identity.file_text().as_bytes())?;
        let linked = fs::hard_link(&temporary, path);
        let _ = fs::remove_file(&temporary);
        match linked {
            Ok(()) => {
                sync_parent(path);
                Ok(identity)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => NodeIdentity::read_file(path),
            Err(source) => Err(Error::KeyFileIo {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    fn file_text(&self) -> String {
        format!("{}{}\n", secret_line(&self.signing), self.installation_id)
    }
}

impl fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("public_key", &self.public_key())
            .field("installation_id", &self.installation_id)
            .finish_non_exhaustive()
    }
}

fn valid_installation_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_INSTALLATION_ID_LEN
        && id.bytes().all(|b| b.is_ascii_graphic())
}

/// A random UUID (version 4) whose bytes do not parse as a protobuf message.
///
/// status-go reads an archive first as a plain `WakuMessageArchive` and
/// decrypts only if that fails; an installation ID (field 2 of
/// `ProtocolMessage`) that happens to parse as the archive's metadata (also
/// field 2) would make an encrypted archive read as an empty plain one
/// (wire spec B.7.1, about 0.07 % of UUIDs). Drawing again avoids it.
fn new_installation_id() -> String {
    loop {
        // Random bytes from the same source as the key, so generating an
        // identity has one failure mode, not two.
        let seed = keccak256(&SigningKey::generate().to_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&seed[..16]);
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex = hex::encode(bytes);
        let id = format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        );
        if WakuMessageArchiveMetadata::decode(id.as_bytes()).is_err() {
            return id;
        }
    }
}

fn temporary_path(path: &Path) -> Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| Error::KeyFileFormat {
        path: path.to_path_buf(),
        reason: "is not a file path",
    })?;
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| Error::Entropy(e.to_string()))?;
    let mut temporary = std::ffi::OsString::from(".");
    temporary.push(name);
    temporary.push(format!(".tmp-{}", hex::encode(suffix)));
    Ok(path.with_file_name(temporary))
}

/// Makes the new directory entry durable; best effort, as not every
/// filesystem lets a directory be opened for syncing.
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(dir) = fs::File::open(parent)
    {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installation_ids_are_uuid_v4_that_do_not_parse_as_archive_metadata() {
        for _ in 0..200 {
            let id = new_installation_id();
            assert_eq!(id.len(), 36);
            assert_eq!(&id[14..15], "4");
            assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
            assert!(WakuMessageArchiveMetadata::decode(id.as_bytes()).is_err());
        }
    }

    #[test]
    fn from_parts_refuses_empty_and_odd_installation_ids() {
        for bad in ["", "has space", &"x".repeat(65), "tab\t"] {
            assert!(matches!(
                NodeIdentity::from_parts(&[0x22; 32], bad),
                Err(Error::InvalidInstallationId)
            ));
        }
        assert!(NodeIdentity::from_parts(&[0x22; 32], "rust-installation-1").is_ok());
    }

    #[test]
    fn debug_does_not_leak_the_secret() {
        let identity = NodeIdentity::from_parts(&[0x22; 32], "dev-1").unwrap();
        let shown = format!("{identity:?}");
        assert!(!shown.contains(&"22".repeat(32)), "{shown}");
        assert!(shown.contains("dev-1"));
    }
}
