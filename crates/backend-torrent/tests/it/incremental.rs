//! A member that already holds the first archive downloads only the pieces of
//! the second, and status-go's file layout comes out on the member's disk, as
//! it does for new archives fetched one at a time, out of order.

use std::collections::HashSet;

use archive_backend::{Backend, MessageList, PublishOptions, PublishRequest};
use archive_index::{CommunityId, Message, PIECE_LENGTH, TimeRange, Topic};
use backend_torrent::TorrentBackend;

use super::{Nodes, fetch_missing};

const WEEK: u64 = 7 * 86_400;
const TOPIC: Topic = Topic([9, 9, 9, 9]);

/// About 300 KiB per week, so each archive spans several pieces.
fn week(w: u64) -> Vec<Message> {
    (0..30u64)
        .map(|i| Message {
            sig: vec![1; 65],
            timestamp: w * WEEK + i * 60 + 1,
            topic: TOPIC,
            payload: vec![(w * 31 + i) as u8; 10_000],
            padding: vec![],
            hash: format!("{w}-{i}").into_bytes(),
            third_party_id: String::new(),
        })
        .collect()
}

async fn publish(
    owner: &TorrentBackend,
    community: CommunityId,
    source: &MessageList,
    weeks: std::ops::Range<u64>,
    previous: Option<archive_backend::Link>,
) -> archive_backend::PublishOutcome {
    let request = PublishRequest {
        community,
        topics: vec![TOPIC],
        range: TimeRange {
            from: weeks.start * WEEK,
            to: weeks.end * WEEK,
        },
        interval: WEEK,
        previous,
        messages: source,
    };
    owner
        .publish(request, &PublishOptions::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_round_moves_only_the_new_archive() {
    let nodes = Nodes::default();
    let owner = nodes.node().await;
    let member = nodes.node().await;
    let community = CommunityId([2; 33]);
    let mut source = MessageList::new(week(0));

    let first = publish(&owner, community, &source, 0..1, None).await;
    let first_size = first.archives.len();
    assert_eq!(first_size, 1);
    let first_link = first.link.clone().unwrap();
    let (got, outcome) = fetch_missing(&member, &community, &first_link, &HashSet::new()).await;
    assert_eq!(got.len(), 1);
    let first_bytes = outcome.bytes_fetched;

    source.extend(week(1));
    let second = publish(&owner, community, &source, 1..2, first.link.clone()).await;
    let second_link = second.link.clone().unwrap();
    let (got, outcome) = fetch_missing(
        &member,
        &community,
        &second_link,
        &got.into_iter().collect(),
    )
    .await;
    assert_eq!(got, vec![second.archives[0].id]);

    let owner_dir = owner.archive_dir(&community);
    let index = owner_dir.load_index().unwrap();
    let new_entry = index.get(&second.archives[0].id).unwrap();
    // The new archive's pieces and the index's pieces; nothing of the first
    // archive travels again.
    let index_len = std::fs::metadata(owner_dir.index_path()).unwrap().len();
    let ceiling = new_entry.size + index_len.div_ceil(PIECE_LENGTH) * PIECE_LENGTH;
    assert!(
        outcome.bytes_fetched <= ceiling,
        "second round fetched {} bytes; the new archive and index are at most {ceiling} (first round: {first_bytes})",
        outcome.bytes_fetched
    );
    assert!(
        outcome.bytes_fetched >= new_entry.raw_len(),
        "the new archive did travel"
    );

    // The member's files are byte-identical to the owner's.
    let member_dir = member.archive_dir(&community);
    assert_eq!(
        std::fs::read(member_dir.data_path()).unwrap(),
        std::fs::read(owner_dir.data_path()).unwrap()
    );
    assert_eq!(
        std::fs::read(member_dir.index_path()).unwrap(),
        std::fs::read(owner_dir.index_path()).unwrap()
    );
    nodes.stop().await;
}

/// A member restarted between two rounds keeps what it fetched: the new node
/// over the same files fetches only the new archive's pieces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_member_keeps_what_it_fetched() {
    let nodes = Nodes::default();
    let owner = nodes.node().await;
    let peers = vec![owner.listen_addr().unwrap()];
    let root = tempfile::tempdir().unwrap();
    let community = CommunityId([3; 33]);
    let mut source = MessageList::new(week(0));
    let first = publish(&owner, community, &source, 0..1, None).await;
    let first_link = first.link.clone().unwrap();

    let member = nodes.node_at(root.path().into(), peers.clone()).await;
    let (known, _) = fetch_missing(&member, &community, &first_link, &HashSet::new()).await;
    member.stop().await;
    drop(member);

    source.extend(week(1));
    let second = publish(&owner, community, &source, 1..2, Some(first_link)).await;
    let link = second.link.unwrap();
    let restarted = nodes.node_at(root.path().into(), peers).await;
    let (missing, outcome) =
        fetch_missing(&restarted, &community, &link, &known.into_iter().collect()).await;
    assert_eq!(missing, vec![second.archives[0].id]);
    let entry_size = owner
        .archive_dir(&community)
        .load_index()
        .unwrap()
        .get(&missing[0])
        .unwrap()
        .size;
    let index_len = std::fs::metadata(owner.archive_dir(&community).index_path())
        .unwrap()
        .len();
    let ceiling = entry_size + index_len.div_ceil(PIECE_LENGTH) * PIECE_LENGTH;
    assert!(
        outcome.bytes_fetched <= ceiling,
        "fetched {} > {ceiling}",
        outcome.bytes_fetched
    );
    assert_eq!(
        std::fs::read(restarted.archive_dir(&community).data_path()).unwrap(),
        std::fs::read(owner.archive_dir(&community).data_path()).unwrap()
    );
    nodes.stop().await;
}

/// A member that wants only some of the pieces it lacks (the newer of two new
/// archives, then the older one) gets each, and the owner's files in the end,
/// without selecting all of `data` as a new member does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_archives_fetched_one_at_a_time_out_of_order() {
    let nodes = Nodes::default();
    let owner = nodes.node().await;
    let member = nodes.node().await;
    let community = CommunityId([2; 33]);
    let mut source = MessageList::new(week(0));
    let first = publish(&owner, community, &source, 0..1, None).await;
    let (known, _) = fetch_missing(
        &member,
        &community,
        first.link.as_ref().unwrap(),
        &HashSet::new(),
    )
    .await;

    source.extend(week(1));
    source.extend(week(2));
    let second = publish(&owner, community, &source, 1..3, first.link.clone()).await;
    let link = second.link.unwrap();
    let (older, newer) = (second.archives[0].id, second.archives[1].id);
    let mut skip: HashSet<_> = known.iter().copied().collect();
    skip.insert(older);
    let (got, _) = fetch_missing(&member, &community, &link, &skip).await;
    assert_eq!(got, vec![newer]);
    let plain = archive_backend::FetchOptions::default();
    let owner_archive = |id| owner.read_archive(&community, &link, id, &plain);
    assert_eq!(
        member
            .read_archive(
                &community,
                &link,
                &newer,
                &archive_backend::FetchOptions::default()
            )
            .await
            .unwrap(),
        owner_archive(&newer).await.unwrap()
    );

    skip.remove(&older);
    skip.insert(newer);
    let (got, _) = fetch_missing(&member, &community, &link, &skip).await;
    assert_eq!(got, vec![older]);
    assert_eq!(
        member
            .read_archive(
                &community,
                &link,
                &older,
                &archive_backend::FetchOptions::default()
            )
            .await
            .unwrap(),
        owner_archive(&older).await.unwrap()
    );
    let (member_dir, owner_dir) = (
        member.archive_dir(&community),
        owner.archive_dir(&community),
    );
    assert_eq!(
        std::fs::read(member_dir.data_path()).unwrap(),
        std::fs::read(owner_dir.data_path()).unwrap()
    );
    nodes.stop().await;
}
