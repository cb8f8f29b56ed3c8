//! CID throughput: chunking, block hashing and the tree root of a 64 MiB
//! buffer, as a node computes them on upload; printed next to `sha256sum` on
//! the same bytes, the floor any sha2-256 pass has to pay.

use std::{hint::black_box, io::Write, process::Command, time::Instant};

use codex_devnode::format::{
    cid::cid_text,
    manifest::Manifest,
    tree::{DEFAULT_BLOCK_SIZE, TreeHasher, tree_cid},
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const LEN: usize = 64 * 1024 * 1024;

fn buffer() -> Vec<u8> {
    (0..LEN)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761) as u8)
        .collect()
}

fn manifest_cid(data: &[u8]) -> String {
    let mut hasher = TreeHasher::new(DEFAULT_BLOCK_SIZE);
    hasher.update(data);
    let manifest = Manifest {
        tree_cid: tree_cid(&hasher.finish()).expect("non-empty"),
        block_size: DEFAULT_BLOCK_SIZE as u64,
        dataset_size: data.len() as u64,
        filename: None,
        mimetype: None,
    };
    cid_text(&manifest.cid())
}

fn cid_throughput(c: &mut Criterion) {
    let data = buffer();
    let mut group = c.benchmark_group("cid");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.sample_size(10);
    group.bench_function("manifest_cid_64MiB", |b| {
        b.iter(|| manifest_cid(black_box(&data)))
    });
    group.finish();
    compare_with_sha256sum(&data);
}

/// One timed run of ours and of `sha256sum` on a file of the same bytes.
#[allow(clippy::print_stdout)] // a bench reports to the terminal
fn compare_with_sha256sum(data: &[u8]) {
    let start = Instant::now();
    let cid = manifest_cid(data);
    let ours = start.elapsed();
    let mb = LEN as f64 / 1e6;
    println!("manifest CID {cid}: {:.0} MB/s", mb / ours.as_secs_f64());
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(data).expect("write temp file");
    let start = Instant::now();
    match Command::new("sha256sum").arg(file.path()).output() {
        Ok(out) if out.status.success() => {
            println!(
                "sha256sum (one pass, file from page cache): {:.0} MB/s",
                mb / start.elapsed().as_secs_f64()
            );
        }
        _ => println!("sha256sum not available"),
    }
}

criterion_group!(benches, cid_throughput);
criterion_main!(benches);
