//! The facade's one error type.

use std::path::PathBuf;

use archive_index::CommunityId;

use crate::config::ConfigError;

/// What can go wrong starting or driving a [`Node`](crate::Node). Failures
/// of background work (a publish, a download) are reported as
/// [`NodeEvent`](crate::NodeEvent)s instead, since no caller waits for them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The configuration enables something this build left out.
    #[error("this build has no `{0}` support: rebuild the archivist crate with its `{0}` feature")]
    NotCompiled(&'static str),
    /// A network engine did not start.
    #[error("starting {what}: {message}")]
    Start {
        /// Which engine.
        what: &'static str,
        /// Why it failed.
        message: String,
    },
    /// A file or directory could not be used.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A community key file could not be read.
    #[error("community key {}: {source}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: archive_dispatch::Error,
    },
    /// The node identity file (the frame-signing key and installation ID,
    /// created on first start) could not be read or created.
    #[error("node identity file {}: {source}", path.display())]
    NodeIdentity {
        /// The identity file.
        path: PathBuf,
        /// Why.
        source: archive_dispatch::Error,
    },
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] archive_store::Error),
    /// The scheduler refused.
    #[error("scheduler: {0}")]
    Scheduler(#[from] archive_scheduler::Error),
    /// Announcing or listening failed.
    #[error("announcements: {0}")]
    Dispatch(#[from] archive_dispatch::Error),
    /// The community is not owned by this node.
    #[error("community {0} is not owned by this node")]
    NotOwned(CommunityId),
    /// The community is not known to this node.
    #[error("community {0} is neither owned nor joined by this node")]
    Unknown(CommunityId),
    /// A hash-ratchet key is for a group that is no community ID.
    #[error("a key for group 0x{group}, which is not a community ID (33 bytes)")]
    KeyGroup {
        /// Hex of the group ID.
        group: String,
    },
    /// The community was added already.
    #[error("community {0} was added already")]
    AlreadyAdded(CommunityId),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
