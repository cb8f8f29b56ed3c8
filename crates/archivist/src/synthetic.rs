//! Synthetic community history: deterministic messages for the demo,
//! end-to-end tests and benchmarks, spread evenly over a time range.

use archive_index::{Message, TimeRange, Topic, keccak256};

/// `count` messages on `topics` (round robin) with timestamps spread evenly
/// over `range`, each with a `payload_len`-byte payload. The same arguments
/// give the same messages; `seed` tells apart histories that must not share
/// hashes.
pub fn messages(
    topics: &[Topic],
    range: TimeRange,
    count: usize,
    payload_len: usize,
    seed: u64,
) -> Vec<Message> {
    let span = range.to.saturating_sub(range.from).max(1);
    (0..count)
        .map(|i| {
            let n = i as u64;
            let timestamp = range.from + n * span / count.max(1) as u64;
            let identity = [seed.to_be_bytes(), n.to_be_bytes()].concat();
            let hash = keccak256(&identity).to_vec();
            // Text-like and different per message; built from one 32-byte
            // block copied over, so even unoptimized builds make it fast.
            let block: Vec<u8> = hash.iter().map(|b| b'a' + b % 26).collect();
            let mut payload = Vec::with_capacity(payload_len);
            while payload.len() < payload_len {
                let take = block.len().min(payload_len - payload.len());
                payload.extend_from_slice(&block[..take]);
            }
            Message {
                sig: hash[..16].to_vec(),
                timestamp,
                topic: topics[i % topics.len().max(1)],
                payload,
                padding: Vec::new(),
                hash,
                third_party_id: String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_inside_the_range_and_distinct() {
        let topics = [Topic([1, 2, 3, 4]), Topic([5, 6, 7, 8])];
        let range = TimeRange {
            from: 1_000,
            to: 2_000,
        };
        let a = messages(&topics, range, 100, 32, 7);
        assert_eq!(a, messages(&topics, range, 100, 32, 7));
        assert!(
            a.iter()
                .all(|m| range.from <= m.timestamp && m.timestamp < range.to)
        );
        let hashes: std::collections::HashSet<_> = a.iter().map(|m| &m.hash).collect();
        assert_eq!(hashes.len(), 100);
        let b = messages(&topics, range, 100, 32, 8);
        assert!(a.iter().zip(&b).all(|(x, y)| x.hash != y.hash));
    }
}
