//! The devnode's one error type.

/// What can go wrong in the devnode and its CID code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevnodeError {
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
    /// A peer request failed.
    #[error("peer {peer}: {source}")]
    Peer {
        /// The peer URL.
        peer: String,
        /// The cause.
        source: reqwest::Error,
    },
    /// The data directory or the listening socket failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl DevnodeError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> DevnodeError {
        DevnodeError::Io {
            what: what.into(),
            source,
        }
    }
}
