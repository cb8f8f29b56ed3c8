//! Store throughput in messages per second, with 1 KiB payloads: batch
//! insert, range read, and the canonical import of one full 30 MB archive.
//!
//! Targets: insert ≥ 200 000 msg/s, range read ≥ 500 000 msg/s, one import of
//! ~29 000 messages (30 MB) in under a second.

use std::hint::black_box;

use archive_index::{
    Archive, ArchiveId, ArchiveMetadata, CommunityId, Message, TimeRange, Topic, keccak256,
};
use archive_store::Database;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const PAYLOAD: usize = 1024;
const BATCH: u64 = 10_000;
const READ: u64 = 100_000;
/// How many 1 KiB messages (plus 65-byte signatures) fill a 30 MB archive.
const ARCHIVE: u64 = 30_000_000 / (PAYLOAD as u64 + 65);

const TOPICS: [Topic; 2] = [Topic([1, 2, 3, 4]), Topic([5, 6, 7, 8])];

fn message(seq: u64) -> Message {
    Message {
        sig: vec![0x51; 65],
        timestamp: 1_700_000_000 + seq / 4,
        topic: TOPICS[(seq % 2) as usize],
        payload: vec![(seq % 251) as u8; PAYLOAD],
        padding: Vec::new(),
        hash: keccak256(&seq.to_be_bytes()).to_vec(),
        third_party_id: String::new(),
    }
}

fn messages(from: u64, n: u64) -> Vec<Message> {
    (from..from + n).map(message).collect()
}

fn insert(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Database::open(dir.path().join("insert.db")).unwrap();
    let mut next = 0;
    let mut group = c.benchmark_group("insert");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);
    group.bench_function("batch_of_10k", |b| {
        b.iter_batched(
            || {
                next += BATCH;
                messages(next, BATCH)
            },
            |batch| db.insert_messages(&batch).unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn range_read(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Database::open(dir.path().join("read.db")).unwrap();
    for start in (0..READ).step_by(BATCH as usize) {
        db.insert_messages(&messages(start, BATCH)).unwrap();
    }
    let range = TimeRange {
        from: 0,
        to: u64::MAX,
    };
    let mut group = c.benchmark_group("range_read");
    group.throughput(Throughput::Elements(READ));
    group.sample_size(20);
    group.bench_function("100k", |b| {
        b.iter(|| {
            let mut n = 0u64;
            db.for_each_message(&TOPICS, range, |m| {
                n += black_box(m).payload.len() as u64 / PAYLOAD as u64;
                Ok::<_, archive_store::Error>(())
            })
            .unwrap();
            assert_eq!(n, READ);
        })
    });
    group.finish();
}

fn import(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Database::open(dir.path().join("import.db")).unwrap();
    let first = message(0).timestamp;
    let range = TimeRange {
        from: first,
        to: message(ARCHIVE).timestamp + 1,
    };
    // Live messages already fill the range, as on a member that was online.
    db.insert_messages(&messages(0, ARCHIVE)).unwrap();
    let archive = Archive {
        metadata: ArchiveMetadata::new(range, TOPICS.to_vec()),
        messages: messages(1_000_000, ARCHIVE)
            .into_iter()
            .map(|mut m| {
                m.timestamp = first + (m.timestamp - message(1_000_000).timestamp);
                m
            })
            .collect(),
    };
    let community = CommunityId([2; 33]);
    let id = ArchiveId([7; 32]);
    let mut group = c.benchmark_group("import");
    group.throughput(Throughput::Elements(ARCHIVE));
    group.sample_size(10);
    group.bench_function("one_30mb_archive", |b| {
        b.iter(|| db.import_archive(&community, &id, &archive).unwrap())
    });
    group.finish();
}

criterion_group!(benches, insert, range_read, import);
criterion_main!(benches);
