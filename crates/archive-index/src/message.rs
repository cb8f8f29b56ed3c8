//! Domain types for messages, time ranges and archive metadata, and their
//! conversions to and from the wire types.

use archive_proto::protobuf as pb;

use crate::{
    error::{Error, Result},
    ids::Topic,
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
    /// Decodes an unpadded, unencrypted `WakuMessageArchive`.
    pub fn decode(bytes: &[u8]) -> Result<Archive> {
        use prost::Message as _;
        let archive = pb::WakuMessageArchive::decode(bytes).map_err(|source| Error::Decode {
            what: "archive",
            source,
        })?;
        Ok(Archive {
            metadata: ArchiveMetadata::from_proto("archive", archive.metadata)?,
            messages: archive
                .messages
                .into_iter()
                .map(Message::try_from)
                .collect::<Result<_>>()?,
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
