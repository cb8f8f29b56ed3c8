//! [`WakuNode`]: a Waku relay peer on rust-libp2p, and its [`Transport`]
//! implementation. Its configuration is in `config.rs`, the swarm it drives
//! in `swarm.rs`.
//!
//! The swarm lives in one tokio task; callers talk to it over a bounded
//! command queue and receive relayed messages from a bounded broadcast
//! channel, so a slow subscriber loses the oldest messages (as a slow gossip
//! peer would) instead of stalling the network.

use std::{
    collections::HashSet,
    fmt,
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use archive_dispatch::{Received, Subscription, Transport, WakuOutbound};
use archive_proto::{Message as _, waku::relay::WakuRelayMessage};
use async_trait::async_trait;
use bytes::Bytes;
use futures::{
    StreamExt,
    stream::{self, BoxStream},
};
use libp2p::{Multiaddr, PeerId, gossipsub::IdentTopic};
use tokio::{
    sync::{broadcast, mpsc, oneshot},
    task::JoinHandle,
    time::{self, Instant},
};

use crate::{
    config::WakuConfig,
    error::{Error, Result},
    message::{message_hash, new_message},
    swarm::{build_swarm, listen},
    task::{Command, Task},
    validation::RelayStats,
};

/// A message relayed to this node, with what identifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayMessage {
    /// The pubsub topic it travelled on.
    pub pubsub_topic: String,
    /// The decoded envelope.
    pub message: WakuRelayMessage,
    /// The deterministic message hash (see [`message_hash`]).
    pub hash: [u8; 32],
}

/// A running Waku relay peer. Dropping it stops the swarm task, like
/// [`WakuNode::shutdown`] without waiting.
pub struct WakuNode {
    commands: mpsc::Sender<Command>,
    task: Mutex<Option<JoinHandle<()>>>,
    peer_id: PeerId,
    listen_addrs: Vec<Multiaddr>,
    pubsub_topic: String,
    max_message_size: usize,
}

impl fmt::Debug for WakuNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WakuNode")
            .field("peer_id", &self.peer_id)
            .field("listen_addrs", &self.listen_addrs)
            .field("pubsub_topic", &self.pubsub_topic)
            .finish_non_exhaustive()
    }
}

impl WakuNode {
    /// Builds the swarm, starts listening, dials the bootstrap peers and
    /// subscribes to the pubsub topic. Returns once every listener has an
    /// address, so [`WakuNode::listen_addrs`] holds the real ports.
    pub async fn start(config: WakuConfig) -> Result<WakuNode> {
        let topic = IdentTopic::new(config.pubsub_topic.clone());
        let mut swarm = build_swarm(&config, topic.hash()).await?;
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&topic)
            .map_err(|e| Error::Setup(format!("subscribing to {topic}: {e}")))?;

        let peer_id = *swarm.local_peer_id();
        let listen_addrs = listen(&mut swarm, &config.listen).await?;

