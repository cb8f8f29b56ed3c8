//! The writer lock of a community folder: one appender at a time, so two
//! `archivist create` runs (or two nodes) can never interleave their bytes
//! in `data` and leave an index pointing at the other's archives. The lock
//! is `writer-lock`'s, on `writer.lock` in the folder, which the torrent
//! never lists.

use std::path::Path;

use crate::error::{Error, Result};

pub(crate) use writer_lock::WriterLock;

/// Takes the lock on `path`, or fails at once with [`Error::Locked`] naming
/// the holder.
pub(crate) fn acquire(path: &Path) -> Result<WriterLock> {
    WriterLock::acquire(path).map_err(|e| match e {
        writer_lock::Error::Held { path, holder } => Error::Locked { path, holder },
        writer_lock::Error::Io { path, source } => Error::Io { path, source },
        other => Error::Io {
            path: path.to_owned(),
            source: std::io::Error::other(other.to_string()),
        },
    })
}
