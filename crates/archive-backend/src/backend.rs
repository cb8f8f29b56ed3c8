//! The trait a storage backend implements, and the types it exchanges.

use std::{collections::HashSet, fmt, sync::Arc};

use archive_index::{
    ArchiveId, ArchiveMetadata, CommunityId, DroppedMessage, Message, TimeRange, Topic,
};
use futures::stream::BoxStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    error::Result,
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

/// Per-call publishing options; empty today so new knobs are not breaking.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct PublishOptions {}

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
    /// The archives not in `downloaded`, oldest `from` first: a set difference,
    /// never a count.
    pub fn missing(&self, downloaded: &HashSet<ArchiveId>) -> Vec<ArchiveId> {
        let mut missing: Vec<_> = self
            .archives
            .iter()
            .filter(|(id, _)| !downloaded.contains(id))
            .map(|(id, m)| (m.range, *id))
            .collect();
        missing.sort();
        missing.into_iter().map(|(_, id)| id).collect()
    }

    /// The metadata of `id`.
    pub fn get(&self, id: &ArchiveId) -> Option<&ArchiveMetadata> {
        self.archives.iter().find(|(a, _)| a == id).map(|(_, m)| m)
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
}

impl ResolveOptions {
    /// Options with a timeout.
    pub fn with_timeout(timeout: std::time::Duration) -> ResolveOptions {
        ResolveOptions {
            timeout: Some(timeout),
        }
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

/// Per-call fetching options.
#[derive(Clone, Debug, Default)]
pub struct FetchOptions {
    /// The order archives are fetched and reported in.
    pub order: FetchOrder,
}

/// Progress of a fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchEvent {
    /// An archive is complete, verified and readable with
    /// [`Backend::read_archive`].
    ArchiveFetched {
        /// The archive.
        id: ArchiveId,
        /// Its partition.
        range: TimeRange,
    },
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Fetching some archives moves only their bytes.
    pub partial_fetch: bool,
    /// Members serve what they fetched to others.
    pub member_seeding: bool,
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
///   complete at once), reports each with [`FetchEvent::ArchiveFetched`] only
///   once it is complete and verified, and stops promptly when `cancel` fires,
///   returning an error of kind [`Cancelled`](crate::ErrorKind::Cancelled);
///   nothing partial is ever reported done.
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

    /// Reads a fetched (or published) archive for import.
    async fn read_archive(
        &self,
        community: &CommunityId,
        link: &Link,
        id: &ArchiveId,
    ) -> Result<archive_index::Archive>;

    /// Serves `link` from this node.
    async fn seed(&self, community: &CommunityId, link: &Link) -> Result<()>;

    /// Stops serving `link` from this node.
    async fn unseed(&self, community: &CommunityId, link: &Link) -> Result<()>;
}

/// A shared backend, as the node holds them.
pub type DynBackend = Arc<dyn Backend>;
