//! The node's configuration: one TOML file, `ARCHIVIST_…` environment
//! overrides, embedded defaults that work with no file at all, and errors
//! that name the key that was wrong.
//!
//! The file is read into a table, the environment is laid over it, and only
//! then is it checked and turned into typed values, so a bad value is
//! reported under its key whichever of the two it came from.
//!
//! The typed configuration is here; the file format is `file.rs` and the
//! environment overrides `env.rs`.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use archive_index::{CommunityId, DownloadPolicy, LinkKind, Topic};

mod download;
mod env;
mod file;

pub use env::ENV_PREFIX;

/// A node's whole configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Where the store (`store.sqlite`), the torrent files (`torrent/`) and
    /// anything else the node keeps live.
    pub data_dir: PathBuf,
    /// How often owned communities are archived, and each archive's span.
    pub archive_interval: Duration,
    /// BitTorrent, status-go's network.
    pub torrent: TorrentConfig,
    /// A Codex / Logos Storage node, the Codex team's network.
    pub codex: CodexConfig,
    /// Waku relay, which carries announcements (and community messages).
    pub waku: WakuConfig,
    /// How long a community must be quiet before its newest announcement is
    /// acted on (status-go: 20 s).
    pub quiet_period: Duration,
    /// How often an owner announces its current links again, so a member
    /// that joined after the last archive round hears them (status-go puts
    /// them in its community description instead). Zero turns it off.
    pub reannounce_interval: Duration,
    /// Whether a member asks the owner for the current link when it joins
    /// or starts (Archivist's own link request; status-go ignores it).
    pub request_link_on_join: bool,
    /// An owner answers link requests for a community at most once per this
    /// period; requests in between are answered together at its end.
    pub link_reply_interval: Duration,
    /// What a member does with what it fetched.
    pub import: ImportConfig,
    /// The HTTP API `archivist run` serves (the facade itself serves none).
    pub api: ApiConfig,
    /// Communities this node owns: it archives and announces them.
    pub owned: Vec<OwnedCommunity>,
    /// Communities this node has joined: it fetches and imports their
    /// archives.
    pub joined: Vec<JoinedCommunity>,
}

/// The BitTorrent side.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TorrentConfig {
    /// Whether this node publishes and fetches over BitTorrent.
    pub enabled: bool,
    /// Where peers connect; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Peers contacted directly for every torrent (no DHT, no LSD).
    pub peers: Vec<SocketAddr>,
    /// Trackers announced to; none are contacted when empty.
    pub trackers: Vec<String>,
    /// How long to wait for a magnet link's metadata (retried once).
    pub metadata_timeout: Duration,
    /// How long a download may go without a verified byte before the
    /// torrent is restarted (its peers dialled afresh).
    pub stall_timeout: Duration,
    /// Restarts of a stalled download before it fails (and is retried with
    /// the next announcement or start).
    pub stall_restarts: u32,
}

/// The Codex side.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodexConfig {
    /// Whether this node publishes and fetches through a Codex node.
    pub enabled: bool,
    /// The node's REST API base URL.
    pub url: String,
    /// The API prefix (`/api/storage/v1`, or `/api/codex/v1` for older nodes).
    pub prefix: String,
    /// How long a response from the node may go without a byte before the
    /// request fails as stalled (and is retried).
    pub stall_timeout: Duration,
}

/// The Waku side.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WakuConfig {
    /// Whether announcements travel over a Waku relay node of our own. When
    /// off, the embedding program hands the node a transport.
    pub enabled: bool,
    /// Multiaddrs to listen on.
    pub listen: Vec<String>,
    /// Multiaddrs of peers to connect to (and keep reconnecting to).
    pub bootstrap: Vec<String>,
    /// Whether an owner stores the messages relayed on its communities'
    /// topics, so they are archived.
    pub ingest: bool,
    /// The pubsub topic relayed, announced on and listened to: status-go's
    /// communities use `/waku/2/rs/16/32` (cluster 16, shard 32).
    pub pubsub_topic: String,
}

/// What a member does with fetched archives.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportConfig {
    /// Import into the store as archives arrive (off: fetch and seed only).
    pub enabled: bool,
    /// Fetch (and so import) oldest first, as status-go, or newest first.
    pub newest_first: bool,
}

/// The HTTP API of a running node (`crates/archivist-api`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiConfig {
    /// Whether `archivist run` serves it.
    pub enabled: bool,
    /// Where; port 0 picks a free one, which the node writes to
    /// `<data_dir>/api.json`.
    pub listen: SocketAddr,
    /// Whether `listen` may be other than a loopback address. Reads need no
    /// token, so a node is never reachable from elsewhere by accident.
    pub allow_remote: bool,
}

/// A community this node owns.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OwnedCommunity {
    /// The community key file (`archivist keygen` writes one).
    pub key_file: PathBuf,
    /// The chat topics archived.
    pub topics: Vec<Topic>,
    /// Whether archiving runs (a community can be owned with archiving off).
    pub archiving: bool,
    /// Whether its archives and index are encrypted with the community's
    /// hash-ratchet keys (a token-gated Status community); the first key is
    /// made on first start when the store holds none.
    pub encrypted: bool,
}

