//! The swarm task of a [`crate::WakuNode`]: it owns the swarm, answers the node's
//! commands, redials bootstrap peers with backoff and decides which relayed
//! messages travel on.

use std::{collections::HashMap, time::Duration};

use futures::StreamExt;
use libp2p::{
    Multiaddr, PeerId, Swarm,
    gossipsub::{self, IdentTopic, MessageAcceptance, PublishError},
    swarm::{ConnectionId, SwarmEvent, dial_opts::DialOpts},
};
use tokio::{
    sync::{broadcast, mpsc, oneshot},
    time::{self, Instant},
};

use crate::{
    config::WakuConfig,
    error::{Error, Result},
    message::message_hash,
    node::RelayMessage,
    swarm::{Behaviour, BehaviourEvent},
    validation::{RateLimiter, RelayStats, check},
};

/// What a [`crate::WakuNode`] asks of its swarm task.
pub(crate) enum Command {
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
    PeerScore {
        peer: PeerId,
        reply: oneshot::Sender<Option<f64>>,
    },
    Stats {
        reply: oneshot::Sender<RelayStats>,
    },
    Shutdown,
}

/// A bootstrap peer and where its redial stands.
struct Peer {
    addr: Multiaddr,
    backoff: Duration,
    /// When to dial next; `None` while a dial is in flight or connected.
    next_dial: Option<Instant>,
    connection: Option<ConnectionId>,
}

/// The swarm task: answers commands, redials bootstrap peers, validates
/// what peers relay.
pub(crate) struct Task {
    swarm: Swarm<Behaviour>,
    topic: IdentTopic,
    pubsub_topic: String,
    max_message_size: usize,
    inbound: broadcast::Sender<RelayMessage>,
    peers: Vec<Peer>,
    dialing: HashMap<ConnectionId, usize>,
    redial_initial: Duration,
    redial_max: Duration,
    limiter: RateLimiter,
    stats: RelayStats,
}

impl Task {
    pub(crate) fn new(
        swarm: Swarm<Behaviour>,
        topic: IdentTopic,
        config: &WakuConfig,
        inbound: broadcast::Sender<RelayMessage>,
    ) -> Task {
        Task {
            swarm,
            topic,
            pubsub_topic: config.pubsub_topic.clone(),
            max_message_size: config.max_message_size,
            inbound,
            peers: Vec::new(),
            dialing: HashMap::new(),
            redial_initial: config.redial_initial,
            redial_max: config.redial_max,
            limiter: RateLimiter::new(config.peer_rate),
            stats: RelayStats::default(),
        }
    }

    pub(crate) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
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
            Command::PeerScore { peer, reply } => {
                let _ = reply.send(self.swarm.behaviour().gossipsub.peer_score(&peer));
            }
            Command::Stats { reply } => {
                let _ = reply.send(self.stats);
            }
            Command::Shutdown => {}
        }
    }

    pub(crate) fn add_peer(&mut self, addr: Multiaddr) {
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
            SwarmEvent::ConnectionClosed {
                connection_id,
                peer_id,
                num_established,
                ..
            } => {
                if num_established == 0 {
                    self.limiter.forget(&peer_id);
                }
                let closed = self
                    .peers
                    .iter()
                    .position(|p| p.connection == Some(connection_id));
                if let Some(index) = closed {
                    self.retry_later(index);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.on_message(propagation_source, &message_id, message),
            _ => {}
        }
    }

    /// Decides whether a relayed message travels on: gossipsub holds it until
    /// told, forwards it on `Accept` and charges the sender's score on
    /// `Reject`. Only accepted messages reach subscribers.
    fn on_message(
        &mut self,
        source: PeerId,
        id: &gossipsub::MessageId,
        message: gossipsub::Message,
    ) {
        let verdict = if message.topic != self.topic.hash() {
            // Never subscribed, so never asked for: not the sender's fault.
            Err(MessageAcceptance::Ignore)
        } else if !self.limiter.allow(source, Instant::now()) {
            self.stats.rate_limited += 1;
            Err(MessageAcceptance::Reject)
        } else {
            check(&message.data, self.max_message_size).map_err(|_| {
                self.stats.malformed += 1;
                MessageAcceptance::Reject
            })
        };
        let gossipsub = &mut self.swarm.behaviour_mut().gossipsub;
        let decoded = match verdict {
            Ok(decoded) => decoded,
            Err(acceptance) => {
                gossipsub.report_message_validation_result(id, &source, acceptance);
                return;
            }
        };
        gossipsub.report_message_validation_result(id, &source, MessageAcceptance::Accept);
        self.stats.accepted += 1;
        let hash = message_hash(&self.pubsub_topic, &decoded);
        // No subscriber yet is not an error: the message is gone.
        let _ = self.inbound.send(RelayMessage {
            pubsub_topic: self.pubsub_topic.clone(),
            message: decoded,
            hash,
        });
    }
}
