//! Encoding + padding throughput of `DataWriter` on 100 000 messages of 1 KiB.

use std::hint::black_box;

use archive_index::{DataWriter, Message, TimeRange, Topic};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn messages(n: u64) -> Vec<Message> {
    (0..n)
        .map(|i| Message {
            sig: vec![0x11; 65],
            timestamp: 1_600_000_000 + i,
            topic: Topic([1, 2, 3, 4]),
            payload: vec![(i % 251) as u8; 1024],
            padding: Vec::new(),
            hash: i.to_be_bytes().to_vec(),
            third_party_id: String::new(),
        })
        .collect()
}

fn encode(c: &mut Criterion) {
    let messages = messages(100_000);
    let payload: u64 = messages.iter().map(|m| m.payload.len() as u64).sum();
    let range = TimeRange {
        from: 1_600_000_000,
        to: 1_700_000_000,
    };
    let mut group = c.benchmark_group("archive");
    group.throughput(Throughput::Bytes(payload));
    group.sample_size(20);
    group.bench_function("encode_and_pad_100k_x_1KiB", |b| {
        b.iter(|| {
            let mut writer = DataWriter::new(std::io::sink(), 0, vec![Topic([1, 2, 3, 4])]);
            writer.begin_partition(range).unwrap();
            for m in &messages {
                writer.push(m).unwrap();
            }
            black_box(writer.finish().unwrap().1)
        });
    });
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
