//! Relayed messages stored the way status-go stores them.

use archive_dispatch::Channel;
use archive_index::{CommunityId, TimeRange};
use archive_store::Store;
use futures::StreamExt;
use transport_waku::{Ingestion, new_message};

use crate::{TIMEOUT, connected_pair};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn received_messages_are_stored_with_status_go_mapping() {
    let (owner, archiver) = connected_pair(0).await;
    let community: CommunityId = format!("0x02{}", "ab".repeat(32)).parse().unwrap();
    let channel = Channel::magnetlinks(&community);
    let foreign = "/waku/2/default-content/proto".to_owned();
    let store = Store::open_in_memory().await.unwrap();
    let ingestion = Ingestion::start(
        &archiver,
        store.clone(),
        &[channel.content_topic.clone(), foreign.clone()],
    )
    .await
    .unwrap();

    let first = new_message(
        &channel.content_topic,
        &b"one"[..],
        1_700_000_000_250_000_000,
    );
    let second = new_message(
        &channel.content_topic,
        &b"two"[..],
        1_700_000_005_999_999_999,
    );
    let h1 = owner.publish_message(&first).await.unwrap();
    let h2 = owner.publish_message(&second).await.unwrap();
    owner
        .publish_message(&new_message(&foreign, &b"not v1"[..], 1))
        .await
        .unwrap();

    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while ingestion.stored() < 2 || ingestion.skipped() < 1 {
        assert!(tokio::time::Instant::now() < deadline, "{ingestion:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(store.message_count().await.unwrap(), 2);

    let stored: Vec<_> = store
        .messages(
            vec![channel.topic],
            TimeRange {
                from: 0,
                to: u64::MAX,
            },
        )
        .map(Result::unwrap)
        .collect()
        .await;
    let rows: Vec<_> = stored
        .iter()
        .map(|m| (m.timestamp, m.payload.as_slice(), m.hash.as_slice()))
        .collect();
    assert_eq!(
        rows,
        [
            (1_700_000_000, &b"one"[..], &h1[..]),
            (1_700_000_005, &b"two"[..], &h2[..]),
        ]
    );
    assert!(
        stored
            .iter()
            .all(|m| m.topic == channel.topic && m.sig.is_empty() && m.padding.is_empty())
    );

    owner.shutdown().await;
    archiver.shutdown().await;
    ingestion.join().await.unwrap();
}
