//! The BitTorrent engine: one librqbit session per node, hidden behind this
//! module so that nothing else in the workspace sees librqbit.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use archive_backend::{Error, ErrorKind, Result};
use archive_index::CommunityId;
use librqbit::{
    AddTorrent, AddTorrentOptions, ListenerMode, ListenerOptions, ManagedTorrent, Session,
    SessionOptions, api::TorrentIdOrHash,
};

use crate::config::Config;

pub(crate) const NAME: &str = "torrent";

/// The torrent's files, in the sorted order of its `info`: `data`, then
/// `index`.
pub(crate) const DATA: usize = 0;
pub(crate) const INDEX: usize = 1;

/// The torrent a node runs for one community: at most one at a time, as
/// status-go (a new link replaces the old torrent; the files stay).
#[derive(Clone)]
pub(crate) struct Active {
    pub(crate) handle: Arc<ManagedTorrent>,
    /// Lowercase hex infohash.
    pub(crate) infohash: String,
}

impl Active {
    /// Bytes of the torrent this node has, hash-verified.
    pub(crate) fn verified_bytes(&self) -> u64 {
        self.handle.stats().progress_bytes
    }

    /// Bytes of the whole torrent.
    pub(crate) fn total_bytes(&self) -> u64 {
        self.handle.stats().total_bytes
    }
}

/// A librqbit session and the torrent it runs for each community.
pub(crate) struct Engine {
    session: Arc<Session>,
    active: Mutex<HashMap<CommunityId, Active>>,
    /// Bytes (fetched, uploaded) of each community's torrents that were
    /// replaced or stopped, so traffic counts survive a new torrent (every
    /// publish makes one).
    retired: Mutex<HashMap<CommunityId, (u64, u64)>>,
    peers: Vec<SocketAddr>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("listen", &self.session.listen_addr())
            .finish_non_exhaustive()
    }
}

pub(crate) fn engine_error(
    kind: ErrorKind,
    what: impl Into<String>,
    e: impl std::fmt::Display,
) -> Error {
    Error::new(kind, NAME, format!("{}: {e:#}", what.into()))
}

impl Engine {
    pub(crate) async fn start(config: &Config) -> Result<Engine> {
        let mut options = SessionOptions {
            dht: None,
            disable_trackers: !config.contact_trackers,
            disable_local_service_discovery: true,
            persistence: None,
            fastresume: false,
            ipv4_only: config.listen.is_ipv4(),
            listen: Some(ListenerOptions {
                mode: ListenerMode::TcpOnly,
                listen_addr: config.listen,
                // On a loopback address librqbit announces no port of its own.
                announce_port: (config.listen.port() != 0).then_some(config.listen.port()),
                ipv4_only: config.listen.is_ipv4(),
                ..ListenerOptions::default()
            }),
            ..SessionOptions::default()
        };
        if config.dht {
            options.dht = SessionOptions::default().dht;
        }
        let session = Session::new_with_opts(config.data_dir.clone(), options)
            .await
            .map_err(|e| engine_error(ErrorKind::Io, "starting the BitTorrent session", e))?;
        Ok(Engine {
            session,
            active: Mutex::default(),
            retired: Mutex::default(),
            peers: config.peers.clone(),
        })
    }

    pub(crate) fn listen_addr(&self) -> Option<SocketAddr> {
        self.session.listen_addr()
    }

    pub(crate) fn active(&self, community: &CommunityId) -> Option<Active> {
        self.active
            .lock()
            .expect("engine lock")
            .get(community)
            .cloned()
    }

    /// Bytes (fetched, uploaded) of the community's torrents that are gone.
    pub(crate) fn retired(&self, community: &CommunityId) -> (u64, u64) {
        self.retired
            .lock()
            .expect("engine lock")
            .get(community)
            .copied()
            .unwrap_or_default()
    }

    /// Stops the community's torrent, keeping its files.
    pub(crate) async fn drop_torrent(&self, community: &CommunityId) -> Result<()> {
        let previous = self.active.lock().expect("engine lock").remove(community);
        if let Some(previous) = previous {
            let stats = previous.handle.stats();
            let fetched = stats.live.as_ref().map_or(0, |l| l.snapshot.fetched_bytes);
            {
                let mut retired = self.retired.lock().expect("engine lock");
                let counts = retired.entry(*community).or_default();
                counts.0 += fetched;
                counts.1 += stats.uploaded_bytes;
            }
            self.session
                .delete(TorrentIdOrHash::Id(previous.handle.id()), false)
                .await
                .map_err(|e| engine_error(ErrorKind::Other, "dropping a torrent", e))?;
        }
        Ok(())
    }

