//! The envelope an encrypted community wraps each archive and its index in,
//! as a seam: this crate pads, offsets and hashes whatever bytes the envelope
//! returns, and never knows the cipher (that is `archive-crypto`).
//!
//! status-go encrypts an encrypted (token-gated) community's archive after
//! encoding and before padding, and its index before writing it
//! (`docs/spec/status-go-wire.md` Part B), so archive IDs, offsets and
//! padding are computed over the sealed bytes. A community without an
//! envelope is written and read exactly as before: the plain path passes the
//! encoded bytes through untouched.

use std::fmt;

use crate::error::{Error, Result};

/// Which blob is being sealed or opened: the two are told apart on read
/// (status-go's "try plain first" rule differs between them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlobKind {
    /// One encoded `WakuMessageArchive`.
    Archive,
    /// A torrent or Codex index.
    Index,
}

impl BlobKind {
    /// "archive" or "index", for messages.
    pub fn name(self) -> &'static str {
        match self {
            BlobKind::Archive => "archive",
            BlobKind::Index => "index",
        }
    }
}

/// Why an envelope could not seal or open a blob.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The blob is sealed with a key this node does not hold (yet). The
    /// bytes are fine: keep them, and open them once the key arrives.
    #[error("encrypted with key {key_id}, which this node does not hold")]
    KeyMissing {
        /// The missing key's ID as the blob names it (hex).
        key_id: String,
    },
    /// The blob is not a readable sealed blob (wrong group, forged, corrupt,
    /// too far ahead in the ratchet), or sealing failed.
    #[error("{0}")]
    Invalid(String),
}

/// Seals blobs for publishing and opens fetched ones, for one community.
///
/// Implementations are shared between tasks (`Arc<dyn Envelope>`) and keep
/// whatever state they need (a keyring, its counters) behind their own lock.
/// `open` must never return bytes it did not authenticate: a flipped bit is
/// [`EnvelopeError::Invalid`], never plaintext.
pub trait Envelope: Send + Sync + fmt::Debug {
    /// The bytes to publish in place of `plain`.
    fn seal(&self, kind: BlobKind, plain: Vec<u8>) -> Result<Vec<u8>, EnvelopeError>;

    /// The plain bytes inside a fetched `blob`.
    fn open(&self, kind: BlobKind, blob: Vec<u8>) -> Result<Vec<u8>, EnvelopeError>;
}

/// Seals `plain` with `envelope`, or returns it as it is without one.
pub fn seal_blob(
    envelope: Option<&dyn Envelope>,
    kind: BlobKind,
    plain: Vec<u8>,
) -> Result<Vec<u8>> {
    match envelope {
        None => Ok(plain),
        Some(envelope) => envelope
            .seal(kind, plain)
            .map_err(|source| Error::Envelope { kind, source }),
    }
}

/// Opens `blob` with `envelope`, or returns it as it is without one.
pub fn open_blob(
    envelope: Option<&dyn Envelope>,
    kind: BlobKind,
    blob: Vec<u8>,
) -> Result<Vec<u8>> {
    match envelope {
        None => Ok(blob),
        Some(envelope) => envelope
            .open(kind, blob)
            .map_err(|source| Error::Envelope { kind, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Refusing;

    impl Envelope for Refusing {
        fn seal(&self, _: BlobKind, _: Vec<u8>) -> Result<Vec<u8>, EnvelopeError> {
            Err(EnvelopeError::Invalid("no key to seal with".into()))
        }
        fn open(&self, _: BlobKind, _: Vec<u8>) -> Result<Vec<u8>, EnvelopeError> {
            Err(EnvelopeError::KeyMissing {
                key_id: "ab".into(),
            })
        }
    }

    #[test]
    fn without_an_envelope_bytes_pass_through() {
        assert_eq!(
            seal_blob(None, BlobKind::Archive, vec![1, 2]).unwrap(),
            [1, 2]
        );
        assert_eq!(open_blob(None, BlobKind::Index, vec![3]).unwrap(), [3]);
    }

    #[test]
    fn an_envelope_error_names_the_blob() {
        let err = open_blob(Some(&Refusing), BlobKind::Index, vec![3]).unwrap_err();
        assert!(err.key_missing().is_some());
        assert_eq!(
            err.to_string(),
            "index encryption: encrypted with key ab, which this node does not hold"
        );
        let err = seal_blob(Some(&Refusing), BlobKind::Archive, vec![]).unwrap_err();
        assert!(err.key_missing().is_none());
    }
}
