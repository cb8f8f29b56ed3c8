//! [`Scheduler`]: one archive task per community, started in the right case
//! and stopped without losing or repeating work.

use std::{
    collections::HashMap,
    fmt,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};

use archive_backend::{DynBackend, Link};
use archive_index::CommunityId;
use archive_store::Store;
use tokio::{
    sync::{broadcast, mpsc, oneshot},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

use crate::{
    announcer::Announcer,
    clock::Clock,
    config::{CommunityArchive, Config},
    error::{Error, Result},
    event::{Event, RunOutcome},
    task::{Task, partition_start},
};

/// How a community's task started (spec d.1). Times are Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartCase {
    /// Case 1: no archive end and no stored message yet; the first run comes
    /// after one interval.
    NothingYet,
    /// Case 2: `start` is less than one interval ago; the previous link was
    /// seeded at once and the first run comes at `first_run`.
    Recent {
        /// The last archive end, or the oldest stored message.
        start: u64,
        /// When the first run archives `[start, first_run)`.
        first_run: u64,
    },
    /// Case 3: `start` is an interval or more ago; a catch-up run archives
    /// `[start, now)` at once, one archive per non-empty interval.
    CatchUp {
        /// The last archive end, or the oldest stored message.
        start: u64,
    },
}

/// What the tasks share: everything a run needs.
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) backend: DynBackend,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: Config,
    /// Handed every new link; shown every event first.
    pub(crate) announcer: Arc<dyn Announcer>,
    events: broadcast::Sender<Event>,
}

impl Shared {
    /// Shows `event` to the announcer, then sends it to the subscribers;
    /// with none it is simply dropped.
    pub(crate) fn emit(&self, event: Event) {
        self.announcer.observe(&event);
        let _ = self.events.send(event);
    }
}

/// One registered task. It stays registered until a `stop` has seen it end,
/// so a community cannot be scheduled again while its old task still runs.
struct Running {
    cancel: CancellationToken,
    /// Set by [`Scheduler::stop`] (if configured) before it cancels: only a
    /// community stopped on its own unseeds. Shutting the node down is not
    /// unpublishing (on Codex an unseed deletes the index from the node).
    unseed: Arc<AtomicBool>,
    /// Cancelled by the task itself when it ends, however it ends, so any
    /// number of concurrent `stop`s can wait for it.
    done: CancellationToken,
    /// Taken by the one `stop` that reports a panic.
    join: Mutex<Option<JoinHandle<()>>>,
    /// Asks the task for a run now.
    requests: mpsc::Sender<oneshot::Sender<RunOutcome>>,
}

/// Runs the periodic archive tasks of the communities a node owns.
///
/// Runs of one community never overlap: each community has one task that
/// runs them one after another. Dropping the scheduler cancels every task
/// without waiting; [`stop_all`](Scheduler::stop_all) waits.
pub struct Scheduler {
    shared: Arc<Shared>,
    tasks: Mutex<HashMap<CommunityId, Arc<Running>>>,
    /// Parent of every task's token, cancelled on drop.
    root: CancellationToken,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("backend", &self.shared.backend.name())
            .field("clock", &self.shared.clock)
            .field("config", &self.shared.config)
            .field("announcer", &self.shared.announcer)
            .field("scheduled", &self.scheduled())
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler that archives messages of `store` through `backend` and
    /// hands every link it serves to `announcer`.
    pub fn new(
        store: Store,
        backend: DynBackend,
        clock: Arc<dyn Clock>,
        config: Config,
        announcer: Arc<dyn Announcer>,
    ) -> Result<Scheduler> {
        config.validate()?;
        let (events, _) = broadcast::channel(config.event_capacity);
        Ok(Scheduler {
            shared: Arc::new(Shared {
                store,
                backend,
                clock,
                config,
                announcer,
                events,
            }),
            tasks: Mutex::default(),
            root: CancellationToken::new(),
        })
    }

    /// A receiver of every event emitted from now on. One that falls more
    /// than [`event_capacity`](Config::event_capacity) events behind
    /// misses the oldest and is told how many by its next `recv`; nothing
    /// else depends on it keeping up.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// Starts archiving `archive.community` and says in which start case.
    ///
    /// Only the start case is decided here; seeding, the catch-up run and
    /// every later run happen in the community's task and report
    /// [`Event`]s.
    pub async fn schedule(&self, archive: CommunityArchive) -> Result<StartCase> {
        let community = archive.community;
        if self.is_scheduled(&community) {
            return Err(Error::AlreadyScheduled(community));
        }
        let kind = self.shared.backend.link_kind();
        let start = partition_start(&self.shared.store, community, kind, &archive.topics).await?;
        let previous = match archive.previous {
            Some(link) => Some(link),
            None => self.stored_link(community).await?,
        };
        let now = self.shared.clock.now();
        let interval = self.shared.config.interval_secs();
        let case = match start {
            None => StartCase::NothingYet,
            // A start in the future (a clock set back) counts as "just now".
            Some(start) if now.saturating_sub(start) < interval => StartCase::Recent {
                start,
                first_run: now + (interval - now.saturating_sub(start)),
            },
            Some(start) => StartCase::CatchUp { start },
        };

        let mut tasks = self.lock_tasks();
        // Checked again: another `schedule` may have won while we read.
        if tasks.contains_key(&community) {
            return Err(Error::AlreadyScheduled(community));
        }
        let cancel = self.root.child_token();
        let unseed = Arc::new(AtomicBool::new(false));
        let done = CancellationToken::new();
        // One waiting request is enough: callers queue on the sender.
        let (requests, receiver) = mpsc::channel(1);
        let task = Task::new(
            Arc::clone(&self.shared),
            community,
            archive.topics,
            previous,
            receiver,
            cancel.clone(),
            Arc::clone(&unseed),
        )
        .with_envelope(archive.envelope);
        let guard = done.clone().drop_guard();
        let join = tokio::spawn(async move {
            let _done = guard;
            task.run(case).await;
        });
        tasks.insert(
            community,
            Arc::new(Running {
                cancel,
                unseed,
                done,
                join: Mutex::new(Some(join)),
                requests,
            }),
        );
        Ok(case)
    }

