//! [`StoreSource`]: the store's messages as the backend's
//! [`MessageSource`], so the store never depends on the backend crate.

use archive_backend::{ErrorKind, MessageSource};
use archive_index::{Message, TimeRange, Topic};
use archive_store::Store;
use futures::{StreamExt, future, stream::BoxStream};

/// Name the adapter's errors carry as their "backend".
const NAME: &str = "store";

/// Streams a [`Store`]'s messages to a backend, page by page.
///
/// Archive bytes, and so archive IDs and infohashes, depend on message
/// order, so the (timestamp, hash) order the store promises is checked as
/// the stream goes: a violation ends the stream with a
/// [`Corrupt`](ErrorKind::Corrupt) error instead of publishing archives
/// that another node could not reproduce.
#[derive(Clone, Debug)]
pub struct StoreSource {
    store: Store,
}

impl StoreSource {
    /// A source over `store`.
    pub fn new(store: Store) -> StoreSource {
        StoreSource { store }
    }
}

impl MessageSource for StoreSource {
    fn messages(
        &self,
        topics: &[Topic],
        range: TimeRange,
    ) -> BoxStream<'_, archive_backend::Result<Message>> {
        let mut last: Option<(u64, Vec<u8>)> = None;
        let mut failed = false;
        self.store
            .messages(topics.to_vec(), range)
            .map(move |item| {
                let message = item.map_err(|e| {
                    archive_backend::Error::new(ErrorKind::Io, NAME, "reading messages")
                        .with_source(e)
                })?;
                let key = (message.timestamp, message.hash.clone());
                if last.as_ref().is_some_and(|prev| *prev >= key) {
                    return Err(archive_backend::Error::new(
                        ErrorKind::Corrupt,
                        NAME,
                        format!(
                            "message {} at {} is out of (timestamp, hash) order",
                            message.hash_hex(),
                            message.timestamp
                        ),
                    ));
                }
                last = Some(key);
                Ok(message)
            })
            // The first error ends the stream, as the store's own stream does.
            .take_while(move |item| {
                let go = !failed;
                failed |= item.is_err();
                future::ready(go)
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(timestamp: u64, hash: u16, topic: Topic) -> Message {
        Message {
            sig: vec![1],
            timestamp,
            topic,
            payload: vec![2; 10],
            padding: vec![],
            hash: hash.to_be_bytes().to_vec(),
            third_party_id: String::new(),
        }
    }

    /// More messages than one store page, stored out of order and on two
    /// topics: the source yields the range's messages on the asked topic,
    /// each once, in (timestamp, hash) order.
    #[tokio::test]
    async fn streams_every_page_in_timestamp_hash_order() {
        let ours = Topic([1; 4]);
        let theirs = Topic([2; 4]);
        let store = Store::open_in_memory().await.unwrap();
        // Few distinct timestamps, so the hash decides the order often.
        let messages: Vec<_> = (0..1500u16)
            .rev()
            .map(|h| {
                message(
                    100 + u64::from(h % 7),
                    h,
                    if h % 5 == 0 { theirs } else { ours },
                )
            })
            .collect();
        store.insert_messages(messages.clone()).await.unwrap();

        let range = TimeRange { from: 101, to: 106 };
        let got: Vec<_> = StoreSource::new(store)
            .messages(&[ours], range)
            .map(Result::unwrap)
            .collect()
            .await;
        let mut expected: Vec<_> = messages
            .into_iter()
            .filter(|m| m.topic == ours && range.contains(m.timestamp))
            .collect();
        expected.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        assert!(expected.len() > 600, "spans pages");
        assert_eq!(got, expected);
    }
}
