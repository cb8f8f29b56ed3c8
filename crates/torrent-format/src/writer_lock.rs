//! The writer lock of a community folder: one appender at a time, so two
//! `archivist create` runs (or two nodes) can never interleave their bytes
//! in `data` and leave an index pointing at the other's archives.
//!
//! An exclusive advisory lock (`flock` on Unix) on a file of its own. The
//! holder writes its pid and command line into it so that the next writer can
//! say who holds it. The lock dies with the process or handle, so a crash
//! never leaves a folder locked; the file stays, because deleting it would
//! race with the next writer locking it.

use std::{
    fs::{File, OpenOptions, TryLockError},
    io::{Read, Seek, Write},
    path::{Path, PathBuf},
};

use crate::error::{Error, IoContext, Result};

/// Most bytes of a holder's description read back or written.
const HOLDER_MAX: usize = 1024;

/// Held for as long as an append runs.
#[derive(Debug)]
pub(crate) struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Takes the lock on `path`, or fails at once with [`Error::Locked`].
    pub(crate) fn acquire(path: &Path) -> Result<WriterLock> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .at(path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut bytes = Vec::new();
                (&file)
                    .take(HOLDER_MAX as u64)
                    .read_to_end(&mut bytes)
                    .at(path)?;
                let holder = String::from_utf8_lossy(&bytes).trim().to_owned();
                return Err(Error::Locked {
                    path: PathBuf::from(path),
                    holder: if holder.is_empty() {
                        "a writer that has not written its name yet".to_owned()
                    } else {
                        holder
                    },
                });
            }
            Err(TryLockError::Error(source)) => return Err(source).at(path),
        }
        file.set_len(0).at(path)?;
        file.rewind().at(path)?;
        file.write_all(holder().as_bytes()).at(path)?;
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
