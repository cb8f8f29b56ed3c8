//! A bare gossipsub peer on the relay protocol that publishes whatever bytes
//! it is given and reports every message it receives without validating it:
//! the hostile (or merely curious) neighbour of a `WakuNode`.

use std::time::Duration;

use futures::StreamExt;
use libp2p::{
    Multiaddr, PeerId, SwarmBuilder,
    gossipsub::{self, IdentTopic, MessageAuthenticity},
    noise,
    swarm::SwarmEvent,
    tcp, yamux,
};
use sha2::{Digest, Sha256};
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
    time::{Instant, sleep, timeout},
};
use transport_waku::RELAY_PROTOCOL;

use crate::TIMEOUT;

enum Command {
    Dial(Multiaddr),
    Publish(Vec<u8>, oneshot::Sender<Result<(), String>>),
    /// The mesh, and every known peer with its topics.
    Mesh(oneshot::Sender<(Vec<PeerId>, String)>),
    Stop,
}

/// A running bare gossipsub peer; [`RawPeer::stop`] ends it.
pub(crate) struct RawPeer {
    commands: mpsc::UnboundedSender<Command>,
    received: mpsc::UnboundedReceiver<Vec<u8>>,
    task: JoinHandle<()>,
}

impl RawPeer {
    /// Starts a peer subscribed to `pubsub_topic`, dialling `addr`; call it
    /// inside the tokio runtime.
    pub(crate) fn start(pubsub_topic: &str, addr: Multiaddr) -> RawPeer {
        let config = gossipsub::ConfigBuilder::default()
            .protocol_id(RELAY_PROTOCOL, gossipsub::Version::V1_1)
            .validation_mode(gossipsub::ValidationMode::Anonymous)
            .message_id_fn(|m| gossipsub::MessageId::from(Sha256::digest(&m.data).to_vec()))
            // Graft the node under test soon rather than after five seconds.
            .heartbeat_initial_delay(Duration::from_millis(100))
            .heartbeat_interval(Duration::from_millis(200))
            .max_transmit_size(1024 * 1024)
            .build()
            .unwrap();
        let mut swarm = SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(
                tcp::Config::default(),
                noise::Config::new,
                yamux::Config::default,
            )
            .unwrap()
            .with_behaviour(|_| {
                gossipsub::Behaviour::<
                    gossipsub::IdentityTransform,
                    gossipsub::AllowAllSubscriptionFilter,
                >::new(MessageAuthenticity::Anonymous, config)
                .unwrap()
            })
            .unwrap()
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        let topic = IdentTopic::new(pubsub_topic);
        swarm.behaviour_mut().subscribe(&topic).unwrap();
        let (commands, mut inbox) = mpsc::unbounded_channel();
        let (deliver, received) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    event = swarm.select_next_some() => {
                        if let SwarmEvent::Behaviour(gossipsub::Event::Message { message, .. }) = event {
                            let _ = deliver.send(message.data);
                        }
                    }
                    command = inbox.recv() => match command {
                        None | Some(Command::Stop) => break,
                        Some(Command::Dial(addr)) => swarm.dial(addr).unwrap(),
                        Some(Command::Publish(data, reply)) => {
                            let result = swarm
                                .behaviour_mut()
                                .publish(topic.clone(), data)
                                .map(drop)
                                .map_err(|e| e.to_string());
                            let _ = reply.send(result);
                        }
                        Some(Command::Mesh(reply)) => {
                            let gossip = swarm.behaviour();
                            let mesh = gossip.mesh_peers(&topic.hash()).copied().collect();
                            let known = format!("{:?}", gossip.all_peers().collect::<Vec<_>>());
                            let _ = reply.send((mesh, known));
                        }
                    },
                }
            }
        });
        let peer = RawPeer {
            commands,
            received,
            task,
        };
        peer.commands.send(Command::Dial(addr)).unwrap();
        peer
    }

    /// Waits until `peer` is in this peer's mesh, so what one publishes the
    /// other forwards.
    pub(crate) async fn wait_for_mesh(&self, peer: PeerId) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let (reply, answer) = oneshot::channel();
            self.commands.send(Command::Mesh(reply)).unwrap();
            let (mesh, known) = answer.await.unwrap();
            if mesh.contains(&peer) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{peer} never joined the mesh; peers known: {known}"
            );
            sleep(Duration::from_millis(50)).await;
        }
    }

    /// Publishes `data` as is.
    pub(crate) async fn publish(&self, data: Vec<u8>) {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Publish(data, reply)).unwrap();
        answer.await.unwrap().unwrap();
    }

    /// The next message received, if one arrives within `wait`.
    pub(crate) async fn next_within(&mut self, wait: Duration) -> Option<Vec<u8>> {
        timeout(wait, self.received.recv()).await.ok().flatten()
    }

    /// Stops the swarm and waits for its task.
    pub(crate) async fn stop(self) {
        let _ = self.commands.send(Command::Stop);
        timeout(TIMEOUT, self.task).await.unwrap().unwrap();
    }
}
