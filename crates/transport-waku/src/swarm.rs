//! The libp2p swarm of a [`crate::WakuNode`]: transports whose listening
//! ports are exclusively ours, connection caps, and gossipsub configured as
//! 11/WAKU2-RELAY with manual validation and peer scoring; and starting its
//! listeners, which [`crate::WakuNode::start`] waits for.

use std::{collections::HashMap, error::Error as StdError, time::Duration};

use futures::StreamExt;
use libp2p::{
    Multiaddr, PeerId, Swarm, SwarmBuilder, Transport as _,
    connection_limits::{self, ConnectionLimits},
    core::{
        muxing::StreamMuxerBox,
        transport::Boxed,
        upgrade::{SelectUpgrade, Version},
    },
    dns,
    gossipsub::{
        self, MessageAuthenticity, PeerScoreParams, PeerScoreThresholds, TopicHash,
        TopicScoreParams,
    },
    identify,
    identity::Keypair,
    noise, ping,
    swarm::{NetworkBehaviour, SwarmEvent},
    websocket, yamux,
};
use sha2::{Digest, Sha256};
use tokio::time::{self, Instant};

use crate::{
    config::WakuConfig,
    error::{Error, Result},
    tcp::ExclusiveTcp,
};

/// The gossipsub protocol id of 11/WAKU2-RELAY; it replaces `/meshsub/*`.
pub const RELAY_PROTOCOL: &str = "/vac/waku/relay/2.0.0";

/// Connections one peer may hold to this node: two when both dialled at
/// once, no more.
const MAX_CONNECTIONS_PER_PEER: u32 = 2;

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    // First, so a connection over the caps is refused before the others
    // set up anything for it.
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
}

