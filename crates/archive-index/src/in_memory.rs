//! Archiving messages held in memory, as status-go's
//! `CreateHistoryArchiveTorrentFromMessages` does.

use std::{collections::HashMap, io::Write};

use crate::{
    data_writer::{DataWriter, WriteReport},
    error::Result,
    ids::Topic,
    message::{Message, TimeRange},
    partition::partitions,
};

/// What to archive: the run's range, partition interval and topics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveRun {
    /// The range to archive, `[from, to)`.
    pub range: TimeRange,
    /// Partition length in seconds (status-go: 7 days).
    pub interval: u64,
    /// The community's chat topics; recorded in every archive's metadata.
    pub topics: Vec<Topic>,
}

/// Appends the archives of `run` built from `messages` to `out`, whose current
/// length is `start_offset`.
///
/// Messages outside the range or on other topics are left out. Messages are
/// identified by hash: when two share one, the later in `messages` wins, as with
/// status-go's `INSERT OR REPLACE` into `waku_messages`. Inside an archive they
/// are ordered by (timestamp, hash), so the same input always gives the same
/// bytes.
pub fn write_archives<W: Write>(
    out: W,
    start_offset: u64,
    run: &ArchiveRun,
    messages: Vec<Message>,
) -> Result<(W, WriteReport)> {
    write_sealed_archives(out, start_offset, run, messages, None)
}

/// As [`write_archives`], sealing each archive with `envelope` (an
/// encrypted community's; `None` writes them plain).
pub fn write_sealed_archives<W: Write>(
    out: W,
    start_offset: u64,
    run: &ArchiveRun,
    messages: Vec<Message>,
    envelope: Option<std::sync::Arc<dyn crate::Envelope>>,
) -> Result<(W, WriteReport)> {
    let parts = partitions(run.range, run.interval)?;
    let mut latest: HashMap<Vec<u8>, Message> = HashMap::with_capacity(messages.len());
    for m in messages {
        if run.range.contains(m.timestamp) && run.topics.contains(&m.topic) {
            latest.insert(m.hash.clone(), m);
        } else {
            latest.remove(&m.hash);
        }
    }
    let mut selected: Vec<Message> = latest.into_values().collect();
    selected.sort_by(|a, b| a.order_key().cmp(&b.order_key()));

    let mut writer = DataWriter::new(out, start_offset, run.topics.clone()).with_envelope(envelope);
    let mut rest = selected.as_slice();
    for part in parts {
        let n = rest.partition_point(|m| m.timestamp < part.to);
        let (in_part, later) = rest.split_at(n);
        rest = later;
        if in_part.is_empty() {
            continue;
        }
        writer.begin_partition(part)?;
        for m in in_part {
            writer.push(m)?;
        }
        writer.finish_partition()?;
    }
    writer.finish()
}
