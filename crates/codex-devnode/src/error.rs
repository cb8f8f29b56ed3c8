//! The devnode's one error type.

/// What can go wrong in the devnode and its CID code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A manifest that is not a plain format-A manifest.
    #[error(transparent)]
    BadManifest(#[from] crate::format::BadManifest),
    /// An upload without a byte: no block, no tree (the node's message).
    #[error("Empty leaves")]
    EmptyUpload,
    /// Data from a peer that does not match the manifest.
    #[error("verification failed: {0}")]
    Verification(String),
    /// No peer (and not the local store) has the content.
    #[error("not found: {0}")]
    NotFound(String),
    /// Storing a block would take the repository past `quota_max_bytes`.
    #[error("Unable to store block {block}: {used} of the {limit} bytes of the quota are used")]
    QuotaExceeded {
        /// The block that did not fit.
        block: String,
        /// Bytes stored or being stored.
        used: u64,
        /// The quota.
        limit: u64,
    },
    /// A peer request failed.
    #[error("peer {peer}: {source}")]
    Peer {
        /// The peer URL.
        peer: String,
        /// The cause.
        source: reqwest::Error,
    },
    /// The listening address is taken (or not ours to bind).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The configured address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Reading or writing the data directory (or an upload) failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}
