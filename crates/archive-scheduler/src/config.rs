//! What the scheduler is told: its settings, its retry policy, and what to
//! archive for each community.

use std::time::Duration;

use archive_backend::{Link, RetryPolicy, SharedEnvelope};
use archive_index::{CommunityId, Topic};

use crate::error::{Error, Result};

/// status-go's `messageArchiveInterval`: one week.
const WEEK: Duration = Duration::from_secs(7 * 86_400);

/// 30 s, 1 min, 2 min, 4 min between five attempts: a storage node that
/// restarts or a network that drops briefly is ridden out well inside one
/// interval.
fn default_retry() -> RetryPolicy {
    RetryPolicy::new(5, Duration::from_secs(30), Duration::from_secs(3600))
}

/// Settings shared by every community of one [`Scheduler`](crate::Scheduler).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// How often a community is archived, and the length of each archive's
    /// partition. Whole seconds; 7 days by default.
    pub interval: Duration,
    /// How publishes that failed with an error a retry can help with
    /// ([`archive_backend::Error::is_temporary`]) are retried.
    pub retry: RetryPolicy,
    /// Events a listener may fall behind by before it misses some.
    pub event_capacity: usize,
    /// Whether stopping one community ([`Scheduler::stop`](crate::Scheduler::stop))
    /// unseeds its current link, as status-go does when its interval task
    /// ends. Stopping them all at shutdown never does.
    pub unseed_on_stop: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            interval: WEEK,
            retry: default_retry(),
            event_capacity: 256,
            unseed_on_stop: true,
        }
    }
}

impl Config {
    /// Sets the archive interval.
    pub fn with_interval(mut self, interval: Duration) -> Config {
        self.interval = interval;
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Config {
        self.retry = retry;
        self
    }

    /// Sets the event channel's capacity.
    pub fn with_event_capacity(mut self, capacity: usize) -> Config {
        self.event_capacity = capacity;
        self
    }

    /// Sets whether stopping a community unseeds its link.
    pub fn with_unseed_on_stop(mut self, unseed: bool) -> Config {
        self.unseed_on_stop = unseed;
        self
    }

    /// The interval in whole seconds, as the backend and the store count.
    pub(crate) fn interval_secs(&self) -> u64 {
        self.interval.as_secs()
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.interval.as_secs() == 0 {
            return Err(Error::InvalidConfig(
                "the archive interval must be at least one second",
            ));
        }
        if self.retry.max_attempts == 0 {
            return Err(Error::InvalidConfig(
                "a publish needs at least one attempt (max_attempts >= 1)",
            ));
        }
        if self.event_capacity == 0 {
            return Err(Error::InvalidConfig("the event capacity must be positive"));
        }
        Ok(())
    }
}

/// One community to archive.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CommunityArchive {
    /// The community.
    pub community: CommunityId,
    /// Its chat topics (status-go: every chat's topic plus the universal
    /// channel's); recorded in every archive.
    pub topics: Vec<Topic>,
    /// The link announced last, if any. When `None` the scheduler looks for
    /// the last announcement of its backend's link kind in the store.
    pub previous: Option<Link>,
    /// Seals its archives and index (an encrypted community); `None`
    /// publishes them plain.
    pub envelope: Option<SharedEnvelope>,
}

impl CommunityArchive {
    /// `community` with `topics`, the previous link to be read from the store.
    pub fn new(community: CommunityId, topics: Vec<Topic>) -> CommunityArchive {
        CommunityArchive {
            community,
            topics,
            previous: None,
            envelope: None,
        }
    }

    /// Seals with `envelope` (none: plain).
    pub fn with_envelope(mut self, envelope: Option<SharedEnvelope>) -> CommunityArchive {
        self.envelope = envelope;
        self
    }

    /// Sets the link announced last.
    pub fn with_previous(mut self, link: Link) -> CommunityArchive {
        self.previous = Some(link);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_settings_are_refused() {
        let bad = [
            Config::default().with_interval(Duration::from_millis(500)),
            Config::default().with_retry(RetryPolicy::new(0, Duration::ZERO, Duration::ZERO)),
            Config::default().with_event_capacity(0),
        ];
        for config in bad {
            assert!(
                matches!(config.validate(), Err(Error::InvalidConfig(_))),
                "{config:?}"
            );
        }
        assert!(Config::default().validate().is_ok());
        assert_eq!(Config::default().interval_secs(), 604_800);
    }
}
