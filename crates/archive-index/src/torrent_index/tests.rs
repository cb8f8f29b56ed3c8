//! Tests of the torrent-style format: writer, index and extraction together.

use std::{
    collections::{HashMap, HashSet},
    io::Cursor,
};

use proptest::prelude::*;

use super::*;
use crate::{
    ArchiveRun, DataWriter, ExtractOptions, Message, TimeRange, Topic, WriteReport,
    encode::MAX_ARCHIVE_SIZE, extract_archive, write_archives,
};

const DAY: u64 = 86_400;
const HOUR: u64 = 3_600;
/// 2020-01-01 00:00:00 UTC, status-go's `D(1)`.
const D1: u64 = 1_577_836_800;
const TOPIC: Topic = Topic([0xaa, 0xbb, 0xcc, 0xdd]);

fn d(day: u64) -> u64 {
    D1 + (day - 1) * DAY
}

/// status-go's `buildMessage(ts, topic, hash)`: sig, payload and padding `[1]`.
fn msg(timestamp: u64, hash: &[u8]) -> Message {
    Message {
        sig: vec![1],
        timestamp,
        topic: TOPIC,
        payload: vec![1],
        padding: vec![1],
        hash: hash.to_vec(),
        third_party_id: String::new(),
    }
}

fn run(from: u64, to: u64) -> ArchiveRun {
    ArchiveRun {
        range: TimeRange { from, to },
        interval: 7 * DAY,
        topics: vec![TOPIC],
    }
}

/// Runs `write_archives` against an in-memory `data`/`index` pair the way the
/// torrent backend does: append at the index's end, then merge the entries.
fn append(
    data: &mut Vec<u8>,
    index: &mut TorrentIndex,
    run: &ArchiveRun,
    messages: Vec<Message>,
) -> WriteReport {
    let start = index.data_len();
    assert_eq!(start, data.len() as u64);
    let (_, report) = write_archives(&mut *data, start, run, messages).unwrap();
    for a in &report.archives {
        assert_eq!(index.insert(a.entry.clone()).unwrap(), a.id);
    }
    report
}

fn decode_all(data: &[u8], index: &TorrentIndex) -> HashMap<ArchiveId, crate::Archive> {
    index
        .iter()
        .map(|(id, _)| {
            let archive = extract_archive(
                &mut Cursor::new(data),
                data.len() as u64,
                index,
                id,
                ExtractOptions::default(),
            )
            .unwrap();
            (*id, archive)
        })
        .collect()
}

/// status-go ManagerSuite 10: one archive holding the two in-range messages.
#[test]
fn status_go_10_creates_one_archive() {
    let (mut data, mut index) = (Vec::new(), TorrentIndex::new());
    let messages = vec![
        msg(d(1) + HOUR, b"m1"),
        msg(d(1) + 2 * HOUR, b"m2"),
        msg(d(7) + 2 * HOUR, b"m3"),
    ];
    let report = append(&mut data, &mut index, &run(d(1), d(7)), messages);
    assert_eq!(index.len(), 1);
    let entry = &report.archives[0].entry;
    assert_eq!((entry.offset, entry.size), (0, PIECE_LENGTH));
    assert_eq!(data.len() as u64, PIECE_LENGTH);
    let archives = decode_all(&data, &index);
    assert_eq!(archives[&report.archives[0].id].messages.len(), 2);
    // The data round-trips through an encoded index too.
    assert_eq!(TorrentIndex::decode(&index.encode()).unwrap(), index);
}

/// status-go ManagerSuite 11: three partitions, the last clipped, counts 2/1/1.
#[test]
fn status_go_11_creates_multiple_archives() {
    let (mut data, mut index) = (Vec::new(), TorrentIndex::new());
    let messages = vec![
        msg(d(1) + HOUR, b"m1"),
        msg(d(1) + 2 * HOUR, b"m2"),
        msg(d(1) + 8 * DAY, b"m3"),
        msg(d(1) + 14 * DAY, b"m4"),
    ];
    append(&mut data, &mut index, &run(d(1), d(21)), messages);
    assert_eq!(index.len(), 3);
    let archives = decode_all(&data, &index);
    let mut by_from: Vec<_> = archives
        .values()
        .map(|a| (a.metadata.range.from, a.metadata.range.to, a.messages.len()))
        .collect();
    by_from.sort();
    assert_eq!(
        by_from,
        vec![(d(1), d(8), 2), (d(8), d(15), 1), (d(15), d(21), 1)]
    );
    let offsets: Vec<_> = index.by_offset().map(|(_, e)| e.offset).collect();
    assert_eq!(offsets, vec![0, PIECE_LENGTH, 2 * PIECE_LENGTH]);
}

