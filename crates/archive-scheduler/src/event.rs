//! What the scheduler reports, named after status-go's archive signals
//! (spec e).

use archive_backend::{ErrorKind, Link, PublishedArchive};
use archive_index::{CommunityId, DroppedMessage, TimeRange};

/// Progress of a community's archive task.
///
/// The first five mirror status-go's `community.creatingHistoryArchives`,
/// `…historyArchivesCreated`, `…noHistoryArchivesCreated`,
/// `…historyArchivesSeeding` and `…historyArchivesUnseeded`; the rest report
/// failures status-go only logged. Times are Unix seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A run starts.
    CreatingHistoryArchives {
        /// The community.
        community: CommunityId,
    },
    /// A run published at least one archive over `[from, to)`.
    HistoryArchivesCreated {
        /// The community.
        community: CommunityId,
        /// The run's start: the previous archive end.
        from: u64,
        /// The run's end, now recorded as the last archive end.
        to: u64,
        /// The new archives, oldest first.
        archives: Vec<PublishedArchive>,
    },
    /// A run found nothing to archive over `[from, to)`.
    NoHistoryArchivesCreated {
        /// The community.
        community: CommunityId,
        /// The run's start.
        from: u64,
        /// The run's end.
        to: u64,
    },
    /// `link` is served: after a run created archives, or the previous link
    /// when a task starts. The same link goes to the
    /// [`Announcer`](crate::Announcer); a listener need not act on it.
    HistoryArchivesSeeding {
        /// The community.
        community: CommunityId,
        /// The link covering every archive of the community.
        link: Link,
    },
    /// The task stopped and its link is no longer served by this node.
    HistoryArchivesUnseeded {
        /// The community.
        community: CommunityId,
        /// The link that was dropped.
        link: Link,
    },
    /// A publish over `range` failed; nothing was recorded, so the range is
    /// archived again by the retry or the next run.
    PublishFailed {
        /// The community.
        community: CommunityId,
        /// The range the failed attempt covered.
        range: TimeRange,
        /// What the backend reported.
        error: String,
        /// Its kind.
        kind: ErrorKind,
        /// Which attempt failed, 1-based.
        attempt: u32,
        /// Whether the same range is tried again after a backoff; if not, the
        /// next tick starts over from the same recorded end.
        will_retry: bool,
    },
    /// Messages too large for any archive were left out of a run.
    MessagesDropped {
        /// The community.
        community: CommunityId,
        /// The messages left out.
        dropped: Vec<DroppedMessage>,
    },
    /// Seeding or unseeding `link` failed.
    SeedingFailed {
        /// The community.
        community: CommunityId,
        /// The link.
        link: Link,
        /// What the backend reported.
        error: String,
    },
    /// The store failed during a run; the run was skipped (when reading) or
    /// its end is kept in memory and written again next run (when writing).
    StoreFailed {
        /// The community.
        community: CommunityId,
        /// What the store reported.
        error: String,
    },
}

impl Event {
    /// The community the event is about.
    pub fn community(&self) -> &CommunityId {
        match self {
            Event::CreatingHistoryArchives { community }
            | Event::HistoryArchivesCreated { community, .. }
            | Event::NoHistoryArchivesCreated { community, .. }
            | Event::HistoryArchivesSeeding { community, .. }
            | Event::HistoryArchivesUnseeded { community, .. }
            | Event::PublishFailed { community, .. }
            | Event::MessagesDropped { community, .. }
            | Event::SeedingFailed { community, .. }
            | Event::StoreFailed { community, .. } => community,
        }
    }

    /// The event's signal name: status-go's for the five it has, ours
    /// (`archivist.…`) for the failures it only logged.
    pub fn signal_name(&self) -> &'static str {
        match self {
            Event::CreatingHistoryArchives { .. } => "community.creatingHistoryArchives",
            Event::HistoryArchivesCreated { .. } => "community.historyArchivesCreated",
            Event::NoHistoryArchivesCreated { .. } => "community.noHistoryArchivesCreated",
            Event::HistoryArchivesSeeding { .. } => "community.historyArchivesSeeding",
            Event::HistoryArchivesUnseeded { .. } => "community.historyArchivesUnseeded",
            Event::PublishFailed { .. } => "archivist.publishFailed",
            Event::MessagesDropped { .. } => "archivist.messagesDropped",
            Event::SeedingFailed { .. } => "archivist.seedingFailed",
            Event::StoreFailed { .. } => "archivist.storeFailed",
        }
    }
}

/// What one run asked for with [`Scheduler::archive_now`](crate::Scheduler::archive_now)
/// did. The same run also reports [`Event`]s.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunOutcome {
    /// New archives were published and `range`'s end recorded.
    Created {
        /// The range archived.
        range: TimeRange,
        /// The new archives, oldest first.
        archives: Vec<PublishedArchive>,
        /// The link now covering every archive of the community.
        link: Option<Link>,
    },
    /// There was nothing new to archive.
    Nothing,
    /// The run failed (after its retries); nothing was recorded, so the same
    /// range is archived by the next run.
    Failed {
        /// What failed.
        error: String,
    },
}
