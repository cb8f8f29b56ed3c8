//! Starting and stopping a devnode: its configuration, the faults it can be
//! told to inject, and the handle tests and the CLI hold. What the handlers
//! share is in `state.rs`, the layers before them in `middleware.rs`.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use tokio::{sync::oneshot, task::JoinHandle};

use crate::{
    error::DevnodeError,
    format::api::{CODEX_PREFIX, STORAGE_PREFIX},
    state::NodeState,
    store::Store,
};

/// Faults to inject, for tests of clients.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Faults {
    /// Every request waits this long before it is handled.
    pub delay: Duration,
    /// Every Nth request (counting from 1) is answered 503.
    pub fail_every_nth: Option<u64>,
    /// Downloads flip the first byte of every block: a lying node.
    pub corrupt_data: bool,
    /// Download bodies send this many bytes, then go silent with the
    /// connection open: a stalled node.
    pub stall_after: Option<u64>,
}

/// How to run a devnode.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DevnodeConfig {
    /// Where to listen; `127.0.0.1:0` (a free loopback port) by default.
    pub listen: SocketAddr,
    /// Where blocks are stored.
    pub data_dir: PathBuf,
    /// API prefixes served; both generations by default. The first one is
    /// the prefix of [`DevnodeHandle::api_url`] and of bare peer URLs.
    pub prefixes: Vec<String>,
    /// Peer devnodes: an API base URL (`http://127.0.0.1:8080/api/codex/v1`)
    /// or a bare origin, to which this node's first prefix is appended.
    pub peers: Vec<String>,
    /// Injected latency and failures.
    pub faults: Faults,
    /// `--api-cors-origin`: CORS headers only when set.
    pub cors_origin: Option<String>,
    /// What `/space` reports as `quotaMaxBytes` (20 GiB, the node's default).
    pub quota_max_bytes: u64,
    /// Deadline of each request to a peer.
    pub peer_timeout: Duration,
    /// How long a connection may take to send a request's headers, counted
    /// from when the server starts waiting for them: it closes connections
    /// that send nothing and keep-alive connections idle between requests.
    /// 10 s, the node's (chronos') default.
    pub header_read_timeout: Duration,
    /// A connection on which no byte moves either way for this long while a
    /// request is served (a body that stopped coming, a response nobody
    /// reads) is closed. 60 s: longer than `peer_timeout`, which a request
    /// may spend waiting on a peer.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog until
    /// one closes. Keeps a flood of connections from using up descriptors.
    pub max_connections: usize,
}

impl DevnodeConfig {
    /// Defaults, storing under `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> DevnodeConfig {
        DevnodeConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            data_dir: data_dir.into(),
            prefixes: vec![STORAGE_PREFIX.into(), CODEX_PREFIX.into()],
            peers: Vec::new(),
            faults: Faults::default(),
            cors_origin: None,
            quota_max_bytes: 20 * 1024 * 1024 * 1024,
            peer_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}

/// Starts devnodes.
#[derive(Debug)]
pub struct Devnode;

impl Devnode {
    /// Opens the data dir, binds and serves until the handle shuts it down.
    pub async fn spawn(config: DevnodeConfig) -> Result<DevnodeHandle, DevnodeError> {
        if config.prefixes.is_empty() {
            return Err(DevnodeError::NotFound("no API prefix configured".into()));
        }
        // Bound first: a taken port fails before the store is touched. Tokio
        // sets SO_REUSEADDR (for quick restarts), never SO_REUSEPORT, so a
        // port another socket listens on is refused, not shared.
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| DevnodeError::Bind {
                addr: config.listen,
                source,
            })?;
        let store = {
            let (dir, quota) = (config.data_dir.clone(), config.quota_max_bytes);
            tokio::task::spawn_blocking(move || Store::open(&dir, quota))
                .await
                .map_err(|e| DevnodeError::io("opening the store", std::io::Error::other(e)))??
        };
        let local_addr = listener
            .local_addr()
            .map_err(|e| DevnodeError::io("reading the bound address", e))?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(2))
            .timeout(config.peer_timeout)
            .build()
            .map_err(|e| DevnodeError::Peer {
                peer: "(client)".into(),
                source: e,
            })?;
        let node = Arc::new(NodeState::new(config, store, http, local_addr));
        let app = crate::server::router(node.clone());
        let limits = crate::serve::Limits {
            header_read_timeout: node.config.header_read_timeout,
            idle_timeout: node.config.idle_timeout,
            max_connections: node.config.max_connections,
        };
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(crate::serve::serve(listener, app, limits, rx));
        Ok(DevnodeHandle {
            node,
            stop: Some(tx),
            server: Some(server),
        })
    }
}

/// A running devnode. Dropping it stops the server too, without waiting.
#[derive(Debug)]
pub struct DevnodeHandle {
    node: Arc<NodeState>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl DevnodeHandle {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.node.local_addr)
    }

    /// The URL with the first prefix: what a client's base URL is.
    pub fn api_url(&self) -> String {
        format!("{}{}", self.url(), self.node.config.prefixes[0])
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.node.local_addr
    }

    /// The peer ID it reports.
    pub fn peer_id(&self) -> &str {
        &self.node.peer_id
    }

    /// Adds a peer at run time (same forms as [`DevnodeConfig::peers`]).
    pub fn add_peer(&self, url: &str) {
        self.node.add_peer(url);
    }

    /// Answers the next `n` requests with 503: a burst of failures.
    pub fn fail_next_requests(&self, n: u64) {
        self.node.fail_next(n);
    }

    /// Starts or stops serving corrupted downloads.
    pub fn set_corrupt_data(&self, corrupt: bool) {
        self.node.set_corrupt_data(corrupt);
    }

    /// Requests handled so far (including injected failures).
    pub fn request_count(&self) -> u64 {
        self.node.request_count()
    }

    /// Stops accepting, lets open requests finish for up to 5 s (then drops
    /// them), and stops background fetches.
    pub async fn shutdown(mut self) -> Result<(), DevnodeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.node.stop_background_fetches();
        let Some(mut server) = self.server.take() else {
            return Ok(());
        };
        match tokio::time::timeout(Duration::from_secs(5), &mut server).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(join)) => Err(DevnodeError::io("serving", std::io::Error::other(join))),
            Err(_) => {
                // A client holding a response open: stop waiting for it.
                server.abort();
                Ok(())
            }
        }
    }
}

impl Drop for DevnodeHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.node.stop_background_fetches();
    }
}
