//! Which archives a member downloads (spec 61: everything, only the latest,
//! or time ranges): a policy, and `missing` as a set difference over the
//! archives it selects, so a later, wider policy fetches only what is still
//! missing.

use std::{collections::HashSet, fmt};

use crate::{ids::ArchiveId, message::ArchiveMetadata, message::TimeRange};

mod parse;

pub use parse::{format_timestamp, parse_duration, parse_timestamp};

/// What a member of a community downloads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DownloadPolicy {
    /// Every archive (status-go's only behaviour).
    #[default]
    All,
    /// The archives of the latest partition (one, or its chunks when the
    /// partition outgrew one archive).
    Latest,
    /// The archives whose `[from, to)` overlaps this window.
    Window(TimeRange),
    /// The archives overlapping the last this many seconds before now.
    Last {
        /// Length of the window, seconds.
        seconds: u64,
    },
}

impl DownloadPolicy {
    /// The archives of `index` this policy selects at `now` (Unix seconds),
    /// in no particular order.
    pub fn select<'a>(
        &self,
        index: impl Iterator<Item = (ArchiveId, &'a ArchiveMetadata)>,
        now: u64,
    ) -> HashSet<ArchiveId> {
        let archives: Vec<(ArchiveId, TimeRange)> = index.map(|(id, m)| (id, m.range)).collect();
        match *self {
            DownloadPolicy::All => archives.into_iter().map(|(id, _)| id).collect(),
            DownloadPolicy::Latest => {
                let Some(latest) = archives
                    .iter()
                    .map(|(_, r)| *r)
                    .max_by_key(|r| (r.to, r.from))
                else {
                    return HashSet::new();
                };
                archives
                    .into_iter()
                    .filter(|(_, r)| *r == latest)
                    .map(|(id, _)| id)
                    .collect()
            }
            DownloadPolicy::Window(window) => archives
                .into_iter()
                .filter(|(_, r)| overlaps(*r, window))
                .map(|(id, _)| id)
                .collect(),
            DownloadPolicy::Last { seconds } => {
                let window = TimeRange {
                    from: now.saturating_sub(seconds),
                    to: u64::MAX,
                };
                archives
                    .into_iter()
                    .filter(|(_, r)| overlaps(*r, window))
                    .map(|(id, _)| id)
                    .collect()
            }
        }
    }
}

impl fmt::Display for DownloadPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DownloadPolicy::All => f.write_str("all"),
            DownloadPolicy::Latest => f.write_str("latest"),
            DownloadPolicy::Window(w) => write!(
                f,
                "from {} to {}",
                format_timestamp(w.from),
                format_timestamp(w.to)
            ),
            DownloadPolicy::Last { seconds } => write!(f, "last {seconds}s"),
        }
    }
}

/// Whether two half-open ranges share a second. An empty archive range
/// (`from == to`) overlaps a window that contains its instant, so an
/// archive is never unreachable by every window; an empty window selects
/// nothing.
pub fn overlaps(archive: TimeRange, window: TimeRange) -> bool {
    if window.from >= window.to {
        return false;
    }
    if archive.from >= archive.to {
        return window.contains(archive.from);
    }
    archive.from < window.to && window.from < archive.to
}

/// `ranges` merged where they overlap or touch, sorted: the spans of time a
/// set of archives covers, as a member's history shows them.
pub fn coalesce(ranges: impl IntoIterator<Item = TimeRange>) -> Vec<TimeRange> {
    let mut ranges: Vec<TimeRange> = ranges.into_iter().collect();
    ranges.sort_unstable();
    let mut spans: Vec<TimeRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match spans.last_mut() {
            Some(last) if r.from <= last.to => last.to = last.to.max(r.to),
            _ => spans.push(r),
        }
    }
    spans
}

/// IDs of the archives of `index` that `policy` selects at `now` and that are
/// not in `downloaded`, ordered by `from`, then `to`, then ID.
pub fn missing_selected<'a>(
    index: impl Iterator<Item = (ArchiveId, &'a ArchiveMetadata)> + Clone,
    downloaded: &HashSet<ArchiveId>,
    policy: &DownloadPolicy,
    now: u64,
) -> Vec<ArchiveId> {
    let selected = policy.select(index.clone(), now);
    crate::missing::missing(index.filter(|(id, _)| selected.contains(id)), downloaded)
}

#[cfg(test)]
mod tests;
