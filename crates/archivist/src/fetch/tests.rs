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
use archive_index::{Archive, ArchiveId, CommunityId, DownloadPolicy, Message, TimeRange, Topic};
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
        options: &archive_backend::FetchOptions,
    ) -> Result<Archive> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inner.read_archive(community, link, id, options).await
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
    run_with(store, member, link, FetchIntoStore::default()).await
}

/// [`run`] with `options`.
async fn run_with(
    store: &Store,
    member: &Counting,
    link: &Link,
    options: FetchIntoStore,
) -> (super::Fetched, Vec<&'static str>) {
    let steps = std::sync::Mutex::new(Vec::new());
    let on_step = |step: Step<'_>| {
        steps.lock().unwrap().push(match step {
            Step::Resolved { .. } => "resolved",
            Step::Fetched { .. } => "fetched",
            Step::Importing { .. } => "importing",
            Step::Imported { .. } => "imported",
            Step::Locked { .. } => "locked",
            Step::Failed { .. } => "failed",
        });
    };
    let done = fetch_into_store(
        store,
        member,
        COMMUNITY,
        link,
        &options,
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

/// The spans of time whose archives `store` has imported for the community.
async fn imported_spans(store: &Store) -> Vec<TimeRange> {
    let mut ranges = Vec::new();
    for id in store.downloaded_archive_ids(COMMUNITY).await.unwrap() {
        let archive = store
            .downloaded_archive(COMMUNITY, id)
            .await
            .unwrap()
            .unwrap();
        if archive.imported {
            ranges.push(archive.range);
        }
    }
    archive_index::coalesce(ranges)
}

/// Fetches under `policy`; what was done and the ranges `Resolved` named.
async fn run_policy(
    store: &Store,
    member: &Arc<Counting>,
    link: &Link,
    policy: DownloadPolicy,
) -> (super::Fetched, Vec<TimeRange>) {
    let announced = std::sync::Mutex::new(Vec::new());
    let on_step = |step: Step<'_>| {
        if let Step::Resolved { ranges, .. } = step {
            announced.lock().unwrap().extend_from_slice(ranges);
        }
    };
    let done = fetch_into_store(
        store,
        member.as_ref(),
        COMMUNITY,
        link,
        &FetchIntoStore::default().with_policy(policy),
        &CancellationToken::new(),
        &on_step,
    )
    .await
    .unwrap();
    (done, announced.into_inner().unwrap())
}

#[tokio::test]
async fn latest_then_a_window_then_all_imports_each_archive_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("member.db")).await.unwrap();
    let (link, member) = published(4).await;
    let week = |w: u64| TimeRange {
        from: w * WEEK,
        to: (w + 1) * WEEK,
    };

    let (latest, ranges) = run_policy(&store, &member, &link, DownloadPolicy::Latest).await;
    assert_eq!(
        (latest.missing, latest.unselected, latest.imported),
        (1, 3, 1)
    );
    assert_eq!(ranges, [week(3)]);
    assert_eq!(imported_spans(&store).await, [week(3)]);

    let window = DownloadPolicy::Window(TimeRange {
        from: WEEK + 1,
        to: WEEK + 2,
    });
    let (one, ranges) = run_policy(&store, &member, &link, window).await;
    assert_eq!((one.missing, one.unselected, one.imported), (1, 2, 1));
    assert_eq!(ranges, [week(1)]);
    assert_eq!(imported_spans(&store).await, [week(1), week(3)]);

    let (all, ranges) = run_policy(&store, &member, &link, DownloadPolicy::All).await;
    assert_eq!((all.missing, all.unselected, all.imported), (2, 0, 2));
    assert_eq!(ranges, [week(0), week(2)]);
    assert_eq!(
        imported_spans(&store).await,
        [TimeRange {
            from: 0,
            to: 4 * WEEK
        }]
    );
    // Every archive was handed over once: four records, nothing read back.
    let handed = latest.recorded + one.recorded + all.recorded;
    assert_eq!(handed, 4);
    assert_eq!(member.reads.load(Ordering::Relaxed), 0);
    let (again, _) = run_policy(&store, &member, &link, DownloadPolicy::All).await;
    assert_eq!((again.missing, again.recorded), (0, 0));
}

mod encrypted {
    //! An encrypted community through `fetch_into_store`: sealed archives
    //! whose key the member lacks are downloaded, kept and imported once the
    //! key arrives; an index sealed with a missing key fails with
    //! `KeyMissing`, never as corrupt.

