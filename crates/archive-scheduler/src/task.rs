//! One community's archive task: the start case, the periodic runs, and the
//! publish-then-record step with its retries.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use archive_backend::{
    Link, LinkKind, PublishOptions, PublishOutcome, PublishRequest, SharedEnvelope,
};
use archive_index::{CommunityId, TimeRange, Topic};
use archive_store::Store;
use tokio::{
    sync::{mpsc, oneshot},
    time::{Instant, sleep, sleep_until},
};
use tokio_util::sync::CancellationToken;

use crate::{
    event::{Event, RunOutcome},
    scheduler::{Shared, StartCase},
    source::StoreSource,
};

/// Where the next run on the network of `kind` starts (spec c.2): the
/// recorded last archive end, else the oldest stored message on `topics`;
/// `None` when there is nothing.
pub(crate) async fn partition_start(
    store: &Store,
    community: CommunityId,
    kind: LinkKind,
    topics: &[Topic],
) -> archive_store::Result<Option<u64>> {
    match store.last_archive_end(community, &kind).await? {
        Some(end) => Ok(Some(end)),
        None => store.oldest_timestamp(topics.to_vec()).await,
    }
}

/// The state of one community's task.
pub(crate) struct Task {
    shared: Arc<Shared>,
    community: CommunityId,
    topics: Vec<Topic>,
    /// The link covering every archive so far.
    link: Option<Link>,
    /// Whether `link` is being served by this task's doing.
    seeded: bool,
    /// Links `link` replaced, still served until the announcer has recorded
    /// a link after them.
    replaced: Vec<Link>,
    /// The end of the last successful publish. Normally also in the store;
    /// kept here so that a failed store write cannot make the next run
    /// archive the same range again.
    published_end: Option<u64>,
    /// Runs asked for between ticks ([`Scheduler::archive_now`](crate::Scheduler::archive_now)).
    requests: mpsc::Receiver<oneshot::Sender<RunOutcome>>,
    cancel: CancellationToken,
    /// Whether to unseed `link` once cancelled; set by the stop that cancels.
    unseed_on_stop: Arc<AtomicBool>,
    /// Seals what is published (an encrypted community).
    envelope: Option<SharedEnvelope>,
}

impl Task {
    pub(crate) fn new(
        shared: Arc<Shared>,
        community: CommunityId,
        topics: Vec<Topic>,
        previous: Option<Link>,
        requests: mpsc::Receiver<oneshot::Sender<RunOutcome>>,
        cancel: CancellationToken,
        unseed_on_stop: Arc<AtomicBool>,
    ) -> Task {
        Task {
            shared,
            community,
            topics,
            link: previous,
            seeded: false,
            replaced: Vec::new(),
            published_end: None,
            requests,
            cancel,
            unseed_on_stop,
            envelope: None,
        }
    }

    /// The same task, sealing with `envelope`.
    pub(crate) fn with_envelope(mut self, envelope: Option<SharedEnvelope>) -> Task {
        self.envelope = envelope;
        self
    }

    /// Runs until cancelled, then unseeds if the stop asked for it.
    pub(crate) async fn run(mut self, case: StartCase) {
        let interval = Duration::from_secs(self.shared.config.interval_secs());
        let started = Instant::now();
        let mut deadline = match case {
            StartCase::NothingYet => started + interval,
            StartCase::Recent { first_run, .. } => {
                // From the clock again: time may have passed since the case
                // was decided.
                let wait = first_run.saturating_sub(self.shared.clock.now());
                started + Duration::from_secs(wait)
            }
            StartCase::CatchUp { .. } => {
                // A stop right after scheduling must not start a publish.
                if !self.cancel.is_cancelled() {
                    self.archive_once().await;
                }
                started + interval
            }
        };
        // status-go seeds the existing torrent at start-up whatever the case;
        // after a catch-up that made a new link there is nothing left to do.
        if !self.seeded
            && !self.cancel.is_cancelled()
            && let Some(link) = self.link.clone()
        {
            self.seed(link).await;
        }

        loop {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => break,
                Some(reply) = self.requests.recv() => {
                    // An extra run between ticks; the schedule stays as it was.
                    let outcome = self.archive_once().await;
                    let _ = reply.send(outcome);
                    continue;
                }
                () = sleep_until(deadline) => {}
            }
            self.archive_once().await;
            // A run longer than an interval (retries) skips the ticks it
            // missed: the next run covers everything since the last end.
            let now = Instant::now();
            if deadline <= now {
                let missed = (now - deadline).as_secs() / interval.as_secs() + 1;
                deadline += interval * u32::try_from(missed).unwrap_or(u32::MAX);
            }
        }

