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
    use proptest::{collection::vec, prelude::*};

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

    fn arb_message() -> impl Strategy<Value = WakuRelayMessage> {
        (
            vec(any::<u8>(), 0..300),
            ".{0,40}",
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<i64>()),
            proptest::option::of(vec(any::<u8>(), 0..64)),
            proptest::option::of(any::<bool>()),
        )
            .prop_map(
                |(payload, content_topic, version, timestamp, meta, ephemeral)| WakuRelayMessage {
                    payload,
                    content_topic,
                    version,
                    timestamp,
                    meta,
                    ephemeral,
                },
            )
    }

    proptest! {
        /// Every envelope decodes back to itself within its own size, is
        /// refused one byte below it, and keeps its hash on the way.
        #[test]
        fn envelopes_round_trip_within_their_size(message in arb_message()) {
            let bytes = message.encode_to_vec();
            let decoded = decode_message(&bytes, bytes.len()).unwrap();
            prop_assert_eq!(message_hash(PUBSUB, &decoded), message_hash(PUBSUB, &message));
            prop_assert_eq!(decoded, message);
            if let Some(max) = bytes.len().checked_sub(1) {
                let refused = matches!(
                    decode_message(&bytes, max),
                    Err(Error::Oversized { len, max: m }) if len == bytes.len() && m == max
                );
                prop_assert!(refused);
            }
        }

        /// Any bytes give an envelope or a typed error, never a panic.
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in vec(any::<u8>(), 0..300)) {
            let _ = decode_message(&bytes, 256);
        }

        /// The hash covers exactly pubsub topic, payload, content topic,
        /// meta and timestamp: `version` and `ephemeral` never change it.
        #[test]
        fn version_and_ephemeral_are_not_hashed(
            message in arb_message(),
            version in proptest::option::of(any::<u32>()),
            ephemeral in proptest::option::of(any::<bool>()),
        ) {
            let other = WakuRelayMessage { version, ephemeral, ..message.clone() };
            prop_assert_eq!(message_hash(PUBSUB, &other), message_hash(PUBSUB, &message));
        }

        /// The fields are concatenated in the spec's order with no length
        /// prefixes, and the timestamp comes last as 8 big-endian bytes: a
        /// message hashes like one without a timestamp whose meta ends in
        /// those bytes, and an empty meta like an absent one.
        #[test]
        fn timestamp_is_the_last_eight_big_endian_bytes(
            message in arb_message(),
            timestamp in any::<i64>(),
        ) {
            let stamped = WakuRelayMessage { timestamp: Some(timestamp), ..message.clone() };
            let mut meta = message.meta.clone().unwrap_or_default();
            meta.extend_from_slice(&timestamp.to_be_bytes());
            let in_meta = WakuRelayMessage { timestamp: None, meta: Some(meta), ..message.clone() };
            prop_assert_eq!(message_hash(PUBSUB, &stamped), message_hash(PUBSUB, &in_meta));

            let empty_meta = WakuRelayMessage { meta: Some(Vec::new()), ..message.clone() };
            let no_meta = WakuRelayMessage { meta: None, ..message };
            prop_assert_eq!(message_hash(PUBSUB, &empty_meta), message_hash(PUBSUB, &no_meta));
        }

        /// The pubsub topic and the payload are hashed back to back: moving
        /// the boundary between them leaves the hash as it is.
        #[test]
        fn pubsub_topic_and_payload_are_concatenated(
            message in arb_message(),
            topic in "[a-z/0-9]{1,30}",
            at in any::<proptest::sample::Index>(),
        ) {
            let at = at.index(topic.len());
            let (head, tail) = topic.split_at(at);
            let mut payload = tail.as_bytes().to_vec();
            payload.extend_from_slice(&message.payload);
            let moved = WakuRelayMessage { payload, ..message.clone() };
            prop_assert_eq!(message_hash(head, &moved), message_hash(&topic, &message));
        }
    }
}
