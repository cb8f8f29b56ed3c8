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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_waku_port_fails_naming_the_address_and_the_key() {
    let world = World::new(Networks::Torrent).await;
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let mut config = world.config("waku", None);
    config.waku.enabled = true;
    config.waku.listen = vec![
        "/ip4/127.0.0.1/tcp/0".to_owned(),
        format!("/ip4/127.0.0.1/tcp/{port}"),
    ];
    let err = Node::start(config)
        .await
        .expect_err("a Waku listener on a port another socket holds");
    let message = err.to_string();
    assert!(
        message.contains(&format!("/ip4/127.0.0.1/tcp/{port}"))
            && message.contains("waku.listen[1]"),
        "the error names the address and the key: {message}"
    );
    drop(holder);
}
