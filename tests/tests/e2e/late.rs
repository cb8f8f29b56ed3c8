//! Late joiners: a member that joins after the owner's last announcement
//! hears the current link by asking (a link request) or from the owner's
//! periodic re-announcement, and no one else can answer for the owner; the
//! owner bounds its answers, and a repeated link is "already known".

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use archivist::{
    NodeEvent,
    dispatch::{
        Channel, CommunityKey, Dispatcher, NodeIdentity, Transport, decode_link_request,
        sign_announcement,
        wire::{OsEntropy, seal_frame},
    },
    index::LinkKind,
};
use futures::StreamExt;

use crate::fixture::{DEADLINE, Networks, Owner, World, assert_same_history, wait_for};

/// Starts archiving and waits until the owner has announced its link: from
/// then on, a member that joins has missed the announcement.
async fn archived_and_announced(owner: &Owner) {
    let mut events = owner.node.events();
    owner.start_archiving().await;
    wait_for(&mut events, &mut Vec::new(), &mut |e| match e {
        NodeEvent::Announced { .. } => Some(()),
        _ => None,
    })
    .await;
}

/// The reported case: a member that joins after the owner's announcement
/// used to hear nothing until the next round (seven days by default). Now it
/// asks, the owner answers at once, and the member fetches the whole history
/// within seconds.
#[allow(
    clippy::print_stderr,
    reason = "the measured time is what this test reports (see --nocapture)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_joining_after_the_announcement_asks_and_fetches_the_whole_history() {
    let world = World::new(Networks::Torrent).await;
    let mut owner = world.owner().await;
    owner.write_weeks(2).await;
    archived_and_announced(&owner).await;

    let config = world.member_config("late", owner.node.torrent_listen_addr());
    assert!(config.request_link_on_join, "asking is the default");
    let joined = Instant::now();
    let mut member = world.member(config, owner.community(), None).await;
    let (fetched, _, _, seen) = member.finished().await;
    let took = joined.elapsed();
    assert_eq!(fetched, 2, "every archive of the history");
    assert!(
        seen.iter()
            .any(|e| matches!(e, NodeEvent::LinkRequested { .. })),
        "{seen:#?}"
    );
    assert_same_history(&owner, &member.node).await;
    eprintln!("late member: link request to full history in {took:?}");
    member.node.stop().await;
    owner.node.stop().await;
}

/// Without a request (turned off here; it may as well be lost), the owner's
/// periodic re-announcement alone reaches a member that joined late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_reannouncement_alone_reaches_a_late_member() {
    let world = World::new(Networks::Torrent).await;
    let mut owner = world
        .owner_with(|c| c.reannounce_interval = Duration::from_secs(1))
        .await;
    owner.write_weeks(1).await;
    archived_and_announced(&owner).await;

    let mut config = world.member_config("late", owner.node.torrent_listen_addr());
    config.request_link_on_join = false;
    let mut member = world.member(config, owner.community(), None).await;
    let (fetched, _, _, seen) = member.finished().await;
    assert_eq!(fetched, 1);
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, NodeEvent::LinkRequested { .. })),
        "{seen:#?}"
    );
    assert_same_history(&owner, &member.node).await;
    member.node.stop().await;
    owner.node.stop().await;
}

/// Once fetched, the owner's repeats of the same link are reported as
/// already known, never as rejections, and start nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_link_is_already_known_not_rejected() {
    let world = World::new(Networks::Torrent).await;
    let mut owner = world
        .owner_with(|c| c.reannounce_interval = Duration::from_secs(1))
        .await;
    owner.write_weeks(1).await;
    let config = world.member_config("member", owner.node.torrent_listen_addr());
    let mut member = world.member(config, owner.community(), None).await;
    owner.start_archiving().await;
    member.finished().await;

    let mut seen = Vec::new();
    for _ in 0..2 {
        let link = member
            .wait_for(&mut seen, |e| match e {
                NodeEvent::AnnouncementRepeated { link, .. } => Some(link.clone()),
                _ => None,
            })
            .await;
        assert!(link.starts_with("magnet:"), "{link}");
    }
    assert!(
        !seen.iter().any(|e| matches!(
            e,
            NodeEvent::AnnouncementRejected { .. }
                | NodeEvent::AnnouncementAccepted { .. }
                | NodeEvent::DownloadingHistoryArchivesStarted { .. }
        )),
        "{seen:#?}"
    );
    let repeated = seen
        .iter()
        .find(|e| matches!(e, NodeEvent::AnnouncementRepeated { .. }))
        .unwrap();
    assert_eq!(
        repeated.signal_name(),
        "archivist.announcementRepeated",
        "{}",
        repeated.to_json()
    );
    member.node.stop().await;
    owner.node.stop().await;
}

