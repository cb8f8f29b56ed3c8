//! [`TorrentBackend`]: the `archive_backend::Backend` of status-go's BitTorrent
//! design, on the files of [`ArchiveDir`], our own `.torrent` writer and a
//! librqbit session.

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use archive_backend::{
    Backend, Capabilities, Error, ErrorKind, FetchEvent, FetchOptions, FetchOrder, FetchOutcome,
    Link, LinkKind, PartitionItem, PublishOptions, PublishOutcome, PublishRequest, RemoteIndex,
    ResolveOptions, Result, feed_partitions,
};
use archive_index::{
    Archive, ArchiveId, CommunityId, DataWriter, ExtractOptions, IndexEntry, Message, TimeRange,
    TorrentIndex, WriteReport, extract_archive,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use torrent_format::{ArchiveDir, Magnet, Metainfo, TorrentOptions, torrent_path};

use crate::{
    config::Config,
    engine::{Active, DATA, Engine, INDEX, NAME, engine_error},
    stall::{self, Watchdog},
    stream::{DataLayout, Prefetch, pace, read_verified},
};

/// status-go's BitTorrent backend: archives appended to `data`, an `index`, a
/// `.torrent` over both, seeded and fetched with librqbit.
#[derive(Debug)]
pub struct TorrentBackend {
    config: Config,
    engine: Engine,
}

/// A failure of the local archive files: I/O, or files that do not parse.
fn local(e: torrent_format::Error) -> Error {
    let kind = match &e {
        torrent_format::Error::Io { .. } => ErrorKind::Io,
        _ => ErrorKind::Corrupt,
    };
    Error::new(kind, NAME, "local archive files").with_source(e)
}

fn format(e: archive_index::Error) -> Error {
    Error::new(ErrorKind::InvalidInput, NAME, "archive format").with_source(e)
}

/// The error of the closure [`ArchiveDir::append`] runs. `append` needs one
/// that its own errors convert into, and neither `torrent_format::Error` nor
/// `archive_backend::Error` is this crate's to give a `From` impl.
struct AppendError(Error);

impl From<torrent_format::Error> for AppendError {
    fn from(e: torrent_format::Error) -> AppendError {
        AppendError(local(e))
    }
}

impl From<Error> for AppendError {
    fn from(e: Error) -> AppendError {
        AppendError(e)
    }
}

/// What the async side sends the blocking writer.
enum WriterInput {
    Begin(TimeRange),
    Message(Message),
    End,
    /// The source failed: discard everything written in this run.
    Abort,
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

    fn torrent_options(&self) -> TorrentOptions {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        TorrentOptions {
            announce_list: self
                .config
                .trackers
                .iter()
                .map(|t| vec![t.clone()])
                .collect(),
            created_by: self.config.created_by.clone(),
            creation_date: now,
        }
    }

    /// Appends the archives of `request` to `data` on a blocking thread fed by
    /// the message stream, one message in memory at a time.
    async fn append(&self, request: &PublishRequest<'_>) -> Result<WriteReport> {
        let dir = self.archive_dir(&request.community);
        let topics = request.topics.clone();
        let (tx, mut rx) = mpsc::channel::<WriterInput>(1024);
        let writer = tokio::task::spawn_blocking(move || {
            dir.append(|out, start| -> Result<WriteReport, AppendError> {
                let mut writer = DataWriter::new(out, start, topics);
                while let Some(input) = rx.blocking_recv() {
                    match input {
                        WriterInput::Begin(range) => {
                            writer.begin_partition(range).map_err(format)?
                        }
                        WriterInput::Message(m) => writer.push(&m).map_err(format)?,
                        WriterInput::End => writer.finish_partition().map_err(format)?,
                        WriterInput::Abort => {
                            return Err(
                                Error::new(ErrorKind::Other, NAME, "publish aborted").into()
                            );
                        }
                    }
                }
                Ok(writer.finish().map_err(format)?.1)
            })
            .map_err(|AppendError(e)| e)
        });
        let fed = feed_partitions(request, |item| {
            let tx = tx.clone();
            async move {
                let input = match item {
                    PartitionItem::Begin(part) => WriterInput::Begin(part),
                    PartitionItem::Message(m) => WriterInput::Message(m),
                    PartitionItem::End(_) => WriterInput::End,
                };
                // A closed channel means the writer failed; its error is
                // reported below.
                tx.send(input)
                    .await
                    .map_err(|_| Error::new(ErrorKind::Other, NAME, "the archive writer stopped"))
            }
        })
        .await;
        if fed.is_err() {
            // Ignored if the writer is gone already; it failed on its own then.
            let _ = tx.send(WriterInput::Abort).await;
        }
        drop(tx);
        let written = writer.await.map_err(|e| {
            Error::new(
                ErrorKind::Other,
                NAME,
                format!("archive writer failed: {e}"),
            )
        })?;
        // A source that failed mid-way leaves nothing: the writer aborted and
        // `append` cut `data` back. Its error is the one worth reporting.
        match (fed, written) {
            (Err(e), _) | (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(outcome)) => Ok(outcome.report),
        }
    }

    /// The metainfo of the community's `.torrent`, if any.
    fn current_metainfo(&self, community: &CommunityId) -> Result<Option<Metainfo>> {
        Metainfo::load(&self.config.torrent_dir, community).map_err(local)
    }

    /// Builds and writes the `.torrent` (reusing the previous piece hashes) and
    /// seeds it.
    async fn rebuild_and_seed(&self, community: &CommunityId) -> Result<Link> {
        let dir = self.archive_dir(community);
        let previous = self.current_metainfo(community)?;
        let options = self.torrent_options();
        let torrent_dir = self.config.torrent_dir.clone();
        let build_dir = dir.clone();
        let metainfo = tokio::task::spawn_blocking(move || {
            let metainfo = Metainfo::build(&build_dir, &options, previous.as_ref())?;
            metainfo.write(&torrent_dir)?;
            Ok::<_, torrent_format::Error>(metainfo)
        })
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Other,
                NAME,
                format!("torrent builder failed: {e}"),
            )
        })?
        .map_err(local)?;
        self.engine
            .seed(community, metainfo.to_bytes(), dir.path())
            .await?;
        Link::from_announced(LinkKind::TORRENT, &metainfo.magnet().to_string())
    }

    /// The torrent for `link`, joining it if this node does not run it yet.
    async fn torrent_for(
        &self,
        community: &CommunityId,
        link: &Link,
        timeout: Option<Duration>,
    ) -> Result<Active> {
        let magnet = magnet_of(link)?;
        magnet.check_community(community).map_err(wrong_community)?;
        let infohash = magnet.info_hash.to_string();
        if let Some(active) = self
            .engine
            .active(community)
            .filter(|a| a.infohash == infohash)
        {
            return Ok(active);
        }
        let dir = self.archive_dir(community);
        // Created here rather than by librqbit, so that the new folder's
        // entry is synced to disk and it is the owner's alone.
        dir.create().map_err(local)?;
        let timeout = timeout.unwrap_or(self.config.metadata_timeout);
        // status-go retries the metadata wait exactly once.
        match self
            .engine
            .join(community, link.announced(), dir.path(), timeout)
            .await
        {
            Err(e) if e.kind() == ErrorKind::Timeout => {
                self.engine
                    .join(community, link.announced(), dir.path(), timeout)
                    .await
            }
            other => other,
        }
    }

    /// Waits until the `index` file of `active` is complete and reads it.
    async fn read_index(
        &self,
        community: &CommunityId,
        active: &Active,
        timeout: Duration,
    ) -> Result<TorrentIndex> {
        let (info_bytes, data_len) = active
            .handle
            .with_metadata(|m| {
                let data_len = m.file_infos.get(DATA).map_or(0, |f| f.len);
                (m.info_bytes.clone(), data_len)
            })
            .map_err(|e| engine_error(ErrorKind::Corrupt, "torrent metadata", e))?;
        check_torrent(community, &info_bytes)?;
        let deadline = tokio::time::Instant::now() + timeout;
        let index_len = active
            .handle
            .with_metadata(|m| m.file_infos.get(INDEX).map(|f| f.len))
            .map_err(|e| engine_error(ErrorKind::Corrupt, "torrent metadata", e))?
            .ok_or_else(|| Error::new(ErrorKind::Corrupt, NAME, "the torrent has no index file"))?;
        let mut watchdog = Watchdog::new(self.config.stall, tokio::time::Instant::now());
        loop {
            let stats = active.handle.stats();
            if stats.file_progress.get(INDEX).copied() == Some(index_len) {
                break;
            }
            if let Some(error) = stats.error {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    NAME,
                    format!("downloading the index: {error}"),
                ));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    NAME,
                    "the index did not arrive in time",
                ));
            }
            let progress = stats.progress_bytes;
            stall::on_watch(
                &self.engine,
                active,
                &mut watchdog,
                progress,
                now,
                "the index",
            )
            .await?;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let path = self.archive_dir(community).index_path();
        let bytes = tokio::fs::read(&path).await.map_err(|e| {
            Error::new(ErrorKind::Io, NAME, format!("reading {}", path.display())).with_source(e)
        })?;
        // Every entry must lie inside `data` as the torrent sizes it, so that
        // no read allocates for an archive that cannot be there.
        TorrentIndex::decode(&bytes)
            .and_then(|index| index.check_data_len(data_len).map(|()| index))
            .map_err(|e| Error::new(ErrorKind::Corrupt, NAME, "the fetched index").with_source(e))
    }

    /// How to keep librqbit requesting the pieces of `entries` however far
    /// the fetch's reader falls behind.
    ///
    /// On its own the reader's stream prioritises only the 32 MiB past its
    /// position. Once librqbit has requested those pieces it waits up to five
    /// seconds before it looks again, so whenever the reader fell that far
    /// behind (a busy CPU, an archive being decoded) the transfer stopped for
    /// five seconds: on a loaded machine a 1 GiB fetch took 16 to 68 s where
    /// it now takes 6. When every piece of `data` is wanted, this selects the
    /// file, which queues them all; otherwise that would bring archives nobody
    /// asked for, and a second stream walks the wanted pieces instead.
    async fn prefetch(&self, active: &Active, entries: &[&IndexEntry]) -> Result<Prefetch> {
        let (layout, files) = active
            .handle
            .with_metadata(|m| {
                let data = m.file_infos.get(DATA)?;
                let layout = DataLayout {
                    offset: data.offset_in_torrent,
                    len: data.len,
                    piece_len: u64::from(m.lengths().default_piece_length()),
                };
                Some((layout, m.file_infos.len()))
            })
            .map_err(|e| engine_error(ErrorKind::Corrupt, "torrent metadata", e))?
            .ok_or_else(|| Error::new(ErrorKind::Corrupt, NAME, "the torrent has no data file"))?;
        let previous = active
            .handle
            .only_files()
            .unwrap_or_else(|| (0..files).collect());
        if previous.contains(&DATA) || data_have(active) >= layout.len {
            return Ok(Prefetch::Nothing);
        }
        let mut pieces: Vec<u64> = entries.iter().flat_map(|e| layout.pieces(e)).collect();
        pieces.sort_unstable();
        pieces.dedup();
        let wanted: u64 = pieces.iter().map(|&p| layout.piece_bytes(p)).sum();
        if wanted == layout.len {
            let mut selected = previous.clone();
            selected.push(DATA);
            self.engine.select_files(active, &selected).await?;
            return Ok(Prefetch::Selected { previous });
        }
        Ok(Prefetch::Pace {
            // In the order the reader takes them.
            positions: entries
                .iter()
                .flat_map(|e| layout.pieces(e))
                .map(|p| layout.position(p))
                .collect(),
        })
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
        let mut capabilities = Capabilities::default();
        // librqbit selects whole files, and its stream reads ahead: fetching
        // some archives may move bytes of later ones too.
        capabilities.partial_fetch = false;
        capabilities.member_seeding = true;
        capabilities
    }

    async fn publish(
        &self,
        request: PublishRequest<'_>,
        _options: &PublishOptions,
    ) -> Result<PublishOutcome> {
        let report = self.append(&request).await?;
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
        let index = self.read_index(community, &active, timeout).await?;
        Ok(RemoteIndex {
            archives: index
                .iter()
                .map(|(id, e)| (*id, e.metadata.clone()))
                .collect(),
        })
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
        let active = self.torrent_for(community, link, None).await?;
        let index = self
            .read_index(community, &active, self.config.metadata_timeout)
            .await?;
        let mut wanted = Vec::with_capacity(archives.len());
        for id in archives.iter().collect::<HashSet<_>>() {
            let entry = index.get(id).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    NAME,
                    format!("archive {id} is not behind {link}"),
                )
            })?;
            wanted.push((entry.metadata.range, *id, entry.clone()));
        }
        wanted.sort_by_key(|(range, id, _)| (*range, *id));
        if options.order == FetchOrder::NewestFirst {
            wanted.reverse();
        }
        // Checked before anything starts moving: a fetch cancelled up front
        // leaves no download running behind it.
        if cancel.is_cancelled() {
            return Err(cancelled());
        }
        let fetched_before = self.fetched_bytes(community);
        // Reading through librqbit's stream makes it fetch those pieces first
        // and hands out only bytes whose piece hash verified.
        let mut stream = active
            .handle
            .clone()
            .stream(DATA)
            .await
            .map_err(|e| engine_error(ErrorKind::Other, "opening the data stream", e))?;
        let entries: Vec<_> = wanted.iter().map(|(_, _, entry)| entry).collect();
        let prefetch = self.prefetch(&active, &entries).await?;
        let mut pacer = tokio::task::JoinSet::new();
        let restore = match prefetch {
            Prefetch::Nothing => None,
            Prefetch::Selected { previous } => Some(previous),
            Prefetch::Pace { positions } => {
                let stream =
                    active.handle.clone().stream(DATA).await.map_err(|e| {
                        engine_error(ErrorKind::Other, "opening the data stream", e)
                    })?;
                // Its own task, so that the reader decoding an archive does not
                // hold it up; dropping the set stops it.
                pacer.spawn(pace(stream, positions));
                None
            }
        };
        let archives_read = AtomicU64::new(0);
        let what = format!("fetching {} archives", wanted.len());
        let read = async {
            let mut fetched = Vec::with_capacity(wanted.len());
            for (range, id, entry) in wanted {
                // Biased: once cancelled, no further archive is handed over,
                // however quickly the next one would read.
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Err(cancelled()),
                    read = read_verified(&mut stream, &id, &entry) => read?,
                };
                archives_read.fetch_add(1, Ordering::Relaxed);
                fetched.push(id);
                let _ = events.send(FetchEvent::ArchiveFetched { id, range }).await;
            }
            Ok(fetched)
        };
        let read = tokio::select! {
            read = read => read,
            stalled = stall::watch(&self.engine, self.config.stall, &active, &archives_read, &what) => Err(stalled),
        };
        drop(pacer);
        drop(stream);
        let fetched = match (read, restore) {
            (Ok(fetched), _) => fetched,
            (Err(e), None) => return Err(e),
            (Err(e), Some(previous)) => {
                // Stop downloading what nobody waits for any more; pieces
                // already requested still arrive.
                let _ = self.engine.select_files(&active, &previous).await;
                return Err(e);
            }
        };
        Ok(FetchOutcome {
            fetched,
            bytes_fetched: self.fetched_bytes(community).saturating_sub(fetched_before),
        })
    }

    async fn read_archive(
        &self,
        community: &CommunityId,
        _link: &Link,
        id: &ArchiveId,
    ) -> Result<Archive> {
        let dir = self.archive_dir(community);
        let id = *id;
        tokio::task::spawn_blocking(move || {
            // Only this entry has to lie inside `data`: a member's later
            // archives may not be written yet while earlier ones are read.
            let index = dir.load_index().map_err(local)?;
            let path = dir.data_path();
            let mut data = std::fs::File::open(&path).map_err(|e| {
                Error::new(
                    ErrorKind::NotFound,
                    NAME,
                    format!("opening {}", path.display()),
                )
                .with_source(e)
            })?;
            let len = data
                .metadata()
                .map_err(|e| {
                    Error::new(ErrorKind::Io, NAME, format!("reading {}", path.display()))
                        .with_source(e)
                })?
                .len();
            extract_archive(&mut data, len, &index, &id, ExtractOptions::default()).map_err(|e| {
                Error::new(
                    ErrorKind::NotFound,
                    NAME,
                    format!("archive {id} is not readable here"),
                )
                .with_source(e)
            })
        })
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Other,
                NAME,
                format!("archive reader failed: {e}"),
            )
        })?
    }

    async fn seed(&self, community: &CommunityId, link: &Link) -> Result<()> {
        let infohash = magnet_of(link).map_or_else(|_| String::new(), |m| m.info_hash.to_string());
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
        let infohash = magnet_of(link).map_or_else(|_| String::new(), |m| m.info_hash.to_string());
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

/// The error of a torrent or magnet that names another community.
/// The magnet behind `link`, read by `torrent-format`, the one magnet parser.
fn magnet_of(link: &Link) -> Result<Magnet> {
    if link.kind() != LinkKind::TORRENT {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            NAME,
            format!("{link} is not a magnet link"),
        ));
    }
    link.announced().parse::<Magnet>().map_err(|e| {
        Error::new(ErrorKind::InvalidInput, NAME, format!("magnet link {link}")).with_source(e)
    })
}

fn wrong_community(e: torrent_format::Error) -> Error {
    Error::new(ErrorKind::InvalidInput, NAME, e.to_string()).with_source(e)
}

/// Checks the torrent's `info` as this crate would parse a `.torrent` (no
/// path listed twice, …) and that it is named after `community`.
fn check_torrent(community: &CommunityId, info_bytes: &[u8]) -> Result<()> {
    let mut torrent = Vec::with_capacity(info_bytes.len() + 8);
    torrent.extend_from_slice(b"d4:info");
    torrent.extend_from_slice(info_bytes);
    torrent.push(b'e');
    let metainfo = Metainfo::from_bytes(&torrent)
        .map_err(|e| Error::new(ErrorKind::Corrupt, NAME, "the torrent's info").with_source(e))?;
    metainfo.check_community(community).map_err(wrong_community)
}

/// The error of a fetch whose token fired.
fn cancelled() -> Error {
    Error::new(ErrorKind::Cancelled, NAME, "fetch cancelled")
}

/// Bytes of `data` whose pieces this node has, hash-verified.
fn data_have(active: &Active) -> u64 {
    active
        .handle
        .stats()
        .file_progress
        .get(DATA)
        .copied()
        .unwrap_or(0)
}
