//! What a relayed message must be before this node passes it on: a
//! well-formed, size-capped 14/WAKU2 envelope, from a peer within its rate.

use std::collections::HashMap;

use archive_proto::waku::relay::WakuRelayMessage;
use libp2p::PeerId;
use tokio::time::Instant;

use crate::{error::Result, message::decode_message};

/// How many messages one peer may relay to this node: `burst` at once, then
/// `per_second` on average. Excess messages are rejected, which costs the
/// peer gossipsub score until it is no longer heard at all.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Messages accepted back to back from a peer that was quiet.
    pub burst: u32,
    /// Messages per second accepted on average.
    pub per_second: f64,
}

impl Default for RateLimit {
    /// Generous for a relay peer forwarding a whole shard, far below what a
    /// flooding peer sends.
    fn default() -> RateLimit {
        RateLimit {
            burst: 1000,
            per_second: 200.0,
        }
    }
}

/// The envelope in `data`, if it may travel on: decodable, at most
/// `max_size` bytes, with a content topic.
pub(crate) fn check(data: &[u8], max_size: usize) -> Result<WakuRelayMessage, String> {
    let message = decode_message(data, max_size).map_err(|e| e.to_string())?;
    if message.content_topic.is_empty() {
        return Err("waku message without a content topic".to_owned());
    }
    Ok(message)
}

/// A token bucket per connected peer.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: RateLimit,
    buckets: HashMap<PeerId, Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            buckets: HashMap::new(),
        }
    }

    /// Takes a token from `peer`'s bucket at `now`; false when it is empty.
    pub(crate) fn allow(&mut self, peer: PeerId, now: Instant) -> bool {
        let burst = f64::from(self.limit.burst);
        let rate = self.limit.per_second.max(0.0);
        let bucket = self.buckets.entry(peer).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at);
        bucket.tokens = (bucket.tokens + elapsed.as_secs_f64() * rate).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets a peer that disconnected, so the map stays as small as the
    /// connection cap. A peer reconnecting starts with a full bucket, but
    /// the score it lost stays with gossipsub.
    pub(crate) fn forget(&mut self, peer: &PeerId) {
        self.buckets.remove(peer);
    }
}

/// Counters of what the relay did with received messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayStats {
    /// Well-formed messages delivered to subscribers and forwarded.
    pub accepted: u64,
    /// Messages refused as malformed, oversized or without a content topic.
    pub malformed: u64,
    /// Messages refused because their peer exceeded its rate.
    pub rate_limited: u64,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use archive_proto::Message as _;

    use super::*;
    use crate::message::{DEFAULT_MAX_MESSAGE_SIZE, new_message};

    #[test]
    fn only_well_formed_capped_envelopes_pass() {
        let good = new_message("/waku/1/0x01020304/rfc26", &b"hi"[..], 1).encode_to_vec();
        assert!(check(&good, DEFAULT_MAX_MESSAGE_SIZE).is_ok());
        assert!(check(&good, good.len() - 1).is_err());
        assert!(check(b"\xff\xff", DEFAULT_MAX_MESSAGE_SIZE).is_err());
        let no_topic = new_message("", &b"hi"[..], 1).encode_to_vec();
        assert!(check(&no_topic, DEFAULT_MAX_MESSAGE_SIZE).is_err());
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let limit = RateLimit {
            burst: 3,
            per_second: 2.0,
        };
        let mut limiter = RateLimiter::new(limit);
        let (peer, other) = (PeerId::random(), PeerId::random());
        let start = Instant::now();
        let allowed = (0..10).filter(|_| limiter.allow(peer, start)).count();
        assert_eq!(allowed, 3);
        assert!(limiter.allow(other, start), "buckets are per peer");

        // 1.5 s at 2 per second refills 3 tokens, the whole burst.
        let later = start + Duration::from_millis(1500);
        let allowed = (0..10).filter(|_| limiter.allow(peer, later)).count();
        assert_eq!(allowed, 3);

        limiter.forget(&peer);
        assert!(limiter.allow(peer, later));
    }
}
