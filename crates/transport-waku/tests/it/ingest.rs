//! Relayed messages stored the way status-go stores them.

use archive_dispatch::Channel;
use archive_index::{CommunityId, TimeRange};
use archive_store::Store;
use futures::StreamExt;
use transport_waku::{Ingestion, WakuRelayMessage, message_hash, new_message};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_colliding_resend_does_not_overwrite_a_stored_message() {
    let (sender, archiver) = connected_pair(0).await;
    let community: CommunityId = format!("0x02{}", "cd".repeat(32)).parse().unwrap();
    let channel = Channel::magnetlinks(&community);
    let store = Store::open_in_memory().await.unwrap();
    let ingestion = Ingestion::start(
        &archiver,
        store.clone(),
        std::slice::from_ref(&channel.content_topic),
    )
    .await
    .unwrap();

    let timestamp = 1_700_000_000_250_000_000_i64;
    let original = new_message(&channel.content_topic, &b"original"[..], timestamp);
    // The hash runs meta and timestamp together, so the timestamp's bytes
    // moved into `meta` name the same message, which would be stored with
    // its arrival time instead.
    let collider = WakuRelayMessage {
        meta: Some(timestamp.to_be_bytes().to_vec()),
        timestamp: None,
        ..original.clone()
    };
    let pubsub = archiver.pubsub_topic();
    assert_eq!(
        message_hash(pubsub, &original),
        message_hash(pubsub, &collider)
    );
    let later = new_message(&channel.content_topic, &b"later"[..], timestamp + 1);

    let hash = sender.publish_message(&original).await.unwrap();
    wait_for_rows(&store, &channel, 1).await;
    sender.publish_message(&collider).await.unwrap();
    // Messages from one peer are handled in order: once `later` is stored,
    // the collider has been too.
    sender.publish_message(&later).await.unwrap();
    wait_for_rows(&store, &channel, 2).await;

    let rows = stored_rows(&store, &channel).await;
    let kept = rows.iter().find(|m| m.hash == hash).unwrap();
    assert_eq!(
        (kept.timestamp, kept.payload.as_slice()),
        (1_700_000_000, &b"original"[..])
    );

    sender.shutdown().await;
    archiver.shutdown().await;
    ingestion.join().await.unwrap();
}

async fn stored_rows(store: &Store, channel: &Channel) -> Vec<archive_index::Message> {
    store
        .messages(
            vec![channel.topic],
            TimeRange {
                from: 0,
                to: u64::MAX,
            },
        )
        .map(Result::unwrap)
        .collect()
        .await
}

async fn wait_for_rows(store: &Store, channel: &Channel, count: usize) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while stored_rows(store, channel).await.len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "fewer than {count} rows stored"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
