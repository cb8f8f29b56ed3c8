//! The conformance kit: the behaviour every [`Backend`](crate::Backend) must show, as async
//! checks a backend runs from its own tests.
//!
//! A backend's test implements [`Harness`] (how to make a fresh node that can
//! reach the other nodes of the same harness) and calls [`run`]. Each check
//! uses its own community, so one harness serves them all. Checks panic with a
//! message naming the broken rule, as test assertions do.

use std::{collections::HashSet, sync::Arc, time::Duration};

use archive_index::{ArchiveId, CommunityId, Message, TimeRange, Topic, keccak256};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    backend::{
        DynBackend, FetchEvent, FetchOptions, PublishOptions, PublishOutcome, PublishRequest,
        ResolveOptions,
    },
    error::ErrorKind,
    link::Link,
    message_list::MessageList,
};

/// Makes nodes of one backend that can reach each other.
#[async_trait::async_trait]
pub trait Harness: Send + Sync {
    /// A fresh node with empty local storage.
    async fn node(&self) -> DynBackend;

    /// How long a member may wait for an unseeded link before giving up.
    fn unavailable_timeout(&self) -> Duration {
        Duration::from_secs(3)
    }
}

/// Runs every check.
pub async fn run(harness: &dyn Harness) {
    publish_resolve_fetch_round_trip(harness).await;
    only_new_archives_are_missing(harness).await;
    missing_is_a_set_difference(harness).await;
    cancelled_fetch_marks_nothing_partial(harness).await;
    unseed_makes_the_link_unavailable(harness).await;
    same_messages_same_ids(harness).await;
    empty_range_publishes_nothing(harness).await;
    failed_source_leaves_nothing(harness).await;
}

const DAY: u64 = 86_400;
const WEEK: u64 = 7 * DAY;
/// 2020-01-01, status-go's `D(1)`.
const D1: u64 = 1_577_836_800;
const TOPIC: Topic = Topic([0xc0, 0xff, 0xee, 0x00]);

/// A community ID unique to `name`.
fn community(name: &str) -> CommunityId {
    let digest = keccak256(name.as_bytes());
    let mut id = [2u8; 33];
    id[1..].copy_from_slice(&digest);
    CommunityId(id)
}

/// `per_week` messages in each of `weeks` weeks from `D1 + first_week`.
fn messages(first_week: u64, weeks: u64, per_week: u64) -> Vec<Message> {
    (first_week..first_week + weeks)
        .flat_map(|w| (0..per_week).map(move |i| (w, i)))
        .map(|(w, i)| Message {
            sig: vec![7; 65],
            timestamp: D1 + w * WEEK + 3_600 * (i + 1),
            topic: TOPIC,
            payload: format!("week {w} message {i}").into_bytes(),
            padding: Vec::new(),
            hash: keccak256(format!("{w}/{i}").as_bytes()).to_vec(),
            third_party_id: String::new(),
        })
        .collect()
}

