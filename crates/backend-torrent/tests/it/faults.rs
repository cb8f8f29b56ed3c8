//! Fault injection on 127.0.0.1 with libtorrent seeders as child processes: a
//! seeder killed (SIGKILL) mid-transfer and restarted on its port, and a peer
//! serving corrupt pieces beside an honest one. Either way the member must
//! end with the owner's bytes, verified, and every archive must decode.
//!
//! What librqbit 9.1.0 does, and these tests rely on: a peer whose connection
//! fails is retried at the same address after an exponential backoff (10 s,
//! jittered, then ×6); a piece that fails its SHA-1 check is put back in the
//! queue and the peer that sent it is disconnected, to be retried the same way.

use std::{
    collections::HashSet,
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use archive_backend::{Backend, Link, MessageList, PublishOptions, PublishRequest};
use archive_index::{CommunityId, Message, PIECE_LENGTH, TimeRange, Topic};
use backend_torrent::TorrentBackend;

use super::{Nodes, fetch_missing, process::Seeder};

const WEEK: u64 = 7 * 86_400;
const TOPIC: Topic = Topic([5, 5, 5, 5]);
/// The block size every BitTorrent client requests.
const BLOCK: usize = 16 * 1024;

/// `weeks` weeks of `per_week` messages with 50 kB of payload each, the bytes
/// varying so that no two pieces are alike.
pub(crate) fn messages(weeks: u64, per_week: u64) -> Vec<Message> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut byte = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u8
    };
    (0..weeks * per_week)
        .map(|i| Message {
            sig: vec![1; 65],
            timestamp: (i / per_week) * WEEK + i * 60 + 1,
            topic: TOPIC,
            payload: (0..50_000).map(|_| byte()).collect(),
            padding: vec![],
            hash: i.to_be_bytes().to_vec(),
            third_party_id: String::new(),
        })
        .collect()
}

/// Publishes the archives, then stops the owner seeding them: from then on
/// the libtorrent seeders are the only sources.
pub(crate) async fn publish(
    owner: &TorrentBackend,
    community: CommunityId,
    weeks: u64,
    per_week: u64,
) -> Link {
    let source = MessageList::new(messages(weeks, per_week));
    let request = PublishRequest {
        community,
        topics: vec![TOPIC],
        range: TimeRange {
            from: 0,
            to: weeks * WEEK,
        },
        interval: WEEK,
        previous: None,
        messages: &source,
    };
    let outcome = owner
        .publish(request, &PublishOptions::default())
        .await
        .unwrap();
    assert_eq!(outcome.archives.len() as u64, weeks);
    let link = outcome.link.unwrap();
    owner.unseed(&community, &link).await.unwrap();
    link
}

