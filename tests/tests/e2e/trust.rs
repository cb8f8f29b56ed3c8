//! What a member refuses and what leaving stops: forged announcements,
//! falling back when the preferred network fails, and leaving a community.

use std::time::Duration;

use archivist::{
    Error, NodeEvent,
    backend::{Backend, ErrorKind, Link, ResolveOptions},
    dispatch::{
        Channel, CommunityKey, NodeIdentity, Transport, sign_announcement,
        wire::{OsEntropy, seal_frame},
    },
    index::LinkKind,
    torrent::{Config as TorrentConfig, TorrentBackend},
};

use crate::fixture::{Networks, World, assert_same_history};

/// An announcement for the community's channel signed by another key is
/// rejected as coming from an unknown community, and nothing is fetched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_announcement_is_ignored() {
    let world = World::new(Networks::Torrent).await;
    let mut owner = world.owner().await;
    owner.write_weeks(1).await;
    let config = world.member_config("member", owner.node.torrent_listen_addr());
    let mut member = world.member(config, owner.community(), None).await;

    let forger = CommunityKey::from_bytes(&[66; 32]).unwrap();
    let wire = sign_announcement(
        &forger,
        LinkKind::TORRENT,
        u64::MAX / 2,
        "magnet:?xt=urn:btih:0000000000000000000000000000000000000000",
    )
    .unwrap();
    let channel = Channel::for_announcement(&owner.community(), LinkKind::TORRENT);
    // Sealed for the community's channel, as any relay peer can.
    let wire = seal_frame(&channel, &NodeIdentity::generate(), &wire, &mut OsEntropy).unwrap();
    world
        .hub
        .attach()
        .publish(&channel.content_topic, bytes::Bytes::from(wire))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let code = member
        .wait_for(&mut seen, |e| match e {
            NodeEvent::AnnouncementRejected { code, .. } => Some(*code),
            _ => None,
        })
        .await;
    assert_eq!(code, "unknown-community");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let status = member.node.status(&owner.community()).await.unwrap();
    assert!(!status.downloading && status.downloaded.is_empty());
    assert!(status.networks.iter().all(|n| n.announced_link.is_none()));

    // The real owner is still believed afterwards.
    owner.start_archiving().await;
    let (fetched, _, _, _) = member.finished().await;
    assert_eq!(fetched, 1);
    assert_same_history(&owner, &member.node).await;
    member.node.stop().await;
    owner.node.stop().await;
}

/// The member prefers Codex but its Codex node is down: it reports the
/// failure and completes over BitTorrent, which the owner also announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_preferred_network_falls_back_to_the_other() {
    let world = World::new(Networks::Both).await;
    let mut owner = world.owner().await;
    owner.write_weeks(2).await;
    let mut config = world.member_config("member", owner.node.torrent_listen_addr());
    // Nothing listens there.
    config.codex.url = "http://127.0.0.1:9".to_owned();
    let mut member = world
        .member(config, owner.community(), Some(LinkKind::CODEX))
        .await;
    owner.start_archiving().await;
    let mut seen = Vec::new();
    member
        .wait_for(&mut seen, |e| match e {
            NodeEvent::DownloadFailed {
                backend: "codex",
                fallback: Some("torrent"),
                ..
            } => Some(()),
            _ => None,
        })
        .await;
    member
        .wait_for(&mut seen, |e| match e {
            NodeEvent::DownloadingHistoryArchivesFinished {
                backend: "torrent", ..
            } => Some(()),
            _ => None,
        })
        .await;
    assert_same_history(&owner, &member.node).await;
    member.node.stop().await;
    owner.node.stop().await;
}

/// Leaving stops the member's tasks and its seeding: a third peer that can
/// only reach the member gets the torrent before and not after; the owner
/// leaving stops its archive tasks and unseeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_stops_tasks_and_seeding() {
    let world = World::new(Networks::Torrent).await;
    let mut owner = world.owner().await;
    owner.write_weeks(1).await;
    let config = world.member_config("member", owner.node.torrent_listen_addr());
    let mut member = world.member(config, owner.community(), None).await;
    owner.start_archiving().await;
    member.finished().await;
    let status = member.node.status(&owner.community()).await.unwrap();
    let magnet = status.networks[0].fetched_link.clone().unwrap();
    let link = Link::from_announced(LinkKind::TORRENT, &magnet).unwrap();
    assert!(status.networks[0].seeding);

    let member_addr = member.node.torrent_listen_addr().unwrap();
    let probe = |name: &str| {
        let mut config = TorrentConfig::new(world.path(name));
        config.peers = vec![member_addr];
        config.metadata_timeout = Duration::from_secs(3);
        config
    };
    let third = TorrentBackend::start(probe("third")).await.unwrap();
    third
        .resolve(
            &owner.community(),
            &link,
            &ResolveOptions::with_timeout(Duration::from_secs(20)),
        )
        .await
        .expect("the member seeds what it fetched");
    third.stop().await;

    member.node.leave(&owner.community()).await.unwrap();
    assert!(member.node.communities().1.is_empty());
    assert!(matches!(
        member.node.status(&owner.community()).await,
        Err(Error::Unknown(_))
    ));
    let fourth = TorrentBackend::start(probe("fourth")).await.unwrap();
    let error = fourth
        .resolve(
            &owner.community(),
            &link,
            &ResolveOptions::with_timeout(Duration::from_secs(3)),
        )
        .await
        .expect_err("the member no longer seeds");
    assert!(
        matches!(error.kind(), ErrorKind::Timeout | ErrorKind::Unavailable),
        "{error}"
    );
    fourth.stop().await;

    let mut events = owner.node.events();
    owner.node.leave(&owner.community()).await.unwrap();
    let mut seen = Vec::new();
    crate::fixture::wait_for(&mut events, &mut seen, &mut |e| match e {
        NodeEvent::Archive {
            event: archivist::scheduler::Event::HistoryArchivesUnseeded { .. },
            ..
        } => Some(()),
        _ => None,
    })
    .await;
    assert!(matches!(
        owner.node.archive_now(&owner.community()).await,
        Err(Error::NotOwned(_))
    ));
    member.node.stop().await;
    owner.node.stop().await;
}
