//! Fetching on BitTorrent: joining a link's torrent, waiting for and
//! checking its `index`, and reading the wanted archives through librqbit's
//! verified stream, each handed over as it verifies; and reading an archive
//! back from the files, for one a crash kept from being imported.

use std::{
    collections::HashSet,
    io::SeekFrom,
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::Duration,
};

use archive_backend::{
    Error, ErrorKind, FetchEvent, FetchOptions, FetchOrder, FetchOutcome, Link, LinkKind, Result,
};
use archive_index::{
    Archive, ArchiveId, BlobKind, CommunityId, Envelope, ExtractOptions, IndexEntry, TorrentIndex,
    extract_sealed_archive, open_blob,
};
use tokio::{io::AsyncSeekExt, sync::mpsc};
use tokio_util::sync::CancellationToken;
use torrent_format::{ArchiveDir, Magnet, Metainfo};

use crate::{
    backend::{TorrentBackend, local},
    engine::{Active, DATA, INDEX, NAME, engine_error},
    stall::{self, Watchdog},
    stream::{DataLayout, Prefetch, pace, read_verified},
};

impl TorrentBackend {
    /// The torrent for `link`, joining it if this node does not run it yet.
    pub(crate) async fn torrent_for(
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
    pub(crate) async fn read_index(
        &self,
        community: &CommunityId,
        active: &Active,
        timeout: Duration,
        envelope: Option<&dyn Envelope>,
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
        open_blob(envelope, BlobKind::Index, bytes)
            .and_then(|plain| TorrentIndex::decode(&plain))
            .and_then(|index| index.check_data_len(data_len).map(|()| index))
            .map_err(|e| Error::undecodable(NAME, "the fetched index", e))
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

    /// Fetches `archives` of `link`'s torrent, reading each through
    /// librqbit's verified stream and handing it over decoded.
    pub(crate) async fn fetch_archives(
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
            .read_index(
                community,
                &active,
                self.config.metadata_timeout,
                options.envelope.as_deref(),
            )
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
        // A new stream sits at 0 and queues the 32 MiB after it: moved at
        // once (no await between) to the first wanted archive, so that no
        // piece before it is requested for a member that did not ask for it.
        let first = wanted.first().map_or(0, |(_, _, entry)| entry.offset);
        stream
            .seek(SeekFrom::Start(first))
            .await
            .map_err(|e| engine_error(ErrorKind::Other, "positioning the data stream", e))?;
        let entries: Vec<_> = wanted.iter().map(|(_, _, entry)| entry).collect();
        let prefetch = self.prefetch(&active, &entries).await?;
        let mut pacer = tokio::task::JoinSet::new();
        let restore = match prefetch {
            Prefetch::Nothing => None,
            Prefetch::Selected { previous } => Some(previous),
            Prefetch::Pace { positions } => {
                let mut stream =
                    active.handle.clone().stream(DATA).await.map_err(|e| {
                        engine_error(ErrorKind::Other, "opening the data stream", e)
                    })?;
                stream
                    .seek(SeekFrom::Start(positions.first().copied().unwrap_or(0)))
                    .await
                    .map_err(|e| {
                        engine_error(ErrorKind::Other, "positioning the data stream", e)
                    })?;
                // Its own task, so that the reader decoding an archive does not
                // hold it up; dropping the set stops it.
                pacer.spawn(pace(stream, positions));
                None
            }
        };
        let archives_read = AtomicU64::new(0);
        let caller_busy = AtomicBool::new(false);
        let what = format!("fetching {} archives", wanted.len());
        let read = async {
            let mut fetched = Vec::with_capacity(wanted.len());
            for (range, id, entry) in wanted {
                // Biased: once cancelled, no further archive is handed over,
                // however quickly the next one would read.
                let read = tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Err(cancelled()),
                    read = read_verified(&mut stream, &id, &entry, options.envelope.as_deref()) => read,
                };
                // A locked archive's pieces verified and stay in `data`: `read_archive`
                // opens it once the key is there.
                let event = FetchEvent::from_read(id, range, read)?;
                archives_read.fetch_add(1, Ordering::Relaxed);
                fetched.push(id);
                caller_busy.store(true, Ordering::Relaxed);
                let handed = event.hand_over(&events, &cancel, NAME).await;
                caller_busy.store(false, Ordering::Relaxed);
                handed?;
            }
            Ok(fetched)
        };
        let read = tokio::select! {
            read = read => read,
            stalled = stall::watch(&self.engine, self.config.stall, &active, &archives_read, &caller_busy, &what) => Err(stalled),
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
}

/// Reads archive `id` from the files of `dir`, checked against the index.
pub(crate) async fn read_stored(dir: ArchiveDir, id: ArchiveId) -> Result<Archive> {
    tokio::task::spawn_blocking(move || {
        // Only this entry has to lie inside `data`: a member's later
        // archives may not be written yet while earlier ones are read.
        let index = dir.load_index().map_err(|e| match e {
            torrent_format::Error::Format(e) => Error::undecodable(NAME, "the stored index", e),
            e => local(e),
        })?;
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
        let envelope = dir.envelope();
        extract_sealed_archive(
            &mut data,
            len,
            &index,
            &id,
            ExtractOptions::default(),
            envelope,
        )
        .map_err(|e| {
            if e.key_missing().is_some() {
                return Error::undecodable(NAME, format!("archive {id}"), e);
            }
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

/// The magnet behind `link`, read by `torrent-format`, the one magnet parser.
pub(crate) fn magnet_of(link: &Link) -> Result<Magnet> {
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

/// The error of a torrent or magnet that names another community.
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
