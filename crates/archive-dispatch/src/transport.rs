//! The `Transport` announcements travel on, and an in-memory hub that
//! implements it for tests and single-process use.
//!
//! A transport only moves opaque payloads on content topics; it knows nothing
//! of announcements, and this crate knows no concrete network.

use std::{
    collections::HashSet,
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream};
use tokio::sync::broadcast;

use crate::{error::Result, wire::WakuOutbound};

/// A message received on a subscribed content topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The content topic it arrived on.
    pub content_topic: String,
    /// The bytes as published.
    pub payload: Bytes,
}

/// A stream of received messages; it ends when the transport shuts down.
pub type Subscription = BoxStream<'static, Received>;

/// A publish/subscribe network keyed by content topic, such as Waku relay.
///
/// Delivery is best effort, like gossip: a message may be lost, duplicated or
/// reordered, and the receiving side must cope (clocks and dedup do).
#[async_trait]
pub trait Transport: Send + Sync {
    /// Publishes `payload` on `content_topic`.
    async fn publish(&self, content_topic: &str, payload: Bytes) -> Result<()>;

    /// Publishes an encoded announcement. A Waku transport overrides this to
    /// send the message's `version` and `timestamp_ns` (and pubsub topic) as
    /// status-go does; the default publishes the payload on the content topic.
    async fn publish_outbound(&self, message: &WakuOutbound) -> Result<()> {
        self.publish(&message.content_topic, Bytes::from(message.payload.clone()))
            .await
    }

    /// Subscribes to the given content topics. Messages this node published
    /// itself are not delivered back to it.
    async fn subscribe(&self, content_topics: &[String]) -> Result<Subscription>;
}

/// An in-memory network: every [`MemoryTransport`] attached to the same hub
/// sees what the others publish.
///
/// The hub is a bounded broadcast channel; a subscriber that falls more than
/// `capacity` messages behind loses the oldest, as a slow gossip peer would.
#[derive(Clone, Debug)]
pub struct MemoryHub {
    sender: broadcast::Sender<Envelope>,
    next_node: Arc<AtomicU64>,
}

#[derive(Clone, Debug)]
struct Envelope {
    from: u64,
    message: Received,
}

impl MemoryHub {
    /// A hub that buffers up to `capacity` messages per subscriber.
    pub fn new(capacity: usize) -> MemoryHub {
        let (sender, _) = broadcast::channel(capacity.max(1));
        MemoryHub {
            sender,
            next_node: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A new node on this hub.
    pub fn attach(&self) -> MemoryTransport {
        MemoryTransport {
            node: self.next_node.fetch_add(1, Ordering::Relaxed),
            sender: self.sender.clone(),
        }
    }
}

impl Default for MemoryHub {
    fn default() -> MemoryHub {
        MemoryHub::new(1024)
    }
}

/// One node attached to a [`MemoryHub`].
pub struct MemoryTransport {
    node: u64,
    sender: broadcast::Sender<Envelope>,
}

impl fmt::Debug for MemoryTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTransport")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Transport for MemoryTransport {
    async fn publish(&self, content_topic: &str, payload: Bytes) -> Result<()> {
        let envelope = Envelope {
            from: self.node,
            message: Received {
                content_topic: content_topic.to_owned(),
                payload,
            },
        };
        // With no subscriber the message is simply lost, as on a real network.
        let _ = self.sender.send(envelope);
        Ok(())
    }

    async fn subscribe(&self, content_topics: &[String]) -> Result<Subscription> {
        let topics: HashSet<String> = content_topics.iter().cloned().collect();
        let state = (self.sender.subscribe(), topics, self.node);
        let messages = stream::unfold(state, |(mut receiver, topics, node)| async move {
            loop {
                match receiver.recv().await {
                    Ok(Envelope { from, message })
                        if from != node && topics.contains(&message.content_topic) =>
                    {
                        return Some((message, (receiver, topics, node)));
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(Box::pin(messages))
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    #[tokio::test]
    async fn delivers_to_other_nodes_on_subscribed_topics_only() {
        let hub = MemoryHub::new(16);
        let (a, b) = (hub.attach(), hub.attach());
        let mut a_in = a.subscribe(&["t".to_owned()]).await.unwrap();
        let mut b_in = b.subscribe(&["t".to_owned()]).await.unwrap();

        a.publish("t", Bytes::from_static(b"from a")).await.unwrap();
        b.publish("other", Bytes::from_static(b"elsewhere"))
            .await
            .unwrap();
        b.publish("t", Bytes::from_static(b"from b")).await.unwrap();

        assert_eq!(b_in.next().await.unwrap().payload, "from a");
        let got = a_in.next().await.unwrap();
        assert_eq!(
            (got.content_topic.as_str(), &got.payload[..]),
            ("t", &b"from b"[..])
        );
    }

    #[tokio::test]
    async fn publishing_without_subscribers_is_not_an_error() {
        let hub = MemoryHub::default();
        hub.attach().publish("t", Bytes::new()).await.unwrap();
    }

    #[tokio::test]
    async fn stream_ends_when_every_node_is_gone() {
        let hub = MemoryHub::new(4);
        let node = hub.attach();
        let mut messages = node.subscribe(&["t".to_owned()]).await.unwrap();
        drop((hub, node));
        assert!(messages.next().await.is_none());
    }

    #[tokio::test]
    async fn lagging_subscriber_skips_lost_messages() {
        let hub = MemoryHub::new(2);
        let (a, b) = (hub.attach(), hub.attach());
        let mut b_in = b.subscribe(&["t".to_owned()]).await.unwrap();
        for i in 0..5u8 {
            a.publish("t", Bytes::from(vec![i])).await.unwrap();
        }
        assert_eq!(b_in.next().await.unwrap().payload[..], [3]);
        assert_eq!(b_in.next().await.unwrap().payload[..], [4]);
    }
}
