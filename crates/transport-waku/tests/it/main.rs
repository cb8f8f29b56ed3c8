//! Integration tests: Waku relay nodes on loopback exchanging messages,
//! signed announcements and feeding the store.

mod abuse;
mod dispatch;
mod ingest;
mod interop;
mod raw;
mod relay;

use std::time::Duration;

use transport_waku::{Config, WakuNode};

/// Longest wait for anything on the loopback network.
const TIMEOUT: Duration = Duration::from_secs(20);

/// Two started nodes, `b` dialling `a` on its listen address number `via`
/// (0 = TCP, 1 = websocket), both with the other as a relay peer.
async fn connected_pair(via: usize) -> (WakuNode, WakuNode) {
    let a = WakuNode::start(Config::default()).await.unwrap();
    let b = WakuNode::start(Config {
        bootstrap: vec![a.listen_addrs()[via].clone()],
        ..Config::default()
    })
    .await
    .unwrap();
    a.wait_for_relay_peers(1, TIMEOUT).await.unwrap();
    b.wait_for_relay_peers(1, TIMEOUT).await.unwrap();
    (a, b)
}