async fn publish(
    node: &DynBackend,
    community: CommunityId,
    source: &MessageList,
    weeks: std::ops::Range<u64>,
    previous: Option<Link>,
) -> PublishOutcome {
    let request = PublishRequest {
        community,
        topics: vec![TOPIC],
        range: TimeRange {
            from: D1 + weeks.start * WEEK,
            to: D1 + weeks.end * WEEK,
        },
        interval: WEEK,
        previous,
        messages: source,
    };
    node.publish(request, &PublishOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{}: publish failed: {e}", node.name()))
}

/// Fetches `ids` and returns the IDs reported done.
async fn fetch(
    member: &DynBackend,
    community: &CommunityId,
    link: &Link,
    ids: &[ArchiveId],
) -> Vec<ArchiveId> {
    let (tx, mut rx) = mpsc::channel(64);
    let outcome = member
        .fetch(
            community,
            link,
            ids,
            &FetchOptions::default(),
            tx,
            CancellationToken::new(),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: fetch failed: {e}", member.name()));
    let mut reported = Vec::new();
    while let Ok(FetchEvent::ArchiveFetched { id, .. }) = rx.try_recv() {
        reported.push(id);
    }
    let wanted: HashSet<_> = ids.iter().copied().collect();
    assert_eq!(
        outcome.fetched.iter().copied().collect::<HashSet<_>>(),
        wanted,
        "{}: fetch must complete exactly the archives asked for",
        member.name()
    );
    assert_eq!(
        reported.iter().copied().collect::<HashSet<_>>(),
        wanted,
        "one event per archive"
    );
    reported
}

/// Publish one archive → resolve → fetch → the member reads identical
/// messages.
pub async fn publish_resolve_fetch_round_trip(harness: &dyn Harness) {
    let (owner, member) = (harness.node().await, harness.node().await);
    let community = community("round-trip");
    let source = MessageList::new(messages(0, 1, 5));
    let published = publish(&owner, community, &source, 0..1, None).await;
    assert_eq!(published.archives.len(), 1, "one week, one archive");
    let link = published
        .link
        .expect("a publish with archives returns a link");
    let index = member
        .resolve(&community, &link, &ResolveOptions::default())
        .await
        .expect("the member resolves the owner's link");
    let missing = index.missing(&HashSet::new());
    assert_eq!(missing, vec![published.archives[0].id]);
    fetch(&member, &community, &link, &missing).await;
    let theirs = member
        .read_archive(&community, &link, &missing[0])
        .await
        .expect("fetched archive reads");
    let ours = owner
        .read_archive(&community, &link, &missing[0])
        .await
        .expect("published archive reads");
    assert_eq!(theirs, ours, "the member reads what the owner wrote");
    assert_eq!(theirs.messages.len(), 5);
}

/// After two more weeks are published, only the two new archives are
/// missing for a member that fetched the first.
pub async fn only_new_archives_are_missing(harness: &dyn Harness) {
    let (owner, member) = (harness.node().await, harness.node().await);
    let community = community("incremental");
    let mut source = MessageList::new(messages(0, 1, 3));
    let first = publish(&owner, community, &source, 0..1, None).await;
    let link = first.link.clone().unwrap();
    let index = member
        .resolve(&community, &link, &ResolveOptions::default())
        .await
        .unwrap();
    let have: Vec<_> = index.missing(&HashSet::new());
    fetch(&member, &community, &link, &have).await;

    source.extend(messages(1, 2, 3));
    let second = publish(&owner, community, &source, 1..3, Some(link)).await;
    assert_eq!(second.archives.len(), 2);
    let new_link = second.link.unwrap();
    let index = member
        .resolve(&community, &new_link, &ResolveOptions::default())
        .await
        .unwrap();
    assert_eq!(
        index.archives.len(),
        3,
        "the new link covers old and new archives"
    );
    let missing = index.missing(&have.iter().copied().collect());
    let new_ids: Vec<_> = second.archives.iter().map(|a| a.id).collect();
    assert_eq!(
        missing, new_ids,
        "exactly the new archives are missing, oldest first"
    );
    fetch(&member, &community, &new_link, &missing).await;
    for id in &missing {
        member
            .read_archive(&community, &new_link, id)
            .await
            .expect("new archive reads");
    }
}

/// Missing is a set difference: as many known IDs as the index has, but
/// different ones, still leaves the unknown archives missing (spec h.6).
pub async fn missing_is_a_set_difference(harness: &dyn Harness) {
    let (owner, member) = (harness.node().await, harness.node().await);
    let community = community("set-difference");
    let source = MessageList::new(messages(0, 2, 2));
    let published = publish(&owner, community, &source, 0..2, None).await;
    let link = published.link.unwrap();
    let index = member
        .resolve(&community, &link, &ResolveOptions::default())
        .await
        .unwrap();
    let strangers: HashSet<_> = [ArchiveId([1; 32]), ArchiveId([2; 32])].into();
    assert_eq!(strangers.len(), index.archives.len());
    let missing = index.missing(&strangers);
    assert_eq!(missing.len(), 2, "unknown IDs do not count as downloaded");
    fetch(&member, &community, &link, &missing).await;
}

/// A cancelled fetch reports only archives that are complete and readable,
/// and a later fetch completes the rest.
pub async fn cancelled_fetch_marks_nothing_partial(harness: &dyn Harness) {
    let (owner, member) = (harness.node().await, harness.node().await);
    let community = community("cancel");
    let source = MessageList::new(messages(0, 4, 2));
    let link = publish(&owner, community, &source, 0..4, None)
        .await
        .link
        .unwrap();
    let index = member
        .resolve(&community, &link, &ResolveOptions::default())
        .await
        .unwrap();
    let missing = index.missing(&HashSet::new());

    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    cancel.cancel();
    let result = member
        .fetch(
            &community,
            &link,
            &missing,
            &FetchOptions::default(),
            tx,
            cancel,
        )
        .await;
    let mut reported = Vec::new();
    while let Ok(FetchEvent::ArchiveFetched { id, .. }) = rx.try_recv() {
        reported.push(id);
    }
    match result {
        Err(e) => assert_eq!(
            e.kind(),
            ErrorKind::Cancelled,
            "a cancelled fetch fails as Cancelled: {e}"
        ),
        Ok(outcome) => assert_eq!(outcome.fetched, reported),
    }
    for id in &reported {
        member
            .read_archive(&community, &link, id)
            .await
            .expect("every archive reported done is complete");
    }
    for id in missing.iter().filter(|id| !reported.contains(id)) {
        assert!(
            member.read_archive(&community, &link, id).await.is_err(),
            "an archive not reported done is not readable"
        );
    }
    fetch(&member, &community, &link, &missing).await;
}

/// After the only seeder unseeds, the link cannot be resolved from it.
pub async fn unseed_makes_the_link_unavailable(harness: &dyn Harness) {
    let (owner, member) = (harness.node().await, harness.node().await);
    let community = community("unseed");
    let source = MessageList::new(messages(0, 1, 1));
    let link = publish(&owner, community, &source, 0..1, None)
        .await
        .link
        .unwrap();
    owner
        .unseed(&community, &link)
        .await
        .expect("unseed succeeds");
    let options = ResolveOptions::with_timeout(harness.unavailable_timeout());
    let err = member
        .resolve(&community, &link, &options)
        .await
        .expect_err("an unseeded link does not resolve");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::NotFound | ErrorKind::Timeout | ErrorKind::Unavailable
        ),
        "unexpected error kind for an unseeded link: {err}"
    );
    owner
        .seed(&community, &link)
        .await
        .expect("seeding again succeeds");
    member
        .resolve(&community, &link, &ResolveOptions::default())
        .await
        .expect("a re-seeded link resolves");
}

