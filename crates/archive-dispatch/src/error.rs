//! The crate's error type: key files, announcement wire format, transports.

use std::path::PathBuf;

use archive_index::{CommunityId, LinkKind};

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
    /// The `ApplicationMetadataMessage` type is not 43
    /// (`COMMUNITY_MESSAGE_ARCHIVE_LINK`). Other status-go messages on the same
    /// channel end up here, and so does the Codex prototype's 76.
    #[error("message type {0} is not an archive link (expected 43)")]
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
    /// The signed link is neither a `magnet:` URI nor a CID, so it has no kind.
    #[error("link is not an archive link: {reason}")]
    UnrecognisedLink {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The caller's kind is not the kind the link's text has.
    #[error("link was given as a {declared} but is a {actual}")]
    LinkKindMismatch {
        /// The kind the caller passed.
        declared: LinkKind,
        /// The kind read from the link.
        actual: LinkKind,
    },
    /// The installation ID is empty, too long, or not visible ASCII.
    #[error("installation ID must be 1 to 64 visible ASCII characters")]
    InvalidInstallationId,

    /// The payload does not decrypt under the channel's symmetric key.
    #[error("payload does not decrypt: {reason}")]
    Decrypt {
        /// Why: too short, or the AES-GCM tag does not match.
        reason: &'static str,
    },
    /// The decrypted 26/WAKU2-PAYLOAD frame is malformed.
    #[error("malformed payload frame: {0}")]
    Frame(&'static str),
    /// The frame carries no signature; status-go drops such messages.
    #[error("payload frame is not signed")]
    UnsignedFrame,
    /// The frame's signature is malformed or recovers no key.
    #[error("payload frame signature: {0}")]
    FrameSignature(#[source] Box<Error>),
    /// The message arrived on a content topic that is none of the community's
    /// announcement channels.
    #[error("content topic {content_topic:?} is not an announcement channel of the community")]
    UnknownContentTopic {
        /// The content topic.
        content_topic: String,
    },
    /// The announcement is well signed, but not by the expected community.
    #[error("announcement is signed by {signer}, not by community {expected}")]
    SignerMismatch {
        /// The community the message was meant for.
        expected: CommunityId,
        /// Whose key signed it.
        signer: CommunityId,
    },
    /// A payload on a link-request channel decrypted and was signed, but
    /// its data is not a link request for that community.
    #[error("not an archive link request for this community")]
    NotALinkRequest,
    /// The system's random number generator failed.
    #[error("randomness unavailable: {0}")]
    Entropy(String),

    /// A transport could not publish or subscribe.
    #[error("transport: {0}")]
    Transport(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
