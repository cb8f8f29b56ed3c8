//! The storage networks and the transport a node runs, built from its
//! configuration. The only file that names concrete backends and Waku.

use std::{net::SocketAddr, sync::Arc};

use archive_backend::DynBackend;
use archive_dispatch::Transport;
use archive_index::LinkKind;

use crate::{config::Config, error::Error};

/// The concrete handles a node keeps to stop them and to say where they
/// listen.
#[derive(Debug, Default)]
pub(crate) struct Networks {
    /// The started backends, in [`Config::enabled_kinds`] order.
    pub(crate) started: Vec<(LinkKind, DynBackend)>,
    #[cfg(feature = "torrent")]
    torrent: Option<Arc<backend_torrent::TorrentBackend>>,
    #[cfg(feature = "waku")]
    pub(crate) waku: Option<Arc<transport_waku::WakuNode>>,
}

impl Networks {
    /// Starts the backends `config` enables, in [`Config::enabled_kinds`]
    /// order, then adds `extra`, the backends the embedding program built
    /// (each named by its [`link_kind`](archive_backend::Backend::link_kind)).
    pub(crate) async fn start(config: &Config, extra: Vec<DynBackend>) -> Result<Networks, Error> {
        let mut networks = Networks::default();
        for kind in config.enabled_kinds() {
            let backend = if kind == LinkKind::TORRENT {
                networks.start_torrent(config).await?
            } else {
                start_codex(config)?
            };
            networks.started.push((kind, backend));
        }
        for backend in extra {
            let kind = backend.link_kind();
            if networks.backend(&kind).is_some() {
                return Err(Error::Start {
                    what: "an added backend",
                    message: format!("the network \"{kind}\" is already enabled"),
                });
            }
            networks.started.push((kind, backend));
        }
        if networks.started.is_empty() {
            return Err(Error::Config(crate::ConfigError::Invalid {
                key: "torrent.enabled".to_owned(),
                message: "no network is enabled: enable torrent, codex or both, or add a \
                          backend with NodeBuilder::backend"
                    .to_owned(),
            }));
        }
        Ok(networks)
    }

    /// The enabled networks' names, in the order they were started (the
    /// configured ones first, BitTorrent before Codex).
    pub(crate) fn kinds(&self) -> Vec<LinkKind> {
        self.started.iter().map(|(kind, _)| kind.clone()).collect()
    }

    #[cfg(feature = "torrent")]
    async fn start_torrent(&mut self, config: &Config) -> Result<DynBackend, Error> {
        let root = config.torrent_dir();
        let mut torrent = backend_torrent::Config::new(&root);
        torrent.listen = config.torrent.listen;
        torrent.peers.clone_from(&config.torrent.peers);
        torrent.contact_trackers = !config.torrent.trackers.is_empty();
        torrent.trackers.clone_from(&config.torrent.trackers);
        torrent.metadata_timeout = config.torrent.metadata_timeout;
        torrent.stall = backend_torrent::StallPolicy {
            timeout: config.torrent.stall_timeout,
            restarts: config.torrent.stall_restarts,
        };
        torrent.created_by = concat!("archivist/", env!("CARGO_PKG_VERSION")).to_owned();
        let backend = Arc::new(
            backend_torrent::TorrentBackend::start(torrent)
                .await
                .map_err(|e| Error::Start {
                    what: "the BitTorrent engine",
                    message: format!(
                        "listening on {} (config key `torrent.listen`): {e}",
                        config.torrent.listen
                    ),
                })?,
        );
        self.torrent = Some(Arc::clone(&backend));
        Ok(backend)
    }

    #[cfg(not(feature = "torrent"))]
    #[allow(clippy::unused_async, reason = "same signature as with the feature")]
    async fn start_torrent(&mut self, _: &Config) -> Result<DynBackend, Error> {
        Err(Error::NotCompiled("torrent"))
    }

