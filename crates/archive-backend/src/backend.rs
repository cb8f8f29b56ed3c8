//! The trait a storage backend implements, and the types it exchanges.

use std::{collections::HashSet, fmt, sync::Arc};

use archive_index::{
    Archive, ArchiveId, ArchiveMetadata, CodexIndex, CommunityId, DownloadPolicy, DroppedMessage,
    Envelope, Message, TimeRange, Topic, TorrentIndex,
};
use futures::stream::BoxStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    error::{Error, ErrorKind, Result},
    link::{Link, LinkKind},
};

/// Where a backend reads the messages it archives: the owner's message store,
/// adapted by whoever wires the node. Backends never see the store itself.
pub trait MessageSource: Send + Sync {
    /// The messages on `topics` inside `range`, in (timestamp, hash) order,
    /// one hash at most once. Implementations stream; they must not load the
    /// range into memory.
    fn messages(&self, topics: &[Topic], range: TimeRange) -> BoxStream<'_, Result<Message>>;
}

/// What an owner publishes: the archives of `range` for one community.
#[derive(Clone)]
pub struct PublishRequest<'a> {
    /// The community.
    pub community: CommunityId,
    /// Its chat topics; recorded in every archive.
    pub topics: Vec<Topic>,
    /// The range to archive, `[from, to)`; normally from the last archive end.
    pub range: TimeRange,
    /// Partition length in seconds (7 days by default).
    pub interval: u64,
    /// The link announced last time, if any; new archives extend it.
    pub previous: Option<Link>,
    /// The messages.
    pub messages: &'a dyn MessageSource,
}

impl fmt::Debug for PublishRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishRequest")
            .field("community", &self.community)
            .field("topics", &self.topics)
            .field("range", &self.range)
            .field("interval", &self.interval)
            .field("previous", &self.previous)
            .finish_non_exhaustive()
    }
}

/// A community's envelope as the options carry it: shared, since one
/// keyring serves every call for the community.
pub type SharedEnvelope = Arc<dyn Envelope>;

/// Per-call publishing options.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct PublishOptions {
    /// Seals every new archive and the index (an encrypted community);
    /// `None` publishes them plain. The backend hands the envelope to
    /// [`archive_index::DataWriter::with_envelope`] and seals its index with
    /// [`archive_index::seal_blob`], so padding and IDs cover sealed bytes.
    pub envelope: Option<SharedEnvelope>,
}

impl PublishOptions {
    /// Options sealing with `envelope` (none: plain).
    pub fn with_envelope(envelope: Option<SharedEnvelope>) -> PublishOptions {
        PublishOptions { envelope }
    }
}

/// One archive a publish created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedArchive {
    /// Its ID.
    pub id: ArchiveId,
    /// Its partition.
    pub range: TimeRange,
    /// Messages it holds.
    pub message_count: usize,
}

/// What a publish did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishOutcome {
    /// The link to announce: new when archives were added, else the previous
    /// link (if any).
    pub link: Option<Link>,
    /// Archives created by this call, oldest first.
    pub archives: Vec<PublishedArchive>,
    /// Messages too large for any archive.
    pub dropped: Vec<DroppedMessage>,
}

impl PublishOutcome {
    /// The outcome of a torrent-style run: `link` and the archives `report`
    /// lists.
    pub fn from_report(link: Option<Link>, report: archive_index::WriteReport) -> PublishOutcome {
        PublishOutcome {
            link,
            archives: report
                .archives
                .iter()
                .map(|a| PublishedArchive {
                    id: a.id,
                    range: a.entry.metadata.range,
                    message_count: a.message_count,
                })
                .collect(),
            dropped: report.dropped,
        }
    }
}

/// An index as a member sees it: which archives exist behind a link.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteIndex {
    /// Every archive, with its metadata.
    pub archives: Vec<(ArchiveId, ArchiveMetadata)>,
}

impl RemoteIndex {
    /// The index of `archives`, whatever shape the backend keeps them in.
    pub fn from_metadata<'a>(
        archives: impl IntoIterator<Item = (&'a ArchiveId, &'a ArchiveMetadata)>,
    ) -> RemoteIndex {
        RemoteIndex {
            archives: archives
                .into_iter()
                .map(|(id, metadata)| (*id, metadata.clone()))
                .collect(),
        }
    }

    /// The archives not in `downloaded`, oldest `from` first: a set difference,
    /// never a count.
    pub fn missing(&self, downloaded: &HashSet<ArchiveId>) -> Vec<ArchiveId> {
        archive_index::missing(self.archives.iter().map(|(id, m)| (*id, m)), downloaded)
    }

    /// The archives `policy` selects at `now` (Unix seconds) that are not in
    /// `downloaded`, oldest `from` first: the same set difference, over the
    /// selection, so a later, wider policy fetches only what is still missing.
    pub fn missing_selected(
        &self,
        downloaded: &HashSet<ArchiveId>,
        policy: &DownloadPolicy,
        now: u64,
    ) -> Vec<ArchiveId> {
        archive_index::missing_selected(
            self.archives.iter().map(|(id, m)| (*id, m)),
            downloaded,
            policy,
            now,
        )
    }

    /// The metadata of `id`.
    pub fn get(&self, id: &ArchiveId) -> Option<&ArchiveMetadata> {
        self.archives.iter().find(|(a, _)| a == id).map(|(_, m)| m)
    }
}

