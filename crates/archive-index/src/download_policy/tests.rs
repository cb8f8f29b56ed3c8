//! The policy's selection: a set difference over what it selects, ranges by
//! overlap, and a wider policy later fetching only what is still missing.

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;
use crate::ids::Topic;

const WEEK: u64 = 7 * 86_400;

fn metadata(from: u64, to: u64) -> ArchiveMetadata {
    ArchiveMetadata::new(TimeRange { from, to }, vec![Topic([1, 2, 3, 4])])
}

fn id(n: u8) -> ArchiveId {
    ArchiveId([n; 32])
}

/// Weekly archives `[i·WEEK, (i+1)·WEEK)` for i in 0..n, with ID i.
fn weekly(n: u8) -> Vec<(ArchiveId, ArchiveMetadata)> {
    (0..n)
        .map(|i| {
            (
                id(i),
                metadata(u64::from(i) * WEEK, u64::from(i + 1) * WEEK),
            )
        })
        .collect()
}

fn missing_of(
    index: &[(ArchiveId, ArchiveMetadata)],
    downloaded: &HashSet<ArchiveId>,
    policy: DownloadPolicy,
    now: u64,
) -> Vec<ArchiveId> {
    missing_selected(index.iter().map(|(i, m)| (*i, m)), downloaded, &policy, now)
}

#[test]
fn each_policy_selects_its_archives() {
    let index = weekly(5);
    let none = HashSet::new();
    let now = 5 * WEEK;
    assert_eq!(missing_of(&index, &none, DownloadPolicy::All, now).len(), 5);
    assert_eq!(
        missing_of(&index, &none, DownloadPolicy::Latest, now),
        [id(4)]
    );
    // [WEEK + 1, 3·WEEK) overlaps archives 1 and 2, not 3 (which starts at its end).
    let window = DownloadPolicy::Window(TimeRange {
        from: WEEK + 1,
        to: 3 * WEEK,
    });
    assert_eq!(missing_of(&index, &none, window, now), [id(1), id(2)]);
    // The last 8 days reach into archive 3.
    let last = DownloadPolicy::Last {
        seconds: 8 * 86_400,
    };
    assert_eq!(missing_of(&index, &none, last, now), [id(3), id(4)]);
}

#[test]
fn latest_takes_every_chunk_of_the_last_partition() {
    let mut index = weekly(3);
    index.push((id(9), metadata(2 * WEEK, 3 * WEEK)));
    let latest = missing_of(&index, &HashSet::new(), DownloadPolicy::Latest, 0);
    assert_eq!(
        latest.into_iter().collect::<HashSet<_>>(),
        HashSet::from([id(2), id(9)])
    );
}

#[test]
fn latest_then_all_fetches_the_rest_once() {
    let index = weekly(4);
    let mut downloaded: HashSet<ArchiveId> =
        missing_of(&index, &HashSet::new(), DownloadPolicy::Latest, 0)
            .into_iter()
            .collect();
    let rest = missing_of(&index, &downloaded, DownloadPolicy::All, 0);
    assert_eq!(rest, [id(0), id(1), id(2)]);
    downloaded.extend(rest);
    assert!(missing_of(&index, &downloaded, DownloadPolicy::All, 0).is_empty());
    assert!(missing_of(&index, &downloaded, DownloadPolicy::Latest, 0).is_empty());
}

#[test]
fn an_empty_index_selects_nothing() {
    for policy in [
        DownloadPolicy::All,
        DownloadPolicy::Latest,
        DownloadPolicy::Last { seconds: 1 },
    ] {
        assert!(missing_of(&[], &HashSet::new(), policy, 100).is_empty());
    }
}

#[test]
fn coalesce_merges_touching_and_overlapping_ranges() {
    let r = |from, to| TimeRange { from, to };
    assert_eq!(
        coalesce([r(20, 30), r(0, 10), r(10, 15), r(25, 40), r(50, 60)]),
        [r(0, 15), r(20, 40), r(50, 60)]
    );
    assert!(coalesce([]).is_empty());
}

