//! The store's writer lock: one process (one handle) at a time may open a
//! store for writing, so two writers can never interleave archive state.
//!
//! The lock is `writer-lock`'s, on `<db>.lock`, a file of its own: SQLite's
//! locks on the database and its `-wal`/`-shm` are byte-range locks that
//! SQLite takes and drops itself, and a whole-file lock on the database could
//! clash with them on some platforms.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub(crate) use writer_lock::WriterLock;

/// `<db>.lock`.
pub(crate) fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the writer lock of the database at `db`, or fails at once with
/// [`Error::Locked`] naming the holder.
pub(crate) fn acquire(db: &Path) -> Result<WriterLock> {
    WriterLock::acquire(&lock_path(db)).map_err(|e| match e {
        writer_lock::Error::Held { holder, .. } => Error::Locked {
            path: db.to_owned(),
            holder,
        },
        writer_lock::Error::Io { path, source } => Error::LockFile { path, source },
        other => Error::LockFile {
            path: lock_path(db),
            source: std::io::Error::other(other.to_string()),
        },
    })
}
