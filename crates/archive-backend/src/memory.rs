//! A complete backend that keeps everything in memory: the reference
//! implementation of [`Backend`], the conformance kit's first subject, and a
//! real backend for testing the layers above without a network.
//!
//! It stores archives in status-go's torrent layout (one `data` buffer and a
//! `TorrentIndex`, built by `archive-index`), and its links are magnet links
//! whose infohash is a content hash of the index: they resolve only among
//! [`MemoryBackend`]s attached to the same [`MemoryNetwork`]. Its archives
//! carry no content hash, so *verified* means here what it means for any
//! such backend: an archive decodes within the limits and its metadata is its
//! index entry's, or it is not handed over.

use std::{
    collections::{HashMap, HashSet},
    io::Cursor,
    sync::{Arc, Mutex},
    time::Duration,
};

use archive_index::{
    Archive, ArchiveId, BlobKind, CommunityId, DataWriter, Envelope, ExtractOptions, TorrentIndex,
    extract_sealed_archive, keccak256, open_blob, seal_blob,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    backend::{
        Backend, Capabilities, FetchEvent, FetchOptions, FetchOrder, FetchOutcome, PublishOptions,
        PublishOutcome, PublishRequest, RemoteIndex, ResolveOptions,
    },
    error::{Error, ErrorKind, Result},
    link::{Link, LinkKind},
    partition_feed::{PartitionItem, feed_partitions},
};

const NAME: &str = "memory";

/// One community's archives on one node.
#[derive(Clone, Debug, Default)]
struct Holding {
    /// `data`, with the bytes of archives this node lacks left zero.
    data: Vec<u8>,
    index: TorrentIndex,
    /// The index as published (sealed for an encrypted community), which is
    /// what `resolve` reads.
    index_blob: Vec<u8>,
    /// Archives whose bytes this node holds.
    complete: HashSet<ArchiveId>,
}

type SharedHolding = Arc<Mutex<Holding>>;

/// What connects [`MemoryBackend`]s: which node serves which link.
#[derive(Debug, Default)]
pub struct MemoryNetwork {
    served: Mutex<HashMap<String, Vec<(u64, SharedHolding)>>>,
    next_node: Mutex<u64>,
}

impl MemoryNetwork {
    /// A network with no node.
    pub fn new() -> Arc<MemoryNetwork> {
        Arc::default()
    }

    fn servers(&self, link: &Link) -> Vec<SharedHolding> {
        let served = self.served.lock().expect("network lock");
        served
            .get(link.announced())
            .map(|nodes| nodes.iter().map(|(_, h)| h.clone()).collect())
            .unwrap_or_default()
    }
}

/// A node of a [`MemoryNetwork`].
#[derive(Debug)]
pub struct MemoryBackend {
    network: Arc<MemoryNetwork>,
    node: u64,
    holdings: Mutex<HashMap<CommunityId, SharedHolding>>,
    fetch_delay: Duration,
}

impl MemoryBackend {
    /// A new node on `network`.
    pub fn new(network: &Arc<MemoryNetwork>) -> MemoryBackend {
        let mut next = network.next_node.lock().expect("network lock");
        *next += 1;
        MemoryBackend {
            network: network.clone(),
            node: *next,
            holdings: Mutex::default(),
            fetch_delay: Duration::ZERO,
        }
    }

    /// Makes every archive transfer take `delay` (tokio time), so that
    /// cancellation can be tested mid-fetch.
    pub fn with_fetch_delay(mut self, delay: Duration) -> MemoryBackend {
        self.fetch_delay = delay;
        self
    }

    /// Overwrites this node's stored bytes of every archive of `community`
    /// with garbage, as a failing disk would: for testing that corrupt bytes
    /// are never handed over as an archive.
    pub fn corrupt_stored_archives(&self, community: &CommunityId) {
        let holding = self.holding(community);
        let mut h = holding.lock().expect("holding lock");
        for byte in &mut h.data {
            *byte ^= 0xff;
        }
    }

    fn holding(&self, community: &CommunityId) -> SharedHolding {
        self.holdings
            .lock()
            .expect("node lock")
            .entry(*community)
            .or_default()
            .clone()
    }

