//! The test world: a real in-memory store and backend, a backend wrapper
//! that injects failures and delays, and readers for events and archives.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use archive_backend::{
    Backend, Capabilities, DynBackend, ErrorKind, FetchEvent, FetchOptions, FetchOutcome, Link,
    LinkKind, PublishOptions, PublishOutcome, PublishRequest, PublishedArchive, RemoteIndex,
    ResolveOptions,
    memory::{MemoryBackend, MemoryNetwork},
};
use archive_index::{Archive, ArchiveId, CommunityId, Message, TimeRange, Topic};
use archive_scheduler::{
    Announcer, CommunityArchive, Event, NotRecorded, RetryPolicy, Scheduler, StoreSource,
    TokioClock,
};
use archive_store::Store;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

pub(crate) const DAY: u64 = 86_400;
pub(crate) const WEEK: u64 = 7 * DAY;
/// 2023-11-14, a Tuesday: partitions must not depend on calendar weeks.
pub(crate) const T0: u64 = 1_700_000_000;

pub(crate) const COMMUNITY: CommunityId = CommunityId([7; 33]);
pub(crate) const TOPIC: Topic = Topic([0xca, 0xfe, 0xba, 0xbe]);
/// A topic of another community: its messages must never be archived here.
pub(crate) const OTHER_TOPIC: Topic = Topic([1, 2, 3, 4]);

/// A message at `timestamp` whose hash is unique for each `n`.
pub(crate) fn message(timestamp: u64, n: u64) -> Message {
    Message {
        sig: vec![0x51; 65],
        timestamp,
        topic: TOPIC,
        payload: format!("message {n} at {timestamp}").into_bytes(),
        padding: vec![],
        hash: n.to_be_bytes().to_vec(),
        third_party_id: String::new(),
    }
}

/// A [`MemoryBackend`] whose publishes can be made to fail or to take time,
/// and which counts them.
#[derive(Debug)]
pub(crate) struct Flaky {
    inner: MemoryBackend,
    failures: Mutex<VecDeque<ErrorKind>>,
    delay: Mutex<Duration>,
    attempts: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Flaky {
    pub(crate) fn new(network: &Arc<MemoryNetwork>) -> Flaky {
        Flaky {
            inner: MemoryBackend::new(network),
            failures: Mutex::default(),
            delay: Mutex::default(),
            attempts: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }

    /// The next publishes fail with these kinds, one each, in order.
    pub(crate) fn fail_next(&self, kinds: impl IntoIterator<Item = ErrorKind>) {
        self.failures.lock().unwrap().extend(kinds);
    }

    pub(crate) fn clear_failures(&self) {
        self.failures.lock().unwrap().clear();
    }

    /// Every publish answers `delay` of tokio time after it did its work.
    pub(crate) fn set_delay(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    /// Publish calls so far, failed ones included.
    pub(crate) fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }

    /// The most publishes ever in progress at once.
    pub(crate) fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Backend for Flaky {
    fn name(&self) -> &'static str {
        "flaky-memory"
    }

    fn link_kind(&self) -> LinkKind {
        self.inner.link_kind()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn publish(
        &self,
        request: PublishRequest<'_>,
        options: &PublishOptions,
    ) -> archive_backend::Result<PublishOutcome> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let failure = self.failures.lock().unwrap().pop_front();
        let result = match failure {
            Some(kind) => Err(archive_backend::Error::new(
                kind,
                "flaky-memory",
                format!("injected {kind:?}"),
            )),
            None => self.inner.publish(request, options).await,
        };
        // The delay comes after the work, as a slow answer from a storage
        // node does: a caller that gave up now would not know the archives
        // exist.
        let delay = *self.delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }

    async fn resolve(
        &self,
        community: &CommunityId,
        link: &Link,
        options: &ResolveOptions,
    ) -> archive_backend::Result<RemoteIndex> {
        self.inner.resolve(community, link, options).await
    }

    async fn fetch(
        &self,
        community: &CommunityId,
        link: &Link,
        archives: &[ArchiveId],
        options: &FetchOptions,
        events: mpsc::Sender<FetchEvent>,
        cancel: CancellationToken,
    ) -> archive_backend::Result<FetchOutcome> {
        self.inner
            .fetch(community, link, archives, options, events, cancel)
            .await
    }

    async fn read_archive(
        &self,
        community: &CommunityId,
        link: &Link,
        id: &ArchiveId,
        options: &archive_backend::FetchOptions,
    ) -> archive_backend::Result<Archive> {
        self.inner.read_archive(community, link, id, options).await
    }

    async fn seed(&self, community: &CommunityId, link: &Link) -> archive_backend::Result<()> {
        self.inner.seed(community, link).await
    }

    async fn unseed(&self, community: &CommunityId, link: &Link) -> archive_backend::Result<()> {
        self.inner.unseed(community, link).await
    }
}

/// The owner side the tests give a scheduler: it keeps every link handed
/// to it and counts the events it was shown.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    links: Mutex<Vec<Link>>,
    observed: AtomicUsize,
    /// The next announcements fail to record, one each.
    refusals: AtomicUsize,
}

impl Recorder {
    /// Every link recorded so far, in order.
    pub(crate) fn links(&self) -> Vec<Link> {
        self.links.lock().unwrap().clone()
    }

    /// Events shown so far.
    pub(crate) fn observed(&self) -> usize {
        self.observed.load(Ordering::SeqCst)
    }

