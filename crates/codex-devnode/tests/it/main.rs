//! The devnode's integration tests: its REST API as a client sees it.

mod api;
mod connections;
mod openapi;
mod peers;
mod repo;

use std::time::Duration;

use codex_devnode::{Config, Devnode, DevnodeHandle};
use tempfile::TempDir;

/// A devnode on a fresh data dir; the dir lives as long as the value.
pub(crate) struct TestNode {
    pub(crate) node: DevnodeHandle,
    pub(crate) http: reqwest::Client,
    pub(crate) dir: TempDir,
}

impl TestNode {
    pub(crate) async fn start() -> TestNode {
        TestNode::with(|_| {}).await
    }

    pub(crate) async fn with(configure: impl FnOnce(&mut Config)) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path());
        configure(&mut config);
        let node = Devnode::spawn(config).await.unwrap();
        assert!(
            node.local_addr().ip().is_loopback(),
            "binds loopback by default"
        );
        TestNode {
            node,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            dir,
        }
    }

    /// `{api_url}{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.node.api_url())
    }

    pub(crate) async fn upload(&self, body: &'static [u8]) -> String {
        let r = self
            .http
            .post(self.url("/data"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }

    /// Shuts the server down, failing the test if that takes over 10 s.
    pub(crate) async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(10), self.node.shutdown())
            .await
            .expect("devnode shuts down in time")
            .expect("devnode shuts down cleanly");
    }
}