    fn link_of(community: &CommunityId, index: &TorrentIndex) -> Link {
        let digest = keccak256(&index.encode());
        let uri = format!(
            "magnet:?xt=urn:btih:{}&dn={community}",
            digest[..20]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        Link::from_announced(LinkKind::TORRENT, &uri).expect("a well-formed magnet link")
    }

    fn serve(&self, link: &Link, holding: SharedHolding) {
        let mut served = self.network.served.lock().expect("network lock");
        let nodes = served.entry(link.announced().to_string()).or_default();
        nodes.retain(|(node, _)| *node != self.node);
        nodes.push((self.node, holding));
    }

    fn stop_serving(&self, link: &Link) {
        let mut served = self.network.served.lock().expect("network lock");
        if let Some(nodes) = served.get_mut(link.announced()) {
            nodes.retain(|(node, _)| *node != self.node);
        }
    }

    fn check_kind(link: &Link) -> Result<()> {
        let kind = link.kind();
        if kind == LinkKind::TORRENT {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::InvalidInput,
            NAME,
            format!("cannot resolve a {kind} link"),
        ))
    }
}

/// Archive `id` from `holding`'s bytes, verified the only way a backend
/// without content hashes can: it decodes within the limits, and its metadata
/// is its index entry's.
fn read_local(
    holding: &Holding,
    id: &ArchiveId,
    envelope: Option<&dyn Envelope>,
) -> Result<Archive> {
    let corrupt = |what: String| Error::new(ErrorKind::Corrupt, NAME, what);
    let archive = extract_sealed_archive(
        &mut Cursor::new(&holding.data),
        holding.data.len() as u64,
        &holding.index,
        id,
        ExtractOptions::default(),
        envelope,
    )
    .map_err(|e| Error::undecodable(NAME, format!("archive {id}"), e))?;
    match holding.index.get(id) {
        Some(entry) if entry.metadata == archive.metadata => Ok(archive),
        _ => Err(corrupt(format!(
            "archive {id} does not match its index entry"
        ))),
    }
}

fn not_found(what: String) -> Error {
    Error::new(ErrorKind::NotFound, NAME, what)
}