/// The same messages published on two fresh nodes give the same archive IDs.
pub async fn same_messages_same_ids(harness: &dyn Harness) {
    let (a, b) = (harness.node().await, harness.node().await);
    let community = community("determinism");
    let source = MessageList::new(messages(0, 3, 4));
    let first = publish(&a, community, &source, 0..3, None).await;
    let second = publish(&b, community, &source, 0..3, None).await;
    assert_eq!(first.archives, second.archives);
    assert_eq!(first.link, second.link, "same archives, same link");
}

/// A range without messages creates nothing and keeps the previous link.
pub async fn empty_range_publishes_nothing(harness: &dyn Harness) {
    let owner = harness.node().await;
    let community = community("empty");
    let source = MessageList::new(messages(0, 1, 1));
    let link = publish(&owner, community, &source, 0..1, None).await.link;
    let later = publish(&owner, community, &source, 5..6, link.clone()).await;
    assert!(later.archives.is_empty());
    assert_eq!(later.link, link);
}

/// A harness over [`crate::memory::MemoryBackend`]s on one network.
#[derive(Debug, Default)]
pub struct MemoryHarness {
    network: Arc<crate::memory::MemoryNetwork>,
}

#[async_trait::async_trait]
impl Harness for MemoryHarness {
    async fn node(&self) -> DynBackend {
        Arc::new(crate::memory::MemoryBackend::new(&self.network))
    }
}

/// A source that fails after `good` messages.
struct FailingSource {
    inner: MessageList,
    good: usize,
}

impl crate::backend::MessageSource for FailingSource {
    fn messages(
        &self,
        topics: &[Topic],
        range: TimeRange,
    ) -> futures::stream::BoxStream<'_, crate::error::Result<Message>> {
        use futures::StreamExt;
        let good = self.good;
        self.inner
            .messages(topics, range)
            .enumerate()
            .map(move |(i, m)| {
                if i < good {
                    m
                } else {
                    Err(crate::error::Error::new(
                        ErrorKind::Io,
                        "conformance",
                        "the message source failed",
                    ))
                }
            })
            .boxed()
    }
}

/// A message source that fails mid-publish leaves nothing behind: the publish
/// fails, and the next one produces exactly what a fresh node would.
pub async fn failed_source_leaves_nothing(harness: &dyn Harness) {
    let (owner, fresh) = (harness.node().await, harness.node().await);
    let community = community("failed-source");
    let source = MessageList::new(messages(0, 2, 6));
    let failing = FailingSource {
        inner: source.clone(),
        good: 3,
    };
    let request = PublishRequest {
        community,
        topics: vec![TOPIC],
        range: TimeRange {
            from: D1,
            to: D1 + 2 * WEEK,
        },
        interval: WEEK,
        previous: None,
        messages: &failing,
    };
    let err = owner
        .publish(request, &PublishOptions::default())
        .await
        .expect_err("a failing source fails the publish");
    assert_eq!(
        err.kind(),
        ErrorKind::Io,
        "the source's error comes back: {err}"
    );
    let retried = publish(&owner, community, &source, 0..2, None).await;
    let clean = publish(&fresh, community, &source, 0..2, None).await;
    assert_eq!(
        retried.archives, clean.archives,
        "the failed publish left nothing behind"
    );
}
