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

/// Creating archives from 24 MiB of 1 KiB messages (one week, split into
/// status-go's 30 MB archives), plain and sealed: what `encrypted = true`
/// costs an owner's archive run.
fn creation(c: &mut Criterion) {
    use archive_index::{BlobKind, DataWriter, Envelope, Message, TimeRange, Topic};
    use std::sync::Arc;

    const MESSAGES: u64 = 24 * 1024;
    let topic = Topic([1, 2, 3, 4]);
    let range = TimeRange {
        from: 0,
        to: 604_800,
    };
    let messages: Vec<Message> = (0..MESSAGES)
        .map(|i| Message {
            sig: vec![7; 65],
            timestamp: i * 20,
            topic,
            payload: vec![(i % 251) as u8; 1024],
            padding: Vec::new(),
            hash: archive_index::keccak256(&i.to_be_bytes()).to_vec(),
            third_party_id: String::new(),
        })
        .collect();
    let group = GroupId::new(&[0x02; 33]).unwrap();
    let key = HrKey {
        group: group.clone(),
        timestamp_ms: 1_700_000_000_010,
        key: GroupKey([0x33; 32]),
    };
    let envelope = archive_crypto::CommunityEnvelope::new(
        group,
        [key].into_iter().collect(),
        InstallationId::new("rust-installation-1").unwrap(),
    );
    // The envelope round-trips: the bench measures real sealing.
    let probe = envelope.seal(BlobKind::Archive, vec![1, 2, 3]).unwrap();
    assert_eq!(envelope.open(BlobKind::Archive, probe).unwrap(), [1, 2, 3]);
    let sealing: Arc<dyn Envelope> = Arc::new(envelope);
    let write = |envelope: Option<Arc<dyn Envelope>>| {
        let mut writer = DataWriter::new(Vec::new(), 0, vec![topic]).with_envelope(envelope);
        writer.begin_partition(range).unwrap();
        for m in &messages {
            writer.push(m).unwrap();
        }
        writer.finish().unwrap().1
    };
    let mut group_bench = c.benchmark_group("archive_creation");
    group_bench.throughput(Throughput::Bytes(MESSAGES * 1024));
    group_bench.sample_size(10);
    group_bench.bench_function("plain_24MiB", |b| b.iter(|| black_box(write(None))));
    group_bench.bench_function("sealed_24MiB", |b| {
        b.iter(|| black_box(write(Some(Arc::clone(&sealing)))))
    });
    group_bench.finish();
}

criterion_group!(benches, crypto, creation);
criterion_main!(benches);
