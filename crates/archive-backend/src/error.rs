//! The one error type of every backend, with kinds that tell a caller whether
//! trying again can help.

use std::fmt;

/// What went wrong, in terms a scheduler can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input was wrong (a malformed link, an unknown archive): retrying the
    /// same call fails the same way.
    InvalidInput,
    /// The link, index or archive is not available from this node or its peers.
    NotFound,
    /// Data arrived but does not verify (wrong hash, undecodable archive).
    Corrupt,
    /// The peer or node did not answer in time.
    Timeout,
    /// The storage network or node is unreachable or failing (connection
    /// refused, 5xx): likely to pass.
    Unavailable,
    /// The operation was cancelled by the caller.
    Cancelled,
    /// This backend cannot do that.
    Unsupported,
    /// The bytes are sealed (an encrypted community's) with a key this node
    /// does not hold. They are sound and kept: the same call succeeds once
    /// the caller's envelope has the key, so the caller waits for the key
    /// rather than retrying.
    KeyMissing,
    /// A local file or database failed.
    Io,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Whether retrying the same call later can succeed.
    pub fn is_temporary(self) -> bool {
        matches!(self, ErrorKind::Timeout | ErrorKind::Unavailable)
    }
}

/// A backend error: its kind, the backend that raised it, a message naming
/// what was wrong, and the underlying cause.
#[derive(Debug, thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    backend: &'static str,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// An error of `kind` raised by `backend`.
    pub fn new(kind: ErrorKind, backend: &'static str, message: impl Into<String>) -> Error {
        Error {
            kind,
            backend,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.source = Some(Box::new(source));
        self
    }

    /// The error for bytes that did not decode as `what` (an index, an
    /// archive): [`ErrorKind::KeyMissing`] when only the envelope's key is
    /// missing, [`ErrorKind::Corrupt`] otherwise.
    pub fn undecodable(
        backend: &'static str,
        what: impl fmt::Display,
        error: archive_index::Error,
    ) -> Error {
        let kind = if error.key_missing().is_some() {
            ErrorKind::KeyMissing
        } else {
            ErrorKind::Corrupt
        };
        Error::new(kind, backend, what.to_string()).with_source(error)
    }

    /// The ID of the key a [`ErrorKind::KeyMissing`] error waits for, as
    /// the sealed bytes name it.
    pub fn missing_key(&self) -> Option<&str> {
        self.source
            .as_deref()?
            .downcast_ref::<archive_index::Error>()?
            .key_missing()
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether retrying can help.
    pub fn is_temporary(&self) -> bool {
        self.kind.is_temporary()
    }

    /// The backend that raised it.
    pub fn backend(&self) -> &'static str {
        self.backend
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} backend: {}", self.backend, self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

/// `Result` with the backend [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