        if self.unseed_on_stop.load(Ordering::SeqCst) && self.seeded {
            self.unseed().await;
        }
    }

    /// One archive run over `[start, now)`.
    async fn archive_once(&mut self) -> RunOutcome {
        let kind = self.shared.backend.link_kind();
        let stored =
            match partition_start(&self.shared.store, self.community, kind, &self.topics).await {
                Ok(start) => start,
                Err(e) => {
                    self.store_failed(&e);
                    return RunOutcome::Failed {
                        error: e.to_string(),
                    };
                }
            };
        // `None < Some`, so the larger of two known ends wins.
        let Some(from) = stored.max(self.published_end) else {
            // Nothing was ever stored: no run (status-go skips the tick).
            return RunOutcome::Nothing;
        };
        if self.published_end > stored {
            self.write_end(from).await;
        }
        let to = self.shared.clock.now();
        self.shared.emit(Event::CreatingHistoryArchives {
            community: self.community,
        });
        if from >= to {
            self.shared.emit(Event::NoHistoryArchivesCreated {
                community: self.community,
                from,
                to,
            });
            return RunOutcome::Nothing;
        }
        let range = TimeRange { from, to };
        match self.publish(range).await {
            Ok(outcome) => self.record(range, outcome).await,
            Err(error) => RunOutcome::Failed { error },
        }
    }

    /// Publishes `range`, retrying temporary failures; the last error when it
    /// gave up. An attempt in progress is never abandoned: its archives must
    /// be recorded, or the next run would publish them a second time.
    async fn publish(&self, range: TimeRange) -> Result<PublishOutcome, String> {
        let policy = self.shared.config.retry;
        let source = StoreSource::new(self.shared.store.clone());
        let mut attempt = 1;
        loop {
            let request = PublishRequest {
                community: self.community,
                topics: self.topics.clone(),
                range,
                interval: self.shared.config.interval_secs(),
                previous: self.link.clone(),
                messages: &source,
            };
            let error = match self
                .shared
                .backend
                .publish(
                    request,
                    &PublishOptions::with_envelope(self.envelope.clone()),
                )
                .await
            {
                Ok(outcome) => return Ok(outcome),
                Err(e) => e,
            };
            let will_retry = error.is_temporary()
                && policy.retries_after(attempt)
                && !self.cancel.is_cancelled();
            self.shared.emit(Event::PublishFailed {
                community: self.community,
                range,
                error: error.to_string(),
                kind: error.kind(),
                attempt,
                will_retry,
            });
            if !will_retry {
                return Err(error.to_string());
            }
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return Err(error.to_string()),
                () = sleep(policy.delay_after(attempt)) => {}
            }
            attempt += 1;
        }
    }

    /// Records a successful publish: the end first, then the events.
    async fn record(&mut self, range: TimeRange, outcome: PublishOutcome) -> RunOutcome {
        self.published_end = Some(range.to);
        self.write_end(range.to).await;
        if !outcome.dropped.is_empty() {
            self.shared.emit(Event::MessagesDropped {
                community: self.community,
                dropped: outcome.dropped,
            });
        }
        if outcome.archives.is_empty() {
            self.shared.emit(Event::NoHistoryArchivesCreated {
                community: self.community,
                from: range.from,
                to: range.to,
            });
            return RunOutcome::Nothing;
        }
        self.shared.emit(Event::HistoryArchivesCreated {
            community: self.community,
            from: range.from,
            to: range.to,
            archives: outcome.archives.clone(),
        });
        // The backend seeds the new link; the one it replaces is unseeded
        // here, once the new one is recorded.
        if let Some(link) = outcome.link
            && self.link.as_ref() != Some(&link)
        {
            let replaced = self.link.replace(link.clone());
            self.seeded = true;
            self.shared.emit(Event::HistoryArchivesSeeding {
                community: self.community,
                link: link.clone(),
            });
            self.hand_over(link, replaced).await;
        }
        RunOutcome::Created {
            range,
            archives: outcome.archives,
            link: self.link.clone(),
        }
    }

    async fn write_end(&self, end: u64) {
        if let Err(e) = self
            .shared
            .store
            .set_last_archive_end(self.community, &self.shared.backend.link_kind(), end)
            .await
        {
            self.store_failed(&e);
        }
    }

    fn store_failed(&self, error: &archive_store::Error) {
        self.shared.emit(Event::StoreFailed {
            community: self.community,
            error: error.to_string(),
        });
    }

    async fn seed(&mut self, link: Link) {
        match self.shared.backend.seed(&self.community, &link).await {
            Ok(()) => {
                self.seeded = true;
                self.shared.emit(Event::HistoryArchivesSeeding {
                    community: self.community,
                    link: link.clone(),
                });
                self.hand_over(link, None).await;
            }
            Err(e) => self.shared.emit(Event::SeedingFailed {
                community: self.community,
                link,
                error: e.to_string(),
            }),
        }
    }

    /// Hands `link` to the announcer and, once it is recorded, unseeds the
    /// links it replaced: the only place a replaced link is unseeded. Until
    /// then they stay served, so whatever link is recorded still resolves.
    async fn hand_over(&mut self, link: Link, replaced: Option<Link>) {
        self.replaced.extend(replaced);
        if self
            .shared
            .announcer
            .announce(self.community, &link)
            .await
            .is_err()
        {
            return;
        }
        for old in std::mem::take(&mut self.replaced) {
            if let Err(e) = self.shared.backend.unseed(&self.community, &old).await {
                self.shared.emit(Event::SeedingFailed {
                    community: self.community,
                    link: old,
                    error: e.to_string(),
                });
            }
        }
    }

    async fn unseed(&mut self) {
        let Some(link) = self.link.clone() else {
            return;
        };
        match self.shared.backend.unseed(&self.community, &link).await {
            Ok(()) => {
                self.seeded = false;
                self.shared.emit(Event::HistoryArchivesUnseeded {
                    community: self.community,
                    link,
                });
            }
            Err(e) => self.shared.emit(Event::SeedingFailed {
                community: self.community,
                link,
                error: e.to_string(),
            }),
        }
    }
}