fn range() -> impl Strategy<Value = TimeRange> {
    (0u64..1000, 0u64..1000).prop_map(|(a, b)| TimeRange {
        from: a.min(b),
        to: a.max(b),
    })
}

fn index() -> impl Strategy<Value = Vec<(ArchiveId, ArchiveMetadata)>> {
    proptest::collection::vec(range(), 0..12).prop_map(|ranges| {
        ranges
            .into_iter()
            .enumerate()
            .map(|(i, r)| (id(i as u8), metadata(r.from, r.to)))
            .collect()
    })
}

fn policy() -> impl Strategy<Value = DownloadPolicy> {
    prop_oneof![
        Just(DownloadPolicy::All),
        Just(DownloadPolicy::Latest),
        range().prop_map(DownloadPolicy::Window),
        (1u64..1000).prop_map(|seconds| DownloadPolicy::Last { seconds }),
    ]
}

proptest! {
    /// Coalesced spans are sorted, disjoint, not touching, and cover exactly
    /// the seconds of the ranges.
    #[test]
    fn coalesce_covers_exactly_the_ranges(ranges in proptest::collection::vec(range(), 0..10)) {
        let spans = coalesce(ranges.clone());
        prop_assert!(spans.windows(2).all(|w| w[0].to < w[1].from));
        for t in 0..1000 {
            let in_ranges = ranges.iter().any(|r| r.contains(t));
            let in_spans = spans.iter().any(|s| s.contains(t));
            prop_assert_eq!(in_ranges, in_spans, "second {}", t);
        }
    }

    /// Missing is exactly (selected − downloaded), oldest first, whatever was
    /// downloaded before.
    #[test]
    fn missing_is_the_selected_set_difference(
        index in index(),
        downloaded in proptest::collection::hash_set(0u8..12, 0..12),
        policy in policy(),
        now in 0u64..2000,
    ) {
        let downloaded: HashSet<ArchiveId> = downloaded.into_iter().map(id).collect();
        let selected = policy.select(index.iter().map(|(i, m)| (*i, m)), now);
        let missing = missing_of(&index, &downloaded, policy, now);
        let expected: HashSet<ArchiveId> = selected.difference(&downloaded).copied().collect();
        prop_assert_eq!(missing.iter().copied().collect::<HashSet<_>>(), expected);
        prop_assert_eq!(missing.len(), missing.iter().collect::<HashSet<_>>().len());
        let ranges: Vec<TimeRange> = missing
            .iter()
            .map(|m| index.iter().find(|(i, _)| i == m).unwrap().1.range)
            .collect();
        prop_assert!(ranges.windows(2).all(|w| w[0] <= w[1]));
    }

    /// A window selects an archive exactly when they share a second (or the
    /// window holds an empty archive's instant).
    #[test]
    fn a_window_selects_by_overlap(index in index(), window in range()) {
        let selected = DownloadPolicy::Window(window).select(index.iter().map(|(i, m)| (*i, m)), 0);
        for (i, m) in &index {
            let r = m.range;
            let shares = (r.from..r.to.max(r.from + 1)).any(|t| window.contains(t));
            prop_assert_eq!(selected.contains(i), shares, "{:?} vs {:?}", r, window);
        }
    }

    /// Every policy selects a subset of `All`, and `All` then leaves nothing
    /// missing once what it selected is downloaded.
    #[test]
    fn all_covers_every_policy(index in index(), policy in policy(), now in 0u64..2000) {
        let iter = || index.iter().map(|(i, m)| (*i, m));
        let all = DownloadPolicy::All.select(iter(), now);
        prop_assert!(policy.select(iter(), now).is_subset(&all));
        prop_assert!(missing_of(&index, &all, policy, now).is_empty());
    }
}