impl From<&TorrentIndex> for RemoteIndex {
    fn from(index: &TorrentIndex) -> RemoteIndex {
        RemoteIndex::from_metadata(index.iter().map(|(id, e)| (id, &e.metadata)))
    }
}

impl From<&CodexIndex> for RemoteIndex {
    fn from(index: &CodexIndex) -> RemoteIndex {
        RemoteIndex::from_metadata(index.iter().map(|(id, e)| (id, &e.metadata)))
    }
}

/// Per-call resolving options.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ResolveOptions {
    /// How long to wait for the index before failing with
    /// [`Timeout`](crate::ErrorKind::Timeout); the backend's default when `None`
    /// (status-go waits 20 s for torrent metadata).
    pub timeout: Option<std::time::Duration>,
    /// Opens a sealed index (an encrypted community's); `None` reads it plain.
    /// A key it lacks fails the call with
    /// [`KeyMissing`](crate::ErrorKind::KeyMissing).
    pub envelope: Option<SharedEnvelope>,
}

impl ResolveOptions {
    /// Options with a timeout.
    pub fn with_timeout(timeout: std::time::Duration) -> ResolveOptions {
        ResolveOptions {
            timeout: Some(timeout),
            envelope: None,
        }
    }

    /// The same options, opening the index with `envelope`.
    pub fn with_envelope(mut self, envelope: Option<SharedEnvelope>) -> ResolveOptions {
        self.envelope = envelope;
        self
    }
}

/// In which order to fetch archives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FetchOrder {
    /// Oldest `from` first (status-go's torrent order).
    #[default]
    OldestFirst,
    /// Newest `from` first (the Codex prototype's order).
    NewestFirst,
}

/// Per-call fetching (and [`Backend::read_archive`]) options.
#[derive(Clone, Debug, Default)]
pub struct FetchOptions {
    /// The order archives are fetched and reported in.
    pub order: FetchOrder,
    /// Opens the index and each sealed archive (an encrypted community's);
    /// `None` reads them plain. An archive whose key it lacks is reported
    /// with [`FetchEvent::ArchiveLocked`] and kept.
    pub envelope: Option<SharedEnvelope>,
}

/// Progress of a fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchEvent {
    /// An archive is complete and verified, handed over decoded so that the
    /// caller imports it without reading it back: each fetched archive crosses
    /// the backend boundary once.
    ArchiveFetched {
        /// The archive.
        id: ArchiveId,
        /// Its partition.
        range: TimeRange,
        /// Its messages, as verified.
        archive: Archive,
    },
    /// An archive is complete and verified as far as the network proves
    /// (piece hashes, tree root), but sealed with a key the fetch's envelope
    /// does not hold. Its bytes are kept where [`Backend::read_archive`]
    /// finds them, which opens it once the envelope has the key; the fetch
    /// goes on with the other archives and counts this one as fetched.
    ArchiveLocked {
        /// The archive.
        id: ArchiveId,
        /// Its partition, from the index.
        range: TimeRange,
        /// The missing key's ID (hex), as the sealed archive names it.
        key_id: String,
    },
}

impl FetchEvent {
    /// The event for archive `id` as the backend read it: handed over when
    /// it opened, [`FetchEvent::ArchiveLocked`] when only its key is missing
    /// (the backend keeps the bytes), and any other error as it is.
    pub fn from_read(id: ArchiveId, range: TimeRange, read: Result<Archive>) -> Result<FetchEvent> {
        match read {
            Ok(archive) => Ok(FetchEvent::ArchiveFetched { id, range, archive }),
            Err(e) if e.kind() == ErrorKind::KeyMissing => Ok(FetchEvent::ArchiveLocked {
                id,
                range,
                key_id: e.missing_key().unwrap_or_default().to_owned(),
            }),
            Err(e) => Err(e),
        }
    }

    /// Hands this event to the caller, waiting for room in its channel (which
    /// is what bounds a fetch's memory) unless `cancel` fires first: then the
    /// fetch is over and the error says so. A caller that stopped listening
    /// does not stop the fetch: what it fetched stays fetched.
    pub async fn hand_over(
        self,
        events: &mpsc::Sender<FetchEvent>,
        cancel: &CancellationToken,
        backend: &'static str,
    ) -> Result<()> {
        tokio::select! {
            biased;
            () = cancel.cancelled() => {
                Err(Error::new(ErrorKind::Cancelled, backend, "fetch cancelled"))
            }
            _ = events.send(self) => Ok(()),
        }
    }
}

