//! The stall detector under every wait on the swarm: no progress for a while
//! restarts the torrent, and a stall that restarts do not cure ends the wait
//! with a typed error instead of a hang.
//!
//! Why restarting helps: librqbit 9.1 forgets a peer for good when it is
//! reported dead twice (`on_peer_died`: "peer was in a wrong state Dead,
//! ignoring it forever"), and otherwise redials a failed peer after 10-20 s,
//! then 1-2 min, then 6-12 min (jittered). With one configured peer either
//! leaves a download idle with every thread parked. A pause and resume builds a fresh
//! peer table from the configured peers and dials them at once.

use std::{
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::Duration,
};

use archive_backend::{Error, ErrorKind, Result};
use tokio::time::Instant;

use crate::engine::{Active, Engine, NAME};

/// When a wait on the swarm counts as stalled, and how often to restart the
/// torrent before giving up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StallPolicy {
    /// No new byte and no new archive for this long is a stall.
    pub timeout: Duration,
    /// Restarts of the torrent before the wait fails; each gets `timeout` to
    /// show progress.
    pub restarts: u32,
}

impl Default for StallPolicy {
    /// 30 s without progress, three restarts: a wait fails after two minutes
    /// of silence. librqbit's own redials come after 10-20 s, then 1-2 min; a
    /// restart every 30 s comes well before its second try.
    fn default() -> StallPolicy {
        StallPolicy {
            timeout: Duration::from_secs(30),
            restarts: 3,
        }
    }
}

impl StallPolicy {
    /// How often a waiter should look at the progress counter.
    pub(crate) fn poll_interval(&self) -> Duration {
        (self.timeout / 8).clamp(Duration::from_millis(10), Duration::from_millis(500))
    }
}

/// What a waiter does after a look at its progress counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Progress, or not silent for long yet.
    Wait,
    /// Stalled: restart the torrent and keep waiting.
    Restart,
    /// Stalled after every restart: fail.
    GiveUp,
}

/// Watches a progress counter that only grows while something happens.
#[derive(Debug)]
pub(crate) struct Watchdog {
    policy: StallPolicy,
    last: Option<u64>,
    since: Instant,
    restarts: u32,
}

impl Watchdog {
    pub(crate) fn new(policy: StallPolicy, now: Instant) -> Watchdog {
        Watchdog {
            policy,
            last: None,
            since: now,
            restarts: 0,
        }
    }

    /// Takes the counter's value at `now`.
    pub(crate) fn observe(&mut self, progress: u64, now: Instant) -> Verdict {
        if self.last != Some(progress) {
            self.last = Some(progress);
            self.since = now;
            return Verdict::Wait;
        }
        if now.duration_since(self.since) < self.policy.timeout {
            return Verdict::Wait;
        }
        if self.restarts >= self.policy.restarts {
            return Verdict::GiveUp;
        }
        self.restarts += 1;
        self.since = now;
        Verdict::Restart
    }

    /// The waiter is waiting on something other than the swarm: silence
    /// counts from `now`.
    pub(crate) fn hold(&mut self, now: Instant) {
        self.since = now;
    }

    /// Restarts so far.
    pub(crate) fn restarts(&self) -> u32 {
        self.restarts
    }

    /// The policy in force.
    pub(crate) fn policy(&self) -> StallPolicy {
        self.policy
    }
}

/// Acts on the watchdog's verdict for `progress`: restarts the torrent on a
/// stall, and fails once restarts do not help.
pub(crate) async fn on_watch(
    engine: &Engine,
    active: &Active,
    watchdog: &mut Watchdog,
    progress: u64,
    now: Instant,
    what: &str,
) -> Result<()> {
    match watchdog.observe(progress, now) {
        Verdict::Wait => Ok(()),
        Verdict::Restart => {
            tracing::warn!(
                torrent = %active.infohash,
                restart = watchdog.restarts(),
                "{what}: no progress for {:?}; restarting the torrent",
                watchdog.policy().timeout
            );
            // A failed restart shows as more silence, and ends the wait.
            if let Err(e) = engine.restart(active).await {
                tracing::warn!(torrent = %active.infohash, "{e}");
            }
            Ok(())
        }
        Verdict::GiveUp => Err(stalled(active, watchdog, what)),
    }
}

