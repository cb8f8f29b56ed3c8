//! The BitTorrent backend end to end on 127.0.0.1: the conformance kit, a
//! member that holds the first archive fetching only the second, interop with
//! libtorrent and aria2, injected faults (a killed seeder, a lying peer), a
//! hostile owner (an index past the end of `data`, another community) and
//! stalls (the only peer gone once the index has arrived).

mod aria2;
mod conformance;
mod faults;
mod hostile;
mod incremental;
mod interop;
mod process;
mod stall;

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use archive_backend::DynBackend;
use backend_torrent::{Config, TorrentBackend};

/// Nodes in temporary directories; each new node knows every earlier node as
/// a peer, so a member reaches the owner created before it.
#[derive(Default)]
pub(crate) struct Nodes {
    dirs: Mutex<Vec<tempfile::TempDir>>,
    peers: Mutex<Vec<std::net::SocketAddr>>,
    nodes: Mutex<Vec<Arc<TorrentBackend>>>,
}

impl Nodes {
    pub(crate) async fn node(&self) -> Arc<TorrentBackend> {
        let peers = self.peers.lock().unwrap().clone();
        self.node_with_peers(peers).await
    }

    /// A node that contacts exactly `peers`.
    pub(crate) async fn node_with_peers(
        &self,
        peers: Vec<std::net::SocketAddr>,
    ) -> Arc<TorrentBackend> {
        let dir = tempfile::tempdir().unwrap();
        let root: PathBuf = dir.path().into();
        self.dirs.lock().unwrap().push(dir);
        self.node_at(root, peers).await
    }

    /// A node over the files under `root`, as after a restart.
    pub(crate) async fn node_at(
        &self,
        root: PathBuf,
        peers: Vec<std::net::SocketAddr>,
    ) -> Arc<TorrentBackend> {
        self.node_configured(root, peers, |_| {}).await
    }

    /// A node in a new temporary directory that contacts exactly `peers`,
    /// with `configure` applied to its configuration.
    pub(crate) async fn node_with(
        &self,
        peers: Vec<std::net::SocketAddr>,
        configure: impl FnOnce(&mut Config),
    ) -> Arc<TorrentBackend> {
        let dir = tempfile::tempdir().unwrap();
        let root: PathBuf = dir.path().into();
        self.dirs.lock().unwrap().push(dir);
        self.node_configured(root, peers, configure).await
    }

    async fn node_configured(
        &self,
        root: PathBuf,
        peers: Vec<std::net::SocketAddr>,
        configure: impl FnOnce(&mut Config),
    ) -> Arc<TorrentBackend> {
        let mut config = Config::new(root);
        config.peers = peers;
        config.trackers = Vec::new();
        config.created_by = "0x04test".into();
        config.metadata_timeout = Duration::from_secs(10);
        configure(&mut config);
        let node = Arc::new(TorrentBackend::start(config).await.unwrap());
        self.peers
            .lock()
            .unwrap()
            .push(node.listen_addr().expect("the node listens"));
        self.nodes.lock().unwrap().push(node.clone());
        node
    }

    /// Stops every session.
    pub(crate) async fn stop(&self) {
        let nodes: Vec<_> = self.nodes.lock().unwrap().drain(..).collect();
        for node in nodes {
            tokio::time::timeout(Duration::from_secs(10), node.stop())
                .await
                .ok();
        }
    }
}

#[async_trait::async_trait]
impl archive_backend::conformance::Harness for Nodes {
    async fn node(&self) -> DynBackend {
        Nodes::node(self).await
    }

    /// Inverts every byte of the node's `data` file, which it goes on
    /// seeding as if nothing happened.
    async fn corrupt_stored_archives(
        &self,
        node: &DynBackend,
        community: &archive_index::CommunityId,
    ) -> bool {
        let Some(ours) = self
            .nodes
            .lock()
            .unwrap()
            .iter()
            .find(|n| archive_backend::conformance::same_node(n, node))
            .cloned()
        else {
            return false;
        };
        let path = ours.archive_dir(community).data_path();
        let mut bytes = std::fs::read(&path).unwrap();
        for byte in &mut bytes {
            *byte ^= 0xff;
        }
        std::fs::write(&path, bytes).unwrap();
        true
    }

    async fn shutdown(&self) {
        self.stop().await;
    }
}

/// Resolves `link` on `member` and fetches every archive not in `known`,
/// returning the archives it fetched and the fetch outcome.
pub(crate) async fn fetch_missing(
    member: &TorrentBackend,
    community: &archive_index::CommunityId,
    link: &archive_backend::Link,
    known: &std::collections::HashSet<archive_index::ArchiveId>,
) -> (Vec<archive_index::ArchiveId>, archive_backend::FetchOutcome) {
    use archive_backend::{Backend, FetchOptions, ResolveOptions};
    let index = member
        .resolve(community, link, &ResolveOptions::default())
        .await
        .unwrap();
    let missing = index.missing(known);
    let (tx, _rx) = tokio::sync::mpsc::channel(16);
    let outcome = member
        .fetch(
            community,
            link,
            &missing,
            &FetchOptions::default(),
            tx,
            tokio_util::sync::CancellationToken::new(),
        )
        .await
        .unwrap();
    (missing, outcome)
}
