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
//! [`MessageSource`]. The conformance kit every backend runs from its own
//! tests is [`conformance`]; [`memory::MemoryBackend`] is a complete in-memory
//! backend that passes it. Neither adds a dependency.

mod backend;
pub mod conformance;
mod error;
mod link;
pub mod memory;
mod message_list;
mod partition_feed;

pub use backend::{
    Backend, Capabilities, DynBackend, FetchEvent, FetchOptions, FetchOrder, FetchOutcome,
    MessageSource, PublishOptions, PublishOutcome, PublishRequest, PublishedArchive, RemoteIndex,
    ResolveOptions,
};
pub use error::{Error, ErrorKind, Result};
pub use link::{Link, LinkKind, MAX_LINK_LEN};
pub use message_list::MessageList;
pub use partition_feed::{PartitionItem, feed_partitions};
