//! Scheduling, stopping and restarting: no double scheduling, idempotent
//! stops that wait for running work, runs that never overlap, restarts that
//! resume from the recorded end.

use std::time::Duration;

use archive_backend::LinkKind;
use archive_index::{CommunityId, TimeRange};
use archive_scheduler::{Error, Event, RunOutcome, StartCase};

use crate::fixture::{
    COMMUNITY, DAY, Node, T0, WEEK, community, created, last_link, message, pass, ranges,
};

#[tokio::test(start_paused = true)]
async fn a_community_cannot_be_scheduled_twice() {
    let node = Node::new(T0).await;
    let (scheduler, _events) = node.scheduler(Node::config());
    scheduler.schedule(community()).await.unwrap();
    assert!(matches!(
        scheduler.schedule(community()).await,
        Err(Error::AlreadyScheduled(c)) if c == COMMUNITY
    ));
    let other = CommunityId([8; 33]);
    scheduler
        .schedule(archive_scheduler::CommunityArchive::new(other, vec![]))
        .await
        .unwrap();
    assert_eq!(scheduler.scheduled(), [COMMUNITY, other]);

    assert!(scheduler.stop(&COMMUNITY).await);
    assert!(!scheduler.is_scheduled(&COMMUNITY));
    scheduler.schedule(community()).await.unwrap();
    scheduler.stop_all().await;
    assert_eq!(scheduler.scheduled(), []);
}

#[tokio::test(start_paused = true)]
async fn stop_and_stop_all_are_idempotent_and_unseed_once() {
    let node = Node::new(T0 + 2 * WEEK).await;
    node.insert(vec![message(T0, 1)]).await;
    let (scheduler, mut events) = node.scheduler(Node::config());
    scheduler.schedule(community()).await.unwrap();
    pass(1).await;
    let link = last_link(&events.take()).unwrap();

    // Two concurrent stops both wait for the task; later ones find nothing.
    let (a, b) = tokio::join!(scheduler.stop(&COMMUNITY), scheduler.stop(&COMMUNITY));
    assert!(a && b);
    assert!(!scheduler.stop(&COMMUNITY).await);
    scheduler.stop_all().await;
    scheduler.stop_all().await;
    assert_eq!(
        events.take(),
        vec![Event::HistoryArchivesUnseeded {
            community: COMMUNITY,
            link
        }]
    );
}

/// Shutting down is not unpublishing: on Codex an unseed deletes the index
/// from the node, and a restarted owner found its own link gone.
#[tokio::test(start_paused = true)]
async fn stop_all_at_shutdown_keeps_every_link_published() {
    let node = Node::new(T0 + 2 * WEEK).await;
    node.insert(vec![message(T0, 1)]).await;
    let (scheduler, mut events) = node.scheduler(Node::config());
    scheduler.schedule(community()).await.unwrap();
    pass(1).await;
    assert!(last_link(&events.take()).is_some());

    scheduler.stop_all().await;
    assert_eq!(scheduler.scheduled(), []);
    assert_eq!(events.take(), vec![], "nothing is unseeded at shutdown");
}

/// A publish in progress is not abandoned by `stop`: its archives exist, so
/// their end must be recorded, or the next start would publish them again.
#[tokio::test(start_paused = true)]
async fn stop_during_a_publish_waits_for_it_and_records_the_end() {
    let node = Node::new(T0 + 3 * WEEK).await;
    node.insert((0..3).map(|w| message(T0 + w * WEEK, w)).collect())
        .await;
    node.backend.set_delay(Duration::from_secs(3600));
    let (scheduler, mut events) = node.scheduler(Node::config());
    scheduler.schedule(community()).await.unwrap();
    pass(60).await;
    assert!(matches!(
        events.take().as_slice(),
        [Event::CreatingHistoryArchives { .. }]
    ));

    assert!(scheduler.stop(&COMMUNITY).await);
    let got = events.take();
    assert_eq!(created(&got).len(), 3);
    assert!(matches!(
        got.last(),
        Some(Event::HistoryArchivesUnseeded { .. })
    ));
    assert_eq!(node.last_end().await, Some(T0 + 3 * WEEK));

    // A restart an hour later is case 2: nothing is published again.
    node.backend.set_delay(Duration::ZERO);
    let (scheduler, mut events) = node.scheduler(Node::config());
    let case = scheduler
        .schedule(community().with_previous(last_link(&got).unwrap()))
        .await
        .unwrap();
    assert!(matches!(case, StartCase::Recent { start, .. } if start == T0 + 3 * WEEK));
    pass(WEEK).await;
    assert_eq!(created(&events.take()), vec![]);
    assert_eq!(node.backend.attempts(), 2);
    scheduler.stop_all().await;
}

