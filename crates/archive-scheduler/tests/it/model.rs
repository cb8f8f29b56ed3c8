//! Model-based test: random message arrivals, elapsed time, injected
//! publish failures and restarts; afterwards every message is in exactly one
//! archive the backend holds, inside that archive's range.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use archive_backend::{Backend, ErrorKind, Link, ResolveOptions};
use archive_scheduler::{Event, RetryPolicy, Scheduler};
use proptest::prelude::*;

use crate::fixture::{COMMUNITY, DAY, Listener, Node, T0, TOPIC, community, created, message};

/// A short interval so that a few steps cover many runs.
const INTERVAL: u64 = DAY;

#[derive(Clone, Debug)]
enum Step {
    /// Messages arrive now.
    Arrive(u64),
    /// Time passes.
    Wait(u64),
    /// The next publishes fail with these kinds.
    Fail(Vec<ErrorKind>),
    /// Publishes answer this many seconds after doing their work.
    Slow(u64),
    /// The node stops, stays offline for `offline` seconds while `arrivals`
    /// messages are stored (from store nodes), and starts a new scheduler.
    Restart { offline: u64, arrivals: u64 },
}

fn kind() -> impl Strategy<Value = ErrorKind> {
    prop_oneof![
        Just(ErrorKind::Unavailable),
        Just(ErrorKind::Timeout),
        Just(ErrorKind::InvalidInput),
        Just(ErrorKind::Io),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u64..4).prop_map(Step::Arrive),
        4 => (60u64..3 * INTERVAL).prop_map(Step::Wait),
        2 => prop::collection::vec(kind(), 1..5).prop_map(Step::Fail),
        1 => prop_oneof![Just(0u64), 1u64..2 * INTERVAL].prop_map(Step::Slow),
        1 => (0u64..5 * INTERVAL, 0u64..4)
            .prop_map(|(offline, arrivals)| Step::Restart { offline, arrivals }),
    ]
}

fn config() -> archive_scheduler::Config {
    archive_scheduler::Config::default()
        .with_interval(Duration::from_secs(INTERVAL))
        .with_retry(RetryPolicy::new(
            3,
            Duration::from_secs(600),
            Duration::from_secs(3600),
        ))
        .with_event_capacity(4096)
}

/// The node under test and what the test has seen so far.
struct World {
    node: Node,
    scheduler: Scheduler,
    listener: Listener,
    events: Vec<Event>,
    next_message: u64,
}

impl World {
    async fn arrive(&mut self, count: u64) {
        let now = self.node.now();
        let messages = (0..count)
            .map(|i| message(now, self.next_message + i))
            .collect();
        self.next_message += count;
        self.node.insert(messages).await;
    }

    fn collect(&mut self) {
        self.events.extend(self.listener.take());
    }

    fn link(&self) -> Option<Link> {
        crate::fixture::last_link(&self.events)
    }

    async fn restart(&mut self, offline: u64, arrivals: u64) {
        self.scheduler.stop_all().await;
        self.collect();
        for _ in 0..arrivals {
            tokio::time::sleep(Duration::from_secs(offline / (arrivals + 1))).await;
            self.arrive(1).await;
        }
        tokio::time::sleep(Duration::from_secs(offline / (arrivals + 1))).await;
        (self.scheduler, self.listener) = self.node.scheduler(config());
        let mut archive = community();
        if let Some(link) = self.link() {
            archive = archive.with_previous(link);
        }
        self.scheduler.schedule(archive).await.unwrap();
    }
}

async fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let node = Node::new(T0).await;
    let (scheduler, listener) = node.scheduler(config());
    let mut world = World {
        node,
        scheduler,
        listener,
        events: Vec::new(),
        next_message: 0,
    };
    world.scheduler.schedule(community()).await.unwrap();
    for step in steps {
        match step {
            Step::Arrive(n) => world.arrive(n).await,
            Step::Wait(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
            Step::Fail(kinds) => world.node.backend.fail_next(kinds),
            Step::Slow(secs) => world.node.backend.set_delay(Duration::from_secs(secs)),
            Step::Restart { offline, arrivals } => world.restart(offline, arrivals).await,
        }
        world.collect();
    }
    // Let the failures pass and enough runs happen to archive everything:
    // a publish in flight may still answer up to two intervals late.
    world.node.backend.clear_failures();
    world.node.backend.set_delay(Duration::ZERO);
    tokio::time::sleep(Duration::from_secs(5 * INTERVAL)).await;
    world.collect();

    let archives = created(&world.events);
    let ids: BTreeSet<_> = archives.iter().map(|a| a.id).collect();
    prop_assert_eq!(ids.len(), archives.len(), "an archive reported twice");
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    if let Some(link) = world.link() {
        // The link announced last covers exactly the archives reported.
        let index = world
            .node
            .backend
            .resolve(&COMMUNITY, &link, &ResolveOptions::default())
            .await
            .map_err(|e| TestCaseError::fail(format!("the last link does not resolve: {e}")))?;
        let behind: BTreeSet<_> = index.archives.iter().map(|(id, _)| *id).collect();
        prop_assert_eq!(&behind, &ids);
        for archive in world.node.read_archives(&link, &archives).await {
            prop_assert_eq!(&archive.metadata.topics, &vec![TOPIC]);
            for m in &archive.messages {
                prop_assert!(archive.metadata.range.contains(m.timestamp));
                let n = u64::from_be_bytes(m.hash.clone().try_into().unwrap());
                *seen.entry(n).or_default() += 1;
            }
        }
    }
    let expected: BTreeMap<u64, usize> = (0..world.next_message).map(|n| (n, 1)).collect();
    prop_assert_eq!(seen, expected, "every message in exactly one archive");

    // Runs are contiguous: each starts at the end the previous recorded.
    let mut runs = world.events.iter().filter_map(|e| match e {
        Event::HistoryArchivesCreated { from, to, .. }
        | Event::NoHistoryArchivesCreated { from, to, .. } => Some((*from, *to)),
        _ => None,
    });
    if let Some(first) = runs.next() {
        let last = runs.try_fold(first, |prev, next| {
            (prev.1 == next.0 || next.0 >= next.1).then_some(next)
        });
        prop_assert!(last.is_some(), "runs not contiguous: {:#?}", world.events);
        prop_assert_eq!(world.node.last_end().await, last.map(|r| r.1.max(r.0)));
    }
    world.scheduler.stop_all().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_message_lands_in_exactly_one_archive(
        steps in prop::collection::vec(step(), 1..25)
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(run(steps))?;
    }
}
