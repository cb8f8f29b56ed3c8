//! BitTorrent storage for history archives, laid out exactly as status-go lays
//! them out: `<data dir>/<community ID>/data` (archives, each zero-padded to whole
//! 100 KiB pieces, appended) and `<data dir>/<community ID>/index` (a
//! `WakuMessageArchiveIndex`).
//!
//! [`ArchiveDir`] owns those two files and keeps one invariant across crashes:
//! the index never points past the end of `data`.

mod archive_dir;
mod error;

pub use archive_dir::{AppendOutcome, ArchiveDir};
pub use error::{Error, Result};
