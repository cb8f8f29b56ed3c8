//! A hostile owner's torrent: an index entry claiming far more than `data`
//! holds (a member used to allocate it and abort on every start), and links
//! or torrents naming another community than the one being fetched.

use std::time::Duration;

use archive_backend::{Backend, ErrorKind, ResolveOptions};
use archive_index::{
    ArchiveMetadata, CommunityId, IndexEntry, PIECE_LENGTH, TimeRange, Topic, TorrentIndex,
};
use backend_torrent::{Metainfo, TorrentOptions};

use super::{Nodes, faults::publish};

fn community(byte: &str) -> CommunityId {
    format!("0x02{}", byte.repeat(32)).parse().unwrap()
}

fn resolve_options() -> ResolveOptions {
    ResolveOptions::with_timeout(Duration::from_secs(60))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_refuses_an_index_entry_past_the_end_of_data() {
    let nodes = Nodes::default();
    let owner = nodes.node_with_peers(vec![]).await;
    let community = community("33");
    // One piece of `data`, and an index entry claiming 100 TiB of it.
    let dir = owner.archive_dir(&community);
    std::fs::create_dir_all(dir.path()).unwrap();
    std::fs::write(dir.data_path(), vec![0u8; PIECE_LENGTH as usize]).unwrap();
    let mut index = TorrentIndex::new();
    index
        .insert(IndexEntry {
            version: 0,
            metadata: ArchiveMetadata::new(
                TimeRange {
                    from: 0,
                    to: 604_800,
                },
                vec![Topic([1, 2, 3, 4])],
            ),
            offset: 0,
            size: (100u64 << 40).next_multiple_of(PIECE_LENGTH),
            padding: 0,
        })
        .unwrap();
    std::fs::write(dir.index_path(), index.encode()).unwrap();
    let mut options = TorrentOptions::new("hostile", 0);
    options.announce_list = vec![];
    let metainfo = Metainfo::build(&dir, &options, None).unwrap();
    metainfo
        .write(owner.torrent_path(&community).parent().unwrap())
        .unwrap();
    let link = owner.seed_existing(&community).await.unwrap();

    let member = nodes.node().await;
    let err = member
        .resolve(&community, &link, &resolve_options())
        .await
        .expect_err("an index pointing past data is refused");
    assert_eq!(err.kind(), ErrorKind::Corrupt, "{err:?}");
    let chain = format!("{err:?}");
    assert!(chain.contains("data has only 102400 bytes"), "{chain}");
    nodes.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_refuses_a_torrent_of_another_community_naming_both() {
    let nodes = Nodes::default();
    let owner = nodes.node_with_peers(vec![]).await;
    let (theirs, ours) = (community("44"), community("55"));
    let link = publish(&owner, theirs, 1, 1).await;
    owner.seed(&theirs, &link).await.unwrap();
    let member = nodes.node().await;

    // The magnet's dn names the other community.
    let err = member
        .resolve(&ours, &link, &resolve_options())
        .await
        .expect_err("a magnet of another community is refused");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");
    let text = format!("{err:?}");
    assert!(
        text.contains("magnet dn")
            && text.contains(&theirs.to_string())
            && text.contains(&ours.to_string()),
        "{text}"
    );

    // Without a dn, the torrent's own name gives it away once it arrives.
    let bare = archive_backend::Link::from_announced(
        archive_index::LinkKind::TORRENT,
        link.announced().split("&dn=").next().unwrap(),
    )
    .unwrap();
    let err = member
        .resolve(&ours, &bare, &resolve_options())
        .await
        .expect_err("a torrent named after another community is refused");
    let text = format!("{err:?}");
    assert!(
        text.contains("torrent name")
            && text.contains(&theirs.to_string())
            && text.contains(&ours.to_string()),
        "{text}"
    );
    nodes.stop().await;
}
