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
//! - [`DownloadPolicy`] says which archives a member wants (all, the latest,
//!   a window, the last days); [`missing_selected`] is the set difference
//!   over those.
//! - [`extract_archive`] reads one archive back from `data`, validating the
//!   entry against the file and a memory cap first.
//! - Every decoder walks the protobuf wire format itself and keeps its peak
//!   heap within [`DecodeLimits`] (8 × the input + 64 KiB, refusing hostile
//!   density; honest archives measure 1.1–2.1 ×).
//!
//! ```
//! use archive_index::{ArchiveRun, Message, TimeRange, Topic, TorrentIndex, write_archives};
//!
//! # fn main() -> archive_index::Result<()> {
//! let topic: Topic = "0xdeadbeef".parse()?;
//! let messages = vec![Message {
//!     sig: vec![1],
//!     timestamp: 1_577_840_400,
//!     topic,
//!     payload: b"hello".to_vec(),
//!     padding: vec![],
//!     hash: vec![0xab],
//!     third_party_id: String::new(),
//! }];
//! let run = ArchiveRun {
//!     range: TimeRange { from: 1_577_836_800, to: 1_578_441_600 },
//!     interval: 7 * 86_400,
//!     topics: vec![topic],
//! };
//! let mut data = Vec::new();
//! let (_, report) = write_archives(&mut data, 0, &run, messages)?;
//! let mut index = TorrentIndex::new();
//! for archive in &report.archives {
//!     index.insert(archive.entry.clone())?;
//! }
//! assert_eq!(data.len() as u64, index.data_len());
//! assert_eq!(data.len(), 102_400); // one archive, padded to a whole piece
//! # Ok(())
//! # }
//! ```

mod chunking;
mod codex_index;
mod data_writer;
mod download_policy;
mod encode;
mod envelope;
mod error;
mod extract;
mod ids;
mod in_memory;
mod limits;
mod link_kind;
mod message;
mod missing;
mod partition;
mod torrent_index;
mod wire;

pub use chunking::DroppedMessage;
pub use codex_index::{CodexEntry, CodexIndex};
pub use data_writer::{DataWriter, WriteReport, WrittenArchive};
pub use download_policy::{
    DownloadPolicy, coalesce, format_timestamp, missing_selected, overlaps, parse_duration,
    parse_timestamp,
};
pub use encode::{MAX_ARCHIVE_SIZE, PIECE_LENGTH, padded_size};
pub use envelope::{BlobKind, Envelope, EnvelopeError, open_blob, seal_blob};
pub use error::{Error, Result};
pub use extract::{ExtractOptions, decode_sealed_archive, extract_archive, extract_sealed_archive};
pub use ids::{ArchiveId, CommunityId, Topic, keccak256};
pub use in_memory::{ArchiveRun, write_archives, write_sealed_archives};
pub use limits::{DECODE_HEAP_ALLOWANCE, DecodeLimits};
pub use link_kind::{InvalidLinkKind, LinkKind};
pub use message::{Archive, ArchiveMetadata, Message, TimeRange};
pub use missing::missing;
pub use partition::{Partitions, partitions};
pub use torrent_index::{IndexEntry, TorrentIndex};
