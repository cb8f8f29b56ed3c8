//! The scheduler's notion of "now": Unix seconds from an injectable clock.

use std::{
    fmt,
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use tokio::time::Instant;

/// Where the scheduler reads the current time, in Unix seconds.
///
/// Only the archive ranges come from here; waiting always uses tokio time,
/// so a clock must advance with tokio's (as [`TokioClock`] does) for ticks and
/// ranges to agree.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time, seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// A clock that is tokio's monotonic clock shifted to a Unix epoch fixed at
/// construction.
///
/// Under a paused runtime (`#[tokio::test(start_paused = true)]`)
/// `tokio::time::advance` and auto-advance move it, so a test can live
/// through a year of weekly runs in milliseconds. Being monotonic, it also
/// keeps a wall-clock step (NTP, a user changing the time) from producing
/// overlapping or reversed archive ranges in a long-running node.
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    epoch: u64,
    start: Instant,
}

impl TokioClock {
    /// A clock that reads `unix_seconds` now and advances with tokio time.
    pub fn starting_at(unix_seconds: u64) -> TokioClock {
        TokioClock {
            epoch: unix_seconds,
            start: Instant::now(),
        }
    }

    /// A clock that reads the system's wall-clock time now and advances with
    /// tokio time from then on.
    pub fn system() -> TokioClock {
        // A system clock set before 1970 is not a case worth an error path.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        TokioClock::starting_at(now)
    }
}

impl Clock for TokioClock {
    fn now(&self) -> u64 {
        self.epoch
            .saturating_add(Instant::now().duration_since(self.start).as_secs())
    }
}

/// A clock that reads whatever it was last set to.
///
/// For demonstrations and tests that archive "next week" right away: set
/// the clock, then ask for a run with
/// [`Scheduler::archive_now`](crate::Scheduler::archive_now). Ticks still
/// wait on tokio time, so a manual clock is not for a node left running.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// A clock reading `unix_seconds`.
    pub fn new(unix_seconds: u64) -> ManualClock {
        ManualClock {
            now: AtomicU64::new(unix_seconds),
        }
    }

    /// Moves the clock to `unix_seconds` (backwards too).
    pub fn set(&self, unix_seconds: u64) {
        self.now.store(unix_seconds, Ordering::SeqCst);
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: u64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn advances_with_paused_tokio_time() {
        let clock = TokioClock::starting_at(1_700_000_000);
        assert_eq!(clock.now(), 1_700_000_000);
        tokio::time::advance(Duration::from_millis(999)).await;
        assert_eq!(clock.now(), 1_700_000_000, "whole seconds only");
        tokio::time::advance(Duration::from_secs(365 * 86_400)).await;
        assert_eq!(clock.now(), 1_700_000_000 + 365 * 86_400);
    }

    #[test]
    fn manual_clock_reads_what_it_was_set_to() {
        let clock = ManualClock::new(100);
        assert_eq!(clock.now(), 100);
        clock.advance(7);
        assert_eq!(clock.now(), 107);
        clock.set(5);
        assert_eq!(clock.now(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn system_clock_starts_near_the_wall_clock() {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let clock = TokioClock::system();
        assert!(clock.now().abs_diff(wall) <= 1);
    }
}