/// A relay peer that hears a member's link request and answers it with an
/// announcement signed by another key is refused like any forgery, and the
/// member fetches nothing from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_answer_to_a_link_request_is_rejected_and_fetches_nothing() {
    let world = World::new(Networks::Torrent).await;
    let mut owner = world.owner().await;
    owner.write_weeks(1).await;
    let community = owner.community();

    let forger = world.hub.attach();
    let request_topic = Channel::link_request(&community).content_topic;
    let mut requests = forger
        .subscribe(std::slice::from_ref(&request_topic))
        .await
        .unwrap();
    let config = world.member_config("member", owner.node.torrent_listen_addr());
    let mut member = world.member(config, community, None).await;

    let request = tokio::time::timeout(DEADLINE, requests.next())
        .await
        .expect("the member asks on joining")
        .unwrap();
    decode_link_request(&community, &request.content_topic, &request.payload)
        .expect("a well-formed request");
    let other = CommunityKey::from_bytes(&[66; 32]).unwrap();
    let forged = sign_announcement(
        &other,
        LinkKind::TORRENT,
        u64::MAX / 2,
        "magnet:?xt=urn:btih:0000000000000000000000000000000000000000",
    )
    .unwrap();
    let channel = Channel::member_update(&community);
    let payload = seal_frame(&channel, &NodeIdentity::generate(), &forged, &mut OsEntropy).unwrap();
    forger
        .publish(&channel.content_topic, bytes::Bytes::from(payload))
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
    let status = member.node.status(&community).await.unwrap();
    assert!(!status.downloading && status.downloaded.is_empty());
    assert!(status.networks.iter().all(|n| n.announced_link.is_none()));

    // The real owner's answer still counts.
    owner.start_archiving().await;
    let (fetched, _, _, _) = member.finished().await;
    assert_eq!(fetched, 1);
    member.node.stop().await;
    owner.node.stop().await;
}

/// A flood of link requests gets one answer per reply interval, not one
/// per request.
#[allow(
    clippy::print_stderr,
    reason = "the reply count is what this test reports (see --nocapture)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_answers_a_flood_of_link_requests_with_bounded_replies() {
    const REQUESTS: usize = 50;
    let world = World::new(Networks::Torrent).await;
    let mut owner = world
        .owner_with(|c| {
            c.reannounce_interval = Duration::ZERO;
            c.link_reply_interval = Duration::from_secs(2);
        })
        .await;
    owner.write_weeks(1).await;
    archived_and_announced(&owner).await;
    let community = owner.community();

    let listener = world.hub.attach();
    let mut answers = listener
        .subscribe(&[Channel::member_update(&community).content_topic])
        .await
        .unwrap();
    let asker = Dispatcher::new(
        Arc::new(world.hub.attach()),
        archivist::dispatch::Config::default(),
    );
    let started = Instant::now();
    for _ in 0..REQUESTS {
        asker.request_link(&community).await.unwrap();
    }
    // The burst took well under one reply interval; give the owner two
    // more intervals to answer whatever it owes.
    let window = Duration::from_secs(5);
    let mut replies = 0;
    while let Some(remaining) = window.checked_sub(started.elapsed()) {
        match tokio::time::timeout(remaining, answers.next()).await {
            Ok(Some(_)) => replies += 1,
            Ok(None) | Err(_) => break,
        }
    }
    let burst = started.elapsed();
    // One answer at once, then at most one per 2 s interval of the window.
    assert!(
        (1..=4).contains(&replies),
        "{replies} replies to {REQUESTS} requests in {burst:?}"
    );
    eprintln!("{REQUESTS} link requests → {replies} replies in {burst:?}");
    owner.node.stop().await;
}
