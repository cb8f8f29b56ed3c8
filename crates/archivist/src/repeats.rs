//! Failures that repeat (an owner's announcement retried while no relay peer
//! is there, say) reported once, then at growing intervals with a count,
//! instead of on every retry: with 50 owned communities and no peer, every
//! retry reported flooded the event stream with hundreds of identical
//! failures a minute, and listeners that fell behind lost the events that
//! mattered.

use std::{
    collections::HashMap,
    mem::Discriminant,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use archive_index::{CommunityId, LinkKind};
use tokio::time::Instant;

/// The wait after the first report before the next one; doubled after each
/// report up to [`REPORT_MAX`]. Above the announcer's longest retry wait
/// (one minute), so a failure that lasts reports far less often than it is
/// retried: a day without a peer says so about 50 times per community and
/// network, not 1 500.
const REPORT_FIRST: Duration = Duration::from_secs(60);
const REPORT_MAX: Duration = Duration::from_secs(30 * 60);

/// What repeats: the same kind of error, for the same community, on the
/// same network.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FailureKey {
    pub(crate) community: CommunityId,
    pub(crate) network: LinkKind,
    pub(crate) error: Discriminant<archive_dispatch::Error>,
}

/// A failure worth reporting now: how many times it failed, and since when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Report {
    /// Failed attempts since the first of this streak, this one included.
    pub(crate) attempts: u32,
    /// When the streak's first attempt failed, Unix seconds.
    pub(crate) since: u64,
}

/// One unbroken run of failures of one [`FailureKey`].
#[derive(Debug)]
struct Streak {
    attempts: u32,
    since: u64,
    next_report: Instant,
    gap: Duration,
}

/// The streaks of one owner's failures, shared by its announcers.
#[derive(Clone, Debug, Default)]
pub(crate) struct RepeatedFailures(Arc<Mutex<HashMap<FailureKey, Streak>>>);

impl RepeatedFailures {
    /// Counts one failure; `Some` when it is to be reported: the first of a
    /// streak, and then the first after each report interval.
    pub(crate) fn failed(&self, key: FailureKey) -> Option<Report> {
        let now = Instant::now();
        let mut streaks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let streak = streaks.entry(key).or_insert_with(|| Streak {
            attempts: 0,
            since: unix_now(),
            next_report: now,
            gap: REPORT_FIRST,
        });
        streak.attempts = streak.attempts.saturating_add(1);
        if now < streak.next_report {
            return None;
        }
        streak.next_report = now + streak.gap;
        streak.gap = (streak.gap * 2).min(REPORT_MAX);
        Some(Report {
            attempts: streak.attempts,
            since: streak.since,
        })
    }

    /// Ends every streak of `community` on `network`: it went through, so a
    /// later failure is news again.
    pub(crate) fn succeeded(&self, community: &CommunityId, network: &LinkKind) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|key, _| key.community != *community || key.network != *network);
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(community: u8, error: &archive_dispatch::Error) -> FailureKey {
        FailureKey {
            community: CommunityId([community; 33]),
            network: LinkKind::TORRENT,
            error: std::mem::discriminant(error),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_repeating_failure_is_reported_once_then_at_doubling_intervals_with_a_count() {
        let failures = RepeatedFailures::default();
        let no_peer = archive_dispatch::Error::Transport("no peers".to_owned());
        let first = failures.failed(key(2, &no_peer)).unwrap();
        assert_eq!(first.attempts, 1);
        let mut reports = vec![(0, first.attempts)];
        // One retry a second for an hour: reported at 0, 1, 3, 7, 15, 31
        // and 61 minutes' worth of attempts, not 3 600 times.
        for second in 1..=3600 {
            tokio::time::advance(Duration::from_secs(1)).await;
            if let Some(report) = failures.failed(key(2, &no_peer)) {
                assert_eq!(report.since, first.since);
                reports.push((second, report.attempts));
            }
        }
        assert_eq!(
            reports,
            [
                (0, 1),
                (60, 61),
                (180, 181),
                (420, 421),
                (900, 901),
                (1860, 1861)
            ]
        );
        // Another community, or another kind of error, is its own streak.
        assert!(failures.failed(key(3, &no_peer)).is_some());
        let other = archive_dispatch::Error::Frame("bad");
        assert!(failures.failed(key(2, &other)).is_some());
        // Success ends the streak: the next failure is news.
        failures.succeeded(&key(2, &no_peer).community, &LinkKind::TORRENT);
        assert_eq!(failures.failed(key(2, &no_peer)).unwrap().attempts, 1);
    }
}
