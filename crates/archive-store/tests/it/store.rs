//! The async `Store`: streams page through large ranges in order, and a
//! consumer may write to the store while draining a stream.

use archive_index::Message;
use archive_store::{Database, LinkKind, Store};
use futures::{StreamExt, TryStreamExt};

use crate::sample::{archive, archive_id, community, message, range, topic};

fn many(n: u64) -> Vec<Message> {
    // Several messages per second, so pages split inside one timestamp.
    (0..n)
        .map(|i| message(topic((i % 3) as u8), i / 7, i))
        .collect()
}

#[tokio::test]
async fn stream_matches_the_synchronous_read_across_pages() {
    let store = Store::open_in_memory().await.unwrap();
    store.insert_messages(many(2_000)).await.unwrap();
    let topics = vec![topic(0), topic(2)];
    let window = range(13, 250);

    let streamed: Vec<Message> = store
        .messages(topics.clone(), window)
        .try_collect()
        .await
        .unwrap();
    let expected = store
        .with(move |db: &mut Database| db.messages(&topics, window))
        .await
        .unwrap();
    assert!(expected.len() > 1_000, "the range must span several pages");
    assert_eq!(streamed, expected);

    let empty: Vec<Message> = store
        .messages(Vec::new(), window)
        .try_collect()
        .await
        .unwrap();
    assert!(empty.is_empty());
}

#[tokio::test]
async fn writing_while_draining_a_stream_does_not_deadlock() {
    let store = Store::open_in_memory().await.unwrap();
    store.insert_messages(many(1_500)).await.unwrap();
    let mut stream = Box::pin(store.messages(vec![topic(1)], range(0, u64::MAX)));
    let mut seen = 0u64;
    while let Some(m) = stream.next().await {
        let m = m.unwrap();
        seen += 1;
        // Rewriting each message replaces a row the stream has already
        // passed (new rowid, same key); keyset paging must not revisit it.
        let mut edited = m.clone();
        edited.payload = b"edited".to_vec();
        store.insert_messages(vec![edited]).await.unwrap();
    }
    assert_eq!(seen, 500);
}

#[tokio::test]
async fn state_and_import_through_the_async_handle() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.db")).await.unwrap();
    let c = community(1);
    let clone = store.clone();
    assert!(
        clone
            .record_announcement(c, &LinkKind::CODEX, 9, "zCid".into())
            .await
            .unwrap()
    );
    store
        .set_last_archive_end(c, &LinkKind::CODEX, 77)
        .await
        .unwrap();
    assert_eq!(
        store.last_archive_end(c, &LinkKind::CODEX).await.unwrap(),
        Some(77)
    );
    assert_eq!(
        store
            .announcement(c, &LinkKind::CODEX)
            .await
            .unwrap()
            .unwrap()
            .clock,
        9
    );

    let a = archive(range(0, 10), &[topic(1)], vec![message(topic(1), 3, 1)]);
    store
        .record_downloaded(c, archive_id(1), range(0, 10))
        .await
        .unwrap();
    assert_eq!(store.archives_to_import(c).await.unwrap().len(), 1);
    store.import_archive(c, archive_id(1), a).await.unwrap();
    assert!(store.archives_to_import(c).await.unwrap().is_empty());
    assert_eq!(store.downloaded_archive_ids(c).await.unwrap().len(), 1);
    assert_eq!(
        store.oldest_timestamp(vec![topic(1)]).await.unwrap(),
        Some(3)
    );
    assert_eq!(store.message_count().await.unwrap(), 1);
}

#[test]
fn store_is_shareable_across_tasks() {
    fn assert_send_sync_static<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync_static::<Store>();
}
