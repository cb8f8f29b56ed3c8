//! Store throughput in messages per second, with 1 KiB payloads: batch
//! insert, range read, the canonical import of one full 30 MB archive, and a
//! member's import of several archives into a fresh store beside a bare
//! rusqlite insert loop into one table with the same primary key.
//!
//! Targets: insert ≥ 200 000 msg/s, range read ≥ 500 000 msg/s, one import of
//! ~29 000 messages (30 MB) in under a second, member import ≥ 200 000 msg/s
//! and ≥ 0.8 × the bare loop.

use std::hint::black_box;

use archive_index::{
    Archive, ArchiveId, ArchiveMetadata, CommunityId, DataWriter, Message, TimeRange, Topic,
    keccak256,
};
use archive_store::{Database, MessageKey};
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

/// Archive creation's share in this crate and archive-index: the range read
/// feeding `DataWriter` (chunking, encoding, padding) into a sink, in bytes
/// of payload per second. The whole `archivist create` adds the channel to
/// the writer thread, the file writes and the torrent's piece hashes.
fn create(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Database::open(dir.path().join("create.db")).unwrap();
    for start in (0..READ).step_by(BATCH as usize) {
        db.insert_messages(&messages(start, BATCH)).unwrap();
    }
    let range = TimeRange {
        from: message(0).timestamp,
        to: message(READ).timestamp + 1,
    };
    let mut group = c.benchmark_group("create");
    group.throughput(Throughput::Bytes(READ * PAYLOAD as u64));
    group.sample_size(20);
    group.bench_function("range_read_and_encode_100k", |b| {
        b.iter(|| {
            let mut writer = DataWriter::new(std::io::sink(), 0, TOPICS.to_vec());
            writer.begin_partition(range).unwrap();
            db.for_each_message(&TOPICS, range, |m| {
                writer.push(&m).unwrap();
                Ok::<_, archive_store::Error>(())
            })
            .unwrap();
            let report = writer.finish().unwrap().1;
            assert_eq!(
                report
                    .archives
                    .iter()
                    .map(|a| a.message_count as u64)
                    .sum::<u64>(),
                READ
            );
            black_box(report)
        })
    });
    // As `Store::messages` reads: pages of 512 keyed by (timestamp, hash),
    // one query each. On the shared 2-core machine, 64-, 512- and 4096-message
    // pages swapped places between runs, so the page size was left alone.
    {
        let page = 512;
        group.bench_function("paged_512_read_and_encode_100k", |b| {
            b.iter(|| {
                let mut writer = DataWriter::new(std::io::sink(), 0, TOPICS.to_vec());
                writer.begin_partition(range).unwrap();
                let mut after = None;
                loop {
                    let messages = db
                        .messages_page(&TOPICS, range, after.as_ref(), page)
                        .unwrap();
                    let Some(last) = messages.last() else { break };
                    after = Some(MessageKey::of(last));
                    for m in &messages {
                        writer.push(m).unwrap();
                    }
                }
                black_box(writer.finish().unwrap().1)
            })
        });
    }
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

/// Archives a member imports into a fresh store per iteration.
const MEMBER_ARCHIVES: u64 = 6;

/// Consecutive one-week archives of `ARCHIVE` messages each, as a member
/// fetches them.
fn member_archives() -> Vec<Archive> {
    (0..MEMBER_ARCHIVES)
        .map(|a| {
            let from = 1_700_000_000 + a * 604_800;
            let range = TimeRange {
                from,
                to: from + 604_800,
            };
            let messages = messages(a * ARCHIVE, ARCHIVE)
                .into_iter()
                .enumerate()
                .map(|(i, mut m)| {
                    m.timestamp = from + i as u64 * 20;
                    m
                })
                .collect();
            Archive {
                metadata: ArchiveMetadata::new(range, TOPICS.to_vec()),
                messages,
            }
        })
        .collect()
}

/// The same archives through `Database::import_archive` into a fresh store,
/// and, as the floor SQLite sets, a bare loop inserting their messages into
/// one table with `waku_messages`' columns and primary key (no secondary
/// index, no deduplication or ownership logic) under the store's pragmas,
/// one transaction per archive.
fn member_import(c: &mut Criterion) {
    let archives = member_archives();
    let community = CommunityId([2; 33]);
    let mut group = c.benchmark_group("member_import");
    group.throughput(Throughput::Elements(MEMBER_ARCHIVES * ARCHIVE));
    group.sample_size(10);
    group.bench_function("store_6_archives", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let db = Database::open(dir.path().join("member.db")).unwrap();
                (dir, db)
            },
            |(dir, mut db)| {
                for (i, archive) in archives.iter().enumerate() {
                    let id = ArchiveId(keccak256(&i.to_be_bytes()));
                    db.import_archive(&community, &id, archive).unwrap();
                }
                (dir, db)
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("bare_rusqlite_loop_6_archives", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let conn = rusqlite::Connection::open(dir.path().join("bare.db")).unwrap();
                let _mode: String = conn
                    .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
                    .unwrap();
                conn.execute_batch(
                    "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32768; \
                     PRAGMA mmap_size = 67108864; PRAGMA temp_store = MEMORY; \
                     CREATE TABLE waku_messages (sig BLOB NOT NULL, timestamp INTEGER NOT NULL, \
                     topic BLOB NOT NULL, payload BLOB NOT NULL, padding BLOB NOT NULL, \
                     hash BLOB PRIMARY KEY NOT NULL, third_party_id TEXT NOT NULL DEFAULT '');",
                )
                .unwrap();
                (dir, conn)
            },
            |(dir, mut conn)| {
                for archive in &archives {
                    let tx = conn.transaction().unwrap();
                    {
                        let mut insert = tx
                            .prepare_cached(
                                "INSERT INTO waku_messages \
                                 (sig, timestamp, topic, payload, padding, hash, third_party_id) \
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                            )
                            .unwrap();
                        for m in &archive.messages {
                            insert
                                .execute(rusqlite::params![
                                    m.sig,
                                    m.timestamp as i64,
                                    &m.topic.0[..],
                                    m.payload,
                                    m.padding,
                                    m.hash,
                                    m.third_party_id,
                                ])
                                .unwrap();
                        }
                    }
                    tx.commit().unwrap();
                }
                (dir, conn)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, insert, range_read, create, import, member_import);
criterion_main!(benches);
