//! [`TorrentBackend`]: the `archive_backend::Backend` of status-go's BitTorrent
//! design, on the files of [`ArchiveDir`], our own `.torrent` writer and a
//! librqbit session. Publishing (appending to `data`, rebuilding the
//! `.torrent`) is in `publish.rs`, fetching (joining, the index, reading
//! verified archives) in `fetch.rs`; this file is the node and the trait.

use std::net::SocketAddr;

use archive_backend::{
    Backend, Capabilities, Error, ErrorKind, FetchEvent, FetchOptions, FetchOutcome, Link,
    LinkKind, PublishOptions, PublishOutcome, PublishRequest, RemoteIndex, ResolveOptions, Result,
};
use archive_index::{Archive, ArchiveId, CommunityId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use torrent_format::{ArchiveDir, Metainfo, torrent_path};

use crate::{
    config::Config,
    engine::{Engine, NAME},
    fetch::read_stored,
};

/// status-go's BitTorrent backend: archives appended to `data`, an `index`, a
/// `.torrent` over both, seeded and fetched with librqbit.
#[derive(Debug)]
pub struct TorrentBackend {
    pub(crate) config: Config,
    pub(crate) engine: Engine,
}

/// A failure of the local archive files: I/O, or files that do not parse.
pub(crate) fn local(e: torrent_format::Error) -> Error {
    let kind = match &e {
        torrent_format::Error::Io { .. } => ErrorKind::Io,
        _ => ErrorKind::Corrupt,
    };
    Error::new(kind, NAME, "local archive files").with_source(e)
}

impl TorrentBackend {
    /// Starts a node: its librqbit session listens on `config.listen`.
    pub async fn start(config: Config) -> Result<TorrentBackend> {
        let engine = Engine::start(&config).await?;
        Ok(TorrentBackend { config, engine })
    }

    /// The address peers reach this node on.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.engine.listen_addr()
    }

    /// The community's archive files on this node.
    pub fn archive_dir(&self, community: &CommunityId) -> ArchiveDir {
        ArchiveDir::new(&self.config.data_dir, community)
    }

    /// Where the community's `.torrent` is written.
    pub fn torrent_path(&self, community: &CommunityId) -> std::path::PathBuf {
        torrent_path(&self.config.torrent_dir, community)
    }

    /// What the community's torrents moved since the node started (the
    /// current one and those it replaced), and the peers connected to the
    /// current one.
    pub fn traffic(&self, community: &CommunityId) -> Traffic {
        let (fetched, uploaded) = self.engine.retired(community);
        let Some(active) = self.engine.active(community) else {
            return Traffic {
                fetched_bytes: fetched,
                uploaded_bytes: uploaded,
                peers: 0,
            };
        };
        let stats = active.handle.stats();
        let live = stats.live.as_ref();
        Traffic {
            fetched_bytes: fetched + live.map_or(0, |l| l.snapshot.fetched_bytes),
            uploaded_bytes: uploaded + stats.uploaded_bytes,
            peers: live.map_or(0, |l| l.snapshot.peer_stats.live),
        }
    }

    /// Bytes this node downloaded for the community's current torrent.
    pub fn fetched_bytes(&self, community: &CommunityId) -> u64 {
        self.engine
            .active(community)
            .and_then(|a| a.handle.stats().live.map(|l| l.snapshot.fetched_bytes))
            .unwrap_or(0)
    }

    /// Seeds the community's existing `.torrent` and returns its magnet link.
    pub async fn seed_existing(&self, community: &CommunityId) -> Result<Link> {
        let metainfo = self.current_metainfo(community)?.ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                NAME,
                format!(
                    "no .torrent for {community} in {}",
                    self.config.torrent_dir.display()
                ),
            )
        })?;
        let dir = self.archive_dir(community);
        self.engine
            .seed(community, metainfo.to_bytes(), dir.path())
            .await?;
        Link::from_announced(LinkKind::TORRENT, &metainfo.magnet().to_string())
    }

    /// Stops the session.
    pub async fn stop(&self) {
        self.engine.stop().await;
    }

    /// The metainfo of the community's `.torrent`, if any.
    pub(crate) fn current_metainfo(&self, community: &CommunityId) -> Result<Option<Metainfo>> {
        Metainfo::load(&self.config.torrent_dir, community).map_err(local)
    }
}

#[async_trait::async_trait]
impl Backend for TorrentBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn link_kind(&self) -> LinkKind {
        LinkKind::TORRENT
    }

    fn capabilities(&self) -> Capabilities {
        // librqbit selects whole files, and its stream reads ahead: fetching
        // some archives may move bytes of later ones too.
        Capabilities::default()
            .with_partial_fetch(false)
            .with_member_seeding(true)
    }

    async fn publish(
        &self,
        request: PublishRequest<'_>,
        options: &PublishOptions,
    ) -> Result<PublishOutcome> {
        let report = self.append(&request, options.envelope.clone()).await?;
        if report.archives.is_empty() {
            return Ok(PublishOutcome::from_report(request.previous, report));
        }
        let link = self.rebuild_and_seed(&request.community).await?;
        Ok(PublishOutcome::from_report(Some(link), report))
    }

    async fn resolve(
        &self,
        community: &CommunityId,
        link: &Link,
        options: &ResolveOptions,
    ) -> Result<RemoteIndex> {
        let active = self.torrent_for(community, link, options.timeout).await?;
        let timeout = options.timeout.unwrap_or(self.config.metadata_timeout);
        let index = self
            .read_index(community, &active, timeout, options.envelope.as_deref())
            .await?;
        Ok(RemoteIndex::from(&index))
    }

    async fn fetch(
        &self,
        community: &CommunityId,
        link: &Link,
        archives: &[ArchiveId],
        options: &FetchOptions,
        events: mpsc::Sender<FetchEvent>,
        cancel: CancellationToken,
    ) -> Result<FetchOutcome> {
        self.fetch_archives(community, link, archives, options, events, cancel)
            .await
    }

    async fn read_archive(
        &self,
        community: &CommunityId,
        _link: &Link,
        id: &ArchiveId,
        options: &FetchOptions,
    ) -> Result<Archive> {
        let dir = self
            .archive_dir(community)
            .with_envelope(options.envelope.clone());
        read_stored(dir, *id).await
    }

    async fn seed(&self, community: &CommunityId, link: &Link) -> Result<()> {
        let infohash = crate::fetch::magnet_of(link)
            .map_or_else(|_| String::new(), |m| m.info_hash.to_string());
        if self
            .engine
            .active(community)
            .is_some_and(|a| a.infohash == infohash)
        {
            return Ok(());
        }
        let metainfo = self
            .current_metainfo(community)?
            .filter(|m| m.info_hash().to_string() == infohash)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    NAME,
                    format!("no .torrent for {link} on this node"),
                )
            })?;
        let dir = self.archive_dir(community);
        self.engine
            .seed(community, metainfo.to_bytes(), dir.path())
            .await?;
        Ok(())
    }

    async fn unseed(&self, community: &CommunityId, link: &Link) -> Result<()> {
        let infohash = crate::fetch::magnet_of(link)
            .map_or_else(|_| String::new(), |m| m.info_hash.to_string());
        if self
            .engine
            .active(community)
            .is_some_and(|a| a.infohash == infohash)
        {
            self.engine.drop_torrent(community).await?;
        }
        Ok(())
    }
}

/// One torrent's traffic, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes fetched from peers.
    pub fetched_bytes: u64,
    /// Bytes served to peers.
    pub uploaded_bytes: u64,
    /// Peers connected now.
    pub peers: u32,
}
