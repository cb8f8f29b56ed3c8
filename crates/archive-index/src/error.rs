//! The crate's one error type.

use crate::ids::ArchiveId;

/// Everything that can go wrong while building, reading or validating archives.
///
/// Each variant names the input that was wrong; none of them means "try again":
/// the format is pure, so the same input fails the same way.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A hex identifier (topic, community ID, archive ID) did not parse.
    #[error("invalid {what} {input:?}: {reason}")]
    InvalidId {
        /// Which kind of identifier: "topic", "community ID", "archive ID".
        what: &'static str,
        /// The text that was given (cut to 80 characters).
        input: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A timestamp or duration of a download policy did not parse.
    #[error("invalid {what} {input:?}: {reason}")]
    InvalidTime {
        /// Which: "timestamp" or "duration".
        what: &'static str,
        /// The text that was given (cut to 80 characters).
        input: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The partition interval was zero.
    #[error("the archive interval must be at least one second")]
    ZeroInterval,
    /// A message handed to the writer lies outside the open partition.
    #[error("message {hash} at {timestamp} lies outside the partition [{from}, {to})")]
    OutsidePartition {
        /// Hex hash of the message.
        hash: String,
        /// Its timestamp, seconds.
        timestamp: u64,
        /// Partition start, inclusive.
        from: u64,
        /// Partition end, exclusive.
        to: u64,
    },
    /// A message handed to the writer has a topic the archive run was not given.
    #[error("message {hash} has topic {topic}, which is not one of the archive's topics")]
    TopicNotAllowed {
        /// Hex hash of the message.
        hash: String,
        /// Its topic.
        topic: String,
    },
    /// Messages must arrive in strictly increasing (timestamp, hash) order.
    #[error("message {hash} at {timestamp} is out of (timestamp, hash) order or a duplicate")]
    OutOfOrder {
        /// Hex hash of the message.
        hash: String,
        /// Its timestamp, seconds.
        timestamp: u64,
    },
    /// `push` or `finish_partition` was called with no partition open, or
    /// `begin_partition` with one already open.
    #[error("partition misuse: {0}")]
    PartitionState(&'static str),
    /// Bytes did not decode as the expected protobuf message.
    #[error("cannot decode {what}: {source}")]
    Decode {
        /// Which message: "archive", "index", "Codex index".
        what: &'static str,
        /// prost's reason.
        #[source]
        source: prost::DecodeError,
    },
    /// A decoded message violates the format (a topic that is not 4 bytes, …).
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which message.
        what: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// An index entry cannot describe a real archive in `data`.
    #[error("index entry {id}: {reason}")]
    BadEntry {
        /// The entry's archive ID.
        id: ArchiveId,
        /// What was wrong: misaligned, overlapping, past the end, too large.
        reason: String,
    },
    /// An index key is not the Keccak-256 of its entry.
    #[error("index key {key} does not match its entry (expected {expected})")]
    IdMismatch {
        /// The key found in the index.
        key: ArchiveId,
        /// The ID the entry hashes to.
        expected: ArchiveId,
    },
    /// The archive ID is not in the index.
    #[error("archive {0} is not in the index")]
    UnknownArchive(ArchiveId),
    /// Decoding the input would take more memory than its limits allow.
    #[error(
        "{what} of {input} bytes would need {needed} bytes of memory to decode, \
         over the limit of {limit}"
    )]
    TooLarge {
        /// Which message: "archive", "index", "Codex index".
        what: &'static str,
        /// Bytes of input.
        input: u64,
        /// Heap bytes decoding would need (an upper bound).
        needed: u64,
        /// What [`crate::DecodeLimits`] allows for this input.
        limit: u64,
    },
    /// The community's envelope (its encryption) could not seal or open a
    /// blob; [`Error::key_missing`] tells a missing key from a bad blob.
    #[error("{} encryption: {source}", kind.name())]
    Envelope {
        /// Which blob.
        kind: crate::BlobKind,
        /// Why.
        #[source]
        source: crate::EnvelopeError,
    },
    /// Reading or writing the underlying stream failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The ID of the key a sealed blob needs, when that key is all that is
    /// missing (the bytes are sound: keep them for when it arrives).
    pub fn key_missing(&self) -> Option<&str> {
        match self {
            Error::Envelope {
                source: crate::EnvelopeError::KeyMissing { key_id },
                ..
            } => Some(key_id),
            _ => None,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
