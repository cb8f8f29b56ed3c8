//! The file format: the TOML shape with its embedded defaults, and its
//! conversion into the typed [`Config`](super::Config), naming the key of
//! any value that is wrong.

use std::{fmt, path::PathBuf, str::FromStr, time::Duration};

use archive_index::LinkKind;
use serde::Deserialize;

use super::{
    ApiConfig, CodexConfig, Config, ConfigError, ImportConfig, JoinedCommunity, OwnedCommunity,
    TorrentConfig, WakuConfig,
};

/// The file's shape. Every field has a default, so an empty file is the
/// embedded configuration.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawConfig {
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
    api: RawApi,
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
#[serde(deny_unknown_fields, default)]
struct RawApi {
    enabled: bool,
    listen: String,
    allow_remote: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOwned {
    key_file: PathBuf,
    topics: Vec<String>,
    #[serde(default = "yes")]
    archiving: bool,
    #[serde(default)]
    encrypted: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJoined {
    community: String,
    #[serde(default)]
    prefer: Option<String>,
    #[serde(default)]
    download: Option<toml::Value>,
    #[serde(default)]
    encrypted: bool,
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
            api: RawApi::default(),
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

impl Default for RawApi {
    fn default() -> RawApi {
        let d = Config::default().api;
        RawApi {
            enabled: d.enabled,
            listen: d.listen.to_string(),
            allow_remote: d.allow_remote,
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

/// The API's address, refused off loopback unless `allow_remote` says so:
/// reads need no token.
fn api(raw: RawApi) -> Result<ApiConfig, ConfigError> {
    let listen: std::net::SocketAddr = parse("api.listen", &raw.listen)?;
    if raw.enabled && !listen.ip().is_loopback() && !raw.allow_remote {
        return Err(ConfigError::invalid(
            "api.listen",
            format!(
                "{listen} is not a loopback address; reads need no token, so set \
                 api.allow_remote = true to serve it beyond this machine on purpose"
            ),
        ));
    }
    Ok(ApiConfig {
        enabled: raw.enabled,
        listen,
        allow_remote: raw.allow_remote,
    })
}

fn positive(key: &str, secs: u64) -> Result<Duration, ConfigError> {
    if secs == 0 {
        return Err(ConfigError::invalid(key, "must be at least 1 second"));
    }
    Ok(Duration::from_secs(secs))
}

/// A network's name: `torrent`, `codex`, or that of a backend the program
/// adds ([`NodeBuilder::backend`](crate::NodeBuilder::backend)); whether it
/// is enabled is checked when the node starts.
fn link_kind(key: &str, value: &str) -> Result<LinkKind, ConfigError> {
    value.parse().map_err(|e| {
        ConfigError::invalid(
            key,
            format!("{e}: use \"torrent\", \"codex\" or an added backend's network"),
        )
    })
}

impl RawConfig {
    pub(super) fn into_config(self) -> Result<Config, ConfigError> {
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
                    encrypted: o.encrypted,
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
                        .map(|d| {
                            super::download::download_policy(&format!("joined[{i}].download"), &d)
                        })
                        .transpose()?
                        .unwrap_or_default(),
                    encrypted: j.encrypted,
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
            api: api(self.api)?,
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
