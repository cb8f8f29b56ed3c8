//! Deterministic sample values: communities, topics, messages, archives.

use archive_index::{
    Archive, ArchiveId, ArchiveMetadata, CommunityId, Message, TimeRange, Topic, keccak256,
};
use archive_store::Database;

pub(crate) fn community(n: u8) -> CommunityId {
    let mut bytes = [n; 33];
    bytes[0] = 0x02;
    CommunityId(bytes)
}

pub(crate) fn archive_id(n: u64) -> ArchiveId {
    ArchiveId(keccak256(&n.to_be_bytes()))
}

pub(crate) fn topic(n: u8) -> Topic {
    Topic([0xc0, 0xff, 0xee, n])
}

/// A message whose hash is derived from `seed`, so equal seeds collide.
pub(crate) fn message(topic: Topic, timestamp: u64, seed: u64) -> Message {
    Message {
        sig: vec![0x51; 65],
        timestamp,
        topic,
        payload: format!("payload {seed} at {timestamp}").into_bytes(),
        padding: Vec::new(),
        hash: keccak256(&seed.to_be_bytes()).to_vec(),
        third_party_id: String::new(),
    }
}

pub(crate) fn archive(range: TimeRange, topics: &[Topic], messages: Vec<Message>) -> Archive {
    Archive {
        metadata: ArchiveMetadata::new(range, topics.to_vec()),
        messages,
    }
}

pub(crate) fn range(from: u64, to: u64) -> TimeRange {
    TimeRange { from, to }
}

pub(crate) const EVERYTHING: TimeRange = TimeRange {
    from: 0,
    to: u64::MAX,
};

/// Every stored message on `topics`, in (timestamp, hash) order.
pub(crate) fn all(db: &Database, topics: &[Topic]) -> Vec<Message> {
    db.messages(topics, EVERYTHING).unwrap()
}

pub(crate) fn sorted(mut messages: Vec<Message>) -> Vec<Message> {
    messages.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    messages
}
