//! Relay between two nodes through the `Transport` trait.

use std::net::TcpListener;

use archive_dispatch::{
    Channel, CommunityKey, LinkKind, MAX_WIRE_SIZE, Transport, open_announcement, sign_announcement,
};
use bytes::Bytes;
use futures::StreamExt;
use tokio::time::timeout;
use transport_waku::{Config, Error, Multiaddr, WakuNode};

use crate::{TIMEOUT, connected_pair};

async fn exchange(via: usize) {
    let (a, b) = connected_pair(via).await;
    let topic = "/waku/1/0x01020304/rfc26".to_owned();
    let mut from_a = b.subscribe(std::slice::from_ref(&topic)).await.unwrap();
    let mut from_b = a.subscribe(std::slice::from_ref(&topic)).await.unwrap();

    a.publish(
        "/waku/1/0xffffffff/rfc26",
        Bytes::from_static(b"other topic"),
    )
    .await
    .unwrap();
    a.publish(&topic, Bytes::from_static(b"hello from a"))
        .await
        .unwrap();
    b.publish(&topic, Bytes::from_static(b"hello from b"))
        .await
        .unwrap();

    let got = timeout(TIMEOUT, from_a.next()).await.unwrap().unwrap();
    assert_eq!(
        (got.content_topic.as_str(), &got.payload[..]),
        (topic.as_str(), &b"hello from a"[..])
    );
    let got = timeout(TIMEOUT, from_b.next()).await.unwrap().unwrap();
    assert_eq!(got.payload, "hello from b");

    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_exchange_over_tcp() {
    exchange(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_exchange_over_websocket() {
    exchange(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_announcement_travels_end_to_end() {
    let (owner, member) = connected_pair(0).await;
    let key = CommunityKey::generate();
    let channel = Channel::for_announcement(&key.community_id(), LinkKind::TORRENT);
    let link = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=archive";
    let mut inbox = member
        .subscribe(std::slice::from_ref(&channel.content_topic))
        .await
        .unwrap();

    let wire = sign_announcement(&key, LinkKind::TORRENT, 1_700_000_000_000, link).unwrap();
    owner
        .publish(&channel.content_topic, Bytes::from(wire))
        .await
        .unwrap();

    let received = timeout(TIMEOUT, inbox.next()).await.unwrap().unwrap();
    let announcement = open_announcement(&received.payload, MAX_WIRE_SIZE).unwrap();
    assert_eq!(announcement.community, key.community_id());
    assert_eq!(announcement.kind, LinkKind::TORRENT);
    assert_eq!(announcement.clock, 1_700_000_000_000);
    assert_eq!(announcement.link, link);

    owner.shutdown().await;
    member.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_peer_that_comes_up_late_is_redialled() {
    // Reserve a port, release it, and point the dialler at it before anyone
    // listens there: the first dials fail and the backoff must retry.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
    let dialler = WakuNode::start(Config {
        bootstrap: vec![addr.clone()],
        redial_initial: std::time::Duration::from_millis(100),
        redial_max: std::time::Duration::from_millis(400),
        ..Config::default()
    })
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(dialler.relay_peers().await.unwrap().is_empty());

    let late = WakuNode::start(Config {
        listen: vec![addr],
        ..Config::default()
    })
    .await
    .unwrap();
    dialler.wait_for_relay_peers(1, TIMEOUT).await.unwrap();
    assert_eq!(dialler.relay_peers().await.unwrap(), vec![late.peer_id()]);

    dialler.shutdown().await;
    late.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_without_relay_peers_is_an_error() {
    let lonely = WakuNode::start(Config::default()).await.unwrap();
    let err = lonely
        .publish("/waku/1/0x01020304/rfc26", Bytes::from_static(b"anyone?"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, archive_dispatch::Error::Transport(_)),
        "{err}"
    );
    lonely.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_subscriptions_and_refuses_calls() {
    let node = WakuNode::start(Config::default()).await.unwrap();
    let mut messages = node
        .subscribe(&["/waku/1/0x01020304/rfc26".to_owned()])
        .await
        .unwrap();
    node.shutdown().await;
    assert!(timeout(TIMEOUT, messages.next()).await.unwrap().is_none());
    assert!(matches!(node.relay_peers().await, Err(Error::Shutdown)));
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_are_refused_before_sending() {
    let (a, b) = connected_pair(0).await;
    let big = Bytes::from(vec![0u8; transport_waku::DEFAULT_MAX_MESSAGE_SIZE]);
    let err = a
        .publish("/waku/1/0x01020304/rfc26", big)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("exceeds"), "{err}");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_listen_port_fails_start_naming_the_address() {
    let first = WakuNode::start(Config {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        ..Config::default()
    })
    .await
    .unwrap();
    let taken = first.listen_addrs()[0].clone();
    let port = taken
        .iter()
        .find_map(|p| match p {
            libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .unwrap();
    for addr in [
        format!("/ip4/127.0.0.1/tcp/{port}"),
        format!("/ip4/127.0.0.1/tcp/{port}/ws"),
    ] {
        let second = WakuNode::start(Config {
            listen: vec![addr.parse().unwrap()],
            ..Config::default()
        })
        .await;
        let err = match second {
            Ok(node) => {
                node.shutdown().await;
                panic!("a second node listens on {addr}, which {taken} holds");
            }
            Err(e) => e,
        };
        assert!(err.to_string().contains(&addr), "{addr}: {err}");
    }
    first.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_listener_reports_dialable_interface_addresses() {
    let server = WakuNode::start(Config {
        listen: vec!["/ip4/0.0.0.0/tcp/0".parse().unwrap()],
        ..Config::default()
    })
    .await
    .unwrap();
    let addr = server.listen_addrs()[0].clone();
    assert!(!addr.to_string().starts_with("/ip4/0.0.0.0/"), "{addr}");
    let client = WakuNode::start(Config {
        bootstrap: vec![addr],
        ..Config::default()
    })
    .await
    .unwrap();
    client.wait_for_relay_peers(1, TIMEOUT).await.unwrap();
    client.shutdown().await;
    server.shutdown().await;
}
