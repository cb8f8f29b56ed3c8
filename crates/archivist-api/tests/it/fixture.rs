//! Two nodes and their APIs: an owner with a few synthetic weeks archived
//! and a member that joins through the API, plus an HTTP helper that hands
//! every response to the OpenAPI check.

use std::{sync::Arc, time::Duration};

use archivist::{
    Config, Node,
    dispatch::{CommunityKey, MemoryHub},
    index::{CommunityId, TimeRange, Topic},
    scheduler::ManualClock,
};
use archivist_api::ApiServer;
use serde_json::Value;

use crate::openapi::Spec;

/// A Monday in the past; the synthetic history starts here.
pub(crate) const T0: u64 = 1_700_438_400;
pub(crate) const WEEK: u64 = 7 * 86_400;
pub(crate) const TOPICS: [Topic; 1] = [Topic([0xde, 0xad, 0xbe, 0xef])];
/// How long any awaited state may take.
pub(crate) const DEADLINE: Duration = Duration::from_secs(90);

/// The nodes of one test, and their APIs.
pub(crate) struct World {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) owner: Node,
    pub(crate) owner_api: ApiServer,
    pub(crate) member: Node,
    pub(crate) member_api: ApiServer,
    pub(crate) community: CommunityId,
    pub(crate) clock: Arc<ManualClock>,
}

fn config(dir: &std::path::Path, name: &str) -> Config {
    let mut config = Config::default();
    config.data_dir = dir.join(name);
    config.quiet_period = Duration::from_millis(300);
    config.link_reply_interval = Duration::from_secs(1);
    config.waku.enabled = false;
    config.torrent.metadata_timeout = Duration::from_secs(10);
    config
}

impl World {
    /// An owner that has archived `weeks` weeks and a member that has not
    /// joined yet, both serving their API on an ephemeral loopback port.
    pub(crate) async fn new(weeks: u64) -> World {
        let dir = tempfile::tempdir().unwrap();
        let hub = MemoryHub::new(256);
        let clock = Arc::new(ManualClock::new(T0 + weeks * WEEK));
        let builder = Node::builder(config(dir.path(), "owner"))
            .transport(Arc::new(hub.attach()))
            .clock(Arc::clone(&clock) as _);
        let events = builder.events();
        let owner = builder.start().await.unwrap();
        let owner_api = ApiServer::start(owner.clone(), events, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let key = CommunityKey::from_bytes(&[7; 32]).unwrap();
        for week in 0..weeks {
            let from = T0 + week * WEEK;
            let messages = archivist::synthetic::messages(
                &TOPICS,
                TimeRange {
                    from,
                    to: from + WEEK,
                },
                40,
                512,
                week,
            );
            owner.store().insert_messages(messages).await.unwrap();
        }
        owner
            .add_owned(key.clone(), TOPICS.to_vec(), true)
            .await
            .unwrap();
        let mut member_config = config(dir.path(), "member");
        member_config.torrent.peers = owner.torrent_listen_addr().into_iter().collect();
        let builder = Node::builder(member_config).transport(Arc::new(hub.attach()));
        let events = builder.events();
        let member = builder.start().await.unwrap();
        let member_api = ApiServer::start(member.clone(), events, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        World {
            dir,
            owner,
            owner_api,
            member,
            member_api,
            community: key.community_id(),
            clock,
        }
    }

    /// Stops the APIs, then the nodes.
    pub(crate) async fn stop(self) {
        self.owner_api.stop().await;
        self.member_api.stop().await;
        self.member.stop().await;
        self.owner.stop().await;
        drop(self.dir);
    }
}

/// One HTTP answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) text: String,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

/// Calls an API and checks every JSON answer against the spec.
pub(crate) struct Http<'a> {
    pub(crate) spec: &'a Spec,
    client: reqwest::Client,
}

impl<'a> Http<'a> {
    pub(crate) fn new(spec: &'a Spec) -> Http<'a> {
        Http {
            spec,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    /// `method path` on the API at `base`, with `token` and `body` if
    /// given; the answer is checked against the spec before it is returned.
    pub(crate) async fn call(
        &self,
        method: &str,
        base: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self
            .client
            .request(method.parse().unwrap(), format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.unwrap();
        let route = path.split('?').next().unwrap_or(path);
        if let Err(e) = self.spec.check(method, route, status, &content_type, &text) {
            panic!("{method} {path} → {status} breaks openapi.yaml: {e}\n{text}");
        }
        Answer { status, text }
    }

    pub(crate) async fn get(&self, base: &str, path: &str) -> Answer {
        self.call("GET", base, path, None, None).await
    }
}

/// Polls `check` every 200 ms until it returns `Some`, or fails after
/// [`DEADLINE`] saying what it waited for.
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = tokio::time::Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
