//! [`RetryPolicy`]: the one shape of bounded exponential backoff, for every
//! loop that retries work on a storage network (a client's requests, the
//! scheduler's publishes).

use std::time::Duration;

/// Bounded exponential backoff for errors a retry can help with
/// ([`Error::is_temporary`](crate::Error::is_temporary)): up to
/// `max_attempts` attempts, waiting `initial_delay` after the first failure
/// and doubling each wait up to `max_delay`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 means no retry.
    pub max_attempts: u32,
    /// The wait before the second attempt; each later wait doubles.
    pub initial_delay: Duration,
    /// No wait is longer than this.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// `max_attempts` attempts, waiting `initial_delay` before the second
    /// and doubling each time, never more than `max_delay`.
    pub fn new(max_attempts: u32, initial_delay: Duration, max_delay: Duration) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_delay,
            max_delay,
        }
    }

    /// Caps every wait at `max_delay`.
    pub fn with_max_delay(mut self, max_delay: Duration) -> RetryPolicy {
        self.max_delay = max_delay;
        self
    }

    /// Whether failed attempt number `attempt` (1-based) may be followed by
    /// another.
    pub fn retries_after(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }

    /// The wait after failed attempt number `attempt` (1-based).
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.initial_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::new(8, Duration::from_secs(10), Duration::from_secs(60));
        let delays: Vec<_> = (1..=6).map(|a| policy.delay_after(a).as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 60, 60, 60]);
        assert_eq!(policy.delay_after(u32::MAX), Duration::from_secs(60));
        assert!(policy.retries_after(7));
        assert!(!policy.retries_after(8));
    }
}