    /// Starts the Waku relay node `config` asks for.
    #[cfg(feature = "waku")]
    pub(crate) async fn start_waku(
        &mut self,
        config: &Config,
    ) -> Result<Arc<dyn Transport>, Error> {
        let parse = |key: &str, list: &[String]| {
            list.iter()
                .enumerate()
                .map(|(i, a)| {
                    a.parse::<transport_waku::Multiaddr>().map_err(|e| {
                        Error::Config(crate::ConfigError::Invalid {
                            key: format!("{key}[{i}]"),
                            message: format!("{a:?} is not a multiaddr: {e}"),
                        })
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let listen = parse("waku.listen", &config.waku.listen)?;
        let waku_config = transport_waku::Config {
            listen: listen.clone(),
            bootstrap: parse("waku.bootstrap", &config.waku.bootstrap)?,
            pubsub_topic: config.waku.pubsub_topic.clone(),
            ..transport_waku::Config::default()
        };
        let node = Arc::new(
            transport_waku::WakuNode::start(waku_config)
                .await
                .map_err(|e| Error::Start {
                    what: "the Waku relay node",
                    message: match &e {
                        transport_waku::Error::Listen { addr, reason } => {
                            let i = listen.iter().position(|a| a == addr).unwrap_or_default();
                            format!("listening on {addr} (config key `waku.listen[{i}]`): {reason}")
                        }
                        _ => e.to_string(),
                    },
                })?,
        );
        self.waku = Some(Arc::clone(&node));
        Ok(node)
    }

    #[cfg(not(feature = "waku"))]
    #[allow(clippy::unused_async, reason = "same signature as with the feature")]
    pub(crate) async fn start_waku(&mut self, _: &Config) -> Result<Arc<dyn Transport>, Error> {
        Err(Error::NotCompiled("waku"))
    }

    /// The backend of `kind`, if enabled.
    pub(crate) fn backend(&self, kind: &LinkKind) -> Option<&DynBackend> {
        self.started
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, backend)| backend)
    }

    /// Where the BitTorrent engine accepts peers.
    pub(crate) fn torrent_listen_addr(&self) -> Option<SocketAddr> {
        #[cfg(feature = "torrent")]
        {
            self.torrent.as_ref().and_then(|t| t.listen_addr())
        }
        #[cfg(not(feature = "torrent"))]
        None
    }

    /// Bytes the BitTorrent engine has fetched for `community` so far.
    pub(crate) fn torrent_fetched_bytes(&self, community: &archive_index::CommunityId) -> u64 {
        #[cfg(feature = "torrent")]
        {
            self.torrent
                .as_ref()
                .map_or(0, |t| t.fetched_bytes(community))
        }
        #[cfg(not(feature = "torrent"))]
        {
            let _ = community;
            0
        }
    }

    /// BitTorrent's traffic and peers for `community` (zero without the
    /// engine): bytes fetched, bytes served, peers connected.
    pub(crate) fn torrent_traffic(
        &self,
        community: &archive_index::CommunityId,
    ) -> (u64, u64, u32) {
        #[cfg(feature = "torrent")]
        {
            self.torrent.as_ref().map_or((0, 0, 0), |t| {
                let traffic = t.traffic(community);
                (traffic.fetched_bytes, traffic.uploaded_bytes, traffic.peers)
            })
        }
        #[cfg(not(feature = "torrent"))]
        {
            let _ = community;
            (0, 0, 0)
        }
    }

    /// Stops the engines; their files stay.
    #[cfg_attr(
        not(any(feature = "torrent", feature = "waku")),
        allow(clippy::unused_async, reason = "no engine to stop without them")
    )]
    pub(crate) async fn stop(&self) {
        #[cfg(feature = "torrent")]
        if let Some(torrent) = &self.torrent {
            torrent.stop().await;
        }
        #[cfg(feature = "waku")]
        if let Some(waku) = &self.waku {
            waku.shutdown().await;
        }
    }
}

#[cfg(feature = "codex")]
fn start_codex(config: &Config) -> Result<DynBackend, Error> {
    let mut client_config =
        backend_codex::ClientConfig::new(&config.codex.url).with_prefix(&config.codex.prefix);
    // reqwest's read timeout is the stall detector of every response body.
    client_config.read_timeout = config.codex.stall_timeout;
    let client = backend_codex::CodexClient::new(client_config).map_err(|e| {
        Error::Config(crate::ConfigError::Invalid {
            key: "codex.url".to_owned(),
            message: e.to_string(),
        })
    })?;
    Ok(Arc::new(backend_codex::CodexBackend::new(client)))
}

#[cfg(not(feature = "codex"))]
fn start_codex(_: &Config) -> Result<DynBackend, Error> {
    Err(Error::NotCompiled("codex"))
}
