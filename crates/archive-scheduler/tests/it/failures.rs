//! Failed publishes: temporary errors are retried over the same range with
//! bounded backoff, permanent ones are reported once, and neither loses or
//! repeats a message.

use archive_backend::{ErrorKind, LinkKind};
use archive_index::TimeRange;
use archive_scheduler::{Event, StartCase};

use crate::fixture::{COMMUNITY, DAY, Node, T0, WEEK, community, created, message, pass, ranges};

/// Three weeks of messages, the last archive end three weeks ago.
async fn node_three_weeks_behind() -> Node {
    let node = Node::new(T0 + 3 * WEEK).await;
    node.store
        .set_last_archive_end(COMMUNITY, &LinkKind::TORRENT, T0)
        .await
        .unwrap();
    node.insert((0..21).map(|d| message(T0 + d * DAY + 7, d)).collect())
        .await;
    node
}

fn failures(events: &[Event]) -> Vec<(TimeRange, ErrorKind, u32, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PublishFailed {
                range,
                kind,
                attempt,
                will_retry,
                ..
            } => Some((*range, *kind, *attempt, *will_retry)),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn two_temporary_failures_then_success_make_the_same_archives_as_no_failure() {
    let steady = node_three_weeks_behind().await;
    let (scheduler, mut events) = steady.scheduler(Node::config());
    scheduler.schedule(community()).await.unwrap();
    pass(1).await;
    let expected = created(&events.take());
    scheduler.stop_all().await;
    assert_eq!(expected.len(), 3);

    let flaky = node_three_weeks_behind().await;
    flaky
        .backend
        .fail_next([ErrorKind::Unavailable, ErrorKind::Timeout]);
    let (scheduler, mut events) = flaky.scheduler(Node::config());
    assert_eq!(
        scheduler.schedule(community()).await.unwrap(),
        StartCase::CatchUp { start: T0 }
    );
    // Backoff: 60 s after the first failure, 120 s after the second.
    pass(179).await;
    let early = events.take();
    assert_eq!(created(&early), vec![]);
    assert_eq!(flaky.last_end().await, Some(T0), "nothing recorded yet");
    pass(2).await;
    let late = events.take();
    assert_eq!(created(&late), expected, "same IDs, ranges and counts");
    let range = TimeRange {
        from: T0,
        to: T0 + 3 * WEEK,
    };
    assert_eq!(
        failures(&early),
        [
            (range, ErrorKind::Unavailable, 1, true),
            (range, ErrorKind::Timeout, 2, true)
        ]
    );
    assert_eq!(flaky.backend.attempts(), 3);
    assert_eq!(flaky.last_end().await, steady.last_end().await);
    scheduler.stop_all().await;
}

#[tokio::test(start_paused = true)]
async fn a_permanent_error_is_reported_once_and_the_next_tick_starts_from_the_same_end() {
    let node = node_three_weeks_behind().await;
    node.backend.fail_next([ErrorKind::InvalidInput]);
    let (scheduler, mut events) = node.scheduler(Node::config());
    scheduler.schedule(community()).await.unwrap();
    pass(DAY).await;
    let got = events.take();
    assert_eq!(
        failures(&got),
        [(
            TimeRange {
                from: T0,
                to: T0 + 3 * WEEK
            },
            ErrorKind::InvalidInput,
            1,
            false
        )]
    );
    assert_eq!(created(&got), vec![]);
    assert_eq!(node.backend.attempts(), 1);
    assert_eq!(node.last_end().await, Some(T0));

    node.insert(vec![message(node.now(), 100)]).await;
    pass(WEEK).await;
    let archives = created(&events.take());
    assert_eq!(
        ranges(&archives),
        [
            (T0, T0 + WEEK),
            (T0 + WEEK, T0 + 2 * WEEK),
            (T0 + 2 * WEEK, T0 + 3 * WEEK),
            (T0 + 3 * WEEK, T0 + 4 * WEEK),
        ]
    );
    assert_eq!(archives.iter().map(|a| a.message_count).sum::<usize>(), 22);
    scheduler.stop_all().await;
}

#[tokio::test(start_paused = true)]
async fn retries_stop_after_max_attempts() {
    let node = node_three_weeks_behind().await;
    node.backend.fail_next([ErrorKind::Unavailable; 10]);
    let (scheduler, mut events) = node.scheduler(Node::config());
    scheduler.schedule(community()).await.unwrap();
    pass(DAY).await;
    let got = failures(&events.take());
    let attempts: Vec<_> = got.iter().map(|f| (f.2, f.3)).collect();
    assert_eq!(attempts, [(1, true), (2, true), (3, true), (4, false)]);
    assert_eq!(node.backend.attempts(), 4);
    assert_eq!(node.last_end().await, Some(T0));

    node.backend.clear_failures();
    pass(WEEK).await;
    // The fourth week is empty: three archives, the end moved to now.
    assert_eq!(created(&events.take()).len(), 3);
    assert_eq!(node.last_end().await, Some(T0 + 4 * WEEK));
    scheduler.stop_all().await;
}
