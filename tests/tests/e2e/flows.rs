//! The main job: an owner archives, seeds and announces; a member fetches
//! only what it misses and ends with the owner's history, over BitTorrent,
//! Codex, both, and a real Waku relay.

use std::time::Duration;

use archivist::{Node, NodeEvent, index::LinkKind};

use crate::fixture::{Networks, World, assert_same_history};

/// Two rounds on one network: the first moves the whole history, the
/// second only the new week's archive.
async fn two_rounds(networks: Networks, backend: &str, prefer: Option<LinkKind>) {
    let world = World::new(networks).await;
    let mut owner = world.owner().await;
    owner.write_weeks(3).await;
    let config = world.member_config("member", owner.node.torrent_listen_addr());
    let mut member = world.member(config, owner.community(), prefer).await;
    owner.start_archiving().await;

    let (fetched, first_bytes, used, _) = member.finished().await;
    assert_eq!((fetched, used), (3, backend), "round 1 moves every archive");
    assert_same_history(&owner, &member.node).await;
    let first_link = owner
        .node
        .status(&owner.community())
        .await
        .unwrap()
        .networks[0]
        .announced_link
        .clone()
        .unwrap();

    assert!(owner.archive_next_week().await.iter().all(|n| *n == 1));
    let (fetched, second_bytes, used, _) = member.finished().await;
    assert_eq!(
        (fetched, used),
        (1, backend),
        "round 2 moves only the new archive"
    );
    // One week of three, plus the index: well under half of round 1.
    assert!(
        second_bytes > 0 && second_bytes * 2 < first_bytes,
        "round 2 moved {second_bytes} bytes, round 1 {first_bytes}"
    );
    assert_same_history(&owner, &member.node).await;

    if let Some((owner_codex, _)) = &world.codex {
        // The replaced index is dropped from the owner's node once the new
        // one is recorded; the archives it listed stay.
        let client = archivist::codex::CodexClient::new(archivist::codex::ClientConfig::new(
            owner_codex.url(),
        ))
        .unwrap();
        assert!(
            !client.exists(&first_link).await.unwrap(),
            "old index still held"
        );
    }
    let status = member.node.status(&owner.community()).await.unwrap();
    assert_eq!(status.networks[0].archives, Some(4));
    assert_eq!(status.downloaded.len(), 4);
    assert_eq!(status.imported, status.downloaded);
    member.node.stop().await;
    owner.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torrent_owner_to_member_and_a_second_round_moves_only_the_new_archive() {
    two_rounds(Networks::Torrent, "torrent", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_owner_to_member_through_peered_nodes_and_a_second_round() {
    two_rounds(Networks::Codex, "codex", None).await;
}

/// A third backend, built outside the core crates and added by the program:
/// the same two rounds, and the member's `prefer` names its network.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dirshare_owner_to_member_and_a_second_round() {
    two_rounds(Networks::DirShare, "dir", Some(backend_dirshare::DIR)).await;
}

/// Both networks at once: the owner announces two links; the member fetches
/// over the one it prefers and records both announcements.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_networks_the_member_uses_the_preferred_one() {
    let world = World::new(Networks::Both).await;
    let mut owner = world.owner().await;
    owner.write_weeks(2).await;
    let config = world.member_config("member", owner.node.torrent_listen_addr());
    let mut member = world
        .member(config, owner.community(), Some(LinkKind::CODEX))
        .await;
    owner.start_archiving().await;
    let (_, _, used, _) = member.finished().await;
    assert_eq!(used, "codex");
    assert_same_history(&owner, &member.node).await;

    assert_eq!(
        owner.archive_next_week().await,
        [1, 1],
        "one archive per network"
    );
    let mut seen = Vec::new();
    member
        .wait_for(&mut seen, |e| match e {
            NodeEvent::DownloadingHistoryArchivesFinished { fetched: 1, .. } => Some(()),
            _ => None,
        })
        .await;
    assert_same_history(&owner, &member.node).await;
    let owner_status = owner.node.status(&owner.community()).await.unwrap();
    assert!(
        owner_status
            .networks
            .iter()
            .all(|n| n.announced_link.is_some()
                && n.last_archive_end == Some(owner.archived_range().to)
                && n.archiving)
    );
    member.node.stop().await;
    owner.node.stop().await;
}

/// A member that joins late gets the whole history with the next
/// announcement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_gets_the_full_history() {
    let world = World::new(Networks::Torrent).await;
    let mut owner = world.owner().await;
    owner.write_weeks(2).await;
    owner.start_archiving().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let config = world.member_config("late", owner.node.torrent_listen_addr());
    let mut member = world.member(config, owner.community(), None).await;
    owner.archive_next_week().await;
    let (fetched, _, _, _) = member.finished().await;
    assert_eq!(fetched, 3);
    assert_same_history(&owner, &member.node).await;
    member.node.stop().await;
    owner.node.stop().await;
}

/// The same flow with announcements over a real Waku relay between the two
/// nodes, each running its own Waku node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcements_travel_over_a_waku_relay() {
    let world = World::new(Networks::Torrent).await;
    let mut owner_config = world.config("owner", None);
    owner_config.waku.enabled = true;
    owner_config.waku.listen = vec!["/ip4/127.0.0.1/tcp/0".to_owned()];
    let clock = std::sync::Arc::new(archivist::scheduler::ManualClock::new(crate::fixture::T0));
    let owner_node = Node::builder(owner_config)
        .clock(std::sync::Arc::clone(&clock) as _)
        .start()
        .await
        .unwrap();
    let waku_addr = owner_node.waku().unwrap().listen_addrs()[0].to_string();
    let mut owner = crate::fixture::Owner {
        node: owner_node,
        key: archivist::dispatch::CommunityKey::from_bytes(&[9; 32]).unwrap(),
        clock,
        weeks: 0,
    };
    owner.write_weeks(2).await;

    let mut config = world.member_config("member", owner.node.torrent_listen_addr());
    config.waku.enabled = true;
    config.waku.listen = vec!["/ip4/127.0.0.1/tcp/0".to_owned()];
    config.waku.bootstrap = vec![waku_addr];
    let member_node = Node::start(config).await.unwrap();
    let events = member_node.events();
    member_node.join(owner.community(), None).await.unwrap();
    for node in [&owner.node, &member_node] {
        node.waku()
            .unwrap()
            .wait_for_relay_peers(1, Duration::from_secs(30))
            .await
            .unwrap();
    }
    let mut member = crate::fixture::Member {
        node: member_node,
        events,
    };
    owner.start_archiving().await;
    let (fetched, _, _, _) = member.finished().await;
    assert_eq!(fetched, 2);
    assert_same_history(&owner, &member.node).await;
    member.node.stop().await;
    owner.node.stop().await;
}