    /// Runs `community`'s archiving now, between its ticks, and says what the
    /// run did once it is over. The periodic schedule is unchanged; runs never
    /// overlap, so this waits for a run already in progress first.
    pub async fn archive_now(&self, community: &CommunityId) -> Result<RunOutcome> {
        let Some(running) = self.lock_tasks().get(community).cloned() else {
            return Err(Error::NotScheduled(*community));
        };
        let (reply, outcome) = oneshot::channel();
        // Either fails only when the task has ended (stopped meanwhile).
        running
            .requests
            .send(reply)
            .await
            .map_err(|_| Error::NotScheduled(*community))?;
        outcome.await.map_err(|_| Error::NotScheduled(*community))
    }

    /// Stops `community`'s task and waits until it has ended: a publish in
    /// progress completes and its end is recorded; a wait or backoff ends at
    /// once; the current link is unseeded if
    /// [`unseed_on_stop`](Config::unseed_on_stop) says so. Returns
    /// whether the community was scheduled; stopping it again does nothing.
    ///
    /// If the task panicked, the panic is resumed here.
    pub async fn stop(&self, community: &CommunityId) -> bool {
        let Some(running) = self.lock_tasks().get(community).cloned() else {
            return false;
        };
        running
            .unseed
            .store(self.shared.config.unseed_on_stop, Ordering::SeqCst);
        self.finish(community, &running).await;
        running.resume_panic().await;
        true
    }

    /// Stops every task and waits until all have ended: the node is shutting
    /// down, so every link stays published (nothing is unseeded). Tasks are
    /// cancelled together, so shutting down takes as long as the slowest
    /// publish in progress, not the sum.
    pub async fn stop_all(&self) {
        let all: Vec<_> = self
            .lock_tasks()
            .iter()
            .map(|(c, r)| (*c, Arc::clone(r)))
            .collect();
        for (_, running) in &all {
            running.cancel.cancel();
        }
        futures::future::join_all(all.iter().map(|(c, r)| self.finish(c, r))).await;
        for (_, running) in &all {
            running.resume_panic().await;
        }
    }

    /// Whether `community` has a task.
    pub fn is_scheduled(&self, community: &CommunityId) -> bool {
        self.lock_tasks().contains_key(community)
    }

    /// The communities with a task.
    pub fn scheduled(&self) -> Vec<CommunityId> {
        let mut all: Vec<_> = self.lock_tasks().keys().copied().collect();
        all.sort();
        all
    }

    /// Cancels `running`, waits for its end and unregisters it. Cancelling
    /// a token twice is harmless, so concurrent stops need no coordination.
    async fn finish(&self, community: &CommunityId, running: &Arc<Running>) {
        running.cancel.cancel();
        running.done.cancelled().await;
        let mut tasks = self.lock_tasks();
        // Only this task's entry: a new task may have been scheduled since.
        if tasks
            .get(community)
            .is_some_and(|r| Arc::ptr_eq(r, running))
        {
            tasks.remove(community);
        }
    }

    /// The last announced link of the backend's kind recorded in the store.
    async fn stored_link(&self, community: CommunityId) -> Result<Option<Link>> {
        let kind = self.shared.backend.link_kind();
        let Some(announcement) = self.shared.store.announcement(community, &kind).await? else {
            return Ok(None);
        };
        // Stored either as announced on the wire or in its string form; an
        // unreadable one is treated as absent: the next run makes a new link.
        Ok(Link::from_announced(kind, &announcement.link)
            .or_else(|_| announcement.link.parse())
            .ok())
    }

    fn lock_tasks(&self) -> std::sync::MutexGuard<'_, HashMap<CommunityId, Arc<Running>>> {
        // The map is only ever touched by short, non-panicking sections.
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Running {
    /// Awaits the (finished) task once and resumes its panic, if any.
    async fn resume_panic(&self) {
        let join = self
            .join
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(join) = join
            && let Err(e) = join.await
            && e.is_panic()
        {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.root.cancel();
    }
}
