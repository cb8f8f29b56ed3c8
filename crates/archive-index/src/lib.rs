//! The history-archive format of status-go, as a pure library.
//!
//! Everything here is synchronous and does no I/O of its own: it reads from
//! [`std::io::Read`] and writes to [`std::io::Write`] that the caller supplies.
//! It knows nothing of async runtimes, files, networks or storage backends.
//!
//! - [`partitions`] splits `[from, to)` into archive periods (spec c.3).
//! - [`DataWriter`] chunks messages into archives of at most 30 MB of payload,
//!   encodes them in (timestamp, hash) order, pads them to whole 100 KiB pieces
//!   and appends them to `data`, one message in memory at a time (spec c.3–c.4).
//! - [`write_archives`] does the same for messages held in memory, filtering
//!   them to the run's range and topics first.
//! - [`TorrentIndex`] and [`CodexIndex`] are the two index formats; each computes
//!   archive IDs as `0x` + Keccak-256 of the encoded entry and answers "which
//!   archives are missing" by set difference.
//! - [`extract_archive`] reads one archive back from `data`, validating the
//!   entry against the file and a memory cap first.

mod chunking;
mod codex_index;
mod data_writer;
mod encode;
mod error;
mod extract;
mod ids;
mod in_memory;
mod message;
mod missing;
mod partition;
mod torrent_index;

pub use chunking::DroppedMessage;
pub use codex_index::{CodexEntry, CodexIndex};
pub use data_writer::{DataWriter, WriteReport, WrittenArchive};
pub use encode::{MAX_ARCHIVE_SIZE, PIECE_LENGTH, padded_size};
pub use error::{Error, Result};
pub use extract::{ExtractOptions, extract_archive};
pub use ids::{ArchiveId, CommunityId, Topic, keccak256};
pub use in_memory::{ArchiveRun, write_archives};
pub use message::{Archive, ArchiveMetadata, Message, TimeRange};
pub use partition::{Partitions, partitions};
pub use torrent_index::{IndexEntry, TorrentIndex};
