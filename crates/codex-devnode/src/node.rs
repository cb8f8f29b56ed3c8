//! Starting and stopping a devnode: its configuration, shared state, injected
//! faults, CORS, and the handle tests and the CLI hold.

use std::{
    collections::HashSet,
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use cid::Cid;
use sha2::{Digest, Sha256};
use tokio::{sync::oneshot, task::JoinHandle};

use crate::{
    error::DevnodeError,
    format::{cid::cid_text, manifest::Manifest},
    network,
    store::Store,
};

/// The prefix of Logos Storage (2026) nodes.
pub const STORAGE_PREFIX: &str = "/api/storage/v1";
/// The prefix of Codex (≤ 2025) nodes.
pub const CODEX_PREFIX: &str = "/api/codex/v1";

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

/// What every handler shares.
#[derive(Debug)]
pub(crate) struct NodeState {
    pub(crate) config: DevnodeConfig,
    pub(crate) store: Store,
    pub(crate) http: reqwest::Client,
    pub(crate) local_addr: SocketAddr,
    pub(crate) peer_id: String,
    pub(crate) spr: String,
    pub(crate) pub_key_hex: String,
    peers: RwLock<Vec<String>>,
    /// (peer, tree CID) pairs where the peer sent a dataset whose tree root
    /// did not match: such a peer is asked last for that tree.
    distrusted: Mutex<HashSet<(String, String)>>,
    requests: AtomicU64,
    fail_next: AtomicU64,
    corrupt: AtomicBool,
    next_download: AtomicU64,
    background: Mutex<Vec<JoinHandle<()>>>,
}

impl NodeState {
    pub(crate) fn peers(&self) -> Vec<String> {
        self.peers.read().expect("peers lock").clone()
    }

    /// The peers to ask for the blocks of `tree`, those that lied about it
    /// last.
    pub(crate) fn peers_for(&self, tree: &Cid) -> Vec<String> {
        let tree = cid_text(tree);
        let distrusted = self.distrusted.lock().expect("distrusted lock");
        let (mut trusted, lied): (Vec<String>, Vec<String>) = self
            .peers()
            .into_iter()
            .partition(|peer| !distrusted.contains(&(peer.clone(), tree.clone())));
        trusted.extend(lied);
        trusted
    }

    pub(crate) fn distrust(&self, peer: &str, tree: &Cid) {
        self.distrusted
            .lock()
            .expect("distrusted lock")
            .insert((peer.to_string(), cid_text(tree)));
    }

    pub(crate) fn trust(&self, peer: &str, tree: &Cid) {
        self.distrusted
            .lock()
            .expect("distrusted lock")
            .remove(&(peer.to_string(), cid_text(tree)));
    }

    fn peer_base(&self, url: &str) -> String {
        let url = url.trim_end_matches('/');
        let has_path = url
            .split_once("://")
            .is_some_and(|(_, rest)| rest.contains('/'));
        if has_path {
            url.to_string()
        } else {
            format!("{url}{}", self.config.prefixes[0])
        }
    }

    pub(crate) fn corrupt_data(&self) -> bool {
        self.corrupt.load(Ordering::Relaxed)
    }

    /// Fetches a dataset in the background and returns its download ID.
    pub(crate) fn start_background_fetch(self: &Arc<Self>, cid: Cid, manifest: Manifest) -> u64 {
        let id = self.next_download.fetch_add(1, Ordering::Relaxed);
        let node = self.clone();
        let task = tokio::spawn(async move {
            // Failures leave the dataset incomplete, which is all a client
            // of the real node can observe too.
            let _ = network::ensure_dataset(&node, &cid, &manifest).await;
        });
        let mut tasks = self.background.lock().expect("background lock");
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
        id
    }
}

/// Injected delay and 503s, before anything else runs.
pub(crate) async fn faults(
    State(node): State<Arc<NodeState>>,
    request: Request,
    next: Next,
) -> Response {
    let n = node.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let faults = &node.config.faults;
    if !faults.delay.is_zero() {
        tokio::time::sleep(faults.delay).await;
    }
    let forced = node
        .fail_next
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    if forced
        || faults
            .fail_every_nth
            .is_some_and(|every| every > 0 && n % every == 0)
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html")],
            "Service unavailable (injected by the devnode)",
        )
            .into_response();
    }
    next.run(request).await
}

/// `--api-cors-origin`: the node's CORS headers, only when configured.
pub(crate) async fn cors(
    State(node): State<Arc<NodeState>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    if let Some(origin) = &node.config.cors_origin
        && let Ok(value) = HeaderValue::from_str(origin)
    {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
    }
    response
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
        // A stable identity per data dir, shaped like a secp256k1 peer ID.
        let seed: [u8; 32] = Sha256::digest(config.data_dir.to_string_lossy().as_bytes()).into();
        let b58 = cid::multibase::encode(cid::multibase::Base::Base58Btc, seed);
        let mut node = NodeState {
            store,
            http,
            local_addr,
            peer_id: format!("16Uiu2HAm{}", &b58[1..]),
            spr: format!("spr:CiUIAhIh{}", &b58[1..]),
            pub_key_hex: format!("08021221{}", hex_encode(&seed)),
            peers: RwLock::new(Vec::new()),
            distrusted: Mutex::new(HashSet::new()),
            requests: AtomicU64::new(0),
            fail_next: AtomicU64::new(0),
            corrupt: AtomicBool::new(config.faults.corrupt_data),
            next_download: AtomicU64::new(1),
            background: Mutex::new(Vec::new()),
            config,
        };
        let peers = node
            .config
            .peers
            .iter()
            .map(|p| node.peer_base(p))
            .collect();
        node.peers = RwLock::new(peers);
        let node = Arc::new(node);
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

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
        let base = self.node.peer_base(url);
        let mut peers = self.node.peers.write().expect("peers lock");
        if !peers.contains(&base) {
            peers.push(base);
        }
    }

    /// Answers the next `n` requests with 503: a burst of failures.
    pub fn fail_next_requests(&self, n: u64) {
        self.node.fail_next.store(n, Ordering::Relaxed);
    }

    /// Starts or stops serving corrupted downloads.
    pub fn set_corrupt_data(&self, corrupt: bool) {
        self.node.corrupt.store(corrupt, Ordering::Relaxed);
    }

    /// Requests handled so far (including injected failures).
    pub fn request_count(&self) -> u64 {
        self.node.requests.load(Ordering::Relaxed)
    }

    /// Stops accepting, lets open requests finish for up to 5 s (then drops
    /// them), and stops background fetches.
    pub async fn shutdown(mut self) -> Result<(), DevnodeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for task in self
            .node
            .background
            .lock()
            .expect("background lock")
            .drain(..)
        {
            task.abort();
        }
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
        if let Ok(mut tasks) = self.node.background.lock() {
            for task in tasks.drain(..) {
                task.abort();
            }
        }
    }
}
