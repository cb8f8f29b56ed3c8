//! A member's download policy decides the bytes that move over BitTorrent:
//! the selected archives' pieces, plus at most librqbit's stream lookahead
//! after each (`most_bytes_fetched`), which is exact when nothing unwanted
//! follows; and a member that took the latest archive and then everything
//! fetches each archive once.

use std::collections::HashSet;

use archive_backend::{
    Backend, FetchEvent, FetchOptions, Link, MessageList, PublishOptions, PublishRequest,
    ResolveOptions,
};
use archive_index::{ArchiveId, CommunityId, DownloadPolicy, Message, TimeRange, Topic};
use backend_torrent::{TorrentBackend, most_bytes_fetched};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Nodes;

const WEEK: u64 = 7 * 86_400;
const WEEKS: u64 = 4;
const TOPIC: Topic = Topic([7, 7, 7, 7]);
const COMMUNITY: CommunityId = CommunityId([3; 33]);

/// About 300 KiB a week, so each archive spans several 100 KiB pieces.
fn history() -> MessageList {
    MessageList::new(
        (0..WEEKS)
            .flat_map(|w| (0..30u64).map(move |i| (w, i)))
            .map(|(w, i)| Message {
                sig: vec![2; 65],
                timestamp: w * WEEK + i * 60 + 1,
                topic: TOPIC,
                payload: vec![(w * 17 + i) as u8; 10_000],
                padding: vec![],
                hash: format!("selective {w}-{i}").into_bytes(),
                third_party_id: String::new(),
            })
            .collect::<Vec<_>>(),
    )
}

/// Fetches what `policy` selects and `downloaded` lacks: the IDs handed over
/// and the bytes moved.
async fn fetch_selected(
    member: &TorrentBackend,
    link: &Link,
    downloaded: &HashSet<ArchiveId>,
    policy: DownloadPolicy,
) -> (Vec<ArchiveId>, u64) {
    let index = member
        .resolve(&COMMUNITY, link, &ResolveOptions::default())
        .await
        .unwrap();
    let wanted = index.missing_selected(downloaded, &policy, WEEKS * WEEK);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_policy_moves_its_pieces_within_the_bound() {
    let nodes = Nodes::default();
    let owner = nodes.node().await;
    let source = history();
    let request = PublishRequest {
        community: COMMUNITY,
        topics: vec![TOPIC],
        range: TimeRange {
            from: 0,
            to: WEEKS * WEEK,
        },
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
    let index = owner.archive_dir(&COMMUNITY).load_index().unwrap();
    let padded =
        |wanted: &[ArchiveId]| -> u64 { wanted.iter().map(|id| index.get(id).unwrap().size).sum() };
    let raw = |wanted: &[ArchiveId]| -> u64 {
        wanted
            .iter()
            .map(|id| index.get(id).unwrap().raw_len())
            .sum()
    };

    let cases = [
        // Nothing follows the latest archive: exact.
        (DownloadPolicy::Latest, vec![ids[3]], padded(&ids[3..])),
        // Week 1 only, by overlap: its pieces and the lookahead after it,
        // which at this size is the rest of `data`.
        (
            DownloadPolicy::Window(TimeRange {
                from: WEEK + 10,
                to: 2 * WEEK - 10,
            }),
            vec![ids[1]],
            padded(&ids[1..]),
        ),
        (
            DownloadPolicy::Last {
                seconds: WEEK + 86_400,
            },
            vec![ids[2], ids[3]],
            padded(&ids[2..]),
        ),
        (DownloadPolicy::All, ids.clone(), padded(&ids)),
    ];
    for (policy, expected, ceiling) in cases {
        assert_eq!(most_bytes_fetched(&index, &expected), ceiling, "{policy}");
        let member = nodes.node().await;
        let (got, bytes) = fetch_selected(&member, &link, &HashSet::new(), policy).await;
        assert_eq!(got, expected, "{policy}");
        assert!(
            bytes >= raw(&expected) && bytes <= ceiling,
            "{policy}: moved {bytes} bytes, wanted {} raw, at most {ceiling}",
            raw(&expected)
        );
        // The member has what it was handed, verified, and reads it back.
        for id in &expected {
            assert_eq!(
                member
                    .read_archive(
                        &COMMUNITY,
                        &link,
                        id,
                        &archive_backend::FetchOptions::default()
                    )
                    .await
                    .unwrap(),
                owner
                    .read_archive(
                        &COMMUNITY,
                        &link,
                        id,
                        &archive_backend::FetchOptions::default()
                    )
                    .await
                    .unwrap()
            );
        }
    }

    // Latest, then all: the rest moves, nothing twice, and the member ends
    // with the owner's `data`.
    let member = nodes.node().await;
    let (latest, latest_bytes) =
        fetch_selected(&member, &link, &HashSet::new(), DownloadPolicy::Latest).await;
    let have: HashSet<ArchiveId> = latest.iter().copied().collect();
    let (rest, rest_bytes) = fetch_selected(&member, &link, &have, DownloadPolicy::All).await;
    assert_eq!(rest, ids[..3]);
    assert!(
        latest_bytes + rest_bytes <= padded(&ids),
        "latest ({latest_bytes}) and the rest ({rest_bytes}) moved more than `data`"
    );
    assert_eq!(
        std::fs::read(member.archive_dir(&COMMUNITY).data_path()).unwrap(),
        std::fs::read(owner.archive_dir(&COMMUNITY).data_path()).unwrap()
    );
    nodes.stop().await;
}
