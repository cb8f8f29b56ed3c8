//! "Which archives are missing": a set difference, never a count (spec i.2).

use std::collections::HashSet;

use crate::{ids::ArchiveId, message::ArchiveMetadata};

/// IDs of `index` not in `downloaded`, ordered by `from`, then `to`, then ID:
/// the one implementation behind every index's `missing`, whatever shape a
/// backend keeps its index in.
pub fn missing<'a>(
    index: impl Iterator<Item = (ArchiveId, &'a ArchiveMetadata)>,
    downloaded: &HashSet<ArchiveId>,
) -> Vec<ArchiveId> {
    let mut missing: Vec<_> = index
        .filter(|(id, _)| !downloaded.contains(id))
        .map(|(id, m)| (m.range, id))
        .collect();
    missing.sort();
    missing.into_iter().map(|(_, id)| id).collect()
}