/// What a fetch did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchOutcome {
    /// Archives completed, in the order they completed.
    pub fetched: Vec<ArchiveId>,
    /// Bytes that travelled over the network for this fetch.
    pub bytes_fetched: u64,
}

/// What a backend can do beyond the required calls.
///
/// Built with [`Capabilities::default`] (nothing) and the `with_` methods, so
/// a backend outside this crate can say what it does and a new capability is
/// no breaking change. The conformance kit holds a backend to what it claims
/// (a backend with `partial_fetch` must move fewer bytes for one archive
/// than for all), and a member stays a seeder after a download only where
/// the backend has `member_seeding`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Fetching some archives moves only their bytes.
    pub partial_fetch: bool,
    /// Members serve what they fetched to others.
    pub member_seeding: bool,
}

impl Capabilities {
    /// The same, saying whether fetching some archives moves only their bytes.
    pub const fn with_partial_fetch(mut self, partial_fetch: bool) -> Capabilities {
        self.partial_fetch = partial_fetch;
        self
    }

    /// The same, saying whether members serve what they fetched.
    pub const fn with_member_seeding(mut self, member_seeding: bool) -> Capabilities {
        self.member_seeding = member_seeding;
        self
    }
}

/// A storage network that publishes and fetches history archives.
///
/// # Behavior
///
/// - `publish` with no message in range creates nothing and returns the
///   previous link. Otherwise the returned link covers every archive of the
///   previous link plus the new ones and is seeded. The previous link is the
///   caller's to unseed (archive-scheduler unseeds it once the new link is
///   recorded), so a caller that crashes in between can publish again from
///   it; a backend stops serving it itself only where that destroys nothing
///   (BitTorrent's new torrent replaces the old one, whose files stay).
///   Publishing the same messages on a fresh node yields the same
///   archive IDs.
/// - `resolve` reads the index behind a link through the network.
/// - `fetch` fetches exactly the archives asked for (already present ones
///   complete at once, without network bytes) in the order asked for, and
///   hands each over with [`FetchEvent::ArchiveFetched`], decoded, only once
///   it is complete and verified ([`FetchEvent::hand_over`] waits for room in
///   the caller's channel, so a fetch holds at most the channel's capacity of
///   archives in memory). It stops promptly when `cancel` fires, also while
///   waiting for that room or for the network, returning an error of kind
///   [`Cancelled`](crate::ErrorKind::Cancelled); nothing partial is ever
///   handed over. An ID not in the index fails the fetch before anything
///   moves. [`FetchOutcome::bytes_fetched`] counts only bytes that crossed
///   the network for this call.
/// - *Verified* means: the bytes are the ones the owner published, as far as
///   the network can prove it (piece hashes for BitTorrent, the tree root of
///   the dataset for Codex), and they decode, within
///   [`archive_index::DecodeLimits`], into an archive whose metadata is the
///   index entry's. A backend whose network has no content hashes (a shared
///   folder, the in-memory backend) can promise only the second half: it
///   hands over nothing that does not decode or does not match its entry,
///   and says so in its docs.
/// - `read_archive` reads an archive fetched (or published) earlier, for the
///   caller that fetched it but did not import it before a crash; stored
///   bytes that no longer verify are an error, never an archive.
/// - `seed` makes this node serve the link; `unseed` stops it, after which the
///   link is no longer available from this node.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + fmt::Debug {
    /// A short name for logs and errors: "torrent", "codex".
    fn name(&self) -> &'static str;

    /// The kind of link this backend announces and resolves.
    fn link_kind(&self) -> LinkKind;

    /// What it can do.
    fn capabilities(&self) -> Capabilities;

    /// Archives `request.range` and returns the link to announce.
    async fn publish(
        &self,
        request: PublishRequest<'_>,
        options: &PublishOptions,
    ) -> Result<PublishOutcome>;

    /// Reads the index behind `link`.
    async fn resolve(
        &self,
        community: &CommunityId,
        link: &Link,
        options: &ResolveOptions,
    ) -> Result<RemoteIndex>;

    /// Fetches `archives` of the index behind `link`.
    async fn fetch(
        &self,
        community: &CommunityId,
        link: &Link,
        archives: &[ArchiveId],
        options: &FetchOptions,
        events: mpsc::Sender<FetchEvent>,
        cancel: CancellationToken,
    ) -> Result<FetchOutcome>;

    /// Reads an archive fetched (or published) earlier: the way back to an
    /// archive a crash kept from being imported, or that waited for its key
    /// (`options.envelope` opens it; the order is unused).
    async fn read_archive(
        &self,
        community: &CommunityId,
        link: &Link,
        id: &ArchiveId,
        options: &FetchOptions,
    ) -> Result<archive_index::Archive>;

    /// Serves `link` from this node.
    async fn seed(&self, community: &CommunityId, link: &Link) -> Result<()>;

    /// Stops serving `link` from this node.
    async fn unseed(&self, community: &CommunityId, link: &Link) -> Result<()>;
}

/// A shared backend, as the node holds them.
pub type DynBackend = Arc<dyn Backend>;