pub(crate) async fn build_swarm(config: &WakuConfig, topic: TopicHash) -> Result<Swarm<Behaviour>> {
    // Gossipsub frames a whole RPC; leave room around the largest envelope.
    let max_transmit = config.max_message_size.saturating_add(4 * 1024);
    let limits = ConnectionLimits::default()
        .with_max_pending_incoming(Some(config.max_pending_connections))
        .with_max_established_incoming(Some(config.max_incoming_connections))
        .with_max_established_per_peer(Some(MAX_CONNECTIONS_PER_PEER));
    let swarm = SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_other_transport(transport)
        .map_err(|e| Error::Setup(format!("transport: {e}")))?
        .with_behaviour(|key| {
            let gossipsub_config = gossipsub::ConfigBuilder::default()
                .protocol_id(RELAY_PROTOCOL, gossipsub::Version::V1_1)
                // 11/WAKU2-RELAY is StrictNoSign: no from, seqno, signature or key.
                .validation_mode(gossipsub::ValidationMode::Anonymous)
                // nwaku and js-waku both use sha256(data); IHAVE/IWANT gossip
                // only works when every peer names messages alike.
                .message_id_fn(|m| gossipsub::MessageId::from(Sha256::digest(&m.data).to_vec()))
                .max_transmit_size(max_transmit)
                // Nothing is forwarded until the node task has checked it.
                .validate_messages()
                .build()?;
            let mut gossipsub =
                gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, gossipsub_config)?;
            let (params, thresholds) = scoring(topic);
            gossipsub.with_peer_score(params, thresholds)?;
            Ok(Behaviour {
                limits: connection_limits::Behaviour::new(limits),
                gossipsub,
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

/// Starts a listener on each of `addrs` and waits (10 s at most) until
/// every one has its address, returned in the order of `addrs`, each ending
/// in `/p2p/<peer id>`. A listener that fails first fails with its address.
pub(crate) async fn listen(
    swarm: &mut Swarm<Behaviour>,
    addrs: &[Multiaddr],
) -> Result<Vec<Multiaddr>> {
    let mut pending = HashMap::new();
    let mut order = HashMap::new();
    for (index, addr) in addrs.iter().enumerate() {
        let id = swarm.listen_on(addr.clone()).map_err(|e| Error::Listen {
            addr: addr.clone(),
            reason: listen_error(&e),
        })?;
        pending.insert(id, addr.clone());
        order.insert(id, index);
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
                let index = order.get(&listener_id).copied().unwrap_or(usize::MAX);
                listen_addrs.push((index, address.with_p2p(peer_id).unwrap_or_else(|a| a)));
            }
            SwarmEvent::ListenerClosed {
                reason: Err(e),
                listener_id,
                ..
            } => {
                if let Some(addr) = pending.remove(&listener_id) {
                    return Err(Error::Listen {
                        addr,
                        reason: format!("listener closed: {e}"),
                    });
                }
            }
            SwarmEvent::ListenerError { error, listener_id } => {
                if let Some(addr) = pending.remove(&listener_id) {
                    return Err(Error::Listen {
                        addr,
                        reason: format!("listener failed: {error}"),
                    });
                }
            }
            _ => {}
        }
    }

    // Transports report addresses in their own order; callers get the
    // configured one.
    listen_addrs.sort_by_key(|(index, _)| *index);
    Ok(listen_addrs.into_iter().map(|(_, addr)| addr).collect())
}

/// The transport's reason for refusing a listen address, without the
/// wrapping that says nothing (`Other(Transport(...))`).
fn listen_error<E: std::error::Error>(error: &libp2p::TransportError<E>) -> String {
    match error {
        libp2p::TransportError::MultiaddrNotSupported(_) => {
            "not a /tcp or /tcp/…/ws address this node can listen on".to_owned()
        }
        libp2p::TransportError::Other(e) => {
            let mut reason = e.to_string();
            let mut source = e.source();
            while let Some(inner) = source {
                reason = inner.to_string();
                source = inner.source();
            }
            reason
        }
    }
}

/// TCP and websocket over TCP, both listening without `SO_REUSEPORT`, with
/// noise and yamux or mplex.
fn transport(
    key: &Keypair,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, Box<dyn StdError + Send + Sync>> {
    // js-waku (sdk 0.0.27) offers only mplex; yamux is kept for everyone else.
    let mux = || SelectUpgrade::new(yamux::Config::default(), libp2p_mplex::Config::default());
    let tcp = ExclusiveTcp::new()
        .upgrade(Version::V1Lazy)
        .authenticate(noise::Config::new(key)?)
        .multiplex(mux())
        .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)));
    let ws = websocket::Config::new(dns::tokio::Transport::system(ExclusiveTcp::new())?)
        .upgrade(Version::V1Lazy)
        .authenticate(noise::Config::new(key)?)
        .multiplex(mux())
        .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer)));
    Ok(ws
        .or_transport(tcp)
        .map(|either, _| either.into_inner())
        .boxed())
}

/// Peer scoring for the one relayed topic. Each rejected message
/// (malformed, oversized, over the sender's rate) counts, and n counted
/// messages cost n²; n decays by a tenth a second. A neighbour whose checks
/// differ from ours now and then loses little, while a peer rejected nine
/// times in a row is graylisted (below -80: not heard at all) until its count
/// decays, about 45 s after a thousand.
fn scoring(topic: TopicHash) -> (PeerScoreParams, PeerScoreThresholds) {
    let topic_params = TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.01,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 10.0,
        first_message_deliveries_weight: 1.0,
        first_message_deliveries_decay: 0.5,
        first_message_deliveries_cap: 10.0,
        // A community topic is quiet for hours: penalising mesh peers for
        // delivering too little (P3, P3b) would drive honest peers out.
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: -1.0,
        invalid_message_deliveries_decay: 0.9,
        ..TopicScoreParams::default()
    };
    let params = PeerScoreParams {
        topics: [(topic, topic_params)].into_iter().collect(),
        // Several nodes of one operator, or behind one NAT, share an address;
        // the connection caps bound them instead.
        ip_colocation_factor_weight: 0.0,
        ..PeerScoreParams::default()
    };
    (params, PeerScoreThresholds::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoring_parameters_are_accepted_by_gossipsub() {
        let (params, thresholds) = scoring(TopicHash::from_raw("/waku/2/rs/16/32"));
        params.validate().unwrap();
        thresholds.validate().unwrap();
    }
}
