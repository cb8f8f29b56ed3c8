//! The node's configuration: one TOML file, `ARCHIVIST_…` environment
//! overrides, embedded defaults that work with no file at all, and errors
//! that name the key that was wrong.
//!
//! The file is read into a table, the environment is laid over it, and only
//! then is it checked and turned into typed values, so a bad value is
//! reported under its key whichever of the two it came from.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use archive_index::{CommunityId, DownloadPolicy, LinkKind, Topic};
use serde::Deserialize;

/// Environment variables starting with this override file keys: the rest
/// of the name, lowercased, with `__` between a section and its key
/// (`ARCHIVIST_DATA_DIR`, `ARCHIVIST_TORRENT__LISTEN`). Values are TOML
/// values (`true`, `20`, `["a", "b"]`); anything that does not parse as
/// one is taken as a string.
pub const ENV_PREFIX: &str = "ARCHIVIST_";

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
}

/// A community this node has joined.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JoinedCommunity {
    /// The community ID (its compressed public key).
    pub community: CommunityId,
    /// Which network to fetch from first when the owner announces both.
    pub prefer: Option<LinkKind>,
    /// Which archives to download (`download = "all"` by default,
    /// `"latest"`, `{ from, to }` or `{ last = "30d" }`).
    pub download: DownloadPolicy,
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
    fn invalid(key: impl Into<String>, message: impl fmt::Display) -> ConfigError {
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
                apply_override(&mut table, &name, rest, &value)?;
            }
        }
        let raw: RawConfig = serde_path_to_error::deserialize(toml::Value::Table(table))
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
            kinds.push(LinkKind::Magnet);
        }
        if self.codex.enabled {
            kinds.push(LinkKind::IndexCid);
        }
        kinds
    }
}

/// Sets the key an `ARCHIVIST_…` variable names. Only tables of the file's
/// shape are created, so a typo ends up as an unknown key and is reported.
fn apply_override(
    table: &mut toml::Table,
    variable: &str,
    rest: &str,
    value: &str,
) -> Result<(), ConfigError> {
    let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
    if path.iter().any(String::is_empty) {
        return Err(ConfigError::invalid(
            variable,
            "an environment override needs KEY or SECTION__KEY after ARCHIVIST_",
        ));
    }
    // A TOML value if it is one (`true`, `20`, `["a"]`), else a string.
    let value = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    let (last, sections) = path.split_last().expect("split yields at least one part");
    let mut at = table;
    for section in sections {
        let entry = at
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        at = entry.as_table_mut().ok_or_else(|| {
            ConfigError::invalid(
                section.clone(),
                format!("{variable} treats it as a section"),
            )
        })?;
    }
    at.insert(last.clone(), value);
    Ok(())
}

