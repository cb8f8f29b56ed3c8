//! The three start cases of spec d.1, the catch-up, and stop cancelling the
//! delayed first run (status-go's defect i.7).

use archive_backend::LinkKind;
use archive_index::TimeRange;
use archive_scheduler::{Event, StartCase};

use crate::fixture::{
    COMMUNITY, DAY, Node, OTHER_TOPIC, T0, WEEK, community, created, last_link, message, pass,
    ranges,
};

/// Case 1: nothing stored yet. Nothing happens for one interval; the first
/// run then archives from the oldest message stored meanwhile.
#[tokio::test(start_paused = true)]
async fn nothing_stored_waits_one_interval_then_archives_from_the_oldest_message() {
    let node = Node::new(T0).await;
    let (scheduler, mut events) = node.scheduler(Node::config());
    assert_eq!(
        scheduler.schedule(community()).await.unwrap(),
        StartCase::NothingYet
    );

    pass(2 * DAY).await;
    assert_eq!(events.take(), vec![]);
    let mut foreign = message(node.now(), 99);
    foreign.topic = OTHER_TOPIC;
    node.insert(vec![message(node.now(), 1), foreign]).await;
    pass(3 * DAY).await;
    node.insert(vec![message(node.now(), 2)]).await;
    pass(2 * DAY - 1).await;
    assert_eq!(events.take(), vec![], "no run before the interval is over");

    pass(2).await;
    let got = events.take();
    assert!(
        matches!(
            got.as_slice(),
            [
                Event::CreatingHistoryArchives { .. },
                Event::HistoryArchivesCreated { from, to, .. },
                Event::HistoryArchivesSeeding { .. },
            ] if *from == T0 + 2 * DAY && *to == T0 + WEEK
        ),
        "{got:#?}"
    );
    let archives = created(&got);
    assert_eq!(ranges(&archives), [(T0 + 2 * DAY, T0 + WEEK)]);
    let link = last_link(&got).unwrap();
    let read = node.read_archives(&link, &archives).await;
    let hashes: Vec<_> = read[0].messages.iter().map(|m| m.hash.clone()).collect();
    assert_eq!(hashes, [1u64.to_be_bytes(), 2u64.to_be_bytes()]);
    assert_eq!(node.last_end().await, Some(T0 + WEEK));
    scheduler.stop_all().await;
}

/// Case 2: the last archive ended two days ago. The previous link is
/// seeded at once and the first run, five days later, archives exactly the
/// rest of that interval; runs are weekly from then on.
#[tokio::test(start_paused = true)]
async fn recent_end_seeds_the_previous_link_and_runs_when_the_interval_completes() {
    let node = Node::new(T0).await;
    node.insert(vec![message(T0 - 9 * DAY, 1), message(T0 - 3 * DAY, 2)])
        .await;
    let previous = node
        .publish_directly(TimeRange {
            from: T0 - 9 * DAY,
            to: T0 - 2 * DAY,
        })
        .await;
    let (scheduler, mut events) = node.scheduler(Node::config());
    assert_eq!(
        scheduler
            .schedule(community().with_previous(previous.clone()))
            .await
            .unwrap(),
        StartCase::Recent {
            start: T0 - 2 * DAY,
            first_run: T0 + 5 * DAY
        }
    );
    pass(1).await;
    assert_eq!(
        events.take(),
        vec![Event::HistoryArchivesSeeding {
            community: COMMUNITY,
            link: previous.clone()
        }]
    );
    assert_eq!(node.backend.attempts(), 1, "only the direct publish so far");

    pass(DAY).await;
    node.insert(vec![message(node.now(), 3)]).await;
    pass(4 * DAY - 2).await;
    assert_eq!(events.take(), vec![], "one second before the first run");
    pass(2).await;
    let got = events.take();
    assert!(
        matches!(
            got.as_slice(),
            [
                Event::CreatingHistoryArchives { .. },
                Event::HistoryArchivesCreated { from, to, .. },
                Event::HistoryArchivesSeeding { link, .. },
            ] if *from == T0 - 2 * DAY && *to == T0 + 5 * DAY && *link != previous
        ),
        "{got:#?}"
    );

    // Then weekly, from the end of the delayed run.
    node.insert(vec![message(node.now() + 10, 4)]).await;
    pass(WEEK).await;
    let got = events.take();
    assert_eq!(ranges(&created(&got)), [(T0 + 5 * DAY, T0 + 12 * DAY)]);
    scheduler.stop_all().await;
}

