//! Upload and verified download of 64 MiB through the client and a devnode on
//! loopback, and the same transfers with `curl` when it is installed.

use std::{hint::black_box, io::Write, process::Command, time::Instant};

use backend_codex::{ClientConfig, CodexClient, Source, UploadOptions};
use bytes::Bytes;
use codex_devnode::{Devnode, DevnodeConfig};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const LEN: usize = 64 * 1024 * 1024;

fn transfer(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let node = runtime
        .block_on(Devnode::spawn(DevnodeConfig::new(dir.path())))
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
    with_curl(&node.api_url(), &cid, &data);
    runtime.block_on(node.shutdown()).expect("shutdown");
}

/// One timed `curl` upload and download of the same bytes, for comparison.
#[allow(clippy::print_stdout)] // a bench reports to the terminal
fn with_curl(api: &str, cid: &str, data: &[u8]) {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(data).expect("write temp file");
    let mb = LEN as f64 / 1e6;
    let upload = format!("@{}", file.path().display());
    delete_with_curl(api, cid);
    let runs = [
        (
            "curl upload",
            vec![
                "-sf",
                "-H",
                "Content-Type:",
                "--data-binary",
                &upload,
                "-o",
                "/dev/null",
            ],
            format!("{api}/data"),
        ),
        (
            "curl download",
            vec!["-sf", "-o", "/dev/null"],
            format!("{api}/data/{cid}/network/stream"),
        ),
    ];
    for (what, args, url) in runs {
        let start = Instant::now();
        match Command::new("curl").args(&args).arg(&url).status() {
            Ok(s) if s.success() => {
                println!("{what}: {:.0} MB/s", mb / start.elapsed().as_secs_f64())
            }
            _ => println!("{what}: curl not available or failed"),
        }
    }
}

/// Deletes the dataset so that curl's upload writes every block too.
fn delete_with_curl(api: &str, cid: &str) {
    let _ = Command::new("curl")
        .args(["-sf", "-X", "DELETE"])
        .arg(format!("{api}/data/{cid}"))
        .status();
}

criterion_group!(benches, transfer);
criterion_main!(benches);
