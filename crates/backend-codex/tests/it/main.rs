//! The Codex backend and client against devnodes: the conformance kit, an
//! owner and a member on two peered nodes, lying and missing peers, 5xx
//! bursts, deadlines, cancellation and progress.

mod client;
mod network;
mod progress;

use std::{sync::Arc, sync::Mutex, time::Duration};

use archive_backend::{DynBackend, MessageList, conformance};
use archive_index::{CommunityId, Message, TimeRange, Topic, keccak256};
use backend_codex::{ClientConfig, CodexBackend, CodexClient, RetryPolicy};
use codex_devnode::{Devnode, DevnodeConfig, DevnodeHandle};
use tempfile::TempDir;

pub(crate) const WEEK: u64 = 7 * 86_400;
pub(crate) const D1: u64 = 1_577_836_800;
pub(crate) const TOPIC: Topic = Topic([0xc0, 0xde, 0x00, 0x01]);
pub(crate) const COMMUNITY: CommunityId = CommunityId([2; 33]);

/// A devnode with its data dir.
pub(crate) struct Node {
    pub(crate) handle: DevnodeHandle,
    _dir: TempDir,
}

impl Node {
    pub(crate) async fn start(configure: impl FnOnce(&mut DevnodeConfig)) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let mut config = DevnodeConfig::new(dir.path());
        configure(&mut config);
        Node {
            handle: Devnode::spawn(config).await.unwrap(),
            _dir: dir,
        }
    }

    /// A client with quick retries, so failure tests stay short.
    pub(crate) fn client(&self) -> CodexClient {
        let mut config = ClientConfig::new(self.handle.url());
        config.retry = RetryPolicy::new(4, Duration::from_millis(20));
        config.manifest_deadline = Duration::from_secs(5);
        CodexClient::new(config).unwrap()
    }

    pub(crate) fn backend(&self) -> Arc<CodexBackend> {
        Arc::new(CodexBackend::new(self.client()))
    }

    pub(crate) async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(10), self.handle.shutdown())
            .await
            .expect("devnode shuts down in time")
            .expect("devnode shuts down cleanly");
    }
}

/// `per_week` messages in each of `weeks` weeks.
pub(crate) fn messages(weeks: u64, per_week: u64) -> MessageList {
    MessageList::new(
        (0..weeks)
            .flat_map(|w| (0..per_week).map(move |i| (w, i)))
            .map(|(w, i)| Message {
                sig: vec![9; 65],
                timestamp: D1 + w * WEEK + 60 * (i + 1),
                topic: TOPIC,
                payload: format!("week {w} message {i}").repeat(50).into_bytes(),
                padding: Vec::new(),
                hash: keccak256(format!("{w}/{i}").as_bytes()).to_vec(),
                third_party_id: String::new(),
            })
            .collect::<Vec<_>>(),
    )
}

pub(crate) fn weeks(n: u64) -> TimeRange {
    TimeRange {
        from: D1,
        to: D1 + n * WEEK,
    }
}

/// Devnodes that all peer with each other; each conformance node is a
/// backend on a node of its own.
#[derive(Default)]
struct CodexHarness {
    nodes: Mutex<Vec<(Node, Arc<CodexBackend>)>>,
}

#[async_trait::async_trait]
impl conformance::Harness for CodexHarness {
    async fn node(&self) -> DynBackend {
        let earlier: Vec<String> = self
            .nodes
            .lock()
            .unwrap()
            .iter()
            .map(|(n, _)| n.handle.url())
            .collect();
        let node = Node::start(|c| c.peers = earlier).await;
        let backend = node.backend();
        let mut nodes = self.nodes.lock().unwrap();
        for (other, _) in nodes.iter() {
            other.handle.add_peer(&node.handle.url());
        }
        nodes.push((node, backend.clone()));
        backend
    }

    /// Makes the backend's devnode serve every block with a flipped bit.
    async fn corrupt_stored_archives(&self, node: &DynBackend, _community: &CommunityId) -> bool {
        let nodes = self.nodes.lock().unwrap();
        let Some((ours, _)) = nodes
            .iter()
            .find(|(_, backend)| conformance::same_node(backend, node))
        else {
            return false;
        };
        ours.handle.set_corrupt_data(true);
        true
    }

    async fn shutdown(&self) {
        let nodes = std::mem::take(&mut *self.nodes.lock().unwrap());
        for (node, _) in nodes {
            node.stop().await;
        }
    }
}

/// The kit, one test per check.
mod conformance_kit {
    archive_backend::conformance_tests!(super::CodexHarness::default());
}