/// A backoff is only waiting: `stop` ends it at once and nothing more is
/// published or recorded.
#[tokio::test(start_paused = true)]
async fn stop_during_a_backoff_publishes_nothing_more() {
    let node = Node::new(T0 + 2 * WEEK).await;
    node.store
        .set_last_archive_end(COMMUNITY, &LinkKind::TORRENT, T0)
        .await
        .unwrap();
    node.insert(vec![message(T0 + 1, 1)]).await;
    node.backend
        .fail_next([archive_backend::ErrorKind::Unavailable]);
    let (scheduler, mut events) = node.scheduler(Node::config());
    scheduler.schedule(community()).await.unwrap();
    pass(10).await;
    assert!(scheduler.stop(&COMMUNITY).await);
    pass(DAY).await;
    assert_eq!(node.backend.attempts(), 1);
    assert_eq!(node.last_end().await, Some(T0));
    let got = events.take();
    assert!(
        matches!(
            got.as_slice(),
            [
                Event::CreatingHistoryArchives { .. },
                Event::PublishFailed {
                    will_retry: true,
                    attempt: 1,
                    ..
                },
            ]
        ),
        "{got:#?}"
    );
}

/// A publish slower than the interval delays the next run instead of
/// overlapping it, and the next run covers everything since.
#[tokio::test(start_paused = true)]
async fn runs_of_one_community_never_overlap() {
    let node = Node::new(T0).await;
    node.store
        .set_last_archive_end(COMMUNITY, &LinkKind::TORRENT, T0)
        .await
        .unwrap();
    node.backend.set_delay(Duration::from_secs(WEEK + DAY));
    let (scheduler, mut events) = node.scheduler(Node::config());
    scheduler.schedule(community()).await.unwrap();
    for day in 1..40 {
        node.insert(vec![message(node.now(), day)]).await;
        pass(DAY).await;
    }
    scheduler.stop_all().await;
    assert_eq!(node.backend.max_in_flight(), 1);

    let got = events.take();
    let mut open = false;
    let mut runs = Vec::new();
    for e in &got {
        match e {
            Event::CreatingHistoryArchives { .. } => {
                assert!(!open, "a run started inside another: {got:#?}");
                open = true;
            }
            Event::HistoryArchivesCreated { from, to, .. }
            | Event::NoHistoryArchivesCreated { from, to, .. } => {
                assert!(open);
                open = false;
                runs.push((*from, *to));
            }
            _ => {}
        }
    }
    // Each run starts where the previous ended.
    assert!(runs.len() >= 2, "{runs:?}");
    assert_eq!(runs[0].0, T0);
    assert!(runs.windows(2).all(|w| w[0].1 == w[1].0), "{runs:?}");
}

/// A new scheduler over the same store, after days offline, archives from
/// where the old one stopped: every message once, archives contiguous.
#[tokio::test(start_paused = true)]
async fn a_restart_resumes_from_the_recorded_end() {
    let node = Node::new(T0).await;
    let (scheduler, mut events) = node.scheduler(Node::config());
    assert_eq!(
        scheduler.schedule(community()).await.unwrap(),
        StartCase::NothingYet
    );
    let mut n = 0;
    for _ in 0..20 {
        node.insert(vec![message(node.now(), n)]).await;
        n += 1;
        pass(DAY).await;
    }
    scheduler.stop_all().await;
    let before = events.take();
    let end = node.last_end().await.unwrap();
    assert_eq!(end, T0 + 2 * WEEK);
    drop(scheduler);

    // Offline for ten days; messages keep arriving (from store nodes).
    for _ in 0..10 {
        node.insert(vec![message(node.now(), n)]).await;
        n += 1;
        pass(DAY).await;
    }
    let now = node.now();
    let (scheduler, mut events) = node.scheduler(Node::config());
    assert_eq!(
        scheduler
            .schedule(community().with_previous(last_link(&before).unwrap()))
            .await
            .unwrap(),
        StartCase::CatchUp { start: end }
    );
    pass(1).await;
    let after = events.take();
    assert_eq!(
        ranges(&created(&after)),
        [
            (end, end + WEEK),
            (end + WEEK, end + 2 * WEEK),
            (end + 2 * WEEK, now)
        ]
    );

    let all: Vec<_> = created(&before)
        .into_iter()
        .chain(created(&after))
        .collect();
    let read = node.read_archives(&last_link(&after).unwrap(), &all).await;
    let mut hashes: Vec<u64> = read
        .iter()
        .flat_map(|a| &a.messages)
        .map(|m| u64::from_be_bytes(m.hash.clone().try_into().unwrap()))
        .collect();
    hashes.sort_unstable();
    assert_eq!(
        hashes,
        (0..n).collect::<Vec<_>>(),
        "every message exactly once"
    );
    assert!(ranges(&all).windows(2).all(|w| w[0].1 <= w[1].0));
    scheduler.stop_all().await;
}