/// A community this node has joined.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JoinedCommunity {
    /// The community ID (its compressed public key).
    pub community: CommunityId,
    /// Which network to fetch from first when the owner announces several:
    /// `torrent`, `codex`, or the network of a backend the program added
    /// (checked against the running networks when the node starts).
    pub prefer: Option<LinkKind>,
    /// Which archives to download (`download = "all"` by default,
    /// `"latest"`, `{ from, to }` or `{ last = "30d" }`).
    pub download: DownloadPolicy,
    /// Whether the community is encrypted: its archives are opened with the
    /// keys `archivist keys import` stored, and one whose key is missing
    /// waits for it.
    pub encrypted: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            data_dir: PathBuf::from("archivist-data"),
            archive_interval: Duration::from_secs(7 * 86_400),
            torrent: TorrentConfig {
                enabled: true,
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                peers: Vec::new(),
                trackers: Vec::new(),
                metadata_timeout: Duration::from_secs(20),
                stall_timeout: Duration::from_secs(30),
                stall_restarts: 3,
            },
            codex: CodexConfig {
                enabled: false,
                url: "http://127.0.0.1:8080".to_owned(),
                prefix: "/api/storage/v1".to_owned(),
                stall_timeout: Duration::from_secs(60),
            },
            waku: WakuConfig {
                enabled: true,
                listen: vec![
                    "/ip4/127.0.0.1/tcp/0".to_owned(),
                    "/ip4/127.0.0.1/tcp/0/ws".to_owned(),
                ],
                bootstrap: Vec::new(),
                ingest: true,
                pubsub_topic: archive_dispatch::DEFAULT_PUBSUB_TOPIC.to_owned(),
            },
            quiet_period: Duration::from_secs(20),
            reannounce_interval: Duration::from_secs(600),
            request_link_on_join: true,
            link_reply_interval: Duration::from_secs(10),
            import: ImportConfig {
                enabled: true,
                newest_first: false,
            },
            api: ApiConfig {
                enabled: true,
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                allow_remote: false,
            },
            owned: Vec::new(),
            joined: Vec::new(),
        }
    }
}

/// A configuration that could not be read, naming where it went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("{origin} is not valid TOML: {message}")]
    Syntax {
        /// The file, or "the configuration".
        origin: String,
        /// The parser's message, with the line.
        message: String,
    },
    /// A key has a value it cannot have, or is not a key at all.
    #[error("config key `{key}`: {message}")]
    Invalid {
        /// The key, dotted (`torrent.listen`, `owned[0].topics`).
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, message: impl fmt::Display) -> ConfigError {
        ConfigError::Invalid {
            key: key.into(),
            message: message.to_string(),
        }
    }

    /// The offending key, if the error is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

impl Config {
    /// Reads `path` (or only the defaults when `None`) and applies the
    /// process environment's `ARCHIVIST_…` overrides.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let text = match path {
            Some(path) => std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?,
            None => String::new(),
        };
        let origin = path.map_or_else(
            || "the configuration".to_owned(),
            |p| p.display().to_string(),
        );
        let mut config = Config::parse(&text, &origin, std::env::vars())?;
        // Relative paths in a file are relative to the file, so a config
        // works from any working directory.
        if let Some(dir) = path.and_then(Path::parent) {
            config.resolve_relative_to(dir);
        }
        Ok(config)
    }

    /// Parses `text`, then lays the `ARCHIVIST_…` entries of `env` over it.
    /// `origin` names the text in syntax errors.
    pub fn parse(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    origin: origin.to_owned(),
                    message: e.to_string(),
                })?;
        for (name, value) in env {
            if let Some(rest) = name.strip_prefix(ENV_PREFIX) {
                env::apply_override(&mut table, &name, rest, &value)?;
            }
        }
        let raw: file::RawConfig = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| ConfigError::invalid(e.path().to_string(), e.inner().message()))?;
        raw.into_config()
    }

    fn resolve_relative_to(&mut self, dir: &Path) {
        let absolute = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        absolute(&mut self.data_dir);
        for owned in &mut self.owned {
            absolute(&mut owned.key_file);
        }
    }

    /// The SQLite store's path.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("store.sqlite")
    }

    /// Where the torrent `data`/`index` folders and `.torrent` files live.
    pub fn torrent_dir(&self) -> PathBuf {
        self.data_dir.join("torrent")
    }

    /// The networks enabled, BitTorrent first.
    pub fn enabled_kinds(&self) -> Vec<LinkKind> {
        let mut kinds = Vec::new();
        if self.torrent.enabled {
            kinds.push(LinkKind::TORRENT);
        }
        if self.codex.enabled {
            kinds.push(LinkKind::CODEX);
        }
        kinds
    }
}

#[cfg(test)]
mod tests;
