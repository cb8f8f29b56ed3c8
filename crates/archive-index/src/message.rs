//! Domain types for messages, time ranges and archive metadata, and their
//! conversions to and from the wire types.

use archive_proto::protobuf as pb;

use crate::{
    error::{Error, Result},
    ids::Topic,
    limits::{DecodeLimits, MetadataBuilder},
    wire::{Field, Fields, bytes_len, put_bytes, put_uint, uint_len},
};

/// A half-open time range `[from, to)` in Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeRange {
    /// Start, inclusive.
    pub from: u64,
    /// End, exclusive.
    pub to: u64,
}

impl TimeRange {
    /// Whether `timestamp` lies in `[from, to)`.
    pub fn contains(&self, timestamp: u64) -> bool {
        self.from <= timestamp && timestamp < self.to
    }
}

/// One stored Waku message, as status-go keeps it in `waku_messages`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Message {
    /// The sender's signature.
    pub sig: Vec<u8>,
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
    /// The 4-byte content topic.
    pub topic: Topic,
    /// The encrypted or plain application payload.
    pub payload: Vec<u8>,
    /// Waku v1 envelope padding.
    pub padding: Vec<u8>,
    /// The envelope hash; the message's identity.
    pub hash: Vec<u8>,
    /// Non-empty for messages imported from Discord.
    pub third_party_id: String,
}

impl Message {
    /// The size status-go's chunking counts: payload plus signature.
    pub fn chunk_size(&self) -> u64 {
        (self.payload.len() + self.sig.len()) as u64
    }

    /// The order of messages inside an archive.
    pub fn order_key(&self) -> (u64, &[u8]) {
        (self.timestamp, &self.hash)
    }

    /// The hash as `0x` + hex, for reports and errors.
    pub fn hash_hex(&self) -> String {
        format!("0x{}", hex::encode(&self.hash))
    }

    /// The wire form.
    pub fn to_proto(&self) -> pb::WakuMessage {
        pb::WakuMessage {
            sig: self.sig.clone(),
            timestamp: self.timestamp,
            topic: self.topic.0.to_vec(),
            payload: self.payload.clone(),
            padding: self.padding.clone(),
            hash: self.hash.clone(),
            third_party_id: self.third_party_id.clone(),
        }
    }
}

impl Message {
    /// Bytes [`Message::put`] appends.
    pub(crate) fn wire_len(&self) -> usize {
        let bytes = |len: usize| if len == 0 { 0 } else { bytes_len(len) };
        bytes(self.sig.len())
            + uint_len(self.timestamp)
            + bytes_len(self.topic.0.len())
            + bytes(self.payload.len())
            + bytes(self.padding.len())
            + bytes(self.hash.len())
            + bytes(self.third_party_id.len())
    }

    /// Appends the wire form exactly as prost encodes [`Self::to_proto`]
    /// (fields in number order, empty ones left out), without the copy of
    /// every field that building it would cost.
    pub(crate) fn put(&self, out: &mut Vec<u8>) {
        let put_nonempty = |out: &mut Vec<u8>, number: u8, bytes: &[u8]| {
            if !bytes.is_empty() {
                put_bytes(out, number, bytes);
            }
        };
        put_nonempty(out, 1, &self.sig);
        put_uint(out, 2, self.timestamp);
        put_bytes(out, 3, &self.topic.0);
        put_nonempty(out, 4, &self.payload);
        put_nonempty(out, 5, &self.padding);
        put_nonempty(out, 6, &self.hash);
        put_nonempty(out, 7, self.third_party_id.as_bytes());
    }

    /// Decodes one `WakuMessage`, copying each field once at its final size
    /// (a repeated field replaces the earlier one, as in protobuf).
    fn decode(bytes: &[u8]) -> Result<Message> {
        const WHAT: &str = "message";
        let mut fields = Fields::new(WHAT, bytes);
        let empty: &[u8] = &[];
        let (mut sig, mut payload, mut padding, mut hash) = (empty, empty, empty, empty);
        let mut third_party_id = empty;
        let mut topic = empty;
        let mut timestamp = 0;
        while let Some((number, field)) = fields.next_field()? {
            match (number, field) {
                (1, Field::Bytes(b)) => sig = b,
                (2, Field::Varint(v)) => timestamp = v,
                (3, Field::Bytes(b)) => topic = b,
                (4, Field::Bytes(b)) => payload = b,
                (5, Field::Bytes(b)) => padding = b,
                (6, Field::Bytes(b)) => hash = b,
                (7, Field::Bytes(b)) => third_party_id = b,
                (1..=7, _) => return Err(fields.wrong_type("of a message")),
                _ => {}
            }
        }
        let topic = Topic::from_slice(topic).ok_or_else(|| Error::Malformed {
            what: WHAT,
            reason: format!("topic has {} bytes, expected 4", topic.len()),
        })?;
        let third_party_id = std::str::from_utf8(third_party_id)
            .map_err(|_| Error::Malformed {
                what: WHAT,
                reason: "thirdPartyId is not UTF-8".into(),
            })?
            .to_owned();
        Ok(Message {
            sig: sig.to_vec(),
            timestamp,
            topic,
            payload: payload.to_vec(),
            padding: padding.to_vec(),
            hash: hash.to_vec(),
            third_party_id,
        })
    }
}

impl TryFrom<pb::WakuMessage> for Message {
    type Error = Error;
    fn try_from(m: pb::WakuMessage) -> Result<Message> {
        let topic = Topic::from_slice(&m.topic).ok_or_else(|| Error::Malformed {
            what: "message",
            reason: format!("topic has {} bytes, expected 4", m.topic.len()),
        })?;
        Ok(Message {
            sig: m.sig,
            timestamp: m.timestamp,
            topic,
            payload: m.payload,
            padding: m.padding,
            hash: m.hash,
            third_party_id: m.third_party_id,
        })
    }
}

