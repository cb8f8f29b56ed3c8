//! The client's one error type, and how it maps onto the backend error kinds.

use std::time::Duration;

use archive_backend::ErrorKind;

/// What went wrong talking to a Codex / Logos Storage node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The node answered with an error status; `body` is its message.
    #[error("{what}: HTTP {status}: {body}")]
    Status {
        /// The call, e.g. `GET /data/{cid}/network/manifest`.
        what: String,
        /// The status code.
        status: u16,
        /// The response body (the node sends the message as text).
        body: String,
    },
    /// The node could not be reached.
    #[error("{what}: cannot connect: {source}")]
    Connect {
        /// The call.
        what: String,
        /// The cause.
        source: reqwest::Error,
    },
    /// A deadline or the idle-read timeout passed.
    #[error("{what}: no answer within {after:?}")]
    Timeout {
        /// The call.
        what: String,
        /// The deadline or idle timeout that passed.
        after: Duration,
    },
    /// The connection failed mid-way (reset, truncated body).
    #[error("{what}: transfer failed: {source}")]
    Transport {
        /// The call.
        what: String,
        /// The cause.
        source: reqwest::Error,
    },
    /// Data that does not match its CID, manifest or length.
    #[error("{cid}: verification failed: {reason}")]
    Verification {
        /// The dataset.
        cid: String,
        /// What did not match.
        reason: String,
    },
    /// An answer of the wrong shape.
    #[error("{what}: unexpected answer: {reason}")]
    Protocol {
        /// The call.
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// A CID that does not parse, or whose text cannot go into a URL path as
    /// it is; refused before any request.
    #[error("{cid:?} is not a usable CID: {reason}")]
    InvalidCid {
        /// The text given (at most 200 characters of it).
        cid: String,
        /// Why it was refused.
        reason: String,
    },
    /// A bad argument (an unusable filename, a foreign link).
    #[error("{0}")]
    InvalidInput(String),
    /// The caller cancelled.
    #[error("cancelled")]
    Cancelled,
    /// An archive or index that does not decode.
    #[error("archive format: {0}")]
    Archive(#[from] archive_index::Error),
}

impl ClientError {
    /// The backend error kind: 5xx and connection failures are Unavailable,
    /// timeouts Timeout, 404 NotFound, failed verification Corrupt.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Status { status: 404, .. } => ErrorKind::NotFound,
            ClientError::Status { status: 500.., .. } => ErrorKind::Unavailable,
            ClientError::Status {
                status: 400 | 422, ..
            } => ErrorKind::InvalidInput,
            ClientError::Status { .. } => ErrorKind::Other,
            ClientError::Connect { .. } | ClientError::Transport { .. } => ErrorKind::Unavailable,
            ClientError::Timeout { .. } => ErrorKind::Timeout,
            ClientError::Verification { .. } | ClientError::Archive(_) => ErrorKind::Corrupt,
            ClientError::Protocol { .. } => ErrorKind::Other,
            ClientError::InvalidInput(_) | ClientError::InvalidCid { .. } => {
                ErrorKind::InvalidInput
            }
            ClientError::Cancelled => ErrorKind::Cancelled,
        }
    }

    /// The HTTP status, when the node answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the same request may succeed when sent again: connection
    /// failures, timeouts and 5xx, never a 4xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Status { status, .. } => *status >= 500,
            ClientError::Connect { .. } | ClientError::Timeout { .. } => true,
            _ => false,
        }
    }
}

impl From<ClientError> for archive_backend::Error {
    fn from(e: ClientError) -> archive_backend::Error {
        archive_backend::Error::new(e.kind(), crate::NAME, "Codex node").with_source(e)
    }
}
