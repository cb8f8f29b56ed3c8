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
    /// The bytes are not bencode.
    #[error("malformed bencode at byte {offset}: {reason}")]
    Bencode {
        /// Where in the input the problem was found.
        offset: usize,
        /// What is wrong there.
        reason: &'static str,
    },
    /// Valid bencode, but not a torrent this crate can use.
    #[error("invalid torrent: `{field}` {reason}")]
    InvalidTorrent {
        /// The metainfo key at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The number of piece hashes does not cover the files exactly.
    #[error(
        "invalid torrent: {actual} piece hashes for {total_length} bytes in pieces of \
         {piece_length} bytes; expected {expected}"
    )]
    PieceCountMismatch {
        /// `ceil(total_length / piece_length)`.
        expected: u64,
        /// Hashes present.
        actual: u64,
        /// Sum of the file lengths.
        total_length: u64,
        /// The torrent's piece length.
        piece_length: u64,
    },
    /// A `.torrent` larger than any community torrent could be.
    #[error("a .torrent of {len} bytes exceeds the limit of {max} bytes")]
    TorrentTooLarge {
        /// Its size.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The community directory's name cannot be a torrent name.
    #[error("{path}: a community directory needs a UTF-8 name")]
    DirName {
        /// The directory.
        path: PathBuf,
    },
    /// A torrent or magnet link names another community than the one fetched.
    #[error("the {what} names {found:?}, not the community {expected} being fetched")]
    WrongCommunity {
        /// "torrent name" or "magnet dn".
        what: &'static str,
        /// The name found (cut to 80 characters).
        found: String,
        /// The community being fetched.
        expected: archive_index::CommunityId,
    },
    /// Another process is writing this community's folder.
    #[error("{path} is locked by another writer ({holder}); only one may write a community folder")]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Who holds it, as it wrote itself into the lock file: pid and command.
        holder: String,
    },
    /// A magnet link that cannot be used.
    #[error("invalid magnet link: `{part}` {reason}")]
    InvalidMagnet {
        /// The parameter at fault (`xt`, `dn`, `tr`, `x.pe`) or `link`.
        part: &'static str,
        /// What is wrong with it.
        reason: &'static str,
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