#[async_trait::async_trait]
impl Backend for MemoryBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn link_kind(&self) -> LinkKind {
        LinkKind::TORRENT
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
            .with_partial_fetch(true)
            .with_member_seeding(true)
    }

    async fn publish(
        &self,
        request: PublishRequest<'_>,
        options: &PublishOptions,
    ) -> Result<PublishOutcome> {
        let holding = self.holding(&request.community);
        let (start, previous_index) = {
            let h = holding.lock().expect("holding lock");
            (h.index.data_len(), h.index.clone())
        };
        // Archives are built into a scratch buffer and committed at the end, so
        // a failing message source leaves the node as it was.
        let mut writer = DataWriter::new(Vec::new(), start, request.topics.clone())
            .with_envelope(options.envelope.clone());
        let format = |e: archive_index::Error| {
            Error::new(ErrorKind::InvalidInput, NAME, "archive format").with_source(e)
        };
        feed_partitions(&request, |item| {
            std::future::ready(
                match item {
                    PartitionItem::Begin(part) => writer.begin_partition(part),
                    PartitionItem::Message(m) => writer.push(&m),
                    PartitionItem::End(_) => writer.finish_partition(),
                }
                .map_err(format),
            )
        })
        .await?;
        let (bytes, report) = writer.finish().map_err(format)?;
        if report.archives.is_empty() {
            return Ok(PublishOutcome::from_report(request.previous, report));
        }
        let link = {
            let mut h = holding.lock().expect("holding lock");
            let mut index = previous_index;
            for a in &report.archives {
                index.insert(a.entry.clone()).map_err(format)?;
            }
            let blob = seal_blob(options.envelope.as_deref(), BlobKind::Index, index.encode())
                .map_err(format)?;
            h.complete.extend(report.archives.iter().map(|a| a.id));
            h.index_blob = blob;
            h.data.truncate(start as usize);
            h.data.extend_from_slice(&bytes);
            h.index = index;
            Self::link_of(&request.community, &h.index)
        };
        // The previous link stays served until the caller, having recorded
        // this one, unseeds it, as on a network where unseeding deletes.
        self.serve(&link, holding);
        Ok(PublishOutcome::from_report(Some(link), report))
    }

    async fn resolve(
        &self,
        _community: &CommunityId,
        link: &Link,
        options: &ResolveOptions,
    ) -> Result<RemoteIndex> {
        Self::check_kind(link)?;
        let server = self
            .network
            .servers(link)
            .into_iter()
            .next()
            .ok_or_else(|| not_found(format!("no node serves {link}")))?;
        let blob = server.lock().expect("holding lock").index_blob.clone();
        let index = open_blob(options.envelope.as_deref(), BlobKind::Index, blob)
            .and_then(|plain| TorrentIndex::decode(&plain))
            .map_err(|e| Error::undecodable(NAME, format!("the index behind {link}"), e))?;
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
        Self::check_kind(link)?;
        let servers = self.network.servers(link);
        let Some(first) = servers.first() else {
            return Err(not_found(format!("no node serves {link}")));
        };
        let index = first.lock().expect("holding lock").index.clone();
        let mut wanted: Vec<_> = archives
            .iter()
            .map(|id| {
                index
                    .get(id)
                    .map(|e| (e.metadata.range, *id))
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::InvalidInput,
                            NAME,
                            format!("archive {id} is not behind {link}"),
                        )
                    })
            })
            .collect::<Result<_>>()?;
        wanted.sort();
        if options.order == FetchOrder::NewestFirst {
            wanted.reverse();
        }
        let local = self.holding(community);
        {
            let blob = first.lock().expect("holding lock").index_blob.clone();
            let mut h = local.lock().expect("holding lock");
            h.data.resize(index.data_len() as usize, 0);
            h.index = index.clone();
            h.index_blob = blob;
        }
        let mut outcome = FetchOutcome::default();
        for (range, id) in wanted {
            let entry = index.get(&id).expect("looked up above");
            let already = local.lock().expect("holding lock").complete.contains(&id);
            if !already {
                tokio::select! {
                    () = cancel.cancelled() => {
                        return Err(Error::new(ErrorKind::Cancelled, NAME, "fetch cancelled"));
                    }
                    () = tokio::time::sleep(self.fetch_delay) => {}
                }
                let (start, end) = (entry.offset as usize, entry.end() as usize);
                let bytes = servers
                    .iter()
                    .find_map(|s| {
                        let h = s.lock().expect("holding lock");
                        h.complete
                            .contains(&id)
                            .then(|| h.data[start..end].to_vec())
                    })
                    .ok_or_else(|| {
                        not_found(format!("no node serving {link} holds archive {id}"))
                    })?;
                outcome.bytes_fetched += bytes.len() as u64;
                local.lock().expect("holding lock").data[start..end].copy_from_slice(&bytes);
            }
            // Verified before it counts: a server's corrupt bytes stay
            // unmarked here and fail the fetch.
            let read = read_local(
                &local.lock().expect("holding lock"),
                &id,
                options.envelope.as_deref(),
            );
            let event = FetchEvent::from_read(id, range, read)?;
            local.lock().expect("holding lock").complete.insert(id);
            outcome.fetched.push(id);
            event.hand_over(&events, &cancel, NAME).await?;
        }
        Ok(outcome)
    }

    async fn read_archive(
        &self,
        community: &CommunityId,
        _link: &Link,
        id: &ArchiveId,
        options: &FetchOptions,
    ) -> Result<Archive> {
        let holding = self.holding(community);
        let h = holding.lock().expect("holding lock");
        if !h.complete.contains(id) {
            return Err(not_found(format!("archive {id} is not on this node")));
        }
        read_local(&h, id, options.envelope.as_deref())
    }

    async fn seed(&self, community: &CommunityId, link: &Link) -> Result<()> {
        Self::check_kind(link)?;
        let holding = self.holding(community);
        let matches = {
            let h = holding.lock().expect("holding lock");
            !h.index.is_empty() && Self::link_of(community, &h.index) == *link
        };
        if !matches {
            return Err(not_found(format!("this node holds no archives of {link}")));
        }
        self.serve(link, holding);
        Ok(())
    }

    async fn unseed(&self, _community: &CommunityId, link: &Link) -> Result<()> {
        self.stop_serving(link);
        Ok(())
    }
}
