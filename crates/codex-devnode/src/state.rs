//! What every handler of a devnode shares: its configuration, store, peers
//! and whom among them it trusts, its stand-in identity, the counters the
//! injected faults read, and the background fetches it must stop.

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use cid::Cid;
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use crate::{
    format::{cid::cid_text, manifest::Manifest},
    network,
    node::DevnodeConfig,
    store::Store,
};

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
    /// The state of a node serving `store` on `local_addr`, its configured
    /// peers resolved to API base URLs.
    pub(crate) fn new(
        config: DevnodeConfig,
        store: Store,
        http: reqwest::Client,
        local_addr: SocketAddr,
    ) -> NodeState {
        // A stable identity per data dir, shaped like a secp256k1 peer ID.
        let seed: [u8; 32] = Sha256::digest(config.data_dir.to_string_lossy().as_bytes()).into();
        let b58 = cid::multibase::encode(cid::multibase::Base::Base58Btc, seed);
        let peers = config
            .peers
            .iter()
            .map(|p| peer_base(&config.prefixes[0], p))
            .collect();
        NodeState {
            store,
            http,
            local_addr,
            peer_id: format!("16Uiu2HAm{}", &b58[1..]),
            spr: format!("spr:CiUIAhIh{}", &b58[1..]),
            pub_key_hex: format!("08021221{}", hex_encode(&seed)),
            peers: RwLock::new(peers),
            distrusted: Mutex::new(HashSet::new()),
            requests: AtomicU64::new(0),
            fail_next: AtomicU64::new(0),
            corrupt: AtomicBool::new(config.faults.corrupt_data),
            next_download: AtomicU64::new(1),
            background: Mutex::new(Vec::new()),
            config,
        }
    }

    pub(crate) fn peers(&self) -> Vec<String> {
        self.peers.read().expect("peers lock").clone()
    }

    /// Adds a peer (an API base URL or a bare origin) unless it is known.
    pub(crate) fn add_peer(&self, url: &str) {
        let base = peer_base(&self.config.prefixes[0], url);
        let mut peers = self.peers.write().expect("peers lock");
        if !peers.contains(&base) {
            peers.push(base);
        }
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

    /// Counts a request and returns its number, counting from 1.
    pub(crate) fn count_request(&self) -> u64 {
        self.requests.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Requests counted so far.
    pub(crate) fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Fails the next `n` requests.
    pub(crate) fn fail_next(&self, n: u64) {
        self.fail_next.store(n, Ordering::Relaxed);
    }

    /// Whether this request is one of those [`NodeState::fail_next`] asked
    /// to fail; each call uses one up.
    pub(crate) fn take_forced_failure(&self) -> bool {
        self.fail_next
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            })
            .is_ok()
    }

    pub(crate) fn corrupt_data(&self) -> bool {
        self.corrupt.load(Ordering::Relaxed)
    }

    pub(crate) fn set_corrupt_data(&self, corrupt: bool) {
        self.corrupt.store(corrupt, Ordering::Relaxed);
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

    /// Aborts every background fetch. Safe from `Drop`: a poisoned lock is
    /// skipped rather than propagated.
    pub(crate) fn stop_background_fetches(&self) {
        if let Ok(mut tasks) = self.background.lock() {
            for task in tasks.drain(..) {
                task.abort();
            }
        }
    }
}

/// The API base URL of a peer given as one (kept) or as a bare origin (to
/// which `prefix` is appended).
fn peer_base(prefix: &str, url: &str) -> String {
    let url = url.trim_end_matches('/');
    let has_path = url
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains('/'));
    if has_path {
        url.to_string()
    } else {
        format!("{url}{prefix}")
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
