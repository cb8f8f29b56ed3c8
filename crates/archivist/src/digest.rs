//! A fingerprint of a store's history over topics and a range, so two
//! nodes' stores can be compared without holding either in memory.

use archive_index::{Message, TimeRange, Topic};
use archive_store::Store;
use futures::TryStreamExt;
use sha2::{Digest, Sha256};

/// What [`history_digest`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryDigest {
    /// Messages in the range.
    pub messages: u64,
    /// Their payload bytes.
    pub payload_bytes: u64,
    /// SHA-256 over every message's fields in (timestamp, hash) order:
    /// equal digests mean equal histories.
    pub digest: [u8; 32],
}

/// Fingerprints the messages of `store` on `topics` inside `range`,
/// streaming them.
pub async fn history_digest(
    store: &Store,
    topics: &[Topic],
    range: TimeRange,
) -> archive_store::Result<HistoryDigest> {
    let mut hasher = Sha256::new();
    let mut messages = 0;
    let mut payload_bytes = 0;
    let mut stream = std::pin::pin!(store.messages(topics.to_vec(), range));
    while let Some(message) = stream.try_next().await? {
        absorb(&mut hasher, &message);
        messages += 1;
        payload_bytes += message.payload.len() as u64;
    }
    Ok(HistoryDigest {
        messages,
        payload_bytes,
        digest: hasher.finalize().into(),
    })
}

fn absorb(hasher: &mut Sha256, message: &Message) {
    // Length-prefixed, so field boundaries cannot shift between messages.
    for field in [
        &message.hash[..],
        &message.sig,
        &message.payload,
        &message.padding,
        message.third_party_id.as_bytes(),
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field);
    }
    hasher.update(message.timestamp.to_be_bytes());
    hasher.update(message.topic.0);
}