/// Case 3: 30 days offline with a message every day, after an archive that
/// ended 30 days ago: one catch-up run makes ⌈30/7⌉ = 5 archives, aligned
/// to the last end, the last one clipped to now.
#[tokio::test(start_paused = true)]
async fn thirty_days_offline_catch_up_makes_five_archives() {
    let node = Node::new(T0 + 30 * DAY).await;
    node.store
        .set_last_archive_end(COMMUNITY, &LinkKind::TORRENT, T0)
        .await
        .unwrap();
    node.insert((0..30).map(|d| message(T0 + d * DAY + 3600, d)).collect())
        .await;
    let (scheduler, mut events) = node.scheduler(Node::config());
    assert_eq!(
        scheduler.schedule(community()).await.unwrap(),
        StartCase::CatchUp { start: T0 }
    );
    pass(1).await;
    let got = events.take();
    assert!(
        matches!(
            got.as_slice(),
            [
                Event::CreatingHistoryArchives { .. },
                Event::HistoryArchivesCreated { from, to, .. },
                Event::HistoryArchivesSeeding { .. },
            ] if *from == T0 && *to == T0 + 30 * DAY
        ),
        "{got:#?}"
    );
    let archives = created(&got);
    assert_eq!(
        ranges(&archives),
        [
            (T0, T0 + WEEK),
            (T0 + WEEK, T0 + 2 * WEEK),
            (T0 + 2 * WEEK, T0 + 3 * WEEK),
            (T0 + 3 * WEEK, T0 + 4 * WEEK),
            (T0 + 4 * WEEK, T0 + 30 * DAY),
        ]
    );
    let counts: Vec<_> = archives.iter().map(|a| a.message_count).collect();
    assert_eq!(counts, [7, 7, 7, 7, 2]);
    let read = node
        .read_archives(&last_link(&got).unwrap(), &archives)
        .await;
    let all: Vec<u64> = read
        .iter()
        .flat_map(|a| &a.messages)
        .map(|m| u64::from_be_bytes(m.hash.clone().try_into().unwrap()))
        .collect();
    assert_eq!(all, (0..30).collect::<Vec<_>>());
    assert_eq!(node.last_end().await, Some(T0 + 30 * DAY));

    // Periodic from then on: the next run a week later.
    pass(WEEK - 2).await;
    assert_eq!(events.take(), vec![]);
    pass(2).await;
    assert!(matches!(
        events.take().as_slice(),
        [
            Event::CreatingHistoryArchives { .. },
            Event::NoHistoryArchivesCreated { from, to, .. },
        ] if *from == T0 + 30 * DAY && *to == T0 + 37 * DAY
    ));
    scheduler.stop_all().await;
}

/// Without a recorded end the catch-up starts at the oldest message on the
/// community's topics (spec c.2), and empty partitions make no archive.
#[tokio::test(start_paused = true)]
async fn catch_up_without_recorded_end_starts_at_the_oldest_message_and_skips_empty_weeks() {
    let node = Node::new(T0 + 4 * WEEK + DAY).await;
    let mut foreign = message(T0 - WEEK, 50);
    foreign.topic = OTHER_TOPIC;
    node.insert(vec![
        foreign,
        message(T0, 1),
        message(T0 + 2 * WEEK + 5, 2),
        message(T0 + 2 * WEEK + 6, 3),
    ])
    .await;
    let (scheduler, mut events) = node.scheduler(Node::config());
    assert_eq!(
        scheduler.schedule(community()).await.unwrap(),
        StartCase::CatchUp { start: T0 }
    );
    pass(1).await;
    let archives = created(&events.take());
    assert_eq!(
        ranges(&archives),
        [(T0, T0 + WEEK), (T0 + 2 * WEEK, T0 + 3 * WEEK)]
    );
    assert_eq!(node.last_end().await, Some(T0 + 4 * WEEK + DAY));
    scheduler.stop_all().await;
}

/// The delayed first run of case 2 belongs to the task: stopping the task
/// cancels it (status-go's `time.AfterFunc` kept running, spec i.7).
#[tokio::test(start_paused = true)]
async fn stop_cancels_the_delayed_first_run() {
    let node = Node::new(T0).await;
    node.insert(vec![message(T0 - DAY, 1)]).await;
    let (scheduler, mut events) = node.scheduler(Node::config());
    assert!(matches!(
        scheduler.schedule(community()).await.unwrap(),
        StartCase::Recent { first_run, .. } if first_run == T0 + 6 * DAY
    ));
    pass(DAY).await;
    assert!(scheduler.stop(&COMMUNITY).await);
    pass(30 * DAY).await;
    assert_eq!(events.take(), vec![]);
    assert_eq!(node.backend.attempts(), 0);
    assert_eq!(node.last_end().await, None);
}
