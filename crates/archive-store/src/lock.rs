//! The writer lock: one process (one handle) at a time may open a store for
//! writing, so two writers can never interleave archive state.
//!
//! An exclusive advisory lock (`flock` on Unix) on `<db>.lock`, a file of its
//! own: SQLite's locks on the database and its `-wal`/`-shm` are byte-range
//! locks that SQLite takes and drops itself, and a whole-file lock on the
//! database could clash with them on some platforms. The holder writes its pid
//! and command line into the file so the next opener can say who holds it.
//! The lock dies with the process (or handle), so a crash never leaves a store
//! locked; the file itself stays, because deleting it would race with the
//! next opener locking it.

use std::{
    fs::{File, OpenOptions, TryLockError},
    io::{Read, Seek, Write},
    path::{Path, PathBuf},
};

use crate::error::{Error, Result};

/// Most bytes of a holder's description read back or written.
const HOLDER_MAX: usize = 1024;

/// Held for as long as a writing [`Database`](crate::Database) lives.
#[derive(Debug)]
pub(crate) struct WriterLock {
    _file: File,
}

/// `<db>.lock`.
pub(crate) fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl WriterLock {
    /// Takes the writer lock of the database at `db`, or fails at once with
    /// [`Error::Locked`] naming the holder.
    pub(crate) fn acquire(db: &Path) -> Result<WriterLock> {
        let path = lock_path(db);
        let io = |source| Error::LockFile {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut bytes = Vec::new();
                (&file)
                    .take(HOLDER_MAX as u64)
                    .read_to_end(&mut bytes)
                    .map_err(io)?;
                let holder = String::from_utf8_lossy(&bytes).trim().to_owned();
                return Err(Error::Locked {
                    path: db.to_owned(),
                    holder: if holder.is_empty() {
                        "a process that has not written its name yet".to_owned()
                    } else {
                        holder
                    },
                });
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(holder().as_bytes()).map_err(io)?;
        Ok(WriterLock { _file: file })
    }
}

/// `pid <pid>: <command line>`, cut to [`HOLDER_MAX`] bytes.
fn holder() -> String {
    let command: Vec<String> = std::env::args_os()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let mut line = format!("pid {}: {}", std::process::id(), command.join(" "));
    if line.len() > HOLDER_MAX {
        let mut cut = HOLDER_MAX;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
    }
    line.push('\n');
    line
}
