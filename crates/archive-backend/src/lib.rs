//! The storage-backend trait for history archives.
//!
//! A backend publishes a community's archives on a storage network and fetches
//! them back: [`Backend`] is the contract, shaped for implementors — required
//! methods only, an options struct per call, [`Capabilities`] for what is
//! optional, and one [`Error`] whose [`ErrorKind`] says whether retrying can
//! help. A [`Link`] is what an owner announces: a magnet link or a Codex
//! index CID.
//!
//! Backends never see the message store: an owner's messages arrive through
//! [`MessageSource`]. Neither this crate nor its kit adds a dependency.
//!
//! # Writing a backend
//!
//! The archive format is `archive-index`'s; a backend decides only where the
//! bytes live. What it needs, in the order a publish and a fetch use it:
//!
//! - [`feed_partitions`] walks a [`PublishRequest`] partition by partition
//!   (`Begin`, messages, `End`; empty partitions produce nothing), so every
//!   backend cuts archives at the same places.
//! - [`archive_index::DataWriter`] turns that walk into archives: status-go's
//!   30 MB chunking and padding, appended to any `Write`, with a
//!   [`WriteReport`](archive_index::WriteReport) of what it wrote;
//!   [`PublishOutcome::from_report`] makes the outcome from that report.
//! - [`RemoteIndex::from_metadata`] (or `From` a `TorrentIndex` or
//!   `CodexIndex`) is what `resolve` returns; [`RemoteIndex::missing`] is the
//!   set difference a member fetches.
//! - [`archive_index::extract_archive`] reads one archive back out of a
//!   `data` file against its index, bounds-checked and memory-capped, for
//!   `fetch` and `read_archive`.
//! - [`FetchEvent::hand_over`] gives each verified archive to the caller,
//!   waiting for room in its channel unless the fetch is cancelled.
//!
//! [`memory::MemoryBackend`] is a complete backend built from exactly these
//! (about 400 lines). [`conformance`] is the kit every backend runs from its
//! own tests: one [`conformance_tests!`] call makes a named test per check.

mod backend;
pub mod conformance;
mod error;
mod link;
pub mod memory;
mod message_list;
mod partition_feed;
mod retry;

pub use backend::{
    Backend, Capabilities, DynBackend, FetchEvent, FetchOptions, FetchOrder, FetchOutcome,
    MessageSource, PublishOptions, PublishOutcome, PublishRequest, PublishedArchive, RemoteIndex,
    ResolveOptions, SharedEnvelope,
};
pub use error::{Error, ErrorKind, Result};
pub use link::{Link, LinkKind, MAX_LINK_LEN};
pub use message_list::MessageList;
pub use partition_feed::{PartitionItem, feed_partitions};
pub use retry::RetryPolicy;
