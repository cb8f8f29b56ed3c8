//! Download policies end to end (issue 18): a member that joins taking only
//! the latest archive imports that week alone, its status shows the rest as
//! available but not fetched; joined again with everything, it ends with the
//! owner's full history, each archive fetched once.

use std::collections::HashSet;

use archivist::{
    JoinOptions, NodeEvent,
    index::{ArchiveId, DownloadPolicy, TimeRange},
};

use crate::fixture::{Networks, PAYLOAD, PER_WEEK, T0, WEEK, World, assert_same_history};

/// The archives a download handed over, from its events.
fn downloaded(seen: &[NodeEvent]) -> Vec<ArchiveId> {
    seen.iter()
        .filter_map(|e| match e {
            NodeEvent::HistoryArchiveDownloaded { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

/// The ranges and left-out count a download started with.
fn started(seen: &[NodeEvent]) -> (Vec<TimeRange>, usize) {
    seen.iter()
        .find_map(|e| match e {
            NodeEvent::DownloadingHistoryArchivesStarted {
                ranges, unselected, ..
            } => Some((ranges.clone(), *unselected)),
            _ => None,
        })
        .expect("the download said what it covers")
}

async fn latest_then_all(networks: Networks, backend: &str) {
    let world = World::new(networks).await;
    let mut owner = world.owner().await;
    owner.write_weeks(3).await;
    let community = owner.community();
    let config = world.member_config("member", owner.node.torrent_listen_addr());
    let latest = JoinOptions::default().with_download(DownloadPolicy::Latest);
    let mut member = world.member_with(config, community, latest).await;
    owner.start_archiving().await;
    let week = |w: u64| TimeRange {
        from: T0 + w * WEEK,
        to: T0 + (w + 1) * WEEK,
    };

    let (fetched, latest_bytes, used, seen) = member.finished().await;
    assert_eq!((fetched, used), (1, backend), "only the latest archive");
    assert_eq!(started(&seen), (vec![week(2)], 2));
    let first = downloaded(&seen);
    let status = member.node.status(&community).await.unwrap();
    assert_eq!(status.imported_ranges, [week(2)]);
    let network = &status.networks[0];
    assert_eq!(
        network.not_fetched.as_deref(),
        Some(
            &[TimeRange {
                from: T0,
                to: T0 + 2 * WEEK
            }][..]
        )
    );
    assert_eq!(network.not_on_network.as_deref(), Some(&[][..]));
    assert_eq!(
        network.fetched_link, None,
        "the link is not fetched completely"
    );

    // Everything now: only the two older weeks move.
    member.node.leave(&community).await.unwrap();
    member
        .node
        .join_with(community, JoinOptions::default())
        .await
        .unwrap();
    let (fetched, rest_bytes, used, seen) = member.finished().await;
    assert_eq!(
        (fetched, used),
        (2, backend),
        "the rest, not the latest again"
    );
    assert_eq!(
        started(&seen),
        (
            vec![TimeRange {
                from: T0,
                to: T0 + 2 * WEEK
            }],
            0
        )
    );
    let rest = downloaded(&seen);
    let all: HashSet<ArchiveId> = first.iter().chain(&rest).copied().collect();
    assert_eq!(
        all.len(),
        3,
        "each archive handed over once: {first:?} {rest:?}"
    );
    assert_same_history(&owner, &member.node).await;
    let status = member.node.status(&community).await.unwrap();
    assert_eq!(
        status.imported_ranges,
        [TimeRange {
            from: T0,
            to: T0 + 3 * WEEK
        }]
    );
    assert_eq!(status.networks[0].not_fetched.as_deref(), Some(&[][..]));
    assert!(status.networks[0].fetched_link.is_some());

    // A week's messages with their envelopes, at most two 100 KiB pieces
    // each over BitTorrent; the latest lies last in `data`, so no lookahead
    // brings anything else, and nothing moves twice.
    let raw_week = (PER_WEEK * PAYLOAD) as u64;
    let most_per_week = 2 * 102_400;
    assert!(
        (raw_week..=most_per_week).contains(&latest_bytes),
        "latest moved {latest_bytes}"
    );
    assert!(
        (2 * raw_week..=2 * most_per_week).contains(&rest_bytes),
        "the rest moved {rest_bytes}"
    );
    member.node.stop().await;
    owner.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torrent_member_takes_the_latest_then_everything_once() {
    latest_then_all(Networks::Torrent, "torrent").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_member_takes_the_latest_then_everything_once() {
    latest_then_all(Networks::Codex, "codex").await;
}
