//! `fetch_into_store` over in-memory backends and a real store: each archive
//! handed over is imported once without being read back, leftovers of a
//! crash are read back, and a second pass has nothing to do.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use archive_backend::{
    Backend, Capabilities, DynBackend, FetchEvent, FetchOptions, FetchOutcome, Link, LinkKind,
    MessageList, PublishOptions, PublishOutcome, PublishRequest, RemoteIndex, ResolveOptions,
    Result,
    memory::{MemoryBackend, MemoryNetwork},
};
use archive_index::{Archive, ArchiveId, CommunityId, Message, TimeRange, Topic};
use archive_store::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{FetchIntoStore, Step, fetch_into_store};

const WEEK: u64 = 604_800;
const TOPIC: Topic = Topic([9, 9, 9, 9]);
const COMMUNITY: CommunityId = CommunityId([2; 33]);

/// A backend that counts `read_archive` calls.
#[derive(Debug)]
struct Counting {
    inner: DynBackend,
    reads: AtomicUsize,
}

#[async_trait::async_trait]
impl Backend for Counting {
    fn name(&self) -> &'static str {
        "counting"
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
    ) -> Result<PublishOutcome> {
        self.inner.publish(request, options).await
    }

    async fn resolve(
        &self,
        community: &CommunityId,
        link: &Link,
        options: &ResolveOptions,
    ) -> Result<RemoteIndex> {
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
    ) -> Result<FetchOutcome> {
        self.inner
            .fetch(community, link, archives, options, events, cancel)
            .await
    }

    async fn read_archive(
        &self,
        community: &CommunityId,
        link: &Link,
        id: &ArchiveId,
    ) -> Result<Archive> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inner.read_archive(community, link, id).await
    }

    async fn seed(&self, community: &CommunityId, link: &Link) -> Result<()> {
        self.inner.seed(community, link).await
    }

    async fn unseed(&self, community: &CommunityId, link: &Link) -> Result<()> {
        self.inner.unseed(community, link).await
    }
}

/// An owner that published `weeks` weeks of 3 messages, and a member.
async fn published(weeks: u64) -> (Link, Arc<Counting>) {
    let network = MemoryNetwork::new();
    let owner = MemoryBackend::new(&network);
    let messages: Vec<_> = (0..weeks * 3)
        .map(|i| Message {
            sig: vec![1; 65],
            timestamp: (i / 3) * WEEK + 60 * (i % 3 + 1),
            topic: TOPIC,
            payload: format!("message {i}").into_bytes(),
            padding: Vec::new(),
            hash: archive_index::keccak256(&i.to_be_bytes()).to_vec(),
            third_party_id: String::new(),
        })
        .collect();
    let source = MessageList::new(messages);
    let request = PublishRequest {
        community: COMMUNITY,
        topics: vec![TOPIC],
        range: TimeRange {
            from: 0,
            to: weeks * WEEK,
        },
        interval: WEEK,
        previous: None,
        messages: &source,
    };
    let link = owner
        .publish(request, &PublishOptions::default())
        .await
        .unwrap()
        .link
        .unwrap();
    let member = Arc::new(Counting {
        inner: Arc::new(MemoryBackend::new(&network)),
        reads: AtomicUsize::new(0),
    });
    (link, member)
}

/// Runs `fetch_into_store` and returns it with the steps' kinds.
async fn run(store: &Store, member: &Counting, link: &Link) -> (super::Fetched, Vec<&'static str>) {
    let steps = std::sync::Mutex::new(Vec::new());
    let on_step = |step: Step<'_>| {
        steps.lock().unwrap().push(match step {
            Step::Resolved { .. } => "resolved",
            Step::Fetched { .. } => "fetched",
            Step::Importing { .. } => "importing",
            Step::Imported { .. } => "imported",
            Step::Failed { .. } => "failed",
        });
    };
    let done = fetch_into_store(
        store,
        member,
        COMMUNITY,
        link,
        &FetchIntoStore::default(),
        &CancellationToken::new(),
        &on_step,
    )
    .await
    .unwrap();
    (done, steps.into_inner().unwrap())
}

#[tokio::test]
async fn each_handed_over_archive_is_imported_once_without_reading_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("member.db")).await.unwrap();
    let (link, member) = published(3).await;

    let (done, steps) = run(&store, &member, &link).await;
    assert_eq!(done.outcome.as_ref().unwrap().fetched.len(), 3);
    assert_eq!((done.recorded, done.imported, done.failed), (3, 3, 0));
    assert_eq!(member.reads.load(Ordering::Relaxed), 0, "nothing read back");
    let imported_steps = steps.iter().filter(|s| **s == "imported").count();
    assert_eq!(imported_steps, 3);
    assert_eq!(
        store.downloaded_archive_ids(COMMUNITY).await.unwrap().len(),
        3
    );
    assert!(
        store
            .archives_to_import(COMMUNITY)
            .await
            .unwrap()
            .is_empty(),
        "every archive is marked imported by its import"
    );

    let (again, steps) = run(&store, &member, &link).await;
    assert_eq!((again.missing, again.imported), (0, 0));
    assert_eq!(steps, ["resolved"]);
}

#[tokio::test]
async fn an_archive_downloaded_but_not_imported_is_read_back_and_imported() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("member.db")).await.unwrap();
    let (link, member) = published(2).await;
    // A run that crashed after the fetch handed the oldest archive over and
    // it was recorded, before its import.
    let index = member
        .resolve(&COMMUNITY, &link, &ResolveOptions::default())
        .await
        .unwrap();
    let oldest = index.missing(&HashSet::new())[0];
    let (tx, _rx) = mpsc::channel(4);
    member
        .fetch(
            &COMMUNITY,
            &link,
            &[oldest],
            &FetchOptions::default(),
            tx,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    let range = index.get(&oldest).unwrap().range;
    store
        .record_downloaded(COMMUNITY, oldest, range)
        .await
        .unwrap();

    let (done, _) = run(&store, &member, &link).await;
    assert_eq!(done.missing, 1, "the recorded archive is not fetched again");
    assert_eq!((done.recorded, done.imported, done.failed), (1, 2, 0));
    assert_eq!(member.reads.load(Ordering::Relaxed), 1, "the leftover only");
    assert!(
        store
            .archives_to_import(COMMUNITY)
            .await
            .unwrap()
            .is_empty()
    );
}
