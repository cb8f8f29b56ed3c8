//! Content-addressed blobs in one folder, `<root>/<community>/<SHA-256 hex>`:
//! written whole or not at all, read only up to a limit and only if their
//! bytes hash to their name.

use std::{
    fs,
    io::{self, Read, Write},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use archive_backend::{Error, ErrorKind, Result};
use archive_index::CommunityId;
use sha2::{Digest, Sha256};

use crate::NAME;

/// A folder of blobs: the shared one, or a node's own.
#[derive(Debug, Clone)]
pub(crate) struct BlobDir {
    root: PathBuf,
}

/// Distinguishes temporary files of concurrent writes in one process.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// The SHA-256 of `bytes`, in lowercase hex: a blob's name.
pub(crate) fn hash_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `text` is a blob name (64 lowercase hex digits), so that no name
/// read from a link or an index can point outside the folder.
pub(crate) fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn io_error(what: String, e: io::Error) -> Error {
    let kind = if e.kind() == io::ErrorKind::NotFound {
        ErrorKind::NotFound
    } else {
        ErrorKind::Io
    };
    Error::new(kind, NAME, what).with_source(e)
}

impl BlobDir {
    pub(crate) fn new(root: PathBuf) -> BlobDir {
        BlobDir { root }
    }

    fn folder(&self, community: &CommunityId) -> PathBuf {
        self.root.join(community.to_string())
    }

    fn path(&self, community: &CommunityId, hash: &str) -> PathBuf {
        debug_assert!(is_hash(hash), "blob names are checked before use");
        self.folder(community).join(hash)
    }

    /// Stores `bytes` under their hash and returns it. A blob already there
    /// with the right bytes is kept; one with wrong bytes is replaced. The
    /// bytes reach the file under a temporary name, are synced, and only
    /// then take the blob's name, so a crash leaves no partial blob.
    pub(crate) fn write(&self, community: &CommunityId, bytes: &[u8]) -> Result<String> {
        let hash = hash_of(bytes);
        if self.read(community, &hash, bytes.len() as u64).is_ok() {
            return Ok(hash);
        }
        let folder = self.folder(community);
        fs::create_dir_all(&folder)
            .map_err(|e| io_error(format!("creating {}", folder.display()), e))?;
        let temp = folder.join(format!(
            ".partial-{hash}-{}-{}",
            std::process::id(),
            NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
        ));
        let written = write_synced(&temp, bytes)
            .and_then(|()| fs::rename(&temp, self.path(community, &hash)))
            .and_then(|()| sync_dir(&folder));
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(io_error(format!("writing blob {hash}"), e));
        }
        Ok(hash)
    }

    /// Reads the blob named `hash`, refusing it unread when it is longer than
    /// `max` bytes, and as corrupt when its bytes do not hash to its name.
    pub(crate) fn read(&self, community: &CommunityId, hash: &str, max: u64) -> Result<Vec<u8>> {
        let path = self.path(community, hash);
        let file = fs::File::open(&path).map_err(|e| io_error(format!("blob {hash}"), e))?;
        let len = file
            .metadata()
            .map_err(|e| io_error(format!("blob {hash}"), e))?
            .len();
        if len > max {
            return Err(Error::new(
                ErrorKind::Corrupt,
                NAME,
                format!("blob {hash} has {len} bytes, more than the {max} it may have"),
            ));
        }
        let mut bytes = Vec::with_capacity(len as usize);
        // The file may grow after the length was read: never past `max`.
        file.take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| io_error(format!("reading blob {hash}"), e))?;
        if bytes.len() as u64 > max || hash_of(&bytes) != hash {
            return Err(Error::new(
                ErrorKind::Corrupt,
                NAME,
                format!(
                    "blob {hash} in {} does not hash to its name",
                    self.root.display()
                ),
            ));
        }
        Ok(bytes)
    }

    /// Removes the blob; one already gone is no error.
    pub(crate) fn remove(&self, community: &CommunityId, hash: &str) -> Result<()> {
        match fs::remove_file(self.path(community, hash)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(io_error(format!("removing blob {hash}"), e))
            }
            _ => Ok(()),
        }
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = fs::File::create_new(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_read_back_only_with_the_bytes_they_were_named_for() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::new(dir.path().to_owned());
        let community = CommunityId([2; 33]);
        let hash = blobs.write(&community, b"archive bytes").unwrap();
        assert!(is_hash(&hash));
        assert_eq!(
            blobs.read(&community, &hash, 100).unwrap(),
            b"archive bytes"
        );

        let too_long = blobs.read(&community, &hash, 5).unwrap_err();
        assert_eq!(too_long.kind(), ErrorKind::Corrupt);

        fs::write(blobs.path(&community, &hash), b"archive bytez").unwrap();
        let tampered = blobs.read(&community, &hash, 100).unwrap_err();
        assert_eq!(tampered.kind(), ErrorKind::Corrupt, "{tampered}");
        // Writing the right bytes again repairs it.
        blobs.write(&community, b"archive bytes").unwrap();
        assert!(blobs.read(&community, &hash, 100).is_ok());

        blobs.remove(&community, &hash).unwrap();
        blobs.remove(&community, &hash).unwrap();
        let gone = blobs.read(&community, &hash, 100).unwrap_err();
        assert_eq!(gone.kind(), ErrorKind::NotFound);
        let leftovers: Vec<_> = fs::read_dir(blobs.folder(&community)).unwrap().collect();
        assert!(leftovers.is_empty(), "no temporary file is left behind");
    }

    #[test]
    fn only_hashes_name_blobs() {
        assert!(is_hash(&hash_of(b"")));
        for bad in [
            "",
            "../etc",
            &"A".repeat(64),
            &"a".repeat(63),
            &"g".repeat(64),
        ] {
            assert!(!is_hash(bad), "{bad}");
        }
    }
}
