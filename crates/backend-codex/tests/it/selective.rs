//! A member's download policy decides the bytes that move: over Codex only
//! the selected archives' datasets are downloaded, each exactly once, and a
//! member that took the latest archive and then everything fetches only the
//! rest.

use std::collections::HashSet;

use archive_backend::{
    Backend, FetchEvent, FetchOptions, Link, PublishOptions, PublishRequest, RemoteIndex,
    ResolveOptions,
};
use archive_index::{ArchiveId, DownloadPolicy, TimeRange};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{COMMUNITY, D1, Node, TOPIC, WEEK, messages, weeks};

const WEEKS: u64 = 4;

/// Fetches what `policy` selects and `downloaded` lacks; the IDs handed
/// over and the bytes the member's node downloaded.
async fn fetch_selected(
    member: &dyn Backend,
    link: &Link,
    downloaded: &HashSet<ArchiveId>,
    policy: DownloadPolicy,
) -> (Vec<ArchiveId>, u64) {
    let index = member
        .resolve(&COMMUNITY, link, &ResolveOptions::default())
        .await
        .unwrap();
    let now = D1 + WEEKS * WEEK;
    let wanted = index.missing_selected(downloaded, &policy, now);
    let (tx, mut rx) = mpsc::channel(WEEKS as usize);
    let outcome = member
        .fetch(
            &COMMUNITY,
            link,
            &wanted,
            &FetchOptions::default(),
            tx,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    let mut handed = Vec::new();
    while let Ok(FetchEvent::ArchiveFetched { id, .. }) = rx.try_recv() {
        handed.push(id);
    }
    assert_eq!(handed, wanted, "{policy}: exactly the selected archives");
    (handed, outcome.bytes_fetched)
}

/// Each archive's dataset size: its encoding, as the owner stored it.
async fn sizes(owner: &dyn Backend, link: &Link, index: &RemoteIndex) -> Vec<(ArchiveId, u64)> {
    let mut sizes = Vec::new();
    for (id, _) in &index.archives {
        let archive = owner
            .read_archive(
                &COMMUNITY,
                link,
                id,
                &archive_backend::FetchOptions::default(),
            )
            .await
            .unwrap();
        sizes.push((*id, archive.encode().len() as u64));
    }
    sizes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_policy_moves_only_its_archives() {
    let owner_node = Node::start(|_| {}).await;
    let owner = owner_node.backend();
    let source = messages(WEEKS, 3);
    let request = PublishRequest {
        community: COMMUNITY,
        topics: vec![TOPIC],
        range: weeks(WEEKS),
        interval: WEEK,
        previous: None,
        messages: &source,
    };
    let published = owner
        .publish(request, &PublishOptions::default())
        .await
        .unwrap();
    let link = published.link.unwrap();
    let ids: Vec<ArchiveId> = published.archives.iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), WEEKS as usize);
    let index = owner
        .resolve(&COMMUNITY, &link, &ResolveOptions::default())
        .await
        .unwrap();
    let sizes = sizes(owner.as_ref(), &link, &index).await;
    let bytes_of = |wanted: &[ArchiveId]| -> u64 {
        sizes
            .iter()
            .filter(|(id, _)| wanted.contains(id))
            .map(|(_, n)| n)
            .sum()
    };

    let cases = [
        (DownloadPolicy::Latest, vec![ids[3]]),
        (
            // Inside week 1 only: one archive, by overlap.
            DownloadPolicy::Window(TimeRange {
                from: D1 + WEEK + 10,
                to: D1 + 2 * WEEK - 10,
            }),
            vec![ids[1]],
        ),
        (
            DownloadPolicy::Last {
                seconds: WEEK + 86_400,
            },
            vec![ids[2], ids[3]],
        ),
        (DownloadPolicy::All, ids.clone()),
    ];
    for (policy, expected) in cases {
        // A fresh member per policy, so nothing is local before.
        let node = Node::start(|c| c.peers = vec![owner_node.handle.url()]).await;
        let member = node.backend();
        let (got, bytes) = fetch_selected(member.as_ref(), &link, &HashSet::new(), policy).await;
        assert_eq!(got, expected, "{policy}");
        assert_eq!(bytes, bytes_of(&expected), "{policy}: bytes moved");
        node.stop().await;
    }

    // Latest, then all: the rest moves, the latest not again.
    let node = Node::start(|c| c.peers = vec![owner_node.handle.url()]).await;
    let member = node.backend();
    let (latest, latest_bytes) = fetch_selected(
        member.as_ref(),
        &link,
        &HashSet::new(),
        DownloadPolicy::Latest,
    )
    .await;
    let have: HashSet<ArchiveId> = latest.iter().copied().collect();
    let (rest, rest_bytes) =
        fetch_selected(member.as_ref(), &link, &have, DownloadPolicy::All).await;
    assert_eq!(rest, ids[..3]);
    assert_eq!(latest_bytes + rest_bytes, bytes_of(&ids));
    node.stop().await;
    owner_node.stop().await;
}
