//! Cost of building a community `.torrent`: a full build over 256 MiB of
//! archives versus the incremental rebuild after one ~1 MiB archive is
//! appended, which should follow the new bytes rather than the history.

use std::{
    fs::{self, OpenOptions},
    io::Write,
    time::{Duration, Instant},
};

use archive_index::{CommunityId, PIECE_LENGTH};
use backend_torrent::{ArchiveDir, Metainfo, TorrentOptions};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Whole pieces closest to 256 MiB, as `data` always is.
const HISTORY_PIECES: u64 = (256 << 20) / PIECE_LENGTH;
/// One archive of ten pieces (1 024 000 bytes).
const APPEND_PIECES: u64 = 10;
const INDEX_LEN: usize = 50_000;

fn write_pieces(out: &mut impl Write, count: u64, seed: u64) {
    let mut piece = vec![0u8; PIECE_LENGTH as usize];
    for n in 0..count {
        // Distinct pieces, so no hash could be shared by accident.
        piece[..8].copy_from_slice(&(seed + n).to_le_bytes());
        piece[8] = 1;
        out.write_all(&piece).unwrap();
    }
}

fn metainfo(c: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();
    let community: CommunityId = format!("0x02{}", "11".repeat(32)).parse().unwrap();
    let dir = ArchiveDir::new(root.path(), &community);
    fs::create_dir_all(dir.path()).unwrap();
    let mut data = std::io::BufWriter::new(fs::File::create(dir.data_path()).unwrap());
    write_pieces(&mut data, HISTORY_PIECES, 0);
    data.flush().unwrap();
    drop(data);
    fs::write(dir.index_path(), vec![7u8; INDEX_LEN]).unwrap();
    let opts = TorrentOptions::new(format!("0x04{}", "cd".repeat(64)), 1_700_000_000);

    let history_bytes = HISTORY_PIECES * PIECE_LENGTH + INDEX_LEN as u64;
    let mut group = c.benchmark_group("metainfo");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Bytes(history_bytes));
    group.bench_function("full build, 256 MiB", |b| {
        b.iter(|| Metainfo::build(&dir, &opts, None).unwrap())
    });
    let previous = Metainfo::build(&dir, &opts, None).unwrap();

    let mut data = OpenOptions::new()
        .append(true)
        .open(dir.data_path())
        .unwrap();
    write_pieces(&mut data, APPEND_PIECES, HISTORY_PIECES);
    drop(data);
    fs::write(dir.index_path(), vec![8u8; INDEX_LEN + 200]).unwrap();
    let new_bytes = APPEND_PIECES * PIECE_LENGTH + INDEX_LEN as u64 + 200;
    group.throughput(Throughput::Bytes(new_bytes));
    group.bench_function("incremental rebuild after a 1 MiB append", |b| {
        b.iter(|| Metainfo::build(&dir, &opts, Some(&previous)).unwrap())
    });
    group.finish();

    summary(&dir, &opts, &previous, history_bytes);
}

/// One timed run of each, to print the ratio criterion does not show.
#[allow(clippy::print_stdout)] // a bench reports on stdout
fn summary(dir: &ArchiveDir, opts: &TorrentOptions, previous: &Metainfo, history_bytes: u64) {
    let start = Instant::now();
    let full = Metainfo::build(dir, opts, None).unwrap();
    let full_time = start.elapsed();
    let start = Instant::now();
    let (incremental, stats) = Metainfo::build_with_stats(dir, opts, Some(previous)).unwrap();
    let incremental_time = start.elapsed();
    assert_eq!(full, incremental);
    println!(
        "full: {:.1} ms ({:.0} MB/s); incremental: {:.2} ms ({} pieces reused, {} hashed); \
         full/incremental = {:.0}x",
        full_time.as_secs_f64() * 1e3,
        history_bytes as f64 / full_time.as_secs_f64() / 1e6,
        incremental_time.as_secs_f64() * 1e3,
        stats.reused_pieces,
        stats.hashed_pieces,
        full_time.as_secs_f64() / incremental_time.as_secs_f64(),
    );
}

criterion_group!(benches, metainfo);
criterion_main!(benches);