        let (commands, receiver) = mpsc::channel(config.command_queue.max(1));
        let (inbound, _) = broadcast::channel(config.receive_queue.max(1));
        let mut task = Task::new(swarm, topic, &config, inbound);
        for addr in config.bootstrap {
            task.add_peer(addr);
        }
        let task = tokio::spawn(task.run(receiver));
        Ok(WakuNode {
            commands,
            task: Mutex::new(Some(task)),
            peer_id,
            listen_addrs,
            pubsub_topic: config.pubsub_topic,
            max_message_size: config.max_message_size,
        })
    }

    /// This node's libp2p identity.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The bound listen addresses in the configured order, each ending in
    /// `/p2p/<peer id>` so it can be dialled as is.
    pub fn listen_addrs(&self) -> &[Multiaddr] {
        &self.listen_addrs
    }

    /// The pubsub topic this node relays.
    pub fn pubsub_topic(&self) -> &str {
        &self.pubsub_topic
    }

    /// Dials `addr` and keeps redialling it with backoff, as a bootstrap peer.
    pub async fn dial(&self, addr: Multiaddr) -> Result<()> {
        self.send(Command::Dial { addr }).await
    }

    /// Peers known to relay this node's pubsub topic.
    pub async fn relay_peers(&self) -> Result<Vec<PeerId>> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::RelayPeers { reply }).await?;
        answer.await.map_err(|_| Error::Shutdown)
    }

    /// This node's gossipsub score of `peer`, `None` for a peer it does not
    /// know. Rejected messages lower it; below -80 the peer is not heard.
    pub async fn peer_score(&self, peer: PeerId) -> Result<Option<f64>> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::PeerScore { peer, reply }).await?;
        answer.await.map_err(|_| Error::Shutdown)
    }

    /// What the relay did with the messages it received so far.
    pub async fn stats(&self) -> Result<RelayStats> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Stats { reply }).await?;
        answer.await.map_err(|_| Error::Shutdown)
    }

    /// Waits until at least `count` peers relay this node's pubsub topic,
    /// which is when a publish can reach someone.
    pub async fn wait_for_relay_peers(&self, count: usize, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.relay_peers().await?.len() >= count {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout("relay peers"));
            }
            time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Publishes an envelope on the pubsub topic and returns its message hash.
    ///
    /// Fails with [`Error::Publish`] when no peer relays the topic yet:
    /// gossipsub would otherwise drop the message silently.
    pub async fn publish_message(&self, message: &WakuRelayMessage) -> Result<[u8; 32]> {
        let data = message.encode_to_vec();
        if data.len() > self.max_message_size {
            return Err(Error::Oversized {
                len: data.len(),
                max: self.max_message_size,
            });
        }
        let (reply, answer) = oneshot::channel();
        self.send(Command::Publish { data, reply }).await?;
        answer.await.map_err(|_| Error::Shutdown)??;
        Ok(message_hash(&self.pubsub_topic, message))
    }

    /// Publishes an encoded announcement as status-go does: the envelope
    /// keeps the message's `version` (1), nanosecond timestamp, empty `meta`
    /// and `ephemeral = false`, on this node's pubsub topic. Returns the
    /// message hash on that topic.
    ///
    /// The node relays exactly one pubsub topic ([`WakuConfig::pubsub_topic`]);
    /// `message.pubsub_topic` (the encoder's default) is not consulted, so a
    /// node configured for another shard announces there.
    pub async fn publish_announcement(&self, message: &WakuOutbound) -> Result<[u8; 32]> {
        self.publish_message(&message.relay_message()).await
    }

    /// Every relayed envelope on one of `content_topics`, with its pubsub
    /// topic and hash. The stream ends when the node shuts down.
    pub async fn subscribe_messages(
        &self,
        content_topics: &[String],
    ) -> Result<BoxStream<'static, RelayMessage>> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Subscribe { reply }).await?;
        let receiver = answer.await.map_err(|_| Error::Shutdown)?;
        let topics: HashSet<String> = content_topics.iter().cloned().collect();
        let messages = stream::unfold((receiver, topics), |(mut receiver, topics)| async move {
            loop {
                match receiver.recv().await {
                    Ok(m) if topics.contains(&m.message.content_topic) => {
                        return Some((m, (receiver, topics)));
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(messages.boxed())
    }

    /// Stops the swarm task and waits for it to end, which closes every
    /// connection and listener and ends every subscription stream.
    /// Calling it again does nothing.
    pub async fn shutdown(&self) {
        // A full queue or a task that already ended both mean nothing more to
        // say; the task also ends when it finds the queue closed.
        let _ = self.commands.send(Command::Shutdown).await;
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    async fn send(&self, command: Command) -> Result<()> {
        self.commands
            .send(command)
            .await
            .map_err(|_| Error::Shutdown)
    }
}

#[async_trait]
impl Transport for WakuNode {
    async fn publish(&self, content_topic: &str, payload: Bytes) -> archive_dispatch::Result<()> {
        let message = new_message(content_topic, payload, now_ns());
        self.publish_message(&message).await?;
        Ok(())
    }

    async fn publish_outbound(&self, message: &WakuOutbound) -> archive_dispatch::Result<()> {
        self.publish_announcement(message).await?;
        Ok(())
    }

    async fn subscribe(&self, content_topics: &[String]) -> archive_dispatch::Result<Subscription> {
        let messages = self.subscribe_messages(content_topics).await?;
        Ok(messages
            .map(|m| Received {
                content_topic: m.message.content_topic,
                payload: Bytes::from(m.message.payload),
            })
            .boxed())
    }
}

/// Unix time in nanoseconds, the envelope's timestamp unit.
pub(crate) fn now_ns() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX)
}
