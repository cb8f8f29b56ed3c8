//! Upload and verified download of 64 MiB through the client and a devnode on
//! loopback, and the same transfers with `curl` when it is installed.
//!
//! Criterion times the client alone. Then the client and curl take turns
//! for [`ROUNDS`] rounds, so that both see the same machine load (other
//! builds share these cores), and the medians, spreads and the per-round
//! ratio are printed. curl is timed by its own `time_total`, which leaves
//! out starting the process: the stricter comparison.

use std::{
    hint::black_box,
    io::Write,
    process::Command,
    time::{Duration, Instant},
};

use backend_codex::{ClientConfig, CodexClient, Source, UploadOptions};
use bytes::Bytes;
use codex_devnode::Devnode;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const LEN: usize = 64 * 1024 * 1024;
const ROUNDS: usize = 15;

fn transfer(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let node = runtime
        .block_on(Devnode::spawn(codex_devnode::Config::new(dir.path())))
        .expect("devnode");
    let client = CodexClient::new(ClientConfig::new(node.url())).expect("client");
    let data = Bytes::from(
        (0..LEN)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761) as u8)
            .collect::<Vec<u8>>(),
    );
    let options = UploadOptions::default();
    let cid = runtime
        .block_on(client.upload(data.clone(), &options))
        .expect("upload");

    let mut group = c.benchmark_group("devnode");
    group.throughput(Throughput::Bytes(LEN as u64));
    group.sample_size(10);
    // The dataset is deleted before each upload (untimed), so every block is
    // written again rather than found already stored.
    group.bench_function("upload_64MiB", |b| {
        b.iter_batched(
            || runtime.block_on(client.delete(&cid)).expect("delete"),
            |()| {
                runtime
                    .block_on(client.upload(black_box(data.clone()), &options))
                    .expect("upload")
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("download_verified_64MiB", |b| {
        b.iter(|| {
            runtime
                .block_on(client.download(&cid, Source::Network))
                .expect("download")
        })
    });
    group.finish();

    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&data).expect("write temp file");
    let api = node.api_url();
    let upload_arg = format!("@{}", file.path().display());
    let download_url = format!("{api}/data/{cid}/network/stream");
    let ours_download = || {
        let start = Instant::now();
        runtime
            .block_on(client.download(&cid, Source::Network))
            .expect("download");
        Some(start.elapsed())
    };
    let curl_download = || curl(&["-o", "/dev/null", &download_url]);
    compare("download", ours_download, curl_download);
    let ours_upload = || {
        runtime.block_on(client.delete(&cid)).expect("delete");
        let start = Instant::now();
        runtime
            .block_on(client.upload(data.clone(), &options))
            .expect("upload");
        Some(start.elapsed())
    };
    let upload_url = format!("{api}/data");
    let curl_upload = || {
        runtime.block_on(client.delete(&cid)).expect("delete");
        curl(&[
            "-H",
            "Content-Type:",
            "--data-binary",
            &upload_arg,
            "-o",
            "/dev/null",
            &upload_url,
        ])
    };
    compare("upload", ours_upload, curl_upload);
    runtime.block_on(node.shutdown()).expect("shutdown");
}

/// One curl transfer: `(curl's time_total, wall clock)`; `None` if curl is
/// missing or fails.
fn curl(args: &[&str]) -> Option<(Duration, Duration)> {
    let start = Instant::now();
    let out = Command::new("curl")
        .args(["-sf", "-w", "%{time_total}"])
        .args(args)
        .output()
        .ok()?;
    let wall = start.elapsed();
    let seconds: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    out.status
        .success()
        .then(|| (Duration::from_secs_f64(seconds), wall))
}

/// Alternates `ours` and `theirs` and prints MB/s (10^6 bytes) of each and
/// the ratios, as median (min–max) over the rounds.
#[allow(clippy::print_stdout)] // a bench reports to the terminal
fn compare(
    what: &str,
    ours: impl Fn() -> Option<Duration>,
    theirs: impl Fn() -> Option<(Duration, Duration)>,
) {
    let mb_per_s = |d: Duration| LEN as f64 / 1e6 / d.as_secs_f64();
    let mut columns: [Vec<f64>; 5] = Default::default();
    for _ in 0..ROUNDS {
        let (Some(x), Some((transfer, wall))) = (ours(), theirs()) else {
            println!("{what}: curl not available or failed");
            return;
        };
        let (x, transfer, wall) = (mb_per_s(x), mb_per_s(transfer), mb_per_s(wall));
        for (column, value) in columns
            .iter_mut()
            .zip([x, transfer, wall, x / transfer, x / wall])
        {
            column.push(value);
        }
    }
    let [ours, transfer, wall, by_transfer, by_wall] = columns.map(|mut v| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    });
    let mb = |(median, min, max): (f64, f64, f64)| format!("{median:.0} ({min:.0}–{max:.0}) MB/s");
    let ratio = |(median, min, max): (f64, f64, f64)| format!("{median:.2} ({min:.2}–{max:.2})");
    println!("{what}, {ROUNDS} alternating rounds, median (min–max):");
    println!("  ours {}", mb(ours));
    println!(
        "  curl {} by its time_total, {} by the wall clock",
        mb(transfer),
        mb(wall)
    );
    println!(
        "  ours/curl {} against time_total, {} against the wall clock",
        ratio(by_transfer),
        ratio(by_wall)
    );
}

criterion_group!(benches, transfer);
criterion_main!(benches);
