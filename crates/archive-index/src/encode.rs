//! Streaming encoding of `WakuMessageArchive` and status-go's piece padding.
//!
//! An archive is a protobuf message with no length prefix of its own, so it can
//! be written field by field: the metadata (field 2), then one length-delimited
//! `WakuMessage` (field 3) per message. The bytes are identical to prost's
//! encoding of the whole message, without holding the whole archive in memory.

use std::io::Write;

use crate::{
    message::{ArchiveMetadata, Message},
    wire::{put_varint, varint_len},
};

/// status-go's piece length: 100 KiB.
pub const PIECE_LENGTH: u64 = 100 * 1024;

/// status-go's `maxArchiveSizeInBytes`: the largest message and the chunk size.
pub const MAX_ARCHIVE_SIZE: u64 = 30_000_000;

/// Key of field 2 (metadata), wire type 2 (length-delimited).
const METADATA_KEY: u8 = (2 << 3) | 2;
/// Key of field 3 (messages), wire type 2 (length-delimited).
const MESSAGE_KEY: u8 = (3 << 3) | 2;

/// The padded size and padding of an archive of `raw` bytes, exactly as status-go
/// computes them (spec c.4), including its quirk: an exact multiple of the piece
/// length larger than one piece gets a whole extra piece of zeros.
pub fn padded_size(raw: u64) -> (u64, u64) {
    let size = if raw > PIECE_LENGTH {
        raw + PIECE_LENGTH - raw % PIECE_LENGTH
    } else {
        PIECE_LENGTH
    };
    (size, size - raw)
}

/// Appends the encoding of `metadata` as field 2 to `buf`.
pub(crate) fn encode_metadata_field(metadata: &ArchiveMetadata, buf: &mut Vec<u8>) {
    let len = metadata.wire_len();
    buf.reserve(1 + varint_len(len as u64) + len);
    buf.push(METADATA_KEY);
    put_varint(buf, len as u64);
    metadata.put(buf);
}

/// Appends the encoding of `message` as field 3 to `buf`, written straight
/// from the message: going through prost's struct copied every payload once
/// more and allocated four times per message.
pub(crate) fn encode_message_field(message: &Message, buf: &mut Vec<u8>) {
    let len = message.wire_len();
    buf.reserve(1 + varint_len(len as u64) + len);
    buf.push(MESSAGE_KEY);
    put_varint(buf, len as u64);
    message.put(buf);
}

/// Writes `count` zero bytes without allocating `count` bytes.
pub(crate) fn write_zeros(out: &mut impl Write, mut count: u64) -> std::io::Result<()> {
    const ZEROS: [u8; 8192] = [0; 8192];
    while count > 0 {
        let n = count.min(ZEROS.len() as u64) as usize;
        out.write_all(&ZEROS[..n])?;
        count -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::{
        ids::Topic,
        message::{Archive, TimeRange},
    };

    #[test]
    fn padding_matches_status_go_examples() {
        assert_eq!(padded_size(250), (102_400, 102_150));
        assert_eq!(padded_size(102_400), (102_400, 0));
        assert_eq!(padded_size(102_401), (204_800, 102_399));
        // The exact-multiple quirk (spec c.4, i.1).
        assert_eq!(padded_size(204_800), (307_200, 102_400));
    }

    pub(crate) fn arb_message() -> impl Strategy<Value = Message> {
        (
            proptest::collection::vec(any::<u8>(), 0..70),
            any::<u64>(),
            any::<[u8; 4]>(),
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::vec(any::<u8>(), 0..8),
            proptest::collection::vec(any::<u8>(), 0..33),
            "[a-z0-9]{0,5}",
        )
            .prop_map(
                |(sig, timestamp, topic, payload, padding, hash, third_party_id)| Message {
                    sig,
                    timestamp,
                    topic: Topic(topic),
                    payload,
                    padding,
                    hash,
                    third_party_id,
                },
            )
    }

    proptest! {
        #[test]
        fn padding_is_whole_pieces(raw in 1u64..10_000_000) {
            let (size, padding) = padded_size(raw);
            prop_assert_eq!(size % PIECE_LENGTH, 0);
            prop_assert_eq!(size, raw + padding);
            prop_assert!(padding < size);
            prop_assert!(padding <= PIECE_LENGTH);
        }

        /// A message written straight from the domain type is prost's encoding
        /// of its wire form, whichever fields are empty.
        #[test]
        fn direct_message_encoding_equals_prost(message in arb_message()) {
            use prost::Message as _;
            let mut direct = Vec::new();
            message.put(&mut direct);
            prop_assert_eq!(direct.len(), message.wire_len());
            prop_assert_eq!(direct, message.to_proto().encode_to_vec());
        }

        /// Field-by-field encoding gives prost's bytes for the whole archive.
        #[test]
        fn streaming_encoding_equals_prost(
            messages in proptest::collection::vec(arb_message(), 0..6),
            from in any::<u32>(),
            topics in proptest::collection::vec(any::<[u8; 4]>(), 0..4),
        ) {
            let metadata = ArchiveMetadata::new(
                TimeRange { from: u64::from(from), to: u64::from(from) + 10 },
                topics.into_iter().map(Topic).collect(),
            );
            let mut streamed = Vec::new();
            encode_metadata_field(&metadata, &mut streamed);
            for m in &messages {
                encode_message_field(m, &mut streamed);
            }
            let archive = Archive { metadata, messages };
            prop_assert_eq!(&streamed, &archive.encode());
            prop_assert_eq!(Archive::decode(&streamed).unwrap(), archive);
        }
    }
}