/// Without an explicit previous link the one recorded in the store (the
/// facade records its announcements there) is seeded at start.
#[tokio::test(start_paused = true)]
async fn the_previous_link_defaults_to_the_stored_announcement() {
    let node = Node::new(T0).await;
    node.insert(vec![message(T0 - 3 * DAY, 1)]).await;
    let link = node
        .publish_directly(TimeRange {
            from: T0 - 3 * DAY,
            to: T0 - DAY,
        })
        .await;
    node.store
        .record_announcement(COMMUNITY, &link.kind(), 1, link.announced().to_string())
        .await
        .unwrap();
    let (scheduler, mut events) = node.scheduler(Node::config());
    scheduler.schedule(community()).await.unwrap();
    pass(1).await;
    assert_eq!(
        events.take(),
        vec![Event::HistoryArchivesSeeding {
            community: COMMUNITY,
            link
        }]
    );
    scheduler.stop_all().await;
}

/// A stop that comes before the catch-up run began prevents it.
#[tokio::test(start_paused = true)]
async fn stop_right_after_scheduling_publishes_nothing() {
    let node = Node::new(T0 + 2 * WEEK).await;
    node.insert(vec![message(T0, 1)]).await;
    let (scheduler, mut events) = node.scheduler(Node::config());
    assert_eq!(
        scheduler.schedule(community()).await.unwrap(),
        StartCase::CatchUp { start: T0 }
    );
    assert!(scheduler.stop(&COMMUNITY).await);
    pass(WEEK).await;
    assert_eq!(events.take(), vec![]);
    assert_eq!(node.backend.attempts(), 0);
}

/// `archive_now` runs between ticks and reports what the run did; the weekly
/// schedule is untouched, and an unscheduled community is a typed error.
#[tokio::test(start_paused = true)]
async fn archive_now_runs_between_ticks_and_reports_the_outcome() {
    let node = Node::new(T0).await;
    let (scheduler, _events) = node.scheduler(Node::config());
    assert!(matches!(
        scheduler.archive_now(&COMMUNITY).await,
        Err(Error::NotScheduled(c)) if c == COMMUNITY
    ));
    node.insert(vec![message(T0 - 2 * WEEK, 1)]).await;
    assert!(matches!(
        scheduler.schedule(community()).await.unwrap(),
        StartCase::CatchUp { .. }
    ));
    pass(DAY).await;
    assert_eq!(
        scheduler.archive_now(&COMMUNITY).await.unwrap(),
        RunOutcome::Nothing,
        "the catch-up already archived everything"
    );
    node.insert(vec![message(node.now(), 2)]).await;
    pass(DAY).await;
    let RunOutcome::Created {
        range,
        archives,
        link,
    } = scheduler.archive_now(&COMMUNITY).await.unwrap()
    else {
        panic!("a message arrived since the last run");
    };
    assert_eq!(
        range,
        TimeRange {
            from: T0 + DAY,
            to: T0 + 2 * DAY
        }
    );
    assert_eq!(archives.len(), 1);
    assert!(link.is_some());
    assert_eq!(node.last_end().await, Some(T0 + 2 * DAY));
    scheduler.stop_all().await;
    assert!(matches!(
        scheduler.archive_now(&COMMUNITY).await,
        Err(Error::NotScheduled(_))
    ));
}
