//! Peers that misbehave on the relay: malformed envelopes are not forwarded,
//! floods are cut off and penalised, connections are capped.

use std::time::Duration;

use archive_proto::Message as _;
use tokio::time::{Instant, sleep};
use transport_waku::{
    Config, DEFAULT_MAX_MESSAGE_SIZE, Multiaddr, RateLimit, WakuNode, WakuRelayMessage, new_message,
};

use crate::{TIMEOUT, raw::RawPeer};

const TOPIC: &str = "/waku/1/0x01020304/rfc26";

/// How long to listen for something that must not arrive.
const QUIET: Duration = Duration::from_millis(750);

/// `node`'s plain TCP address, the one a bare peer can dial.
fn tcp_addr(node: &WakuNode) -> Multiaddr {
    node.listen_addrs()
        .iter()
        .find(|a| !a.to_string().contains("/ws"))
        .unwrap()
        .clone()
}

/// A good envelope and the encoded bad ones a hostile peer might send.
fn envelopes() -> (Vec<u8>, Vec<(&'static str, Vec<u8>)>) {
    let good = new_message(TOPIC, &b"good"[..], 1_700_000_000_000_000_000).encode_to_vec();
    let no_topic = WakuRelayMessage {
        content_topic: String::new(),
        ..new_message(TOPIC, &b"no topic"[..], 1)
    };
    let oversized = new_message(TOPIC, vec![7u8; DEFAULT_MAX_MESSAGE_SIZE], 2);
    let bad = vec![
        ("undecodable", b"\xff\xff\xff not a protobuf".to_vec()),
        ("empty content topic", no_topic.encode_to_vec()),
        ("over the size cap", oversized.encode_to_vec()),
    ];
    (good, bad)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_forwards_only_well_formed_messages() {
    // A - B - C in a line: A and C are bare gossipsub peers, B is ours.
    let b = WakuNode::start(Config::default()).await.unwrap();
    let mut c = RawPeer::start(b.pubsub_topic(), tcp_addr(&b));
    let a = RawPeer::start(b.pubsub_topic(), tcp_addr(&b));
    a.wait_for_mesh(b.peer_id()).await;
    c.wait_for_mesh(b.peer_id()).await;

    let (good, bad) = envelopes();
    for (_, data) in &bad {
        a.publish(data.clone()).await;
    }
    a.publish(good.clone()).await;

    // B handles A's messages in order, so anything it forwarded of the bad
    // ones would reach C before the good one.
    let first = c.next_within(TIMEOUT).await.expect("the good message");
    let kind = bad.iter().find(|(_, d)| *d == first).map(|(k, _)| *k);
    assert_eq!(kind, None, "B forwarded a message that is {kind:?}");
    assert_eq!(first, good);
    assert_eq!(c.next_within(QUIET).await, None);

    a.stop().await;
    c.stop().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_peer_is_cut_off_and_penalised() {
    // A burst of 5, then one message every 10 s: the flood below far exceeds
    // it however slowly the machine runs.
    let target = WakuNode::start(Config {
        peer_rate: RateLimit {
            burst: 5,
            per_second: 0.1,
        },
        ..Config::default()
    })
    .await
    .unwrap();
    let flooder = WakuNode::start(Config {
        bootstrap: vec![tcp_addr(&target)],
        ..Config::default()
    })
    .await
    .unwrap();
    flooder.wait_for_relay_peers(1, TIMEOUT).await.unwrap();
    target.wait_for_relay_peers(1, TIMEOUT).await.unwrap();
    let mut inbox = target
        .subscribe_messages(&[TOPIC.to_owned()])
        .await
        .unwrap();

    let start = Instant::now();
    for i in 0..40 {
        let message = new_message(TOPIC, format!("flood {i}"), i);
        flooder.publish_message(&message).await.unwrap();
    }
    // Nine rejections graylist the flooder; what it sends after that is not
    // even looked at.
    let deadline = Instant::now() + TIMEOUT;
    while target.stats().await.unwrap().rate_limited < 9 {
        assert!(Instant::now() < deadline, "{:?}", target.stats().await);
        sleep(Duration::from_millis(50)).await;
    }
    sleep(QUIET).await;
    let stats = target.stats().await.unwrap();
    let refilled = (start.elapsed().as_secs_f64() * 0.1).ceil() as u64;
    assert!(
        (5..=5 + refilled).contains(&stats.accepted),
        "{stats:?} after {:?}",
        start.elapsed()
    );
    assert_eq!(stats.malformed, 0);
    let mut delivered = 0;
    while tokio::time::timeout(QUIET, futures::StreamExt::next(&mut inbox))
        .await
        .is_ok_and(|m| m.is_some())
    {
        delivered += 1;
    }
    assert_eq!(delivered, stats.accepted);
    let score = target.peer_score(flooder.peer_id()).await.unwrap().unwrap();
    assert!(score < 0.0, "the flooder's score is {score}");

    flooder.shutdown().await;
    target.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incoming_connections_beyond_the_cap_are_refused() {
    let hub = WakuNode::start(Config {
        max_incoming_connections: 2,
        ..Config::default()
    })
    .await
    .unwrap();
    let mut spokes = Vec::new();
    for _ in 0..4 {
        let spoke = WakuNode::start(Config {
            bootstrap: vec![tcp_addr(&hub)],
            redial_initial: Duration::from_millis(100),
            redial_max: Duration::from_millis(500),
            ..Config::default()
        })
        .await
        .unwrap();
        spokes.push(spoke);
    }
    hub.wait_for_relay_peers(2, TIMEOUT).await.unwrap();
    // The refused spokes keep redialling; give them time to get in if they
    // could.
    sleep(Duration::from_secs(2)).await;
    assert_eq!(hub.relay_peers().await.unwrap().len(), 2);
    let mut connected = 0;
    for spoke in &spokes {
        if !spoke.relay_peers().await.unwrap().is_empty() {
            connected += 1;
        }
    }
    assert_eq!(connected, 2);

    for spoke in &spokes {
        spoke.shutdown().await;
    }
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_beyond_the_cap_are_refused() {
    let hub = WakuNode::start(Config {
        max_pending_connections: 1,
        ..Config::default()
    })
    .await
    .unwrap();
    let port = tcp_addr(&hub)
        .iter()
        .find_map(|p| match p {
            libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .unwrap();
    // Connects and never says a word, holding the one handshake slot.
    let silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let node = WakuNode::start(Config {
        bootstrap: vec![tcp_addr(&hub)],
        redial_initial: Duration::from_millis(100),
        redial_max: Duration::from_millis(200),
        ..Config::default()
    })
    .await
    .unwrap();
    sleep(Duration::from_secs(1)).await;
    assert!(hub.relay_peers().await.unwrap().is_empty());

    drop(silent);
    node.wait_for_relay_peers(1, TIMEOUT).await.unwrap();
    node.shutdown().await;
    hub.shutdown().await;
}