/// status-go ManagerSuite 12: a second run appends; the old entry is kept and
/// the new archive starts where the first ends.
#[test]
fn status_go_12_appends_archives() {
    let (mut data, mut index) = (Vec::new(), TorrentIndex::new());
    let first = vec![msg(d(1) + HOUR, b"m1")];
    append(&mut data, &mut index, &run(d(1), d(7)), first.clone());
    assert_eq!(index.len(), 1);
    let prefix = data.clone();
    let report = append(
        &mut data,
        &mut index,
        &run(d(7), d(14)),
        vec![msg(d(7) + 2 * HOUR, b"m2")],
    );
    assert_eq!(index.len(), 2);
    assert_eq!(report.archives[0].entry.offset, PIECE_LENGTH);
    assert_eq!(data.len() as u64, 2 * PIECE_LENGTH);
    assert_eq!(&data[..prefix.len()], &prefix[..]);
}

/// status-go ManagerSuite 6 (in-memory form): nothing to archive, nothing written.
#[test]
fn status_go_6_no_messages_no_archive() {
    let (mut data, mut index) = (Vec::new(), TorrentIndex::new());
    let report = append(&mut data, &mut index, &run(d(1), d(7)), vec![]);
    assert!(report.archives.is_empty() && data.is_empty() && index.is_empty());
}

#[test]
fn oversized_messages_are_dropped_and_reported_never_an_empty_archive() {
    let mut huge = msg(d(1) + HOUR, b"huge");
    huge.payload = vec![7; MAX_ARCHIVE_SIZE as usize];
    let (mut data, mut index) = (Vec::new(), TorrentIndex::new());
    let report = append(&mut data, &mut index, &run(d(1), d(7)), vec![huge]);
    assert!(
        report.archives.is_empty(),
        "no empty archive for a partition of dropped messages"
    );
    assert_eq!(report.dropped.len(), 1);
    assert_eq!(report.dropped[0].size, MAX_ARCHIVE_SIZE + 1);
    assert!(data.is_empty());
}

#[test]
fn chunks_split_at_the_size_limit() {
    // A 100-byte chunk limit: three 40-byte messages make chunks of 2 and 1.
    let big = |ts, h: &[u8]| Message {
        payload: vec![0; 39],
        ..msg(ts, h)
    };
    let mut writer = DataWriter::with_max_archive_size(Vec::new(), 0, vec![TOPIC], 100);
    writer
        .begin_partition(TimeRange { from: 0, to: 10 })
        .unwrap();
    for (ts, h) in [(1, b"a"), (2, b"b"), (3, b"c")] {
        writer.push(&big(ts, h)).unwrap();
    }
    let (_, report) = writer.finish().unwrap();
    let counts: Vec<_> = report.archives.iter().map(|a| a.message_count).collect();
    assert_eq!(counts, vec![2, 1]);
    // Both chunks carry the partition's metadata, at consecutive offsets.
    assert_eq!(
        report.archives[1].entry.offset,
        report.archives[0].entry.size
    );
    assert_eq!(
        report.archives[0].entry.metadata,
        report.archives[1].entry.metadata
    );
}

