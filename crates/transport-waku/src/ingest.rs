//! Ingestion: every relayed message on chosen content topics goes into the
//! store, mapped the way status-go's `StoreWakuMessage` keeps it (spec c.1).

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use archive_dispatch::v1_topic;
use archive_index::Message;
use archive_store::Store;
use futures::StreamExt;
use tokio::task::JoinHandle;

use crate::{
    error::{Error, Result},
    node::{RelayMessage, WakuNode, now_ns},
};

/// Messages written to the store in one batch at most; a burst is written in
/// few transactions, a trickle one message at a time.
const BATCH: usize = 256;

/// The stored form of a relayed message, as status-go maps it: timestamp in
/// seconds, the 4-byte topic, the payload, the deterministic message hash as
/// the identity, and no signature or padding (those were Waku v1 envelope
/// fields).
///
/// A message without a timestamp is stamped `received_at_ns`, the time it
/// arrived; its hash still omits the timestamp, as the spec says.
pub fn stored_message(relayed: &RelayMessage, received_at_ns: i64) -> Result<Message> {
    let message = &relayed.message;
    let topic = v1_topic(&message.content_topic).ok_or_else(|| {
        Error::NotStorable(format!(
            "content topic {:?} is not /waku/1/0x<8 hex>/rfc26",
            message.content_topic
        ))
    })?;
    let timestamp_ns = message.timestamp.unwrap_or(received_at_ns);
    let timestamp_ns = u64::try_from(timestamp_ns)
        .map_err(|_| Error::NotStorable(format!("negative timestamp {timestamp_ns}")))?;
    Ok(Message {
        sig: Vec::new(),
        timestamp: timestamp_ns / 1_000_000_000,
        topic,
        payload: message.payload.clone(),
        padding: Vec::new(),
        hash: relayed.hash.to_vec(),
        third_party_id: String::new(),
    })
}

/// A running ingestion task; dropping it stops the task.
pub struct Ingestion {
    task: Option<JoinHandle<Result<()>>>,
    stored: Arc<AtomicU64>,
    skipped: Arc<AtomicU64>,
}

impl fmt::Debug for Ingestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ingestion")
            .field("stored", &self.stored())
            .field("skipped", &self.skipped())
            .finish_non_exhaustive()
    }
}

impl Ingestion {
    /// Subscribes to `content_topics` on `node` and stores every message
    /// received there until the node shuts down or the store fails.
    ///
    /// Messages that cannot be mapped (a content topic that is not a bridged
    /// v1 topic, a negative timestamp) are counted in [`Ingestion::skipped`]
    /// and otherwise ignored: one bad sender must not stop the archive.
    pub async fn start(
        node: &WakuNode,
        store: Store,
        content_topics: &[String],
    ) -> Result<Ingestion> {
        let messages = node.subscribe_messages(content_topics).await?;
        let stored = Arc::new(AtomicU64::new(0));
        let skipped = Arc::new(AtomicU64::new(0));
        let (stored_count, skipped_count) = (Arc::clone(&stored), Arc::clone(&skipped));
        let task = tokio::spawn(async move {
            let mut batches = messages.ready_chunks(BATCH);
            while let Some(batch) = batches.next().await {
                let now = now_ns();
                let total = batch.len();
                let rows: Vec<Message> = batch
                    .iter()
                    .filter_map(|m| stored_message(m, now).ok())
                    .collect();
                skipped_count.fetch_add((total - rows.len()) as u64, Ordering::Relaxed);
                if rows.is_empty() {
                    continue;
                }
                // First come, first kept: a re-sent message whose hash
                // collides (meta and timestamp run together in the hash)
                // must not rewrite the stored one.
                let count = store.insert_messages_if_absent(rows).await?;
                stored_count.fetch_add(count as u64, Ordering::Relaxed);
            }
            Ok(())
        });
        Ok(Ingestion {
            task: Some(task),
            stored,
            skipped,
        })
    }

    /// Messages stored so far; one whose hash was already stored is not
    /// counted.
    pub fn stored(&self) -> u64 {
        self.stored.load(Ordering::Relaxed)
    }

    /// Messages received but not storable.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Waits for the task to end (the node shut down) and returns the store
    /// error that stopped it early, if any.
    pub async fn join(mut self) -> Result<()> {
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Err(Error::Shutdown)),
            None => Ok(()),
        }
    }
}

impl Drop for Ingestion {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{message_hash, new_message};
    use archive_index::Topic;

    fn relayed(content_topic: &str, timestamp: Option<i64>) -> RelayMessage {
        let mut message = new_message(content_topic, &b"payload"[..], 0);
        message.timestamp = timestamp;
        RelayMessage {
            hash: message_hash("/waku/2/rs/16/32", &message),
            pubsub_topic: "/waku/2/rs/16/32".to_owned(),
            message,
        }
    }

    #[test]
    fn maps_like_status_go() {
        let m = relayed("/waku/1/0xdeadbeef/rfc26", Some(1_700_000_123_999_999_999));
        let stored = stored_message(&m, 0).unwrap();
        assert_eq!(stored.timestamp, 1_700_000_123);
        assert_eq!(stored.topic, Topic([0xde, 0xad, 0xbe, 0xef]));
        assert_eq!(stored.payload, b"payload");
        assert_eq!(stored.hash, m.hash.to_vec());
        assert!(stored.sig.is_empty() && stored.padding.is_empty());
        assert!(stored.third_party_id.is_empty());
    }

    #[test]
    fn missing_timestamp_uses_arrival_time() {
        let m = relayed("/waku/1/0x01020304/rfc26", None);
        assert_eq!(stored_message(&m, 5_500_000_000).unwrap().timestamp, 5);
    }

    #[test]
    fn refuses_what_status_go_could_not_store() {
        for topic in [
            "/waku/2/default-content/proto",
            "/waku/1/0x0102030/rfc26",
            "/waku/1/0x0102030405/rfc26",
            "/waku/1/01020304/rfc26",
            "/waku/1/0x01020304/proto",
        ] {
            assert!(v1_topic(topic).is_none(), "{topic}");
            assert!(stored_message(&relayed(topic, Some(1)), 0).is_err());
        }
        let negative = relayed("/waku/1/0x01020304/rfc26", Some(-1));
        assert!(matches!(
            stored_message(&negative, 0),
            Err(Error::NotStorable(_))
        ));
    }
}