/// A copy of the owner's `data` and `index` under `root`, as a seeder's save
/// directory wants them.
pub(crate) fn copy_files(owner: &TorrentBackend, community: &CommunityId, root: &Path) -> PathBuf {
    let dir = root.join(community.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["data", "index"] {
        std::fs::copy(
            owner.archive_dir(community).path().join(file),
            dir.join(file),
        )
        .unwrap();
    }
    dir
}

/// A compressed public key's shape (prefix 2), distinct per test.
pub(crate) fn community(n: u8) -> CommunityId {
    let mut id = [2; 33];
    id[32] = n;
    CommunityId(id)
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn loopback(port: u16) -> SocketAddr {
    ([127, 0, 0, 1], port).into()
}

/// The member's files are the owner's, byte for byte, and every archive
/// reads back (through the index, decoded) as the owner's does.
pub(crate) async fn assert_member_has_everything(
    member: &TorrentBackend,
    owner: &TorrentBackend,
    community: &CommunityId,
    link: &Link,
) {
    let (mine, theirs) = (member.archive_dir(community), owner.archive_dir(community));
    for file in ["data", "index"] {
        assert!(
            std::fs::read(mine.path().join(file)).unwrap()
                == std::fs::read(theirs.path().join(file)).unwrap(),
            "the member's {file} differs from the owner's"
        );
    }
    let index = theirs.load_index().unwrap();
    assert!(!index.is_empty());
    for (id, _) in index.iter() {
        assert_eq!(
            member
                .read_archive(
                    community,
                    link,
                    id,
                    &archive_backend::FetchOptions::default()
                )
                .await
                .unwrap(),
            owner
                .read_archive(
                    community,
                    link,
                    id,
                    &archive_backend::FetchOptions::default()
                )
                .await
                .unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeder_killed_mid_transfer_and_restarted_on_its_port_completes_the_fetch() {
    let nodes = Nodes::default();
    let owner = nodes.node().await;
    let community = community(5);
    // About 4 MB: at 300 kB/s the transfer takes over ten seconds.
    let link = publish(&owner, community, 4, 20).await;
    let torrent = owner.torrent_path(&community);
    let copy = tempfile::tempdir().unwrap();
    copy_files(&owner, &community, copy.path());
    let data_len = owner.archive_dir(&community).data_len().unwrap();

    let port = free_port();
    let port_arg = port.to_string();
    let seeder = Seeder::start(
        &torrent,
        copy.path(),
        &["--port", &port_arg, "--upload-limit", "300000"],
    );
    assert_eq!(seeder.port, port);
    let member = nodes.node_with_peers(vec![loopback(port)]).await;
    let fetch = tokio::spawn({
        let (member, link) = (Arc::clone(&member), link.clone());
        async move { fetch_missing(&member, &community, &link, &HashSet::new()).await }
    });

    // Kill the seeder once some archive pieces have arrived, long before all.
    let deadline = Instant::now() + Duration::from_secs(60);
    while member.fetched_bytes(&community) < 4 * PIECE_LENGTH {
        assert!(!fetch.is_finished(), "the fetch ended before the kill");
        assert!(Instant::now() < deadline, "the transfer never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(seeder);
    let at_kill = member.fetched_bytes(&community);
    assert!(
        at_kill < data_len,
        "killed after {at_kill} of {data_len} bytes: not mid-transfer"
    );
    assert!(!fetch.is_finished(), "the fetch was over before the kill");

    // Back on the same port, at full speed; the member redials it by itself.
    let seeder = Seeder::start(&torrent, copy.path(), &["--port", &port_arg]);
    assert_eq!(seeder.port, port);
    let (missing, outcome) = tokio::time::timeout(Duration::from_secs(120), fetch)
        .await
        .expect("the fetch completes after the seeder is back")
        .unwrap();
    assert_eq!(missing.len(), 4);
    assert_eq!(
        outcome.fetched.iter().collect::<HashSet<_>>(),
        missing.iter().collect()
    );
    assert_member_has_everything(&member, &owner, &community, &link).await;
    let resent = seeder.stop();
    assert!(resent > 0, "the restarted seeder sent nothing");
    nodes.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_pieces_are_rejected_and_fetched_from_an_honest_peer() {
    let nodes = Nodes::default();
    let owner = nodes.node().await;
    let community = community(6);
    let link = publish(&owner, community, 2, 10).await;
    let torrent = owner.torrent_path(&community);

    let honest_root = tempfile::tempdir().unwrap();
    copy_files(&owner, &community, honest_root.path());
    // One byte flipped in every 16 KiB block of `data` (the unit peers
    // request): every data byte this peer sends is part of a corrupt block,
    // and every piece it touches fails its hash. `index` stays intact.
    let corrupt_root = tempfile::tempdir().unwrap();
    let corrupt_dir = copy_files(&owner, &community, corrupt_root.path());
    let mut data = std::fs::read(corrupt_dir.join("data")).unwrap();
    assert_eq!(data.len() as u64 % PIECE_LENGTH, 0);
    for block in data.chunks_mut(BLOCK) {
        block[1000] ^= 0x01;
    }
    std::fs::write(corrupt_dir.join("data"), &data).unwrap();

    // The liar is fast; the honest peer slow, so the liar gets pieces to send.
    let liar = Seeder::start(&torrent, corrupt_root.path(), &["--unverified"]);
    let honest = Seeder::start(&torrent, honest_root.path(), &["--upload-limit", "200000"]);
    let member = nodes
        .node_with_peers(vec![loopback(liar.port), loopback(honest.port)])
        .await;
    let (missing, outcome) = tokio::time::timeout(
        Duration::from_secs(120),
        fetch_missing(&member, &community, &link, &HashSet::new()),
    )
    .await
    .expect("the fetch completes from the honest peer");
    assert_eq!(missing.len(), 2);
    assert_eq!(outcome.fetched.len(), 2);
    assert_member_has_everything(&member, &owner, &community, &link).await;

    let lied = liar.stop();
    let told = honest.stop();
    // Beyond `index` (a few hundred bytes), everything the liar sent was
    // corrupt, and at least a piece's worth of it reached the member; yet the
    // member's `data` is the owner's, so all of it was thrown away.
    assert!(
        lied >= PIECE_LENGTH,
        "the corrupt peer sent only {lied} bytes: not a piece's worth of corrupt data"
    );
    assert!(told > 0, "the honest peer sent nothing");
    nodes.stop().await;
}
