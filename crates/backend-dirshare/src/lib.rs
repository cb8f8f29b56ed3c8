//! A storage backend over a shared directory, built outside the core crates
//! the way any backend author would: against `archive-backend`'s trait and
//! kit and `archive-index`'s format, with no change to either.
//!
//! The "network" is a folder every node can see (a network share, a synced
//! folder, or one directory on one machine). Each node also keeps its own
//! local folder. Both hold content-addressed blobs,
//! `<folder>/<community>/<SHA-256 hex>`:
//!
//! - each archive, unpadded, as `archive-index` encodes it;
//! - the community's index, a [`CodexIndex`](archive_index::CodexIndex)
//!   whose per-archive content identifier is the SHA-256 of the archive (so
//!   each archive ID, the Keccak-256 of its index entry, commits to the
//!   archive's bytes).
//!
//! The link is `dir:<SHA-256 of the index>`, its network [`DIR`].
//!
//! **What "verified" means here.** The folder is not trusted: anyone who can
//! write to it can change any file. A member therefore checks every byte it
//! reads against a hash it already holds before using it: the index against
//! the SHA-256 the signed link names, each archive against the SHA-256 its
//! index entry records (and the entry against its archive ID, which
//! `archive-index` checks on decoding). A blob that fails is refused as
//! [`ErrorKind::Corrupt`](archive_backend::ErrorKind::Corrupt) and never
//! copied into the local folder, so [`FetchEvent::ArchiveFetched`] is only
//! reported for an archive whose bytes are exactly the ones the owner
//! published. Nothing is read past [`MAX_INDEX_LEN`] or the archive size
//! limit, whatever the folder holds.
//!
//! [`FetchEvent::ArchiveFetched`]: archive_backend::FetchEvent::ArchiveFetched

mod backend;
mod blobs;

pub use backend::DirShareBackend;

use archive_backend::LinkKind;

/// The network's name, and its links' scheme: `dir:<SHA-256 hex>`.
pub const DIR: LinkKind = LinkKind::from_static("dir");

/// The largest index read: far beyond the index of a century of weekly
/// archives.
pub const MAX_INDEX_LEN: u64 = 16 * 1024 * 1024;

/// The name in errors and logs.
const NAME: &str = "dir";
