//! `archive_backend::conformance` against real librqbit nodes.

use super::Nodes;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torrent_backend_passes_the_conformance_kit() {
    let nodes = Nodes::default();
    archive_backend::conformance::run(&nodes).await;
    nodes.stop().await;
}
