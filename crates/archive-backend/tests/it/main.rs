//! The conformance kit run against the in-memory backend, through
//! `Arc<dyn Backend>`, and against deliberately broken backends that it must
//! catch.

mod broken;

use std::{collections::HashSet, sync::Arc, time::Duration};

use archive_backend::{
    Backend, ErrorKind, FetchEvent, FetchOptions, MessageList, PublishOptions, PublishRequest,
    ResolveOptions,
    conformance::MemoryHarness,
    memory::{MemoryBackend, MemoryNetwork},
};
use archive_index::{CommunityId, Message, TimeRange, Topic};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The in-memory backend passes every check, each its own test.
mod memory_conformance {
    archive_backend::conformance_tests!(super::MemoryHarness::default());
}

/// Cancellation in the middle of a slow fetch: what completed is reported,
/// nothing else.
#[tokio::test(start_paused = true)]
async fn cancelling_mid_fetch_stops_promptly() {
    let network = MemoryNetwork::new();
    let owner = MemoryBackend::new(&network);
    let member = Arc::new(MemoryBackend::new(&network).with_fetch_delay(Duration::from_secs(10)));
    let community = CommunityId([3; 33]);
    let topic = Topic([1, 2, 3, 4]);
    let messages: Vec<_> = (0..4u64)
        .map(|w| Message {
            sig: vec![1],
            timestamp: w * 604_800 + 5,
            topic,
            payload: vec![1],
            padding: vec![],
            hash: vec![w as u8],
            third_party_id: String::new(),
        })
        .collect();
    let source = MessageList::new(messages);
    let request = PublishRequest {
        community,
        topics: vec![topic],
        range: TimeRange {
            from: 0,
            to: 4 * 604_800,
        },
        interval: 604_800,
        previous: None,
        messages: &source,
    };
    let link = owner
        .publish(request, &PublishOptions::default())
        .await
        .unwrap()
        .link
        .unwrap();
    let index = member
        .resolve(&community, &link, &ResolveOptions::default())
        .await
        .unwrap();
    let missing = index.missing(&HashSet::new());

    let (tx, mut rx) = mpsc::channel(8);
    let cancel = CancellationToken::new();
    let task = {
        let (member, link, missing, cancel) = (
            member.clone(),
            link.clone(),
            missing.clone(),
            cancel.clone(),
        );
        tokio::spawn(async move {
            member
                .fetch(
                    &community,
                    &link,
                    &missing,
                    &FetchOptions::default(),
                    tx,
                    cancel,
                )
                .await
        })
    };
    // Two archives take 20 s; cancel halfway through the third.
    tokio::time::sleep(Duration::from_secs(25)).await;
    cancel.cancel();
    let err = task.await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    let mut done = Vec::new();
    while let Ok(FetchEvent::ArchiveFetched { id, .. }) = rx.try_recv() {
        done.push(id);
    }
    assert_eq!(done, missing[..2].to_vec());
    assert!(
        member
            .read_archive(
                &community,
                &link,
                &missing[2],
                &archive_backend::FetchOptions::default()
            )
            .await
            .is_err()
    );
}
