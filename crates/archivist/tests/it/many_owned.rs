//! Issue 19's scene: many owned communities, no Waku peer to take their
//! announcements, and a listener that reads late. Every announcement retry
//! used to be an `announceFailed` event: within half an hour 50 communities
//! produced well over the event channel's 1 024 and a late listener lost
//! the `historyArchivesSeeding` events it was waiting for. Time is tokio's
//! paused clock, so the half hour of retries takes no wall time and the
//! retry schedule, not the machine's speed, decides what is sent.

use std::{collections::HashMap, sync::Arc, time::Duration};

use archivist::{
    Config, Node, NodeEvent,
    backend::memory::{MemoryBackend, MemoryNetwork},
    dispatch::CommunityKey,
    index::{CommunityId, TimeRange, Topic},
    scheduler::{Event, TokioClock},
    synthetic,
};

const COMMUNITIES: usize = 50;
/// 2024-01-01 00:00:00 UTC.
const NOW: u64 = 1_704_067_200;
const WEEK: u64 = 7 * 86_400;

#[tokio::test(start_paused = true)]
async fn fifty_owned_communities_without_a_peer_lose_no_event_to_repeated_failures() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.data_dir = dir.path().to_owned();
    // The network archived on is the in-memory one; announcements go to a
    // real Waku relay node of the node's own, on 127.0.0.1, with no peer.
    config.torrent.enabled = false;
    config.waku.enabled = true;
    config.waku.listen = vec!["/ip4/127.0.0.1/tcp/0".to_owned()];
    config.waku.bootstrap = Vec::new();
    let builder = Node::builder(config)
        .clock(Arc::new(TokioClock::starting_at(NOW)))
        .backend(Arc::new(MemoryBackend::new(&MemoryNetwork::new())));
    let mut watcher = builder.events();
    // The late listener: subscribed from the start, read only at the end.
    let mut late = builder.events();
    let node = builder.start().await.unwrap();

    let mut communities = Vec::new();
    for i in 0..COMMUNITIES {
        let key = CommunityKey::generate();
        let topic = Topic(u32::try_from(i + 1).unwrap().to_be_bytes());
        let range = TimeRange {
            from: NOW - 2 * WEEK,
            to: NOW - 60,
        };
        let messages = synthetic::messages(&[topic], range, 10, 64, i as u64);
        node.store().insert_messages(messages).await.unwrap();
        communities.push(key.community_id());
        node.add_owned(key, vec![topic], true).await.unwrap();
    }

    // Every community archives, seeds and fails to announce (no peer).
    let mut seeding = 0;
    while seeding < COMMUNITIES {
        match archivist::next_event(&mut watcher).await.unwrap() {
            NodeEvent::Archive {
                event: Event::HistoryArchivesSeeding { .. },
                ..
            } => seeding += 1,
            NodeEvent::EventsMissed { count } => panic!("the watcher missed {count} events"),
            _ => {}
        }
    }
    // Half an hour of retries with nobody reading `late`.
    tokio::time::sleep(Duration::from_secs(30 * 60)).await;

    let mut seen_seeding = 0;
    let mut failures: HashMap<CommunityId, Vec<u32>> = HashMap::new();
    let mut total = 0;
    while let Some(event) = archivist::try_next_event(&mut late) {
        total += 1;
        match event {
            NodeEvent::Archive {
                event: Event::HistoryArchivesSeeding { .. },
                ..
            } => seen_seeding += 1,
            NodeEvent::AnnounceFailed {
                community,
                attempts,
                ..
            } => failures.entry(community).or_default().push(attempts),
            NodeEvent::EventsMissed { count } => {
                panic!("the late listener missed {count} events ({total} read)")
            }
            _ => {}
        }
    }
    assert_eq!(seen_seeding, COMMUNITIES, "every seeding event arrives");
    assert_eq!(
        failures.len(),
        COMMUNITIES,
        "every community says it failed"
    );
    for community in &communities {
        let reports = &failures[community];
        // Reported once, then after 1, 2, 4 and 8 minutes at most: the
        // retries between reports are counted, not sent.
        assert!(reports.len() <= 6, "{community}: {reports:?}");
        assert_eq!(reports[0], 1, "{community}: {reports:?}");
        assert!(
            reports.windows(2).all(|w| w[0] < w[1]),
            "{community}: counts grow: {reports:?}"
        );
        assert!(
            *reports.last().unwrap() >= 20,
            "{community}: half an hour of retries counted: {reports:?}"
        );
    }
    tokio::time::timeout(Duration::from_secs(60), node.stop())
        .await
        .unwrap();
}
