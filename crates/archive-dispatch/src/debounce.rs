//! Debouncing announcements: act on a community's link only once it has been
//! quiet for a while, and then only on the newest.
//!
//! An owner that re-archives or restarts may announce several links in a row,
//! and a member coming online receives a burst of stored ones; starting a
//! download for each would cancel and restart it over and over (spec i.9: the
//! RFC's "wait 20 s for the last magnet link", which status-go never did).

use std::{collections::HashMap, time::Duration};

use archive_index::CommunityId;
use tokio::time::Instant;

use crate::{
    announcement::{Announcement, LinkKind},
    rules::Rejection,
};

/// How long a community must stay quiet before its newest announcement is
/// acted on.
pub const DEFAULT_QUIET_PERIOD: Duration = Duration::from_secs(20);

/// Holds the newest announcement per community and link kind until it has
/// been quiet for the quiet period.
///
/// Keyed by kind as well as community because the two kinds are independent
/// links with their own clocks; an owner running both backends announces both
/// at once, and neither may swallow the other.
#[derive(Debug)]
pub struct Debouncer {
    quiet: Duration,
    pending: HashMap<(CommunityId, LinkKind), Pending>,
}

#[derive(Debug)]
struct Pending {
    announcement: Announcement,
    deadline: Instant,
}

impl Debouncer {
    /// A debouncer with the given quiet period.
    pub fn new(quiet: Duration) -> Debouncer {
        Debouncer {
            quiet,
            pending: HashMap::new(),
        }
    }

    /// Offers an announcement. A newer one (higher clock, or the same clock
    /// with another link) replaces the pending one and restarts the quiet
    /// period; an older one or a duplicate is dropped without restarting it.
    /// Returns whichever announcement was dropped, with the reason.
    pub fn push(&mut self, announcement: Announcement) -> Option<(Announcement, Rejection)> {
        let key = (announcement.community, announcement.kind.clone());
        let deadline = Instant::now() + self.quiet;
        let Some(pending) = self.pending.get_mut(&key) else {
            self.pending.insert(
                key,
                Pending {
                    announcement,
                    deadline,
                },
            );
            return None;
        };
        let held = &pending.announcement;
        if announcement.clock == held.clock && announcement.link == held.link {
            let link = announcement.link.clone();
            return Some((announcement, Rejection::AlreadySeen { link }));
        }
        if announcement.clock < held.clock {
            let rejection = Rejection::Superseded {
                clock: announcement.clock,
                by: held.clock,
            };
            return Some((announcement, rejection));
        }
        let rejection = Rejection::Superseded {
            clock: held.clock,
            by: announcement.clock,
        };
        let dropped = std::mem::replace(
            pending,
            Pending {
                announcement,
                deadline,
            },
        );
        Some((dropped.announcement, rejection))
    }

    /// Waits until some pending announcement has been quiet for the quiet
    /// period and returns it. Never returns while nothing is pending.
    ///
    /// Cancel-safe: nothing is removed until the wait is over, so it can sit
    /// in a `select!` next to the receiving side.
    pub async fn ready(&mut self) -> Announcement {
        loop {
            let next = self
                .pending
                .iter()
                .min_by_key(|(_, pending)| pending.deadline)
                .map(|(key, pending)| (key.clone(), pending.deadline));
            let Some((key, deadline)) = next else {
                return std::future::pending().await;
            };
            tokio::time::sleep_until(deadline).await;
            if let Some(pending) = self.pending.remove(&key) {
                return pending.announcement;
            }
        }
    }

    /// How many announcements are waiting.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

impl Default for Debouncer {
    fn default() -> Debouncer {
        Debouncer::new(DEFAULT_QUIET_PERIOD)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::{advance, timeout};

    use super::*;

    fn announcement(community: u8, kind: LinkKind, clock: u64, link: &str) -> Announcement {
        Announcement {
            community: CommunityId([community; 33]),
            kind,
            clock,
            link: link.to_owned(),
        }
    }

    /// Whether `ready` yields something within `wait` of (paused) time.
    async fn ready_within(d: &mut Debouncer, wait: Duration) -> Option<Announcement> {
        timeout(wait, d.ready()).await.ok()
    }

    #[tokio::test(start_paused = true)]
    async fn newer_within_quiet_period_replaces_and_restarts_the_wait() {
        let mut d = Debouncer::new(Duration::from_secs(20));
        assert!(
            d.push(announcement(2, LinkKind::TORRENT, 1, "old"))
                .is_none()
        );
        advance(Duration::from_secs(15)).await;
        let (dropped, why) = d
            .push(announcement(2, LinkKind::TORRENT, 2, "new"))
            .unwrap();
        assert_eq!(dropped.link, "old");
        assert!(matches!(why, Rejection::Superseded { clock: 1, by: 2 }));

        // 19 s after the newer one nothing is due, though 34 s passed since the first.
        assert!(
            ready_within(&mut d, Duration::from_secs(19))
                .await
                .is_none()
        );
        let got = ready_within(&mut d, Duration::from_secs(2)).await.unwrap();
        assert_eq!(got.link, "new");
        assert!(d.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn older_and_duplicate_announcements_do_not_restart_the_wait() {
        let mut d = Debouncer::new(Duration::from_secs(20));
        d.push(announcement(2, LinkKind::TORRENT, 5, "five"));
        advance(Duration::from_secs(10)).await;
        let (dropped, why) = d
            .push(announcement(2, LinkKind::TORRENT, 4, "four"))
            .unwrap();
        assert_eq!(dropped.clock, 4);
        assert!(matches!(why, Rejection::Superseded { clock: 4, by: 5 }));
        let (_, why) = d
            .push(announcement(2, LinkKind::TORRENT, 5, "five"))
            .unwrap();
        assert!(matches!(why, Rejection::AlreadySeen { .. }));

        let got = ready_within(&mut d, Duration::from_secs(11)).await.unwrap();
        assert_eq!(got.clock, 5);
    }

    #[tokio::test(start_paused = true)]
    async fn communities_and_kinds_are_debounced_independently() {
        let mut d = Debouncer::new(Duration::from_secs(20));
        d.push(announcement(2, LinkKind::TORRENT, 1, "m"));
        d.push(announcement(2, LinkKind::CODEX, 1, "c"));
        advance(Duration::from_secs(5)).await;
        d.push(announcement(3, LinkKind::TORRENT, 1, "other"));
        assert_eq!(d.len(), 3);

        let mut first = vec![
            ready_within(&mut d, Duration::from_secs(16))
                .await
                .unwrap()
                .link,
            ready_within(&mut d, Duration::from_secs(1))
                .await
                .unwrap()
                .link,
        ];
        first.sort();
        assert_eq!(first, ["c", "m"]);
        assert!(ready_within(&mut d, Duration::from_secs(4)).await.is_none());
        assert_eq!(
            ready_within(&mut d, Duration::from_secs(2))
                .await
                .unwrap()
                .link,
            "other"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn empty_debouncer_never_yields() {
        let mut d = Debouncer::default();
        assert!(
            ready_within(&mut d, Duration::from_secs(3600))
                .await
                .is_none()
        );
    }
}
