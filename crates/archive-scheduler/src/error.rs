//! The crate's one error type.

use archive_index::CommunityId;

/// What can go wrong when setting up or scheduling archive tasks. Failures of
/// the runs themselves are reported as [`Event`](crate::Event)s, since no
/// caller is waiting for them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The community already has a task; stop it first.
    #[error("community {0} is already scheduled")]
    AlreadyScheduled(CommunityId),
    /// The community has no task (never scheduled, or stopped).
    #[error("community {0} is not scheduled")]
    NotScheduled(CommunityId),
    /// A setting is out of range.
    #[error("invalid scheduler configuration: {0}")]
    InvalidConfig(&'static str),
    /// The store failed while the start case was being determined.
    #[error("store: {0}")]
    Store(#[from] archive_store::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
