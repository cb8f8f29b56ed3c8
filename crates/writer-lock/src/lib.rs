//! One writer at a time: an exclusive advisory lock (`flock` on Unix) on a
//! file of its own, which the holder fills with its pid and command line so
//! that the next writer can say who holds it.
//!
//! The store (`<db>.lock`) and a community folder (`writer.lock`) both use
//! it. The lock dies with the process or the handle, so a crash never leaves
//! anything locked; the file stays, because deleting it would race with the
//! next writer locking it.

use std::{
    fs::{File, OpenOptions, TryLockError},
    io::{Read, Seek, Write},
    path::{Path, PathBuf},
};

/// Most bytes of a holder's description written or read back.
const HOLDER_MAX: usize = 1024;

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another process or handle holds it.
    #[error("{} is held by {holder}", path.display())]
    Held {
        /// The lock file.
        path: PathBuf,
        /// `pid <pid>: <command line>` as the holder wrote it.
        holder: String,
    },
    /// The lock file could not be opened, locked or written.
    #[error("lock file {}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Held for as long as this value lives.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Takes the lock on `path` (created if missing), or fails at once with
    /// [`Error::Held`] naming the holder.
    pub fn acquire(path: &Path) -> Result<WriterLock, Error> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
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
                return Err(Error::Held {
                    path: path.to_owned(),
                    holder: if holder.is_empty() {
                        "a writer that has not written its name yet".to_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_naming_the_first_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let first = WriterLock::acquire(&path).unwrap();
        match WriterLock::acquire(&path) {
            Err(Error::Held { holder, .. }) => {
                assert!(
                    holder.starts_with(&format!("pid {}: ", std::process::id())),
                    "{holder}"
                );
            }
            other => panic!("a second writer got {other:?}"),
        }
        drop(first);
        WriterLock::acquire(&path).expect("free once the first is gone");
    }

    #[test]
    fn a_lock_file_in_a_missing_folder_is_an_io_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("x.lock");
        let err = WriterLock::acquire(&path).unwrap_err();
        assert!(
            matches!(&err, Error::Io { path: p, .. } if *p == path),
            "{err}"
        );
    }
}
