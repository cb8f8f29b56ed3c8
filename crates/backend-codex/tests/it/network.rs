//! An owner on node A and a member on node B that reaches A as its peer.

use std::{collections::HashSet, time::Duration};

use archive_backend::{
    Backend, ErrorKind, FetchEvent, FetchOptions, FetchOrder, Link, PublishOptions, PublishRequest,
    ResolveOptions,
};
use backend_codex::Source;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{COMMUNITY, D1, Node, TOPIC, WEEK, messages, weeks};

async fn publish(owner: &dyn Backend, weeks_n: u64) -> (Link, Vec<archive_index::ArchiveId>) {
    let source = messages(weeks_n, 3);
    let request = PublishRequest {
        community: COMMUNITY,
        topics: vec![TOPIC],
        range: weeks(weeks_n),
        interval: WEEK,
        previous: None,
        messages: &source,
    };
    let out = owner
        .publish(request, &PublishOptions::default())
        .await
        .unwrap();
    (
        out.link.unwrap(),
        out.archives.iter().map(|a| a.id).collect(),
    )
}

fn fetch_options(order: FetchOrder) -> FetchOptions {
    FetchOptions {
        order,
        ..FetchOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_on_b_fetches_the_owners_archives_from_a() {
    let a = Node::start(|_| {}).await;
    let b = Node::start(|c| c.peers = vec![a.handle.url()]).await;
    let (owner, member) = (a.backend(), b.backend());
    let (link, ids) = publish(owner.as_ref(), 3).await;
    assert!(
        link.announced().starts_with("zDvZRwz"),
        "the link is a manifest CID"
    );

    let index = member
        .resolve(&COMMUNITY, &link, &ResolveOptions::default())
        .await
        .unwrap();
    assert_eq!(index.archives.len(), 3);
    let missing = index.missing(&HashSet::new());
    let (tx, mut rx) = mpsc::channel(8);
    let outcome = member
        .fetch(
            &COMMUNITY,
            &link,
            &missing,
            &fetch_options(FetchOrder::NewestFirst),
            tx,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(outcome.fetched, newest_first, "the Codex prototype's order");
    assert!(outcome.bytes_fetched > 0);
    let mut events = Vec::new();
    while let Ok(FetchEvent::ArchiveFetched { id, .. }) = rx.try_recv() {
        events.push(id);
    }
    assert_eq!(events, newest_first);
    for id in &ids {
        let theirs = member
            .read_archive(
                &COMMUNITY,
                &link,
                id,
                &archive_backend::FetchOptions::default(),
            )
            .await
            .unwrap();
        let ours = owner
            .read_archive(
                &COMMUNITY,
                &link,
                id,
                &archive_backend::FetchOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(theirs, ours);
    }
    // Fetching again moves nothing over the network.
    let (tx, _rx) = mpsc::channel(8);
    let again = member
        .fetch(
            &COMMUNITY,
            &link,
            &missing,
            &FetchOptions::default(),
            tx,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(again.bytes_fetched, 0);
    assert_eq!(again.fetched, ids, "oldest first by default");
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_serving_wrong_bytes_is_rejected_by_node_and_client() {
    let a = Node::start(|_| {}).await;
    let b = Node::start(|c| c.peers = vec![a.handle.url()]).await;
    let (owner, member) = (a.backend(), b.backend());
    let (link, ids) = publish(owner.as_ref(), 2).await;
    member
        .resolve(&COMMUNITY, &link, &ResolveOptions::default())
        .await
        .unwrap();

    a.handle.set_corrupt_data(true);
    let (tx, mut rx) = mpsc::channel(8);
    let err = member
        .fetch(
            &COMMUNITY,
            &link,
            &ids,
            &FetchOptions::default(),
            tx,
            CancellationToken::new(),
        )
        .await
        .unwrap_err();
    // B streams while it fetches, as a node does; when A's bytes fail the
    // tree root, B cuts the body short. Another try may find another peer.
    assert_eq!(
        err.kind(),
        ErrorKind::Unavailable,
        "B refused A's bytes: {err}"
    );
    assert!(err.is_temporary());
    assert!(rx.try_recv().is_err(), "nothing reported done");
    assert!(
        member
            .read_archive(
                &COMMUNITY,
                &link,
                &ids[0],
                &archive_backend::FetchOptions::default()
            )
            .await
            .is_err()
    );

    // A client talking to the lying node itself catches it too.
    let index = owner
        .client()
        .download(link.announced(), Source::Local)
        .await;
    let err = index.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupt, "{err}");
    assert!(err.to_string().contains("tree root"), "{err}");

    a.handle.set_corrupt_data(false);
    let (tx, _rx) = mpsc::channel(8);
    let done = member
        .fetch(
            &COMMUNITY,
            &link,
            &ids,
            &FetchOptions::default(),
            tx,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(done.fetched, ids);
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_is_down_leaves_the_link_unresolvable() {
    let a = Node::start(|_| {}).await;
    let b = Node::start(|c| c.peers = vec![a.handle.url()]).await;
    let owner = a.backend();
    let (link, _) = publish(owner.as_ref(), 1).await;
    a.stop().await;
    let member = b.backend();
    let err = member
        .resolve(
            &COMMUNITY,
            &link,
            &ResolveOptions::with_timeout(Duration::from_secs(5)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    // The owner's own node being down is a temporary failure.
    let err = owner
        .resolve(&COMMUNITY, &link, &ResolveOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_temporary());
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_mid_fetch_stops_promptly_and_reports_only_complete_archives() {
    let a = Node::start(|_| {}).await;
    let b = Node::start(|c| {
        c.peers = vec![a.handle.url()];
        c.faults.delay = Duration::from_millis(150);
    })
    .await;
    let (owner, member) = (a.backend(), b.backend());
    let (link, ids) = publish(owner.as_ref(), 4).await;
    member
        .resolve(&COMMUNITY, &link, &ResolveOptions::default())
        .await
        .unwrap();

    let (tx, mut rx) = mpsc::channel(8);
    let cancel = CancellationToken::new();
    let task = {
        let (member, link, ids, cancel) =
            (member.clone(), link.clone(), ids.clone(), cancel.clone());
        tokio::spawn(async move {
            member
                .fetch(
                    &COMMUNITY,
                    &link,
                    &ids,
                    &FetchOptions::default(),
                    tx,
                    cancel,
                )
                .await
        })
    };
    // Each archive takes several delayed requests: the first completes
    // after about half a second.
    let first = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap();
    assert!(matches!(first, Some(FetchEvent::ArchiveFetched { .. })));
    cancel.cancel();
    let cancelled_at = std::time::Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("stops promptly")
        .unwrap();
    assert!(cancelled_at.elapsed() < Duration::from_millis(500));
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Cancelled);
    let mut reported = vec![ids[0]];
    while let Ok(FetchEvent::ArchiveFetched { id, .. }) = rx.try_recv() {
        reported.push(id);
    }
    assert!(reported.len() < ids.len());
    for id in &reported {
        member
            .read_archive(
                &COMMUNITY,
                &link,
                id,
                &archive_backend::FetchOptions::default(),
            )
            .await
            .expect("reported archives read");
    }
    b.stop().await;
    a.stop().await;
}

/// An owner killed after publishing, before it recorded the new link, runs
/// the same publish again from the link it knows: that link must still
/// resolve, and the same index comes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_again_from_the_previous_link_gives_the_same_index() {
    let a = Node::start(|_| {}).await;
    let owner = a.backend();
    let (first, _) = publish(owner.as_ref(), 2).await;
    let source = messages(3, 3);
    let request = || PublishRequest {
        community: COMMUNITY,
        topics: vec![TOPIC],
        range: archive_index::TimeRange {
            from: D1 + 2 * WEEK,
            to: D1 + 3 * WEEK,
        },
        interval: WEEK,
        previous: Some(first.clone()),
        messages: &source,
    };
    let published = owner
        .publish(request(), &PublishOptions::default())
        .await
        .unwrap();
    let again = owner
        .publish(request(), &PublishOptions::default())
        .await
        .expect("the previous index is still there");
    assert_eq!(again.link, published.link);
    let index = owner
        .resolve(
            &COMMUNITY,
            again.link.as_ref().unwrap(),
            &ResolveOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(index.archives.len(), 3);

    // Unseeding is the caller's call, once it has recorded the new link.
    owner.unseed(&COMMUNITY, &first).await.unwrap();
    assert!(
        owner
            .resolve(
                &COMMUNITY,
                &first,
                &ResolveOptions::with_timeout(Duration::from_secs(2))
            )
            .await
            .is_err()
    );
    a.stop().await;
}