#[test]
fn writer_rejects_misuse_with_typed_errors() {
    let mut writer = DataWriter::new(Vec::new(), 0, vec![TOPIC]);
    assert!(matches!(
        writer.push(&msg(1, b"a")),
        Err(Error::PartitionState(_))
    ));
    writer
        .begin_partition(TimeRange { from: 0, to: 10 })
        .unwrap();
    assert!(matches!(
        writer.push(&msg(10, b"a")),
        Err(Error::OutsidePartition { .. })
    ));
    let other_topic = Message {
        topic: Topic([0; 4]),
        ..msg(1, b"a")
    };
    assert!(matches!(
        writer.push(&other_topic),
        Err(Error::TopicNotAllowed { .. })
    ));
    writer.push(&msg(2, b"b")).unwrap();
    assert!(matches!(
        writer.push(&msg(2, b"a")),
        Err(Error::OutOfOrder { .. })
    ));
    assert!(matches!(
        writer.push(&msg(2, b"b")),
        Err(Error::OutOfOrder { .. })
    ));
}

fn entry(offset: u64, size: u64, padding: u64) -> IndexEntry {
    IndexEntry {
        version: 0,
        metadata: ArchiveMetadata::new(
            TimeRange {
                from: offset,
                to: offset + 1,
            },
            vec![TOPIC],
        ),
        offset,
        size,
        padding,
    }
}

fn hostile_index(entries: &[IndexEntry]) -> Vec<u8> {
    pb::WakuMessageArchiveIndex {
        archives: entries
            .iter()
            .map(|e| (e.id().to_string(), e.to_proto()))
            .collect(),
    }
    .encode_to_vec()
}

