//! Encrypted communities end to end (issue 17): an owner whose community is
//! `encrypted` seals every archive and the index with its hash-ratchet key;
//! a member without the key is told once which key is missing and imports
//! everything the moment the key arrives, without a restart; after a rekey
//! the next archive is sealed with the new key and the older ones stay
//! readable.

use archivist::{
    JoinOptions, NodeEvent, OwnOptions,
    crypto::{Detected, GroupId, GroupKey, HrKey, detect_index},
    index::CommunityId,
};

use std::{
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use archivist::index::{Archive, TorrentIndex};

use crate::fixture::{Member, Networks, PER_WEEK, TOPICS, World, assert_same_history};

/// archive-crypto's independent implementation of Part B, in plain Node.
const PART_B: &str = include_str!("../../../crates/archive-crypto/tests/it/part_b.mjs");
const NODE_TIMEOUT: Duration = Duration::from_secs(120);

/// `node part_b.mjs ARGS…` in `dir`, killed past its deadline: its
/// output, from hex.
fn part_b(dir: &Path, args: &[&str]) -> Vec<u8> {
    std::fs::write(dir.join("part_b.mjs"), PART_B).unwrap();
    let child = Command::new("node")
        .arg("part_b.mjs")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is on the PATH");
    // Its output (an archive in hex) outgrows a pipe: read while it runs.
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let Ok(output) = rx.recv_timeout(NODE_TIMEOUT) else {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        panic!("node part_b.mjs ran over {NODE_TIMEOUT:?}");
    };
    let output = output.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let hex = String::from_utf8(output.stdout).unwrap();
    let hex = hex.trim();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// `blob` opened by the independent implementation with `dir/keys.json`.
fn part_b_open(dir: &Path, blob: &[u8]) -> Vec<u8> {
    std::fs::write(dir.join("blob"), blob).unwrap();
    part_b(dir, &["open", "keys.json", "blob"])
}

/// `plain` sealed by the independent implementation with `dir/keys.json`
/// under sequence number `seq`.
fn part_b_seal(dir: &Path, seq: u32, plain: &[u8]) -> Vec<u8> {
    let hex: String = plain.iter().map(|b| format!("{b:02x}")).collect();
    part_b(
        dir,
        &[
            "seal",
            "keys.json",
            &seq.to_string(),
            &hex,
            "node-installation-1",
        ],
    )
}

/// The owner's torrent files, opened with the exported key by an
/// implementation of Part B that shares no code with Archivist: the index
/// lists both weeks, and each archive holds its week's messages.
async fn independent_reader_opens(world: &World, index: &Path, keys: &[HrKey]) {
    let dir = world.path("part-b");
    std::fs::create_dir_all(&dir).unwrap();
    archivist::crypto::write_key_file(&dir.join("keys.json"), keys).unwrap();
    let (index, data) = (index.to_owned(), index.with_file_name("data"));
    tokio::task::spawn_blocking(move || {
        let plain = part_b_open(&dir, &std::fs::read(&index).unwrap());
        let index = TorrentIndex::decode(&plain).unwrap();
        assert_eq!(index.len(), 2);
        let data = std::fs::read(data).unwrap();
        for (_, entry) in index.iter() {
            let sealed = &data[entry.offset as usize..(entry.offset + entry.raw_len()) as usize];
            let archive = Archive::decode(&part_b_open(&dir, sealed)).unwrap();
            assert_eq!(archive.messages.len(), PER_WEEK);
        }
    })
    .await
    .unwrap();
}

/// The owner's stored keys of `community`, as `archivist keys export`
/// writes them.
async fn owner_keys(node: &archivist::Node, community: CommunityId) -> Vec<HrKey> {
    node.store()
        .with(move |db| db.community_keys(&community))
        .await
        .unwrap()
        .into_iter()
        .map(|k| HrKey {
            group: GroupId::from(community),
            timestamp_ms: k.timestamp_ms,
            key: GroupKey(k.key),
        })
        .collect()
}

/// Waits for the member to say a key is missing; returns its ID and how many
/// archives wait for it.
async fn key_missing(member: &mut Member) -> (String, usize) {
    let mut seen = Vec::new();
    member
        .wait_for(&mut seen, |e| match e {
            NodeEvent::ArchiveKeyMissing {
                key_id, archives, ..
            } => Some((key_id.clone(), *archives)),
            _ => None,
        })
        .await
}

async fn sealed_owner_to_member(networks: Networks, backend: &str) {
    let world = World::new(networks).await;
    let mut owner = world.owner().await;
    owner.write_weeks(2).await;
    let community = owner.community();
    let config = world.member_config("member", owner.node.torrent_listen_addr());
    let encrypted = JoinOptions::default().with_encrypted(true);
    let mut member = world.member_with(config, community, encrypted).await;
    owner
        .node
        .add_owned_with(
            owner.key.clone(),
            OwnOptions::new(TOPICS.to_vec()).with_encrypted(true),
        )
        .await
        .unwrap();

    // The owner made the community's first key; the member has none, so
    // even the index is closed to it: it says which key, and waits.
    let first = owner_keys(&owner.node, community).await;
    assert_eq!(first.len(), 1, "the owner made exactly one key");
    let (missing, archives) = key_missing(&mut member).await;
    assert_eq!(missing, first[0].key_id().to_string());
    assert_eq!(archives, 0, "the index itself is sealed");

    if matches!(networks, Networks::Codex) {
        // As `archivist keys import` hands a key file to a running node.
        let inbox = archivist::keys_inbox(&member.node.config().data_dir);
        std::fs::create_dir_all(&inbox).unwrap();
        archivist::crypto::write_key_file(&inbox.join("keys.json"), &first).unwrap();
    } else {
        member.node.import_keys(first.clone()).await.unwrap();
    }
    let (fetched, _, used, _) = member.finished().await;
    assert_eq!((fetched, used), (2, backend));
    assert_same_history(&owner, &member.node).await;

    if matches!(networks, Networks::Torrent) {
        // What the swarm carries is sealed: the index file is a hash-ratchet
        // message, not a plain index.
        let index = owner
            .node
            .config()
            .torrent_dir()
            .join("archivedata")
            .join(community.to_string())
            .join("index");
        let bytes = std::fs::read(&index).unwrap();
        assert!(matches!(detect_index(&bytes), Detected::Encrypted(_)));
        independent_reader_opens(&world, &index, &first).await;
    }

    // A rekey: the next week (and the index) are sealed with the new key.
    let rekey = HrKey::generate(
        GroupId::from(community),
        first[0].timestamp_ms + 1_000,
        Some(first[0].timestamp_ms),
    )
    .unwrap();
    owner.node.import_keys(vec![rekey.clone()]).await.unwrap();
    owner.archive_next_week().await;
    let (missing, _) = key_missing(&mut member).await;
    assert_eq!(missing, rekey.key_id().to_string());
    member.node.import_keys(vec![rekey]).await.unwrap();
    let (fetched, _, _, _) = member.finished().await;
    assert_eq!(fetched, 1, "only the new week moves");
    assert_same_history(&owner, &member.node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_community_over_bittorrent() {
    sealed_owner_to_member(Networks::Torrent, "torrent").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_community_over_codex() {
    sealed_owner_to_member(Networks::Codex, "codex").await;
}

/// Archives and an index sealed by the independent Part B implementation,
/// not by Archivist, laid out as a directory-share owner publishes them:
/// an Archivist member holding the key fetches and imports them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archives_sealed_by_an_independent_implementation_are_imported() {
    use archivist::{
        backend::Link,
        crypto::{CommunityEnvelope, InstallationId},
        fetch::{FetchIntoStore, fetch_into_store},
        index::{ArchiveRun, CodexEntry, CodexIndex, TimeRange, write_archives},
        store::Store,
    };
    use sha2::{Digest, Sha256};

    use crate::fixture::{T0, WEEK};

    let dir = tempfile::tempdir().unwrap();
    let community = CommunityId([3; 33]);
    let key = HrKey::generate(GroupId::from(community), 1_700_000_000_000, None).unwrap();
    archivist::crypto::write_key_file(&dir.path().join("keys.json"), std::slice::from_ref(&key))
        .unwrap();
    let shared = dir.path().join("shared");
    let folder = shared.join(community.to_string());
    std::fs::create_dir_all(&folder).unwrap();
    let put = |blob: &[u8]| {
        let name: String = Sha256::digest(blob)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        std::fs::write(folder.join(&name), blob).unwrap();
        name
    };
    let sealer = dir.path().to_owned();
    let mut index = CodexIndex::new();
    for week in 0..2u64 {
        let range = TimeRange {
            from: T0 + week * WEEK,
            to: T0 + (week + 1) * WEEK,
        };
        let run = ArchiveRun {
            range,
            interval: WEEK,
            topics: TOPICS.to_vec(),
        };
        let messages = archivist::synthetic::messages(&TOPICS, range, 20, 64, week);
        let (data, report) = write_archives(Vec::new(), 0, &run, messages).unwrap();
        let entry = &report.archives[0].entry;
        let plain = data[entry.offset as usize..(entry.offset + entry.raw_len()) as usize].to_vec();
        let dir = sealer.clone();
        let sealed =
            tokio::task::spawn_blocking(move || part_b_seal(&dir, week as u32 + 1, &plain))
                .await
                .unwrap();
        index.insert(CodexEntry {
            version: 0,
            metadata: entry.metadata.clone(),
            cid: put(&sealed),
        });
    }
    let plain_index = index.encode();
    let sealed_index = tokio::task::spawn_blocking(move || part_b_seal(&sealer, 3, &plain_index))
        .await
        .unwrap();
    let link = Link::from_announced(
        backend_dirshare::DIR,
        &format!("dir:{}", put(&sealed_index)),
    )
    .unwrap();

    let member = backend_dirshare::DirShareBackend::new(&shared, dir.path().join("member-own"));
    let store = Store::open(dir.path().join("member.sqlite")).await.unwrap();
    let envelope = CommunityEnvelope::new(
        GroupId::from(community),
        [key].into_iter().collect(),
        InstallationId::random().unwrap(),
    );
    let options = FetchIntoStore::default().with_envelope(Some(std::sync::Arc::new(envelope)));
    let done = fetch_into_store(
        &store,
        &member,
        community,
        &link,
        &options,
        &tokio_util::sync::CancellationToken::new(),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!((done.imported, done.locked, done.failed), (2, 0, 0));
    assert_eq!(store.with(|db| db.message_count()).await.unwrap(), 40);
}
