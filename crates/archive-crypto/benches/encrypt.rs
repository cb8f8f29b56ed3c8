//! Throughput of encrypting and decrypting one 8 MiB archive blob (AES-256-GCM
//! plus the envelope), the cost encryption adds to creating and importing
//! archives; and of one hash-ratchet step, which reading message n costs n of.

use std::hint::black_box;

use archive_crypto::{GroupId, GroupKey, HrKey, InstallationId, Keyring, OsNonces};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const BLOB: usize = 8 << 20;

fn crypto(c: &mut Criterion) {
    let group = GroupId::new(&[0x02; 33]).unwrap();
    let key = HrKey {
        group: group.clone(),
        timestamp_ms: 1_700_000_000_010,
        key: GroupKey([0x33; 32]),
    };
    let installation = InstallationId::new("rust-installation-1").unwrap();
    let plaintext: Vec<u8> = (0..BLOB).map(|i| (i % 251) as u8).collect();

    let mut group_bench = c.benchmark_group("hash_ratchet");
    group_bench.throughput(Throughput::Bytes(BLOB as u64));
    group_bench.sample_size(10);
    group_bench.bench_function("encrypt_8MiB", |b| {
        b.iter_batched(
            || {
                let mut ring = Keyring::new();
                ring.insert(key.clone());
                ring
            },
            |mut ring| {
                black_box(
                    ring.encrypt(&group, &plaintext, &installation, &mut OsNonces)
                        .unwrap(),
                )
            },
            criterion::BatchSize::LargeInput,
        );
    });
    let mut owner = Keyring::new();
    owner.insert(key.clone());
    let sealed = owner
        .encrypt(&group, &plaintext, &installation, &mut OsNonces)
        .unwrap();
    group_bench.bench_function("decrypt_8MiB", |b| {
        b.iter_batched(
            || {
                let mut ring = Keyring::new();
                ring.insert(key.clone());
                ring
            },
            |mut ring| black_box(ring.decrypt(&sealed.bytes, &group).unwrap()),
            criterion::BatchSize::LargeInput,
        );
    });
    group_bench.finish();

    let mut ratchet = c.benchmark_group("hash_ratchet");
    ratchet.throughput(Throughput::Elements(10_000));
    ratchet.bench_function("ratchet_10k_steps", |b| {
        b.iter(|| black_box(key.message_key(black_box(10_000))));
    });
    ratchet.finish();
}

criterion_group!(benches, crypto);
criterion_main!(benches);
