//! Writes the seed corpus under `fuzz/corpus/<target>/`: a few valid inputs per
//! target, made deterministically from the formats' own encoders, named by the
//! SHA-1 of their content as libFuzzer names its own finds.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seed_corpus`

#![allow(clippy::print_stdout, reason = "reports what it wrote")]

use std::{fs, path::Path};

use archive_crypto::{GroupId, GroupKey, HrKey, InstallationId, seal};
use archive_dispatch::{CommunityKey, LinkKind, sign_announcement};
use archive_index::{
    Archive, ArchiveMetadata, ArchiveRun, CodexEntry, CodexIndex, CommunityId, Message, TimeRange,
    Topic, TorrentIndex, write_archives,
};
use codex_format::{
    cid::{cid_text, parse_cid},
    manifest::Manifest,
    tree::{DEFAULT_BLOCK_SIZE, TreeHasher, tree_cid},
};
use sha1::{Digest, Sha1};
use torrent_format::{ArchiveDir, Metainfo, TorrentOptions};

const TOPICS: [Topic; 2] = [
    Topic([0xde, 0xad, 0xbe, 0xef]),
    Topic([0x0b, 0xad, 0xf0, 0x0d]),
];
const WEEK: u64 = 7 * 86_400;
const FROM: u64 = 1_577_836_800;

fn message(timestamp: u64, n: u8) -> Message {
    Message {
        sig: vec![n; 3],
        timestamp,
        topic: TOPICS[usize::from(n % 2)],
        payload: format!("message {n}").into_bytes(),
        padding: vec![],
        hash: vec![n; 32],
        third_party_id: if n == 3 {
            "discord-3".into()
        } else {
            String::new()
        },
    }
}

/// Three weeks of messages: `data` (each archive padded to whole pieces) and
/// the index.
fn archives() -> (Vec<u8>, TorrentIndex) {
    let run = ArchiveRun {
        range: TimeRange {
            from: FROM,
            to: FROM + 3 * WEEK,
        },
        interval: WEEK,
        topics: TOPICS.to_vec(),
    };
    let messages = (0..6)
        .map(|n| message(FROM + u64::from(n) * WEEK / 2, n))
        .collect();
    let (data, report) = write_archives(Vec::new(), 0, &run, messages).expect("archives");
    let mut index = TorrentIndex::new();
    for archive in report.archives {
        index.insert(archive.entry).expect("disjoint");
    }
    (data, index)
}

/// `[flags][index length][index][data]` for the `extract_archive` target: one
/// archive, its padding left to the "round up to a piece" flag.
fn extract_input(cap_flag: u8, data: &[u8], index: &TorrentIndex) -> Vec<u8> {
    let (id, entry) = index.by_offset().next().expect("an archive");
    let mut one = TorrentIndex::new();
    one.insert(entry.clone()).expect("one entry");
    assert_eq!(one.get(&id), Some(entry));
    let index_bytes = one.encode();
    let mut out = vec![0x10 | cap_flag];
    out.extend_from_slice(
        &u16::try_from(index_bytes.len())
            .expect("small")
            .to_le_bytes(),
    );
    out.extend_from_slice(&index_bytes);
    out.extend_from_slice(&data[..usize::try_from(entry.raw_len()).expect("small")]);
    out
}

fn build_torrent(data: &[u8], index: &TorrentIndex, trackers: &[&str]) -> Metainfo {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let community: CommunityId = format!("0x02{}", "aa".repeat(32)).parse().expect("an ID");
    let dir = ArchiveDir::new(tmp.path(), &community);
    fs::create_dir_all(dir.path()).expect("community directory");
    fs::write(dir.data_path(), data).expect("data");
    fs::write(dir.index_path(), index.encode()).expect("index");
    let owner = format!("0x04{}", "cd".repeat(64));
    let mut options = TorrentOptions::new(owner, 1_700_000_000);
    if !trackers.is_empty() {
        options.announce_list = vec![trackers.iter().map(|t| t.to_string()).collect()];
    }
    Metainfo::build(&dir, &options, None).expect("a torrent")
}