/// Runs until `what` stalls beyond cure, and returns the error saying so;
/// progress is the torrent's verified bytes plus `archives_read`. While
/// `caller_busy` is set the fetch waits for its caller to take an archive,
/// not for the swarm, and that is no silence.
pub(crate) async fn watch(
    engine: &Engine,
    policy: StallPolicy,
    active: &Active,
    archives_read: &AtomicU64,
    caller_busy: &AtomicBool,
    what: &str,
) -> Error {
    let mut watchdog = Watchdog::new(policy, Instant::now());
    loop {
        tokio::time::sleep(policy.poll_interval()).await;
        let now = Instant::now();
        if caller_busy.load(Ordering::Relaxed) {
            watchdog.hold(now);
            continue;
        }
        let progress = active.verified_bytes() + archives_read.load(Ordering::Relaxed);
        if let Err(e) = on_watch(engine, active, &mut watchdog, progress, now, what).await {
            return e;
        }
    }
}

/// The error of a wait on `active` that stalled after every restart.
fn stalled(active: &Active, watchdog: &Watchdog, what: &str) -> Error {
    Error::new(
        ErrorKind::Timeout,
        NAME,
        format!(
            "{what} stalled: no progress for {:?} after {} restarts of the torrent \
             ({} of {} bytes verified)",
            watchdog.policy().timeout,
            watchdog.restarts(),
            active.verified_bytes(),
            active.total_bytes(),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn waiting_on_the_caller_is_no_silence() {
        let policy = StallPolicy {
            timeout: 10 * SECOND,
            restarts: 1,
        };
        let t0 = Instant::now();
        let mut dog = Watchdog::new(policy, t0);
        assert_eq!(dog.observe(5, t0), Verdict::Wait);
        // The caller took 60 s to take an archive; the swarm was not asked.
        dog.hold(t0 + 60 * SECOND);
        assert_eq!(dog.observe(5, t0 + 69 * SECOND), Verdict::Wait);
        assert_eq!(dog.observe(5, t0 + 70 * SECOND), Verdict::Restart);
    }

    #[test]
    fn silence_restarts_then_gives_up_and_progress_resets_the_clock() {
        let policy = StallPolicy {
            timeout: 10 * SECOND,
            restarts: 2,
        };
        let t0 = Instant::now();
        let mut dog = Watchdog::new(policy, t0);
        assert_eq!(dog.observe(5, t0), Verdict::Wait);
        assert_eq!(dog.observe(5, t0 + 9 * SECOND), Verdict::Wait);
        assert_eq!(dog.observe(5, t0 + 10 * SECOND), Verdict::Restart);
        // A byte after the restart: silence is counted from there.
        assert_eq!(dog.observe(6, t0 + 15 * SECOND), Verdict::Wait);
        assert_eq!(dog.observe(6, t0 + 24 * SECOND), Verdict::Wait);
        assert_eq!(dog.observe(6, t0 + 25 * SECOND), Verdict::Restart);
        assert_eq!(dog.observe(6, t0 + 34 * SECOND), Verdict::Wait);
        assert_eq!(dog.observe(6, t0 + 35 * SECOND), Verdict::GiveUp);
        assert_eq!(dog.restarts(), 2);
    }

    #[test]
    fn no_restarts_gives_up_at_the_first_stall() {
        let policy = StallPolicy {
            timeout: SECOND,
            restarts: 0,
        };
        let t0 = Instant::now();
        let mut dog = Watchdog::new(policy, t0);
        assert_eq!(dog.observe(0, t0), Verdict::Wait);
        assert_eq!(dog.observe(0, t0 + SECOND), Verdict::GiveUp);
    }

    #[test]
    fn the_poll_interval_stays_between_10_ms_and_half_a_second() {
        let at = |timeout| {
            StallPolicy {
                timeout,
                restarts: 1,
            }
            .poll_interval()
        };
        assert_eq!(at(Duration::from_millis(1)), Duration::from_millis(10));
        assert_eq!(at(2 * SECOND), Duration::from_millis(250));
        assert_eq!(at(60 * SECOND), Duration::from_millis(500));
    }
}
