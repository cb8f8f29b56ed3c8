//! The HTTP API of a running Archivist node: JSON endpoints to watch and
//! steer it, `GET /metrics` for Prometheus, and a dashboard at `GET /`.
//!
//! [`ApiServer::start`] serves a [`Node`] on a loopback address (a
//! non-loopback one only when the configuration allows it), writes where it
//! listens to `<data_dir>/api.json` so the CLI finds it, and keeps a bearer
//! token in `<data_dir>/api-token` (0600): mutating calls need it, reads on
//! loopback do not. Every endpoint is described in `openapi.yaml` beside
//! this crate, and the tests check each real response against it.
//! [`Client`] is the other end, for `archivist status` and friends.

mod auth;
mod client;
mod error;
mod metrics;
mod routes;
mod serve;
mod tracker;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use archivist::{Node, NodeEvent};
use serde::{Deserialize, Serialize};
use tokio::{
    net::TcpListener,
    sync::{broadcast, watch},
    task::JoinHandle,
};

pub use auth::TOKEN_FILE;
pub use client::Client;
pub use error::{Error, Result};

/// The file in the data folder that says where a running node's API is.
pub const ADDRESS_FILE: &str = "api.json";

/// What `<data_dir>/api.json` holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// The base URL, `http://127.0.0.1:<port>`.
    pub url: String,
    /// The process serving it.
    pub pid: u32,
}

impl Address {
    /// Reads the address file of the node whose data folder is `data_dir`;
    /// `None` when there is none (no node runs, or one without the API).
    pub fn read(data_dir: &Path) -> Option<Address> {
        let text = std::fs::read_to_string(data_dir.join(ADDRESS_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes it whole (temporary file, rename): a reader never sees half.
    fn write(&self, data_dir: &Path) -> Result<()> {
        let path = data_dir.join(ADDRESS_FILE);
        let temporary = path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(self).unwrap_or_default();
        std::fs::write(&temporary, text)
            .and_then(|()| std::fs::rename(&temporary, &path))
            .map_err(|e| Error::File {
                path,
                message: e.to_string(),
            })
    }
}

/// A running API: where it listens, and the way to stop it.
#[derive(Debug)]
pub struct ApiServer {
    addr: SocketAddr,
    token: Arc<str>,
    data_dir: PathBuf,
    stop: watch::Sender<()>,
    server: JoinHandle<()>,
    tracker: JoinHandle<()>,
}

impl ApiServer {
    /// Serves `node` on `listen` (port 0 picks one). `events` should be
    /// taken before the node started ([`archivist::NodeBuilder::events`]),
    /// so downloads and metrics count from the first event. The caller
    /// checks that `listen` is allowed (`api.allow_remote`); a non-loopback
    /// address makes reads need the token too.
    pub async fn start(
        node: Node,
        events: broadcast::Receiver<NodeEvent>,
        listen: SocketAddr,
    ) -> Result<ApiServer> {
        let data_dir = node.config().data_dir.clone();
        let token: Arc<str> = auth::load_or_create(&data_dir.join(TOKEN_FILE))?.into();
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| Error::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: listen,
            source,
        })?;
        let tracker = tracker::Tracker::new();
        let state = routes::AppState {
            node: node.clone(),
            tracker: tracker.clone(),
            token: Arc::clone(&token),
            loopback: addr.ip().is_loopback(),
        };
        let (stop, stopped) = watch::channel(());
        let server = tokio::spawn(serve::serve(listener, routes::router(state), stopped));
        let tracker = tokio::spawn(tracker.follow(node, events));
        Address {
            url: format!("http://{addr}"),
            pid: std::process::id(),
        }
        .write(&data_dir)?;
        Ok(ApiServer {
            addr,
            token,
            data_dir,
            stop,
            server,
            tracker,
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bearer token mutating calls need.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Stops serving (requests in flight get a few seconds to finish) and
    /// removes the address file, so the CLI reads the store again.
    pub async fn stop(self) {
        let _ = std::fs::remove_file(self.data_dir.join(ADDRESS_FILE));
        self.stop.send_replace(());
        let _ = self.server.await;
        self.tracker.abort();
    }
}
