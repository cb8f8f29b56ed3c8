//! How the repository touches the disk: durable writes (fsynced file, then
//! rename, the directory fsynced by the caller), checked reads, listings.

use std::{
    fs::File,
    io::{Read, Write},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use bytes::Bytes;

use super::block_name;
use crate::error::Error;

/// Whether the file at `path` holds exactly `bytes`: a stored block is
/// trusted only after this check, since its name says what it should hold,
/// not what a disk or a stray write left in it.
pub(super) fn holds(path: &Path, bytes: &[u8]) -> bool {
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    if file.metadata().map(|m| m.len()).ok() != Some(bytes.len() as u64) {
        return false;
    }
    let mut buf = vec![0; 64 * 1024];
    let mut at = 0;
    loop {
        match file.read(&mut buf) {
            Ok(0) => return at == bytes.len(),
            Ok(n) => {
                if bytes.get(at..at + n) != Some(&buf[..n]) {
                    return false;
                }
                at += n;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Reads the blocks named by `batch` in order into one buffer, keeping at
/// most `limit` bytes: the padding of the last block is cut off.
pub(super) fn read_blocks(dir: &Path, batch: &[[u8; 32]], limit: u64) -> Result<Bytes, Error> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for digest in batch {
        let path = dir.join(block_name(digest));
        let mut file = File::open(&path)
            .map_err(|e| Error::io(format!("reading block {}", path.display()), e))?;
        if out.is_empty()
            && let Ok(meta) = file.metadata()
        {
            // One allocation for the batch: every block has the first one's size.
            let len = usize::try_from(meta.len()).unwrap_or(0);
            out.reserve_exact(len.saturating_mul(batch.len()).min(limit));
        }
        let room = (limit - out.len()) as u64;
        (&mut file)
            .take(room)
            .read_to_end(&mut out)
            .map_err(|e| Error::io(format!("reading block {}", path.display()), e))?;
        if out.len() == limit {
            break;
        }
    }
    Ok(Bytes::from(out))
}

pub(super) fn list(dir: &Path) -> Result<Vec<(String, PathBuf)>, Error> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    Ok(entries
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect())
}

/// Writes and fsyncs `path`.
pub(super) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let wrote = File::create(path).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    wrote.map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Replaces `path` with `bytes` all at once: a temporary file, fsynced, then
/// renamed over it. The directory is the caller's to fsync, once for many
/// files, before anything names them.
pub(super) fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    // A unique temporary name: two uploads of the same block may race.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("{n}.tmp"));
    if let Err(e) = write_file(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(format!("renaming to {}", path.display()), e)
    })
}

pub(super) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("syncing {}", dir.display()), e))
}

pub(super) fn remove_file(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io(format!("deleting {}", path.display()), e))
        }
        _ => Ok(()),
    }
}