fn prefixed(mode: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![mode];
    out.extend_from_slice(bytes);
    out
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let (data, index) = archives();
    let first = index.by_offset().next().expect("an archive").1.clone();
    let first_archive = data[..first.raw_len() as usize].to_vec();
    let sealed_first = sealed_archive(&first_archive);
    let empty_archive = Archive {
        metadata: ArchiveMetadata::new(TimeRange { from: 1, to: 2 }, TOPICS.to_vec()),
        messages: vec![],
    }
    .encode();

    let mut codex = CodexIndex::new();
    for (n, (_, entry)) in index.by_offset().enumerate() {
        codex.insert(CodexEntry {
            version: 0,
            metadata: entry.metadata.clone(),
            cid: format!("zDvZRwzmExample{n}"),
        });
    }

    let torrent = build_torrent(&data, &index, &[]);
    // Its magnet once carried `tr=`, which does not parse.
    let empty_tracker = build_torrent(&data, &index, &["", "http://127.0.0.1:8000/announce"]);
    let magnet = torrent.magnet().to_string();
    let with_peers = "magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK&dn=x&x.pe=127.0.0.1%3A6881&tr=http%3A%2F%2F127.0.0.1%3A8000%2Fannounce";

    let key = CommunityKey::from_bytes(&[7; 32]).expect("a valid secret");
    let magnet_wire =
        sign_announcement(&key, LinkKind::TORRENT, 1_700_000_000_000, &magnet).expect("signs");
    let manifest_cid = "zDvZRwzmAkhzDRPH5EW242gJBNZ2T7aoH2v1fVH66FxXL4kSbvyM";
    let cid_wire = sign_announcement(&key, LinkKind::CODEX, 1_700_000_000_001, manifest_cid)
        .expect("signs");

    let mut hasher = TreeHasher::new(DEFAULT_BLOCK_SIZE);
    hasher.update(b"Hello World!");
    let manifest = Manifest {
        tree_cid: tree_cid(&hasher.finish()).expect("one leaf"),
        block_size: DEFAULT_BLOCK_SIZE as u64,
        dataset_size: 12,
        filename: Some("hello.txt".into()),
        mimetype: Some("text/plain".into()),
    };
    let manifest_json = serde_json::to_vec(&manifest.to_json()).expect("JSON");
    let cid_v0 = "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n";
    let cid_bytes = parse_cid(manifest_cid)
        .expect("the vector parses")
        .to_bytes();

    vec![
        ("archive_decode", first_archive),
        ("archive_decode", empty_archive),
        ("torrent_index_decode", index.encode()),
        ("torrent_index_decode", Vec::new()),
        ("codex_index_decode", codex.encode()),
        // 1 MiB cap: extracts; 256 B cap: refused unread.
        ("extract_archive", extract_input(0x0c, &data, &index)),
        ("extract_archive", extract_input(0x00, &data, &index)),
        ("bencode_decode", torrent.to_bytes()),
        ("bencode_decode", b"d1:ai-3e1:bl4:spam0:ee".to_vec()),
        ("torrent_parse", torrent.to_bytes()),
        ("torrent_parse", empty_tracker.to_bytes()),
        ("magnet_parse", prefixed(0, magnet.as_bytes())),
        ("magnet_parse", prefixed(0, with_peers.as_bytes())),
        ("magnet_parse", prefixed(1, &[0x5a; 64])),
        ("announcement_open", prefixed(0, &magnet_wire)),
        ("announcement_open", prefixed(0, &cid_wire)),
        ("announcement_open", prefixed(1, &[0x11; 80])),
        ("codex_manifest", prefixed(0, &manifest.encode())),
        ("codex_manifest", prefixed(1, &manifest_json)),
        ("codex_cid", prefixed(0, manifest_cid.as_bytes())),
        (
            "codex_cid",
            prefixed(0, cid_text(&manifest.tree_cid).as_bytes()),
        ),
        ("codex_cid", prefixed(0, cid_v0.as_bytes())),
        ("codex_cid", prefixed(1, &cid_bytes)),
        ("hr_decrypt", prefixed(0, &sealed_first)),
        ("hr_decrypt", prefixed(1, &[0x42; 64])),
    ]
}

/// `archive` sealed as the `hr_decrypt` target's member can open it.
fn sealed_archive(archive: &[u8]) -> Vec<u8> {
    let key = HrKey {
        group: GroupId::new(&[0x02; 33]).expect("a valid group"),
        timestamp_ms: 1_700_000_000_010,
        key: GroupKey([0x33; 32]),
    };
    let installation = InstallationId::new("rust-installation-1").expect("a valid ID");
    seal(&key, 3, archive, &installation, [7; 12]).expect("sealing works")
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (target, bytes) in seeds() {
        // The seed must satisfy its own target's property.
        assert!(
            archivist_fuzz::run(target, &bytes),
            "unknown target {target}"
        );
        let dir = root.join(target);
        fs::create_dir_all(&dir).expect("corpus directory");
        let name = Sha1::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        fs::write(dir.join(&name), &bytes).expect("seed written");
        println!("{target}/{name} ({} bytes)", bytes.len());
    }
}
