//! Announcing is a command: every link reaches the announcer however far an
//! event listener falls behind, and a replaced link is unseeded only once
//! the announcer has recorded a link after it.

use archive_backend::{Backend, ErrorKind, Link, ResolveOptions};
use archive_scheduler::{Event, RunOutcome};
use tokio::sync::broadcast::error::RecvError;

use crate::fixture::{COMMUNITY, Node, T0, WEEK, community, message, pass};

/// Runs `community()` once more over a new message and returns its link.
async fn one_more_link(node: &Node, scheduler: &archive_scheduler::Scheduler, n: u64) -> Link {
    node.insert(vec![message(node.now(), n)]).await;
    pass(10).await;
    match scheduler.archive_now(&COMMUNITY).await.unwrap() {
        RunOutcome::Created {
            link: Some(link), ..
        } => link,
        other => panic!("run {n} made no link: {other:?}"),
    }
}

async fn served(node: &Node, link: &Link) -> bool {
    match node
        .backend
        .resolve(&COMMUNITY, link, &ResolveOptions::default())
        .await
    {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::NotFound => false,
        Err(e) => panic!("resolving {link}: {e}"),
    }
}

/// A listener with room for two events that never reads, through forty
/// runs: it misses almost everything (and is told exactly how much), while
/// the announcer is handed every link, in order.
#[tokio::test(start_paused = true)]
async fn every_link_is_announced_while_an_event_listener_lags() {
    const CAPACITY: usize = 2;
    let node = Node::new(T0 + 2 * WEEK).await;
    node.insert(vec![message(T0, 0)]).await;
    let (scheduler, mut lagging) = node.scheduler(Node::config().with_event_capacity(CAPACITY));
    scheduler.schedule(community()).await.unwrap();
    pass(1).await;
    let mut made = node.announcer.links();
    assert_eq!(made.len(), 1, "the catch-up run's link");
    for n in 1..=40 {
        made.push(one_more_link(&node, &scheduler, n).await);
    }
    scheduler.stop_all().await;

    assert_eq!(node.announcer.links(), made);
    let shown = node.announcer.observed();
    assert!(shown >= 3 * 41, "each run shows at least three events");
    match lagging.0.recv().await {
        Err(RecvError::Lagged(missed)) => {
            assert_eq!(missed, (shown - CAPACITY) as u64);
        }
        other => panic!("the lagging listener was not told it lagged: {other:?}"),
    }
    // What it still holds are the last events, in order.
    let last: Vec<_> = (0..CAPACITY)
        .map(|_| lagging.0.try_recv().unwrap())
        .collect();
    assert!(matches!(
        last.as_slice(),
        [
            Event::HistoryArchivesCreated { .. },
            Event::HistoryArchivesSeeding { link, .. },
        ] if Some(link) == made.last()
    ));
}

/// The link a run replaces stays served while the new link is not recorded
/// (a restart would go on from the replaced one), and both are unseeded
/// once a later link is recorded.
#[tokio::test(start_paused = true)]
async fn a_replaced_link_is_unseeded_once_a_newer_link_is_recorded() {
    let node = Node::new(T0 + 2 * WEEK).await;
    node.insert(vec![message(T0, 0)]).await;
    let (scheduler, _events) = node.scheduler(Node::config());
    scheduler.schedule(community()).await.unwrap();
    pass(1).await;
    let first = node.announcer.links()[0].clone();

    node.announcer.refuse_next(1);
    let second = one_more_link(&node, &scheduler, 1).await;
    assert_eq!(
        node.announcer.links(),
        std::slice::from_ref(&first),
        "not recorded"
    );
    assert!(
        served(&node, &first).await,
        "the recorded link still resolves"
    );
    assert!(served(&node, &second).await);

    let third = one_more_link(&node, &scheduler, 2).await;
    assert_eq!(node.announcer.links(), [first.clone(), third.clone()]);
    assert!(!served(&node, &first).await);
    assert!(!served(&node, &second).await);
    assert!(served(&node, &third).await);
    scheduler.stop_all().await;
}
