//! The 14/WAKU2-MESSAGE envelope: building one, bounding its size before
//! decoding, and its deterministic hash.

use archive_proto::{Message as _, waku::relay::WakuRelayMessage};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The largest encoded envelope accepted by default: nwaku's default
/// `max-msg-size` of 150 KiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 150 * 1024;

/// An envelope for `payload` on `content_topic`, stamped `timestamp_ns`
/// (Unix time in nanoseconds, as the spec's `timestamp` field is).
///
/// `version` is left absent: 0 (no Waku-level encryption) is its default and
/// js-waku omits it too.
pub fn new_message(
    content_topic: &str,
    payload: impl Into<Vec<u8>>,
    timestamp_ns: i64,
) -> WakuRelayMessage {
    WakuRelayMessage {
        payload: payload.into(),
        content_topic: content_topic.to_owned(),
        version: None,
        timestamp: Some(timestamp_ns),
        meta: None,
        ephemeral: None,
    }
}

/// Decodes an envelope, refusing anything over `max_size` bytes before the
/// decoder allocates for it.
pub fn decode_message(bytes: &[u8], max_size: usize) -> Result<WakuRelayMessage> {
    if bytes.len() > max_size {
        return Err(Error::Oversized {
            len: bytes.len(),
            max: max_size,
        });
    }
    WakuRelayMessage::decode(bytes).map_err(|e| Error::Malformed(e.to_string()))
}

/// The deterministic message hash of 14/WAKU2-MESSAGE:
/// `sha256(pubsub_topic ‖ payload ‖ content_topic ‖ meta ‖ timestamp)`, with
/// absent optional fields skipped and the timestamp as 8 big-endian bytes.
///
/// Unlike a hash of the protobuf bytes, every implementation agrees on it, so
/// it is what stores and peers use to name a message.
pub fn message_hash(pubsub_topic: &str, message: &WakuRelayMessage) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(pubsub_topic.as_bytes());
    hasher.update(&message.payload);
    hasher.update(message.content_topic.as_bytes());
    if let Some(meta) = &message.meta {
        hasher.update(meta);
    }
    if let Some(timestamp) = message.timestamp {
        hasher.update(timestamp.to_be_bytes());
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBSUB: &str = "/waku/2/default-waku/proto";
    const CONTENT: &str = "/waku/2/default-content/proto";
    const TIMESTAMP: i64 = 0x1757_89bf_a23f_8400;
    const PAYLOAD: [u8; 12] = [1, 2, 3, 4, b'T', b'E', b'S', b'T', 5, 6, 7, 8];

    fn vector(payload: &[u8], meta: Option<Vec<u8>>) -> WakuRelayMessage {
        WakuRelayMessage {
            meta,
            ..new_message(CONTENT, payload, TIMESTAMP)
        }
    }

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// The four test vectors of 14/WAKU2-MESSAGE (vacp2p/rfc-index
    /// `waku/standards/core/14/message.md`), full 32-byte values.
    #[test]
    fn hash_matches_the_spec_test_vectors() {
        let cases = [
            (
                vector(&PAYLOAD, Some(b"super-secret".to_vec())),
                "64cce733fed134e83da02b02c6f689814872b1a0ac97ea56b76095c3c72bfe05",
            ),
            (
                vector(&PAYLOAD, Some((0u8..64).collect())),
                "7158b6498753313368b9af8f6e0a0a05104f68f972981da42a43bc53fb0c1b27",
            ),
            (
                vector(&PAYLOAD, None),
                "a2554498b31f5bcdfcbf7fa58ad1c2d45f0254f3f8110a85588ec3cf10720fd8",
            ),
            (
                vector(&[], Some(b"super-secret".to_vec())),
                "483ea950cb63f9b9d6926b262bb36194d3f40a0463ce8446228350bd44e96de4",
            ),
        ];
        for (i, (message, expected)) in cases.iter().enumerate() {
            assert_eq!(
                message_hash(PUBSUB, message).to_vec(),
                unhex(expected),
                "vector {}",
                i + 1
            );
        }
    }

    #[test]
    fn vector_inputs_are_the_spec_bytes() {
        // Guards the constants above against a typo that would still hash.
        assert_eq!(PAYLOAD.to_vec(), unhex("010203045445535405060708"));
        assert_eq!(b"super-secret".to_vec(), unhex("73757065722d736563726574"));
    }

    #[test]
    fn absent_timestamp_is_skipped_not_zero() {
        let mut message = new_message(CONTENT, &b"x"[..], 0);
        let with_zero = message_hash(PUBSUB, &message);
        message.timestamp = None;
        assert_ne!(message_hash(PUBSUB, &message), with_zero);
    }

    #[test]
    fn round_trips_and_refuses_oversized_input() {
        let message = new_message(
            "/waku/1/0x01020304/rfc26",
            &b"hello"[..],
            1_700_000_000_123_456_789,
        );
        let bytes = message.encode_to_vec();
        assert_eq!(decode_message(&bytes, bytes.len()).unwrap(), message);
        assert!(matches!(
            decode_message(&bytes, bytes.len() - 1),
            Err(Error::Oversized { max, .. }) if max == bytes.len() - 1
        ));
        assert!(matches!(
            decode_message(&[0xff, 0xff], 16),
            Err(Error::Malformed(_))
        ));
    }
}