    /// Seeds the `.torrent` in `bytes` from the files in `dir`, replacing the
    /// community's previous torrent. librqbit checks every piece on disk first.
    pub(crate) async fn seed(
        &self,
        community: &CommunityId,
        bytes: Vec<u8>,
        dir: &Path,
    ) -> Result<Active> {
        self.drop_torrent(community).await?;
        let options = AddTorrentOptions {
            overwrite: true,
            output_folder: Some(dir.to_string_lossy().into_owned()),
            initial_peers: Some(self.peers.clone()),
            ..AddTorrentOptions::default()
        };
        let handle = self
            .session
            .add_torrent(AddTorrent::from_bytes(bytes), Some(options))
            .await
            .map_err(|e| engine_error(ErrorKind::Corrupt, "adding a torrent to seed", e))?
            .into_handle()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Other,
                    NAME,
                    "librqbit listed the torrent instead of adding it",
                )
            })?;
        handle
            .wait_until_initialized()
            .await
            .map_err(|e| engine_error(ErrorKind::Corrupt, "checking the files to seed", e))?;
        self.register(community, handle)
    }

    /// Joins a magnet link, downloading only the `index` file at first. Waits
    /// at most `timeout` for the metadata.
    pub(crate) async fn join(
        &self,
        community: &CommunityId,
        magnet: &str,
        dir: &Path,
        timeout: Duration,
    ) -> Result<Active> {
        self.drop_torrent(community).await?;
        let options = AddTorrentOptions {
            overwrite: true,
            output_folder: Some(dir.to_string_lossy().into_owned()),
            only_files: Some(vec![INDEX]),
            initial_peers: Some(self.peers.clone()),
            ..AddTorrentOptions::default()
        };
        let added = tokio::time::timeout(
            timeout,
            self.session
                .add_torrent(AddTorrent::from_url(magnet), Some(options)),
        )
        .await
        .map_err(|_| {
            Error::new(
                ErrorKind::Timeout,
                NAME,
                format!("no metadata for {magnet} within {timeout:?}"),
            )
        })?
        .map_err(|e| engine_error(ErrorKind::Unavailable, "joining a magnet link", e))?;
        let handle = added.into_handle().ok_or_else(|| {
            Error::new(
                ErrorKind::Other,
                NAME,
                "librqbit listed the torrent instead of adding it",
            )
        })?;
        handle
            .wait_until_initialized()
            .await
            .map_err(|e| engine_error(ErrorKind::Corrupt, "checking local files", e))?;
        self.register(community, handle)
    }

    fn register(&self, community: &CommunityId, handle: Arc<ManagedTorrent>) -> Result<Active> {
        let active = Active {
            infohash: handle.info_hash().as_string(),
            handle,
        };
        self.active
            .lock()
            .expect("engine lock")
            .insert(*community, active.clone());
        Ok(active)
    }

    /// Which of the torrent's files librqbit downloads. Pieces it has stay,
    /// and the stream still fetches what it reads of unselected files.
    pub(crate) async fn select_files(&self, active: &Active, files: &[usize]) -> Result<()> {
        self.session
            .update_only_files(&active.handle, &files.iter().copied().collect())
            .await
            .map_err(|e| engine_error(ErrorKind::Other, "selecting the files to download", e))
    }

    /// Pauses and resumes the torrent: its peer table starts afresh from the
    /// configured peers, which are dialled at once. Open streams stay open.
    pub(crate) async fn restart(&self, active: &Active) -> Result<()> {
        // Pausing fails only when the torrent is not live; resuming then
        // starts it all the same.
        let _ = self.session.pause(&active.handle).await;
        self.session
            .unpause(&active.handle)
            .await
            .map_err(|e| engine_error(ErrorKind::Other, "restarting a stalled torrent", e))
    }

    /// Stops every torrent and the session.
    pub(crate) async fn stop(&self) {
        // `Session::stop` does just this and then sleeps a whole second,
        // "hopefully enough" for the cancelled tasks to wind down: a sixth of
        // a one-shot `archivist fetch` of 1 GiB over loopback. Nothing here
        // needs them gone but the listener: the session persists nothing and
        // a piece is written to disk within its task, synchronously.
        let torrents = self
            .session
            .with_torrents(|all| all.map(|(_, handle)| handle.clone()).collect::<Vec<_>>());
        for torrent in torrents {
            // Only a torrent already paused or failed fails to pause.
            let _ = self.session.pause(&torrent).await;
        }
        self.session.cancellation_token().cancel();
        // A node started again on the same port (peers know it) needs the
        // listening socket closed, which its task does once it sees the
        // cancellation; binding succeeds from then on.
        if let Some(addr) = self.session.listen_addr() {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
            while std::net::TcpListener::bind(addr).is_err()
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}
