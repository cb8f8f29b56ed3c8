//! Ports are really ours: a node whose configured port another node holds
//! fails to start, naming the address and the config key to change.

use archivist::{Error, Node};

use crate::fixture::{Networks, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_torrent_port_fails_naming_the_address_and_the_key() {
    let world = World::new(Networks::Torrent).await;
    let owner = world.owner().await;
    let taken = owner.node.torrent_listen_addr().unwrap();
    let mut config = world.config("second", None);
    config.torrent.listen = taken;
    let err = Node::builder(config)
        .transport(std::sync::Arc::new(world.hub.attach()))
        .start()
        .await
        .expect_err("two nodes on one BitTorrent port");
    assert!(matches!(err, Error::Start { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&taken.to_string()) && message.contains("torrent.listen"),
        "the error names the address and the key: {message}"
    );
    owner.node.stop().await;
}
