//! The crate's error type.

use std::path::PathBuf;

/// What can go wrong with a community's archive files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read, written, synced or renamed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The archive format rejected the input or the files.
    #[error(transparent)]
    Format(#[from] archive_index::Error),
    /// `data` is shorter than the index says: archives were lost, and appending
    /// would put new archives at the wrong offsets.
    #[error("{path} has {actual} bytes but the index describes {expected}; refusing to append")]
    DataTruncated {
        /// The `data` file.
        path: PathBuf,
        /// Bytes the index describes.
        expected: u64,
        /// Bytes the file has.
        actual: u64,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
