//! [`WakuNode`]: a Waku relay peer on rust-libp2p, and its [`Transport`]
//! implementation.
//!
//! The swarm lives in one tokio task; callers talk to it over a bounded
//! command queue and receive relayed messages from a bounded broadcast
//! channel, so a slow subscriber loses the oldest messages (as a slow gossip
//! peer would) instead of stalling the network.

use std::{
    collections::{HashMap, HashSet},
    fmt,
    net::Ipv4Addr,
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use archive_dispatch::{DEFAULT_PUBSUB_TOPIC, Received, Subscription, Transport};
use archive_proto::{Message as _, waku::relay::WakuRelayMessage};
use async_trait::async_trait;
use bytes::Bytes;
use futures::{
    StreamExt,
    stream::{self, BoxStream},
};
use libp2p::{
    Multiaddr, PeerId, Swarm, SwarmBuilder,
    core::upgrade::SelectUpgrade,
    gossipsub::{self, IdentTopic, MessageAuthenticity, PublishError},
    identify,
    multiaddr::Protocol,
    noise, ping,
    swarm::{ConnectionId, NetworkBehaviour, SwarmEvent, dial_opts::DialOpts},
    tcp, yamux,
};
use sha2::{Digest, Sha256};
use tokio::{
    sync::{broadcast, mpsc, oneshot},
    task::JoinHandle,
    time::{self, Instant},
};

use crate::{
    error::{Error, Result},
    message::{DEFAULT_MAX_MESSAGE_SIZE, decode_message, message_hash, new_message},
};

/// The gossipsub protocol id of 11/WAKU2-RELAY; it replaces `/meshsub/*`.
pub const RELAY_PROTOCOL: &str = "/vac/waku/relay/2.0.0";

/// How to run a [`WakuNode`].
#[derive(Clone, Debug)]
pub struct WakuConfig {
    /// Addresses to listen on. The default is an ephemeral TCP port and an
    /// ephemeral websocket port on 127.0.0.1; js-waku in Node dials only `/ws`.
    pub listen: Vec<Multiaddr>,
    /// Peers dialled at start and redialled with backoff whenever the
    /// connection fails or closes.
    pub bootstrap: Vec<Multiaddr>,
    /// The one pubsub topic relayed, e.g. `/waku/2/rs/16/32`.
    pub pubsub_topic: String,
    /// The largest encoded envelope sent or accepted.
    pub max_message_size: usize,
    /// Capacity of the queue from callers to the swarm task.
    pub command_queue: usize,
    /// Messages buffered per subscriber before the oldest are dropped.
    pub receive_queue: usize,
    /// First wait before redialling a bootstrap peer; doubled per failure.
    pub redial_initial: Duration,
    /// Longest wait between redials.
    pub redial_max: Duration,
}

impl Default for WakuConfig {
    fn default() -> WakuConfig {
        let tcp = Multiaddr::empty()
            .with(Protocol::Ip4(Ipv4Addr::LOCALHOST))
            .with(Protocol::Tcp(0));
        WakuConfig {
            listen: vec![tcp.clone(), tcp.with(Protocol::Ws("/".into()))],
            bootstrap: Vec::new(),
            pubsub_topic: DEFAULT_PUBSUB_TOPIC.to_owned(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            command_queue: 64,
            receive_queue: 1024,
            redial_initial: Duration::from_millis(500),
            redial_max: Duration::from_secs(30),
        }
    }
}

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

enum Command {
    Publish {
        data: Vec<u8>,
        reply: oneshot::Sender<Result<()>>,
    },
    Subscribe {
        reply: oneshot::Sender<broadcast::Receiver<RelayMessage>>,
    },
    Dial {
        addr: Multiaddr,
    },
    RelayPeers {
        reply: oneshot::Sender<Vec<PeerId>>,
    },
    Shutdown,
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    gossipsub: gossipsub::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
}

impl WakuNode {
    /// Builds the swarm, starts listening, dials the bootstrap peers and
    /// subscribes to the pubsub topic. Returns once every listener has an
    /// address, so [`WakuNode::listen_addrs`] holds the real ports.
    pub async fn start(config: WakuConfig) -> Result<WakuNode> {
        let mut swarm = build_swarm(&config).await?;
        let topic = IdentTopic::new(config.pubsub_topic.clone());
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&topic)
            .map_err(|e| Error::Setup(format!("subscribing to {topic}: {e}")))?;

        let mut pending = HashSet::new();
        for addr in &config.listen {
            let id = swarm
                .listen_on(addr.clone())
                .map_err(|e| Error::Setup(format!("listening on {addr}: {e}")))?;
            pending.insert(id);
        }
        let peer_id = *swarm.local_peer_id();
        let mut listen_addrs = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pending.is_empty() {
            let event = time::timeout_at(deadline, swarm.select_next_some())
                .await
                .map_err(|_| Error::Timeout("listen addresses"))?;
            match event {
                SwarmEvent::NewListenAddr {
                    listener_id,
                    address,
                } => {
                    pending.remove(&listener_id);
                    listen_addrs.push(address.with_p2p(peer_id).unwrap_or_else(|a| a));
                }
                SwarmEvent::ListenerClosed {
                    reason: Err(e),
                    listener_id,
                    ..
                } if pending.contains(&listener_id) => {
                    return Err(Error::Setup(format!("listener closed: {e}")));
                }
                SwarmEvent::ListenerError { error, listener_id }
                    if pending.contains(&listener_id) =>
                {
                    return Err(Error::Setup(format!("listener failed: {error}")));
                }
                _ => {}
            }
        }

        let (commands, receiver) = mpsc::channel(config.command_queue.max(1));
        let (inbound, _) = broadcast::channel(config.receive_queue.max(1));
        let mut task = Task {
            swarm,
            topic,
            pubsub_topic: config.pubsub_topic.clone(),
            max_message_size: config.max_message_size,
            inbound,
            peers: Vec::new(),
            dialing: HashMap::new(),
            redial_initial: config.redial_initial,
            redial_max: config.redial_max,
        };
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

    /// The bound listen addresses, each ending in `/p2p/<peer id>` so it can
    /// be dialled as is.
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

async fn build_swarm(config: &WakuConfig) -> Result<Swarm<Behaviour>> {
    // js-waku (sdk 0.0.27) offers only mplex; yamux is kept for everyone else.
    let mux = || SelectUpgrade::new(yamux::Config::default(), libp2p_mplex::Config::default());
    // Gossipsub frames a whole RPC; leave room around the largest envelope.
    let max_transmit = config.max_message_size.saturating_add(4 * 1024);
    let swarm = SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(tcp::Config::default(), noise::Config::new, mux)
        .map_err(|e| Error::Setup(format!("tcp transport: {e}")))?
        .with_websocket(noise::Config::new, mux)
        .await
        .map_err(|e| Error::Setup(format!("websocket transport: {e}")))?
        .with_behaviour(|key| {
            let config = gossipsub::ConfigBuilder::default()
                .protocol_id(RELAY_PROTOCOL, gossipsub::Version::V1_1)
                // 11/WAKU2-RELAY is StrictNoSign: no from, seqno, signature or key.
                .validation_mode(gossipsub::ValidationMode::Anonymous)
                // nwaku and js-waku both use sha256(data); IHAVE/IWANT gossip
                // only works when every peer names messages alike.
                .message_id_fn(|m| gossipsub::MessageId::from(Sha256::digest(&m.data).to_vec()))
                .max_transmit_size(max_transmit)
                .build()?;
            Ok(Behaviour {
                gossipsub: gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, config)?,
                identify: identify::Behaviour::new(
                    identify::Config::new("/ipfs/id/1.0.0".into(), key.public())
                        .with_agent_version(format!(
                            "archivist-transport-waku/{}",
                            env!("CARGO_PKG_VERSION")
                        )),
                ),
                ping: ping::Behaviour::default(),
            })
        })
        .map_err(|e| Error::Setup(format!("behaviour: {e}")))?
        // Relay connections are long-lived; redial covers the ones that drop.
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build();
    Ok(swarm)
}

/// A bootstrap peer and where its redial stands.
struct Peer {
    addr: Multiaddr,
    backoff: Duration,
    /// When to dial next; `None` while a dial is in flight or connected.
    next_dial: Option<Instant>,
    connection: Option<ConnectionId>,
}

struct Task {
    swarm: Swarm<Behaviour>,
    topic: IdentTopic,
    pubsub_topic: String,
    max_message_size: usize,
    inbound: broadcast::Sender<RelayMessage>,
    peers: Vec<Peer>,
    dialing: HashMap<ConnectionId, usize>,
    redial_initial: Duration,
    redial_max: Duration,
}

impl Task {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut tick = time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_event(event),
                command = commands.recv() => match command {
                    None | Some(Command::Shutdown) => break,
                    Some(command) => self.on_command(command),
                },
                _ = tick.tick() => self.dial_due(),
            }
        }
        // Dropping the swarm closes listeners and connections; dropping
        // `inbound` ends the subscription streams.
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { data, reply } => {
                let result = match self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(self.topic.clone(), data)
                {
                    // Same bytes already published: the network has them.
                    Ok(_) | Err(PublishError::Duplicate) => Ok(()),
                    Err(e) => Err(Error::Publish(e.to_string())),
                };
                let _ = reply.send(result);
            }
            Command::Subscribe { reply } => {
                let _ = reply.send(self.inbound.subscribe());
            }
            Command::Dial { addr } => self.add_peer(addr),
            Command::RelayPeers { reply } => {
                let hash = self.topic.hash();
                let peers = self
                    .swarm
                    .behaviour()
                    .gossipsub
                    .all_peers()
                    .filter(|(_, topics)| topics.contains(&&hash))
                    .map(|(peer, _)| *peer)
                    .collect();
                let _ = reply.send(peers);
            }
            Command::Shutdown => {}
        }
    }

    fn add_peer(&mut self, addr: Multiaddr) {
        self.peers.push(Peer {
            addr,
            backoff: self.redial_initial,
            next_dial: Some(Instant::now()),
            connection: None,
        });
        self.dial_due();
    }

    fn dial_due(&mut self) {
        let now = Instant::now();
        for index in 0..self.peers.len() {
            let peer = &mut self.peers[index];
            if peer.next_dial.is_none_or(|at| at > now) {
                continue;
            }
            peer.next_dial = None;
            let opts = DialOpts::unknown_peer_id()
                .address(peer.addr.clone())
                .build();
            let id = opts.connection_id();
            if self.swarm.dial(opts).is_ok() {
                self.dialing.insert(id, index);
            } else {
                self.retry_later(index);
            }
        }
    }

    fn retry_later(&mut self, index: usize) {
        let peer = &mut self.peers[index];
        peer.connection = None;
        peer.next_dial = Some(Instant::now() + peer.backoff);
        peer.backoff = (peer.backoff * 2).min(self.redial_max);
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished { connection_id, .. } => {
                if let Some(index) = self.dialing.remove(&connection_id) {
                    let peer = &mut self.peers[index];
                    peer.connection = Some(connection_id);
                    peer.backoff = self.redial_initial;
                }
            }
            SwarmEvent::OutgoingConnectionError { connection_id, .. } => {
                if let Some(index) = self.dialing.remove(&connection_id) {
                    self.retry_later(index);
                }
            }
            SwarmEvent::ConnectionClosed { connection_id, .. } => {
                let closed = self
                    .peers
                    .iter()
                    .position(|p| p.connection == Some(connection_id));
                if let Some(index) = closed {
                    self.retry_later(index);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                message,
                ..
            })) if message.topic == self.topic.hash() => {
                // Malformed or oversized envelopes are dropped here; gossipsub
                // has already forwarded them, as it does for any bytes.
                if let Ok(decoded) = decode_message(&message.data, self.max_message_size) {
                    let hash = message_hash(&self.pubsub_topic, &decoded);
                    // No subscriber yet is not an error: the message is gone.
                    let _ = self.inbound.send(RelayMessage {
                        pubsub_topic: self.pubsub_topic.clone(),
                        message: decoded,
                        hash,
                    });
                }
            }
            _ => {}
        }
    }
}
