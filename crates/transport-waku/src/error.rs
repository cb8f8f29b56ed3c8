//! The crate's error type: envelopes, node setup, the running node, ingestion.

/// Why an envelope could not be read or built, a node could not start or
/// answer, or ingestion stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An encoded envelope is larger than the node accepts.
    #[error("waku message of {len} bytes exceeds the limit of {max} bytes")]
    Oversized {
        /// Size of the encoded message.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The bytes are not a 14/WAKU2-MESSAGE protobuf.
    #[error("malformed waku message: {0}")]
    Malformed(String),
    /// A received message cannot be stored the way status-go stores it.
    #[error("waku message not storable: {0}")]
    NotStorable(String),
    /// The libp2p swarm could not be built or could not listen.
    #[error("waku node setup: {0}")]
    Setup(String),
    /// A listen address cannot be bound, e.g. because another process
    /// listens there.
    #[error("listening on {addr}: {reason}")]
    Listen {
        /// The address as configured.
        addr: libp2p::Multiaddr,
        /// Why it cannot be bound.
        reason: String,
    },
    /// A listen or bootstrap address is not a valid multiaddr.
    #[error("invalid multiaddr {addr:?}: {reason}")]
    Multiaddr {
        /// The address as given.
        addr: String,
        /// The parser's explanation.
        reason: String,
    },
    /// Gossipsub refused to publish.
    #[error("waku relay publish: {0}")]
    Publish(String),
    /// The node has shut down (or its task ended), so it cannot answer.
    #[error("waku node is shut down")]
    Shutdown,
    /// Waiting for something on the network took longer than allowed.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// Storing received messages failed.
    #[error("storing received messages: {0}")]
    Store(#[from] archive_store::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for archive_dispatch::Error {
    fn from(e: Error) -> archive_dispatch::Error {
        archive_dispatch::Error::Transport(e.to_string())
    }
}
