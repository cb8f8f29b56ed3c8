//! The crate's error type: key files, announcement wire format, transports.

use std::path::PathBuf;

/// Why a key could not be loaded or stored, an announcement could not be built
/// or read, or a transport failed.
///
/// Decoding errors are also what a member reports when it drops a received
/// message (see [`Rejection::Invalid`](crate::Rejection::Invalid)), so every
/// variant carries enough to say what was wrong without the offending bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key file does not exist.
    #[error("key file {path} does not exist")]
    KeyFileMissing {
        /// The path that was read.
        path: PathBuf,
    },
    /// Writing a key would replace an existing key file.
    #[error("key file {path} already exists; refusing to overwrite a community key")]
    KeyFileExists {
        /// The path that was written.
        path: PathBuf,
    },
    /// Reading or writing the key file failed for another reason.
    #[error("key file {path}: {source}")]
    KeyFileIo {
        /// The path that was read or written.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The key file is not one line of `0x` and 64 hex digits.
    #[error("key file {path}: {reason}")]
    KeyFileFormat {
        /// The path that was read.
        path: PathBuf,
        /// What is wrong with the contents.
        reason: &'static str,
    },
    /// The key file holds 64 hex digits that are not a valid secp256k1 secret
    /// scalar (zero, or not below the curve order).
    #[error(
        "key file {path}: not a valid secp256k1 secret key (must be non-zero and below the curve order)"
    )]
    KeyFileInvalidKey {
        /// The path that was read.
        path: PathBuf,
    },
    /// The 32 bytes are not a valid secp256k1 secret scalar (zero, or not
    /// below the curve order).
    #[error("not a valid secp256k1 secret key (must be non-zero and below the curve order)")]
    InvalidSecretKey,

    /// The received message is larger than the accepted wire size.
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    Oversized {
        /// Size of the message.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// A protobuf layer could not be decoded.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which message failed: the wrapper or the payload.
        what: &'static str,
        /// The decoder's explanation.
        reason: String,
    },
    /// The wrapper's type is not an archive announcement.
    #[error("message type {0} is not an archive announcement (expected 43 or 76)")]
    UnknownType(i32),
    /// The signature is not 65 bytes.
    #[error("signature has {0} bytes, expected 65")]
    SignatureLength(usize),
    /// The signature's last byte is not a recovery ID of 0 or 1.
    #[error("signature recovery ID {0} is not 0 or 1")]
    RecoveryId(u8),
    /// The signature is well-formed but no public key can be recovered from it,
    /// or it is not in the canonical low-S form.
    #[error("invalid signature: {0}")]
    BadSignature(&'static str),
    /// The announcement carries an empty link.
    #[error("announcement has an empty link")]
    EmptyLink,

    /// A transport could not publish or subscribe.
    #[error("transport: {0}")]
    Transport(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
