//! Every decoder keeps its peak heap within its budget: archives within
//! 4 × their input, refused ones included (empty messages used to cost 76 ×
//! their bytes; the refusal limit is 8 ×, and honest
//! ones, from the densest status-go writes to 1 KiB payloads, are decoded),
//! torrent and Codex indexes within 8 × (an entry with millions of topics,
//! many small entries), and a typed error past the configured cap.

use archive_index::{
    Archive, ArchiveMetadata, CodexEntry, CodexIndex, DecodeLimits, Error, IndexEntry, Message,
    PIECE_LENGTH, TimeRange, Topic, TorrentIndex,
};

use crate::{assert_within, peak_during, serial};

const TOPIC: Topic = Topic([1, 2, 3, 4]);

fn metadata(topics: Vec<Topic>) -> ArchiveMetadata {
    ArchiveMetadata::new(
        TimeRange {
            from: 0,
            to: 604_800,
        },
        topics,
    )
}

/// `WakuMessageArchive` whose messages are all empty: two bytes each.
fn archive_of_empty_messages(count: usize) -> Vec<u8> {
    [0x1a, 0x00].repeat(count)
}

#[test]
fn an_archive_of_empty_messages_is_refused_within_four_times_its_size() {
    let _serial = serial();
    let bytes = archive_of_empty_messages(2 << 20);
    let (result, peak) = peak_during(|| Archive::decode(&bytes));
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLarge {
                what: "archive",
                ..
            }
        ),
        "{err}"
    );
    assert_within("archive of empty messages", 4, bytes.len(), peak);
}

#[test]
fn an_archive_of_topic_only_messages_is_refused_within_four_times_its_size() {
    let _serial = serial();
    // Valid messages (a 4-byte topic each) of eight bytes: 136 in memory.
    let bytes = [0x1a, 0x06, 0x1a, 0x04, 1, 2, 3, 4].repeat(1 << 20);
    let (result, peak) = peak_during(|| Archive::decode(&bytes));
    assert!(matches!(result, Err(Error::TooLarge { .. })), "{result:?}");
    assert_within("archive of topic-only messages", 4, bytes.len(), peak);
}

#[test]
fn an_archive_of_real_messages_decodes_within_four_times_its_size() {
    let _serial = serial();
    let messages = (0..40_000u64)
        .map(|i| Message {
            sig: vec![7; 65],
            timestamp: 1_000 + i,
            topic: TOPIC,
            payload: vec![9; 40],
            padding: vec![],
            hash: i.to_be_bytes().repeat(4),
            third_party_id: String::new(),
        })
        .collect();
    let archive = Archive {
        metadata: metadata(vec![TOPIC]),
        messages,
    };
    let bytes = archive.encode();
    let (decoded, peak) = peak_during(|| Archive::decode(&bytes));
    assert_eq!(decoded.unwrap(), archive);
    assert_within("archive of 40 000 messages", 4, bytes.len(), peak);
}

/// An archive of `count` honest messages: status-go's 65-byte signature and
/// 32-byte hash, a payload of `payload` bytes.
fn honest_archive(count: u64, payload: usize) -> Archive {
    Archive {
        metadata: metadata(vec![TOPIC]),
        messages: (0..count)
            .map(|i| Message {
                sig: vec![7; 65],
                timestamp: 1_000 + i,
                topic: TOPIC,
                payload: vec![9; payload],
                padding: vec![],
                hash: i.to_be_bytes().repeat(4),
                third_party_id: String::new(),
            })
            .collect(),
    }
}

#[test]
fn honest_archives_decode_within_four_times_their_size() {
    let _serial = serial();
    // Empty payloads are the densest honest archive; 1 KiB is the bench's.
    for (count, payload) in [(100_000, 0), (20_000, 1024)] {
        let archive = honest_archive(count, payload);
        let bytes = archive.encode();
        let (decoded, peak) = peak_during(|| Archive::decode(&bytes));
        assert_eq!(decoded.unwrap(), archive);
        assert_within(
            &format!("archive of {count} messages of {payload} payload bytes"),
            4,
            bytes.len(),
            peak,
        );
    }
}