/// What an archive covers: its partition and every topic the run was given.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ArchiveMetadata {
    /// Always 0 in status-go; kept so foreign entries re-encode unchanged.
    pub version: u32,
    /// The partition.
    pub range: TimeRange,
    /// All topics the archive run was given, in the order given.
    pub topics: Vec<Topic>,
}

impl ArchiveMetadata {
    /// Metadata for a run over `range` with `topics`.
    pub fn new(range: TimeRange, topics: Vec<Topic>) -> ArchiveMetadata {
        ArchiveMetadata {
            version: 0,
            range,
            topics,
        }
    }

    /// The wire form.
    pub fn to_proto(&self) -> pb::WakuMessageArchiveMetadata {
        pb::WakuMessageArchiveMetadata {
            version: self.version,
            from: self.range.from,
            to: self.range.to,
            content_topic: self.topics.iter().map(|t| t.0.to_vec()).collect(),
        }
    }

    /// Bytes [`ArchiveMetadata::put`] appends.
    pub(crate) fn wire_len(&self) -> usize {
        uint_len(self.version.into())
            + uint_len(self.range.from)
            + uint_len(self.range.to)
            + self.topics.len() * bytes_len(4)
    }

    /// Appends the wire form exactly as prost encodes [`Self::to_proto`],
    /// without building it: an entry's ID is hashed over these bytes.
    pub(crate) fn put(&self, out: &mut Vec<u8>) {
        put_uint(out, 1, self.version.into());
        put_uint(out, 2, self.range.from);
        put_uint(out, 3, self.range.to);
        for topic in &self.topics {
            put_bytes(out, 4, &topic.0);
        }
    }

    /// Reads metadata from the wire, requiring 4-byte topics and `from <= to`.
    pub fn from_proto(
        what: &'static str,
        m: Option<pb::WakuMessageArchiveMetadata>,
    ) -> Result<Self> {
        let m = m.unwrap_or_default();
        let topics = m
            .content_topic
            .iter()
            .map(|t| {
                Topic::from_slice(t).ok_or_else(|| Error::Malformed {
                    what,
                    reason: format!("content topic has {} bytes, expected 4", t.len()),
                })
            })
            .collect::<Result<_>>()?;
        if m.from > m.to {
            return Err(Error::Malformed {
                what,
                reason: format!("time range [{}, {}) is reversed", m.from, m.to),
            });
        }
        Ok(ArchiveMetadata {
            version: m.version,
            range: TimeRange {
                from: m.from,
                to: m.to,
            },
            topics,
        })
    }
}

/// A decoded archive: its metadata and its messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Archive {
    /// What the archive covers.
    pub metadata: ArchiveMetadata,
    /// The messages, in the order they were stored.
    pub messages: Vec<Message>,
}

impl Archive {
    /// Decodes an unpadded, unencrypted `WakuMessageArchive` within
    /// [`DecodeLimits::for_archives`] (8 × the input + 64 KiB).
    pub fn decode(bytes: &[u8]) -> Result<Archive> {
        Archive::decode_with(bytes, &DecodeLimits::for_archives())
    }

    /// Decodes an archive, refusing with [`Error::TooLarge`] one whose
    /// messages would need more memory than `limits` allow for its size.
    ///
    /// A first pass counts the messages, so that their vector is allocated
    /// once at its final size and only after the budget check; an empty
    /// message is two bytes on the wire but a whole [`Message`] in memory.
    pub fn decode_with(bytes: &[u8], limits: &DecodeLimits) -> Result<Archive> {
        const WHAT: &str = "archive";
        let (mut count, mut message_bytes, mut metadata_bytes) = (0u64, 0u64, 0u64);
        let mut fields = Fields::new(WHAT, bytes);
        while let Some((number, field)) = fields.next_field()? {
            match (number, field) {
                (1, Field::Varint(_)) => {}
                (2, Field::Bytes(b)) => metadata_bytes += b.len() as u64,
                (3, Field::Bytes(b)) => {
                    count += 1;
                    message_bytes += b.len() as u64;
                }
                (1..=3, _) => return Err(fields.wrong_type("of the archive")),
                _ => {}
            }
        }
        // Message fields are copied at their size; topics take 4 of every 6
        // bytes, in a vector that may briefly hold twice that while it grows.
        let needed = count
            .saturating_mul(std::mem::size_of::<Message>() as u64)
            .saturating_add(message_bytes)
            .saturating_add(2 * metadata_bytes);
        limits.check(WHAT, bytes.len(), needed)?;

        let mut metadata = MetadataBuilder::default();
        let mut messages = Vec::with_capacity(count as usize);
        let mut fields = Fields::new(WHAT, bytes);
        while let Some((number, field)) = fields.next_field()? {
            match (number, field) {
                (2, Field::Bytes(b)) => metadata.merge(WHAT, b)?,
                (3, Field::Bytes(b)) => messages.push(Message::decode(b)?),
                _ => {}
            }
        }
        Ok(Archive {
            metadata: metadata.finish(WHAT)?,
            messages,
        })
    }

    /// Encodes as a `WakuMessageArchive` (version 0, no padding).
    pub fn encode(&self) -> Vec<u8> {
        use prost::Message as _;
        pb::WakuMessageArchive {
            version: 0,
            metadata: Some(self.metadata.to_proto()),
            messages: self.messages.iter().map(Message::to_proto).collect(),
        }
        .encode_to_vec()
    }
}
