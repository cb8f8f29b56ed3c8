//! Splitting `[from, to)` into archive partitions, as status-go's
//! `createHistoryArchiveTorrent` loop does (spec c.3).

use crate::{
    error::{Error, Result},
    message::TimeRange,
};

/// The partitions of `range`: consecutive `interval`-second ranges aligned to
/// `range.from`, the last one clipped to `range.to`. An empty or reversed range
/// has no partitions.
pub fn partitions(range: TimeRange, interval: u64) -> Result<Partitions> {
    if interval == 0 {
        return Err(Error::ZeroInterval);
    }
    Ok(Partitions {
        next: range.from,
        end: range.to,
        interval,
    })
}

/// Iterator returned by [`partitions`].
#[derive(Clone, Debug)]
pub struct Partitions {
    next: u64,
    end: u64,
    interval: u64,
}

impl Iterator for Partitions {
    type Item = TimeRange;

    fn next(&mut self) -> Option<TimeRange> {
        if self.next >= self.end {
            return None;
        }
        let from = self.next;
        let to = from.saturating_add(self.interval).min(self.end);
        self.next = to;
        Some(TimeRange { from, to })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const DAY: u64 = 86_400;

    #[test]
    fn last_partition_is_clipped() {
        let d1 = 1_577_836_800; // 2020-01-01
        let parts: Vec<_> = partitions(
            TimeRange {
                from: d1,
                to: d1 + 20 * DAY,
            },
            7 * DAY,
        )
        .unwrap()
        .collect();
        assert_eq!(
            parts,
            vec![
                TimeRange {
                    from: d1,
                    to: d1 + 7 * DAY
                },
                TimeRange {
                    from: d1 + 7 * DAY,
                    to: d1 + 14 * DAY
                },
                TimeRange {
                    from: d1 + 14 * DAY,
                    to: d1 + 20 * DAY
                },
            ]
        );
        assert!(matches!(
            partitions(TimeRange { from: 0, to: 1 }, 0),
            Err(Error::ZeroInterval)
        ));
        assert_eq!(
            partitions(TimeRange { from: 5, to: 5 }, 1).unwrap().count(),
            0
        );
    }

    proptest! {
        /// The partitions tile `[from, to)` exactly: contiguous, non-empty,
        /// none longer than the interval, aligned to `from`.
        #[test]
        fn partitions_cover_the_range_exactly(
            from in 0u64..u64::MAX / 2,
            len in 0u64..10_000_000,
            interval in 1u64..5_000_000,
        ) {
            let range = TimeRange { from, to: from + len };
            let parts: Vec<_> = partitions(range, interval).unwrap().collect();
            let mut cursor = from;
            for (i, p) in parts.iter().enumerate() {
                prop_assert_eq!(p.from, cursor);
                prop_assert!(p.to > p.from);
                prop_assert!(p.to - p.from <= interval);
                prop_assert_eq!(p.from, from + i as u64 * interval);
                cursor = p.to;
            }
            prop_assert_eq!(cursor, if len == 0 { from } else { from + len });
        }
    }
}