    /// The next `n` links handed over are not recorded.
    pub(crate) fn refuse_next(&self, n: usize) {
        self.refusals.store(n, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl Announcer for Recorder {
    async fn announce(&self, _community: CommunityId, link: &Link) -> Result<(), NotRecorded> {
        let refuse = self
            .refusals
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refuse {
            return Err(NotRecorded);
        }
        self.links.lock().unwrap().push(link.clone());
        Ok(())
    }

    fn observe(&self, _event: &Event) {
        self.observed.fetch_add(1, Ordering::SeqCst);
    }
}

/// One owner node: its store, its backend, its clock and its announcer,
/// which survive scheduler restarts as a node's disk would.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) store: Store,
    pub(crate) backend: Arc<Flaky>,
    pub(crate) clock: Arc<TokioClock>,
    pub(crate) announcer: Arc<Recorder>,
}

impl Node {
    /// A node whose clock reads `now`.
    pub(crate) async fn new(now: u64) -> Node {
        Node {
            store: Store::open_in_memory().await.unwrap(),
            backend: Arc::new(Flaky::new(&MemoryNetwork::new())),
            clock: Arc::new(TokioClock::starting_at(now)),
            announcer: Arc::default(),
        }
    }

    /// Settings the tests share: weekly runs, retries after 1, 2, 4… minutes.
    pub(crate) fn config() -> archive_scheduler::Config {
        archive_scheduler::Config::default()
            .with_interval(Duration::from_secs(WEEK))
            .with_retry(RetryPolicy::new(
                4,
                Duration::from_secs(60),
                Duration::from_secs(3600),
            ))
            .with_event_capacity(4096)
    }

    pub(crate) fn scheduler(&self, config: archive_scheduler::Config) -> (Scheduler, Listener) {
        let backend: DynBackend = self.backend.clone();
        let scheduler = Scheduler::new(
            self.store.clone(),
            backend,
            self.clock.clone(),
            config,
            self.announcer.clone(),
        )
        .unwrap();
        let listener = Listener(scheduler.subscribe());
        (scheduler, listener)
    }

    pub(crate) fn now(&self) -> u64 {
        archive_scheduler::Clock::now(&*self.clock)
    }

    /// Stores one message per `n` at `timestamp`.
    pub(crate) async fn insert(&self, messages: Vec<Message>) {
        self.store.insert_messages(messages).await.unwrap();
    }

    pub(crate) async fn last_end(&self) -> Option<u64> {
        self.store
            .last_archive_end(COMMUNITY, &LinkKind::TORRENT)
            .await
            .unwrap()
    }

    /// Publishes `range` directly, as an earlier run would have, and records
    /// its end; returns the link.
    pub(crate) async fn publish_directly(&self, range: TimeRange) -> Link {
        let source = StoreSource::new(self.store.clone());
        let outcome = self
            .backend
            .publish(
                PublishRequest {
                    community: COMMUNITY,
                    topics: vec![TOPIC],
                    range,
                    interval: WEEK,
                    previous: None,
                    messages: &source,
                },
                &PublishOptions::default(),
            )
            .await
            .unwrap();
        self.store
            .set_last_archive_end(COMMUNITY, &LinkKind::TORRENT, range.to)
            .await
            .unwrap();
        outcome.link.expect("the range held messages")
    }

    /// The messages of each archive, read back and decoded from the backend.
    pub(crate) async fn read_archives(
        &self,
        link: &Link,
        archives: &[PublishedArchive],
    ) -> Vec<Archive> {
        let mut out = Vec::new();
        for a in archives {
            let archive = self
                .backend
                .read_archive(
                    &COMMUNITY,
                    link,
                    &a.id,
                    &archive_backend::FetchOptions::default(),
                )
                .await
                .unwrap();
            assert_eq!(archive.metadata.range, a.range);
            assert_eq!(archive.messages.len(), a.message_count);
            out.push(archive);
        }
        out
    }
}

/// The community as the tests schedule it.
pub(crate) fn community() -> CommunityArchive {
    CommunityArchive::new(COMMUNITY, vec![TOPIC])
}

/// Collects a scheduler's events.
#[derive(Debug)]
pub(crate) struct Listener(pub(crate) broadcast::Receiver<Event>);

impl Listener {
    /// Every event emitted since the last call.
    pub(crate) fn take(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            match self.0.try_recv() {
                Ok(e) => events.push(e),
                Err(
                    broadcast::error::TryRecvError::Empty | broadcast::error::TryRecvError::Closed,
                ) => {
                    return events;
                }
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    panic!("the test listener lagged by {n} events")
                }
            }
        }
    }
}

/// The archives of every `HistoryArchivesCreated` in `events`.
pub(crate) fn created(events: &[Event]) -> Vec<PublishedArchive> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::HistoryArchivesCreated { archives, .. } => Some(archives.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The last link announced in `events`.
pub(crate) fn last_link(events: &[Event]) -> Option<Link> {
    events.iter().rev().find_map(|e| match e {
        Event::HistoryArchivesSeeding { link, .. } => Some(link.clone()),
        _ => None,
    })
}

/// The ranges of the archives, in order.
pub(crate) fn ranges(archives: &[PublishedArchive]) -> Vec<(u64, u64)> {
    archives
        .iter()
        .map(|a| (a.range.from, a.range.to))
        .collect()
}

/// Lets paused time run for `secs` seconds; the scheduler's timers fire on
/// the way, in order.
pub(crate) async fn pass(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}