/// The file's shape. Every field has a default, so an empty file is the
/// embedded configuration.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    data_dir: PathBuf,
    archive_interval_secs: u64,
    quiet_period_secs: u64,
    reannounce_interval_secs: u64,
    request_link_on_join: bool,
    link_reply_interval_secs: u64,
    torrent: RawTorrent,
    codex: RawCodex,
    waku: RawWaku,
    import: RawImport,
    owned: Vec<RawOwned>,
    joined: Vec<RawJoined>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTorrent {
    enabled: bool,
    listen: String,
    peers: Vec<String>,
    trackers: Vec<String>,
    metadata_timeout_secs: u64,
    stall_timeout_secs: u64,
    stall_restarts: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCodex {
    enabled: bool,
    url: String,
    prefix: String,
    stall_timeout_secs: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawWaku {
    enabled: bool,
    listen: Vec<String>,
    bootstrap: Vec<String>,
    ingest: bool,
    pubsub_topic: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawImport {
    enabled: bool,
    order: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOwned {
    key_file: PathBuf,
    topics: Vec<String>,
    #[serde(default = "yes")]
    archiving: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJoined {
    community: String,
    #[serde(default)]
    prefer: Option<String>,
    #[serde(default)]
    download: Option<toml::Value>,
}

fn yes() -> bool {
    true
}

impl Default for RawConfig {
    fn default() -> RawConfig {
        let d = Config::default();
        RawConfig {
            data_dir: d.data_dir,
            archive_interval_secs: d.archive_interval.as_secs(),
            quiet_period_secs: d.quiet_period.as_secs(),
            reannounce_interval_secs: d.reannounce_interval.as_secs(),
            request_link_on_join: d.request_link_on_join,
            link_reply_interval_secs: d.link_reply_interval.as_secs(),
            torrent: RawTorrent::default(),
            codex: RawCodex::default(),
            waku: RawWaku::default(),
            import: RawImport::default(),
            owned: Vec::new(),
            joined: Vec::new(),
        }
    }
}

impl Default for RawTorrent {
    fn default() -> RawTorrent {
        let d = Config::default().torrent;
        RawTorrent {
            enabled: d.enabled,
            listen: d.listen.to_string(),
            peers: Vec::new(),
            trackers: Vec::new(),
            metadata_timeout_secs: d.metadata_timeout.as_secs(),
            stall_timeout_secs: d.stall_timeout.as_secs(),
            stall_restarts: d.stall_restarts,
        }
    }
}

impl Default for RawCodex {
    fn default() -> RawCodex {
        let d = Config::default().codex;
        RawCodex {
            enabled: d.enabled,
            url: d.url,
            prefix: d.prefix,
            stall_timeout_secs: d.stall_timeout.as_secs(),
        }
    }
}

impl Default for RawWaku {
    fn default() -> RawWaku {
        let d = Config::default().waku;
        RawWaku {
            enabled: d.enabled,
            listen: d.listen,
            bootstrap: d.bootstrap,
            ingest: d.ingest,
            pubsub_topic: d.pubsub_topic,
        }
    }
}

impl Default for RawImport {
    fn default() -> RawImport {
        RawImport {
            enabled: true,
            order: "oldest-first".to_owned(),
        }
    }
}

fn parse<T: FromStr>(key: &str, value: &str) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    value
        .parse()
        .map_err(|e| ConfigError::invalid(key, format!("{value:?}: {e}")))
}

fn parse_all<T: FromStr>(key: &str, values: &[String]) -> Result<Vec<T>, ConfigError>
where
    T::Err: fmt::Display,
{
    values
        .iter()
        .enumerate()
        .map(|(i, v)| parse(&format!("{key}[{i}]"), v))
        .collect()
}

/// A Waku v2 pubsub topic (`/waku/2/rs/<cluster>/<shard>`, or a named one
/// such as `/waku/2/default-waku/proto`).
fn pubsub_topic(value: &str) -> Result<String, ConfigError> {
    let ok = value
        .strip_prefix("/waku/2/")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
    if !ok {
        return Err(ConfigError::invalid(
            "waku.pubsub_topic",
            format!("{value:?} is not a Waku pubsub topic such as \"/waku/2/rs/16/32\""),
        ));
    }
    Ok(value.to_owned())
}

fn positive(key: &str, secs: u64) -> Result<Duration, ConfigError> {
    if secs == 0 {
        return Err(ConfigError::invalid(key, "must be at least 1 second"));
    }
    Ok(Duration::from_secs(secs))
}

fn link_kind(key: &str, value: &str) -> Result<LinkKind, ConfigError> {
    match value {
        "torrent" => Ok(LinkKind::Magnet),
        "codex" => Ok(LinkKind::IndexCid),
        other => Err(ConfigError::invalid(
            key,
            format!("{other:?} is not a network: use \"torrent\" or \"codex\""),
        )),
    }
}

impl RawConfig {
    fn into_config(self) -> Result<Config, ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("data_dir", "must not be empty"));
        }
        let url = self.codex.url.trim_end_matches('/').to_owned();
        if self.codex.enabled && !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::invalid(
                "codex.url",
                format!("{url:?} is not an http:// or https:// URL"),
            ));
        }
        if !self.codex.prefix.starts_with('/') {
            return Err(ConfigError::invalid("codex.prefix", "must start with '/'"));
        }
        let newest_first = match self.import.order.as_str() {
            "oldest-first" => false,
            "newest-first" => true,
            other => {
                return Err(ConfigError::invalid(
                    "import.order",
                    format!("{other:?}: use \"oldest-first\" or \"newest-first\""),
                ));
            }
        };
        let owned = self
            .owned
            .into_iter()
            .enumerate()
            .map(|(i, o)| {
                let topics = parse_all(&format!("owned[{i}].topics"), &o.topics)?;
                if topics.is_empty() {
                    return Err(ConfigError::invalid(
                        format!("owned[{i}].topics"),
                        "an owned community needs at least one topic to archive",
                    ));
                }
                Ok(OwnedCommunity {
                    key_file: o.key_file,
                    topics,
                    archiving: o.archiving,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let joined = self
            .joined
            .into_iter()
            .enumerate()
            .map(|(i, j)| {
                Ok(JoinedCommunity {
                    community: parse(&format!("joined[{i}].community"), &j.community)?,
                    prefer: j
                        .prefer
                        .map(|p| link_kind(&format!("joined[{i}].prefer"), &p))
                        .transpose()?,
                    download: j
                        .download
                        .map(|d| download::download_policy(&format!("joined[{i}].download"), &d))
                        .transpose()?
                        .unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let config = Config {
            data_dir: self.data_dir,
            archive_interval: positive("archive_interval_secs", self.archive_interval_secs)?,
            quiet_period: Duration::from_secs(self.quiet_period_secs),
            reannounce_interval: Duration::from_secs(self.reannounce_interval_secs),
            request_link_on_join: self.request_link_on_join,
            link_reply_interval: positive(
                "link_reply_interval_secs",
                self.link_reply_interval_secs,
            )?,
            torrent: TorrentConfig {
                enabled: self.torrent.enabled,
                listen: parse("torrent.listen", &self.torrent.listen)?,
                peers: parse_all("torrent.peers", &self.torrent.peers)?,
                trackers: self.torrent.trackers,
                metadata_timeout: positive(
                    "torrent.metadata_timeout_secs",
                    self.torrent.metadata_timeout_secs,
                )?,
                stall_timeout: positive(
                    "torrent.stall_timeout_secs",
                    self.torrent.stall_timeout_secs,
                )?,
                stall_restarts: self.torrent.stall_restarts,
            },
            codex: CodexConfig {
                enabled: self.codex.enabled,
                url,
                prefix: self.codex.prefix,
                stall_timeout: positive("codex.stall_timeout_secs", self.codex.stall_timeout_secs)?,
            },
            waku: WakuConfig {
                enabled: self.waku.enabled,
                listen: self.waku.listen,
                bootstrap: self.waku.bootstrap,
                ingest: self.waku.ingest,
                pubsub_topic: pubsub_topic(&self.waku.pubsub_topic)?,
            },
            import: ImportConfig {
                enabled: self.import.enabled,
                newest_first,
            },
            owned,
            joined,
        };
        if config.enabled_kinds().is_empty() {
            return Err(ConfigError::invalid(
                "torrent.enabled",
                "no network is enabled: enable torrent, codex or both",
            ));
        }
        Ok(config)
    }
}

mod download;
#[cfg(test)]
mod tests;