#[test]
fn hostile_indexes_are_rejected_with_the_reason() {
    let p = PIECE_LENGTH;
    let cases: [(&[IndexEntry], &str); 5] = [
        (&[entry(1, p, 0)], "offset 1 is not a multiple"),
        (&[entry(0, p + 1, 0)], "not a positive multiple"),
        (&[entry(0, p, p)], "padding 102400 is not less than size"),
        (&[entry(0, 2 * p, 0), entry(p, p, 0)], "overlap"),
        (
            &[entry(u64::MAX - p + 1 - (u64::MAX - p + 1) % p, 2 * p, 0)],
            "overflows",
        ),
    ];
    for (entries, reason) in cases {
        let err = TorrentIndex::decode(&hostile_index(entries)).unwrap_err();
        assert!(
            err.to_string().contains(reason),
            "expected {reason:?}, got {err}"
        );
    }
    let wrong_key = pb::WakuMessageArchiveIndex {
        archives: [(format!("0x{}", "11".repeat(32)), entry(0, p, 0).to_proto())].into(),
    };
    assert!(matches!(
        TorrentIndex::decode(&wrong_key.encode_to_vec()),
        Err(Error::IdMismatch { .. })
    ));
    assert!(matches!(
        TorrentIndex::decode(b"\xff\xff"),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn extraction_checks_the_real_file_and_the_memory_cap() {
    let huge = entry(0, PIECE_LENGTH << 24, 0);
    let mut index = TorrentIndex::new();
    let id = index.insert(huge).unwrap();
    let mut data = Cursor::new(vec![0u8; 10]);
    let err = extract_archive(&mut data, 10, &index, &id, ExtractOptions::default()).unwrap_err();
    assert!(err.to_string().contains("data has only 10 bytes"), "{err}");
    // Claimed length within the file but over the cap: rejected before reading.
    let err = extract_archive(
        &mut data,
        PIECE_LENGTH << 25,
        &index,
        &id,
        ExtractOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("exceeds"), "{err}");
    // A stream shorter than the length it was said to have.
    let small = ExtractOptions {
        max_archive_bytes: u64::MAX,
    };
    let err = extract_archive(&mut data, PIECE_LENGTH << 25, &index, &id, small).unwrap_err();
    assert!(err.to_string().contains("data ended"), "{err}");
    let unknown = ArchiveId([9; 32]);
    assert!(matches!(
        extract_archive(&mut data, 10, &index, &unknown, ExtractOptions::default()),
        Err(Error::UnknownArchive(_))
    ));
}

#[test]
fn missing_is_a_set_difference_oldest_first() {
    let (mut data, mut index) = (Vec::new(), TorrentIndex::new());
    let messages = (0..3)
        .map(|w| msg(d(1) + w * 7 * DAY + HOUR, &[w as u8]))
        .collect();
    append(&mut data, &mut index, &run(d(1), d(22)), messages);
    let all = index.missing(&HashSet::new());
    assert_eq!(all.len(), 3);
    let froms: Vec<_> = all
        .iter()
        .map(|id| index.get(id).unwrap().metadata.range.from)
        .collect();
    assert!(froms.windows(2).all(|w| w[0] < w[1]));
    // Same count as the index, different IDs: still everything but the known one.
    let downloaded = HashSet::from([all[0], ArchiveId([1; 32]), ArchiveId([2; 32])]);
    assert_eq!(index.missing(&downloaded), all[1..].to_vec());
}

fn arb_messages() -> impl Strategy<Value = Vec<Message>> {
    let topics = [TOPIC, Topic([1, 1, 1, 1]), Topic([2, 2, 2, 2])];
    proptest::collection::vec(
        (
            0u64..40 * DAY,
            0usize..3,
            proptest::collection::vec(any::<u8>(), 1..4),
            0usize..2000,
        ),
        0..60,
    )
    .prop_map(move |v| {
        v.into_iter()
            .map(|(ts, t, hash, len)| Message {
                topic: topics[t],
                payload: vec![0x5a; len],
                ..msg(D1 + ts, &hash)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every in-range message on an allowed topic lands in exactly one archive,
    /// nothing else does, sizes are whole pieces, the prefix never changes and
    /// the same input gives the same bytes and IDs.
    #[test]
    fn archives_hold_exactly_the_selected_messages(
        first in arb_messages(),
        second in arb_messages(),
        split in 1u64..40,
        interval_days in 1u64..10,
    ) {
        let topics = vec![TOPIC, Topic([1, 1, 1, 1])];
        let mid = D1 + split * DAY;
        let end = D1 + 40 * DAY;
        let runs = [
            ArchiveRun { range: TimeRange { from: D1, to: mid }, interval: interval_days * DAY, topics: topics.clone() },
            ArchiveRun { range: TimeRange { from: mid, to: end }, interval: interval_days * DAY, topics: topics.clone() },
        ];
        let all: Vec<Message> = first.iter().chain(&second).cloned().collect();

        let (mut data, mut index) = (Vec::new(), TorrentIndex::new());
        append(&mut data, &mut index, &runs[0], all.clone());
        let prefix = data.clone();
        append(&mut data, &mut index, &runs[1], all.clone());
        prop_assert_eq!(&data[..prefix.len()], &prefix[..]);
        prop_assert_eq!(index.data_len(), data.len() as u64);
        prop_assert_eq!(index.iter().map(|(_, e)| e.size).sum::<u64>(), data.len() as u64);

        // What should be archived: last occurrence per hash, in range and topic.
        let mut expected: HashMap<Vec<u8>, Message> = HashMap::new();
        for run in &runs {
            let mut latest: HashMap<Vec<u8>, Option<Message>> = HashMap::new();
            for m in &all {
                let keep = run.range.contains(m.timestamp) && run.topics.contains(&m.topic);
                latest.insert(m.hash.clone(), keep.then(|| m.clone()));
            }
            for (h, m) in latest {
                if let Some(m) = m { expected.insert(h, m); }
            }
        }

        let mut seen: HashMap<Vec<u8>, Message> = HashMap::new();
        for (id, archive) in decode_all(&data, &index) {
            let entry = index.get(&id).unwrap();
            prop_assert_eq!(entry.size % PIECE_LENGTH, 0);
            prop_assert!(!archive.messages.is_empty());
            for m in archive.messages {
                prop_assert!(archive.metadata.range.contains(m.timestamp));
                prop_assert!(seen.insert(m.hash.clone(), m).is_none(), "a message in two archives");
            }
        }
        prop_assert_eq!(seen, expected);

        // Determinism: the same runs give the same bytes and IDs.
        let (mut again, mut again_index) = (Vec::new(), TorrentIndex::new());
        append(&mut again, &mut again_index, &runs[0], all.clone());
        append(&mut again, &mut again_index, &runs[1], all);
        prop_assert_eq!(again, data);
        prop_assert_eq!(again_index.encode(), index.encode());
    }

    /// Arbitrary bytes never panic the decoders.
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = TorrentIndex::decode(&bytes);
        let _ = crate::CodexIndex::decode(&bytes);
        let _ = crate::Archive::decode(&bytes);
    }
}
