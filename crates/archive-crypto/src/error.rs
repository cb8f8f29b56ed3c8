//! The crate's one error type.

use std::path::PathBuf;

use crate::key::KeyId;

/// Everything that can go wrong while encrypting, decrypting or reading keys.
///
/// Each variant names what was wrong. Only [`Error::KeyMissing`] can turn into
/// success later (when the key arrives); the rest fail the same way every time.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a hash-ratchet `ProtocolMessage` (B.5).
    #[error("not a hash-ratchet message: {0}")]
    Malformed(String),
    /// A hash-ratchet header with sequence number 0: a key exchange, whose
    /// payload status-go passes through unencrypted. Archives never use one,
    /// so accepting it would read ciphertext-shaped bytes as plain text.
    #[error("sequence number 0 is a key exchange, not an encrypted archive or index")]
    KeyExchange,
    /// No key of the keyring matches the header's key ID, nor its
    /// (deprecated key ID, group) pair.
    #[error(
        "no key for key ID {} (group 0x{group_id}, deprecated key ID {deprecated_key_id})",
        key_id.map_or_else(|| "(none)".to_owned(), |k| k.to_string())
    )]
    KeyMissing {
        /// Hex of the header's group ID.
        group_id: String,
        /// The header's key ID, if it had a well-formed one.
        key_id: Option<KeyId>,
        /// The header's deprecated key ID (low 32 bits of the key's timestamp).
        deprecated_key_id: u32,
    },
    /// The key that matched belongs to another group than the one being read.
    #[error("key {key_id} belongs to group 0x{key_group}, not to 0x{expected}")]
    WrongGroup {
        /// The key that matched.
        key_id: KeyId,
        /// Hex of its group.
        key_group: String,
        /// Hex of the group the caller reads.
        expected: String,
    },
    /// The sequence number is further ahead of the last one seen for its key
    /// than status-go's limit allows.
    #[error(
        "sequence number {seq_no} of key {key_id} is more than {limit} ahead of the last seen ({last_seen})"
    )]
    SequenceTooFarAhead {
        /// The key.
        key_id: KeyId,
        /// The header's sequence number.
        seq_no: u32,
        /// The highest sequence number decrypted with this key so far.
        last_seen: u32,
        /// [`crate::MAX_SEQ_AHEAD`].
        limit: u32,
    },
    /// Every sequence number a status-go receiver can decrypt has been used.
    #[error("key {key_id} has used all {limit} sequence numbers; make a new key for the group")]
    SequenceExhausted {
        /// The exhausted key.
        key_id: KeyId,
        /// [`crate::MAX_SEQ_AHEAD`].
        limit: u32,
    },
    /// Encryption was asked for a group the keyring holds no key of.
    #[error("no key for group 0x{0}")]
    NoKeyForGroup(String),
    /// AES-GCM refused the payload: the wrong key, or altered bytes.
    #[error(
        "the payload of key {key_id}, sequence number {seq_no}, does not authenticate (wrong key or altered bytes)"
    )]
    Authentication {
        /// The key that was tried.
        key_id: KeyId,
        /// The header's sequence number.
        seq_no: u32,
    },
    /// An installation ID a reader could mistake for an archive (B.7.1).
    #[error("installation ID {id:?} is unusable: {reason}")]
    InvalidInstallationId {
        /// The ID (cut to 80 characters).
        id: String,
        /// Why.
        reason: &'static str,
    },
    /// A group ID, key or key ID of the wrong length or shape.
    #[error("invalid {what}: {reason}")]
    InvalidKeyMaterial {
        /// "group ID", "key", "key ID", "timestamp".
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A key file that does not parse.
    #[error("key file: {0}")]
    KeyFile(String),
    /// The system random number generator failed.
    #[error("randomness unavailable: {0}")]
    Entropy(String),
    /// Writing a key file failed; nothing is left behind.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
