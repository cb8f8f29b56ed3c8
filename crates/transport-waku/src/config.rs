//! [`WakuConfig`]: what a [`crate::WakuNode`] listens on, whom it dials,
//! which pubsub topic it relays, and the bounds it keeps (message size,
//! queues, connections, each peer's rate).

use std::{net::Ipv4Addr, time::Duration};

use archive_dispatch::DEFAULT_PUBSUB_TOPIC;
use libp2p::{Multiaddr, multiaddr::Protocol};

use crate::{message::DEFAULT_MAX_MESSAGE_SIZE, validation::RateLimit};

/// How to run a [`crate::WakuNode`].
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
    /// Connections other peers may hold open to this node at once.
    pub max_incoming_connections: u32,
    /// Incoming connections still in their handshake at once.
    pub max_pending_connections: u32,
    /// How many messages each peer may relay to this node.
    pub peer_rate: RateLimit,
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
            max_incoming_connections: 50,
            max_pending_connections: 16,
            peer_rate: RateLimit::default(),
        }
    }
}