#[test]
fn an_archive_of_small_honest_messages_is_decoded_within_eight_times_its_size() {
    let _serial = serial();
    // Messages of a topic and a 16-byte hash: about 5.6 × their encoding in
    // memory. A 4 × refusal limit turned such archives away, and with them
    // history that our own ingestion writes; the limit refuses hostile
    // density only.
    let archive = Archive {
        metadata: metadata(vec![TOPIC]),
        messages: (0..200_000u64)
            .map(|i| Message {
                sig: vec![],
                timestamp: 1_000 + i,
                topic: TOPIC,
                payload: vec![],
                padding: vec![],
                hash: i.to_be_bytes().repeat(2),
                third_party_id: String::new(),
            })
            .collect(),
    };
    let bytes = archive.encode();
    let (decoded, peak) = peak_during(|| Archive::decode(&bytes));
    assert_eq!(decoded.unwrap(), archive);
    assert_within("archive of hash-only messages", 8, bytes.len(), peak);
}

#[test]
fn an_archive_over_a_configured_cap_is_a_typed_error() {
    let _serial = serial();
    let archive = Archive {
        metadata: metadata(vec![TOPIC]),
        messages: vec![],
    };
    let bytes = archive.encode();
    let limits = DecodeLimits {
        max_heap_per_input_byte: 8,
        max_heap_bytes: 4,
    };
    let err = Archive::decode_with(&bytes, &limits).unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 4, .. }), "{err}");
    assert!(err.to_string().contains("over the limit of 4"), "{err}");
}

fn index_entry(offset: u64, topics: Vec<Topic>) -> IndexEntry {
    IndexEntry {
        version: 0,
        metadata: metadata(topics),
        offset,
        size: PIECE_LENGTH,
        padding: 1,
    }
}

#[test]
fn an_index_entry_with_a_million_topics_decodes_within_eight_times_its_size() {
    let _serial = serial();
    let topics = (0..1_000_000u32).map(|i| Topic(i.to_be_bytes())).collect();
    let mut index = TorrentIndex::new();
    index.insert(index_entry(0, topics)).unwrap();
    let bytes = index.encode();
    let (decoded, peak) = peak_during(|| TorrentIndex::decode(&bytes));
    assert_eq!(decoded.unwrap(), index);
    assert_within("index with 1 M topics", 8, bytes.len(), peak);
}

#[test]
fn an_index_of_many_entries_decodes_within_eight_times_its_size() {
    let _serial = serial();
    let mut index = TorrentIndex::new();
    for i in 0..50_000 {
        index.insert(index_entry(i * PIECE_LENGTH, vec![])).unwrap();
    }
    let bytes = index.encode();
    let (decoded, peak) = peak_during(|| TorrentIndex::decode(&bytes));
    assert_eq!(decoded.unwrap(), index);
    assert_within("index of 50 000 entries", 8, bytes.len(), peak);
}

#[test]
fn a_codex_index_decodes_within_eight_times_its_size() {
    let _serial = serial();
    let mut index = CodexIndex::new();
    for i in 0..50_000u32 {
        index.insert(CodexEntry {
            version: 0,
            metadata: metadata(vec![Topic(i.to_be_bytes())]),
            cid: "z".into(),
        });
    }
    let topics = (0..1_000_000u32).map(|i| Topic(i.to_be_bytes())).collect();
    index.insert(CodexEntry {
        version: 0,
        metadata: metadata(topics),
        cid: "zDvMany".into(),
    });
    let bytes = index.encode();
    let (decoded, peak) = peak_during(|| CodexIndex::decode(&bytes));
    assert_eq!(decoded.unwrap(), index);
    assert_within("Codex index", 8, bytes.len(), peak);
}

#[test]
fn an_index_of_repeated_empty_values_is_refused_cheaply() {
    let _serial = serial();
    // One map entry whose value field repeats two million times: protobuf
    // merges them, so they must not be collected first.
    let mut map_entry = vec![0x0a, 0x00];
    map_entry.extend([0x12, 0x00].repeat(2 << 20));
    let mut bytes = vec![0x0a];
    let mut len = map_entry.len();
    while len >= 0x80 {
        bytes.push((len as u8) | 0x80);
        len >>= 7;
    }
    bytes.push(len as u8);
    bytes.extend(map_entry);
    let (result, peak) = peak_during(|| TorrentIndex::decode(&bytes));
    assert!(result.is_err());
    assert_within("index of repeated empty values", 8, bytes.len(), peak);
}
