//! Configuration of the BitTorrent backend.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use crate::stall::StallPolicy;

/// How a node stores, seeds and downloads archives.
#[derive(Clone, Debug)]
pub struct Config {
    /// Archives live in `<data_dir>/<community ID>/{data,index}`.
    pub data_dir: PathBuf,
    /// `.torrent` files live in `<torrent_dir>/<community ID>.torrent`.
    pub torrent_dir: PathBuf,
    /// Where to accept peers. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// The announce list written into `.torrent` files and magnet links, one
    /// tracker per tier (status-go's two by default; tests use local ones).
    pub trackers: Vec<String>,
    /// Whether to announce to the trackers. Off by default: the default
    /// trackers are public, and nothing here reaches beyond the configured
    /// peers unless asked to.
    pub contact_trackers: bool,
    /// Peers to contact directly for every download.
    pub peers: Vec<SocketAddr>,
    /// Whether to use the mainline DHT (off unless asked for: nothing leaves
    /// the configured peers and trackers).
    pub dht: bool,
    /// `created by` in `.torrent` files: the owner's public key in hex.
    pub created_by: String,
    /// How long to wait for a magnet's metadata, per attempt (status-go: 20 s,
    /// retried once).
    pub metadata_timeout: Duration,
    /// When a download without progress counts as stalled (the torrent is
    /// then restarted, and after the last restart the download fails).
    pub stall: StallPolicy,
}

impl Config {
    /// A node under `root` (data in `root/archivedata`, torrents in
    /// `root/torrents`) listening on an ephemeral loopback port, with
    /// status-go's trackers and no DHT.
    pub fn new(root: impl Into<PathBuf>) -> Config {
        let root = root.into();
        Config {
            data_dir: root.join("archivedata"),
            torrent_dir: root.join("torrents"),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            trackers: crate::DEFAULT_TRACKERS
                .iter()
                .map(|t| t.to_string())
                .collect(),
            contact_trackers: false,
            peers: Vec::new(),
            dht: false,
            created_by: String::new(),
            metadata_timeout: Duration::from_secs(20),
            stall: StallPolicy::default(),
        }
    }
}