    use archive_backend::ErrorKind;
    use archive_crypto::{CommunityEnvelope, GroupId, GroupKey, HrKey, InstallationId, Keyring};

    use super::*;

    fn key(timestamp_ms: u64, byte: u8) -> HrKey {
        HrKey {
            group: GroupId::from(COMMUNITY),
            timestamp_ms,
            key: GroupKey([byte; 32]),
        }
    }

    fn envelope(keys: &[HrKey]) -> CommunityEnvelope {
        CommunityEnvelope::new(
            GroupId::from(COMMUNITY),
            keys.iter().cloned().collect::<Keyring>(),
            InstallationId::new("rust-installation-1").unwrap(),
        )
    }

    fn week(n: u64) -> Vec<Message> {
        (0..3)
            .map(|i| Message {
                sig: vec![1; 65],
                timestamp: n * WEEK + 60 * (i + 1),
                topic: TOPIC,
                payload: format!("week {n} message {i}").into_bytes(),
                padding: Vec::new(),
                hash: archive_index::keccak256(&(n * 10 + i).to_be_bytes()).to_vec(),
                third_party_id: String::new(),
            })
            .collect()
    }

    /// Week 0 sealed with key A; then a rekey to B, and week 1 (and the
    /// index naming both) sealed with B.
    async fn published_across_a_rekey() -> (Link, Arc<Counting>) {
        let network = MemoryNetwork::new();
        let owner = MemoryBackend::new(&network);
        let sealing = envelope(&[key(1_000, 0xa)]);
        let mut previous = None;
        for n in 0..2 {
            if n == 1 {
                sealing.add_keys([key(2_000, 0xb)]);
            }
            let source = MessageList::new(week(n));
            let request = PublishRequest {
                community: COMMUNITY,
                topics: vec![TOPIC],
                range: TimeRange {
                    from: n * WEEK,
                    to: (n + 1) * WEEK,
                },
                interval: WEEK,
                previous: previous.clone(),
                messages: &source,
            };
            let options = PublishOptions::with_envelope(Some(Arc::new(sealing.clone())));
            previous = owner.publish(request, &options).await.unwrap().link;
        }
        let member = Arc::new(Counting {
            inner: Arc::new(MemoryBackend::new(&network)),
            reads: AtomicUsize::new(0),
        });
        (previous.unwrap(), member)
    }

    #[tokio::test]
    async fn an_archive_waits_for_its_key_and_is_imported_when_it_arrives() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("member.db")).await.unwrap();
        let (link, member) = published_across_a_rekey().await;
        let opening = envelope(&[key(2_000, 0xb)]);
        let options = FetchIntoStore::default().with_envelope(Some(Arc::new(opening.clone())));

        let (done, steps) = run_with(&store, &member, &link, options.clone()).await;
        assert_eq!(
            (done.recorded, done.imported, done.locked),
            (2, 1, 1),
            "{steps:?}"
        );
        assert!(steps.contains(&"locked"));
        let waiting = store.archives_to_import(COMMUNITY).await.unwrap();
        assert_eq!(waiting.len(), 1, "the locked archive is kept as downloaded");

        // Without its key, another pass neither fetches nor fails it again.
        let (again, _) = run_with(&store, &member, &link, options.clone()).await;
        assert_eq!((again.missing, again.locked, again.failed), (0, 1, 0));

        opening.add_keys([key(1_000, 0xa)]);
        let (after, _) = run_with(&store, &member, &link, options).await;
        assert_eq!((after.imported, after.locked, after.failed), (1, 0, 0));
        assert!(
            store
                .archives_to_import(COMMUNITY)
                .await
                .unwrap()
                .is_empty()
        );
        let messages = store.with(|db| db.message_count()).await.unwrap();
        assert_eq!(messages, 6);
    }

    #[tokio::test]
    async fn an_index_sealed_with_a_missing_key_is_key_missing_not_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("member.db")).await.unwrap();
        let (link, member) = published_across_a_rekey().await;
        let options =
            FetchIntoStore::default().with_envelope(Some(Arc::new(envelope(&[key(1_000, 0xa)]))));
        let err = fetch_into_store(
            &store,
            member.as_ref(),
            COMMUNITY,
            &link,
            &options,
            &CancellationToken::new(),
            &|_| {},
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::KeyMissing, "{err}");
        assert_eq!(
            err.missing_key(),
            Some(key(2_000, 0xb).key_id().to_string().as_str())
        );
    }
}
