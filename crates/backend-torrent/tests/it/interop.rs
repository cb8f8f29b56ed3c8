//! Interop with libtorrent (rasterbar, python3-libtorrent), the client status-go
//! users' other tools are built on: it downloads from our seeder by magnet,
//! and we download from it seeding our `.torrent`. Everything on 127.0.0.1;
//! every process is killed when its test ends.

use std::{collections::HashSet, path::Path, process::Command, time::Duration};

use archive_backend::{Backend, MessageList, PublishOptions, PublishRequest};
use archive_index::{CommunityId, Message, TimeRange, Topic};

use super::{
    Nodes, fetch_missing,
    process::{Seeder, libtorrent_peer},
};

const WEEK: u64 = 7 * 86_400;
const TOPIC: Topic = Topic([7, 7, 7, 7]);

fn messages() -> Vec<Message> {
    (0..40u64)
        .map(|i| Message {
            sig: vec![3; 65],
            timestamp: (i / 20) * WEEK + i * 97 + 1,
            topic: TOPIC,
            payload: vec![i as u8; 7_000],
            padding: vec![],
            hash: i.to_be_bytes().to_vec(),
            third_party_id: String::new(),
        })
        .collect()
}

async fn publish(
    owner: &backend_torrent::TorrentBackend,
    community: CommunityId,
) -> archive_backend::Link {
    let source = MessageList::new(messages());
    let request = PublishRequest {
        community,
        topics: vec![TOPIC],
        range: TimeRange {
            from: 0,
            to: 2 * WEEK,
        },
        interval: WEEK,
        previous: None,
        messages: &source,
    };
    let outcome = owner
        .publish(request, &PublishOptions::default())
        .await
        .unwrap();
    assert_eq!(outcome.archives.len(), 2);
    outcome.link.unwrap()
}

fn assert_same_files(a: &Path, b: &Path) {
    for file in ["data", "index"] {
        assert_eq!(
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
            "{file} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libtorrent_downloads_from_our_seeder_by_magnet() {
    let nodes = Nodes::default();
    let owner = nodes.node().await;
    let community = CommunityId([3; 33]);
    let link = publish(&owner, community).await;
    let save = tempfile::tempdir().unwrap();
    let peer_addr = owner.listen_addr().unwrap().to_string();
    let mut peer = libtorrent_peer(&[
        "download",
        link.announced(),
        save.path().to_str().unwrap(),
        &peer_addr,
    ]);
    let line = tokio::task::spawn_blocking(move || {
        let line = peer.first_line(Duration::from_secs(90));
        drop(peer);
        line
    })
    .await
    .unwrap();
    assert_eq!(line.trim(), "done", "libtorrent did not complete: {line}");
    assert_same_files(
        owner.archive_dir(&community).path(),
        &save.path().join(community.to_string()),
    );
    nodes.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_download_from_libtorrent_seeding_our_torrent() {
    let nodes = Nodes::default();
    let owner = nodes.node().await;
    let mut id = [3; 33];
    id[32] = 4;
    let community = CommunityId(id);
    let link = publish(&owner, community).await;
    let torrent = owner.torrent_path(&community);
    // libtorrent seeds a copy of the owner's files; the owner stops serving.
    owner.unseed(&community, &link).await.unwrap();
    let copy = tempfile::tempdir().unwrap();
    let copy_dir = copy.path().join(community.to_string());
    std::fs::create_dir_all(&copy_dir).unwrap();
    for file in ["data", "index"] {
        std::fs::copy(
            owner.archive_dir(&community).path().join(file),
            copy_dir.join(file),
        )
        .unwrap();
    }
    let seeder = Seeder::start(&torrent, copy.path(), &[]);
    let port = seeder.port;

    let member = nodes
        .node_with_peers(vec![([127, 0, 0, 1], port).into()])
        .await;
    let (missing, _) = fetch_missing(&member, &community, &link, &HashSet::new()).await;
    for id in &missing {
        member
            .read_archive(
                &community,
                &link,
                id,
                &archive_backend::FetchOptions::default(),
            )
            .await
            .unwrap();
    }
    assert_same_files(member.archive_dir(&community).path(), &copy_dir);
    drop(seeder);
    nodes.stop().await;
}

/// librqbit's own `create_torrent` adds a piece hash when the files end exactly
/// on a piece boundary, and libtorrent rejects that file. Ours must load, with
/// the same infohash libtorrent computes.
#[test]
fn libtorrent_accepts_our_torrent_when_the_files_end_on_a_piece_boundary() {
    use backend_torrent::{ArchiveDir, Metainfo, TorrentOptions};
    let tmp = tempfile::tempdir().unwrap();
    let community = CommunityId([2; 33]);
    let dir = ArchiveDir::new(tmp.path(), &community);
    std::fs::create_dir_all(dir.path()).unwrap();
    let piece = archive_index::PIECE_LENGTH as usize;
    std::fs::write(dir.data_path(), vec![7u8; 2 * piece]).unwrap();
    std::fs::write(dir.index_path(), vec![9u8; piece]).unwrap();
    let metainfo = Metainfo::build(&dir, &TorrentOptions::new("0x04", 1), None).unwrap();
    assert_eq!(
        metainfo.info().pieces.len(),
        3,
        "exactly three pieces for 3 × 102400 bytes"
    );
    let path = metainfo.write(&tmp.path().join("torrents")).unwrap();
    let output = Command::new("/usr/bin/python3")
        .args(["-c", "import sys, libtorrent as lt; t = lt.torrent_info(sys.argv[1]); print(t.info_hash(), t.num_pieces())"])
        .arg(&path)
        .output()
        .expect("/usr/bin/python3 with python3-libtorrent");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "libtorrent rejected our .torrent: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.trim(), format!("{} 3", metainfo.info_hash()));
}
