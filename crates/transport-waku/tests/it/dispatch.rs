//! Two of our nodes over Waku relay on loopback, through `archive-dispatch`:
//! the member accepts the owner's announcement only after the quiet period,
//! and a forged one is rejected with its reason; and what goes on the wire.

use std::{sync::Arc, time::Duration};

use archive_dispatch::{
    Channel, CommunityId, CommunityKey, CommunityLookup, CommunityView, Dispatcher, Event,
    LinkKind, NodeIdentity, Rejection, Transport, sign_announcement,
    wire::{OsEntropy, seal_frame},
};
use bytes::Bytes;
use futures::StreamExt;
use tokio::time::{Instant, timeout};
use transport_waku::{Config, WakuNode};

use crate::{TIMEOUT, connected_pair};

/// A member that joined one community.
struct Joined(CommunityId);

#[async_trait::async_trait]
impl CommunityLookup for Joined {
    async fn view(&self, community: CommunityId, _kind: LinkKind) -> Option<CommunityView> {
        (community == self.0).then(|| CommunityView {
            joined: true,
            ..CommunityView::default()
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_accepts_after_the_quiet_period_and_rejects_a_forgery() {
    let (owner, member) = connected_pair(0).await;
    let (owner, member) = (Arc::new(owner), Arc::new(member));
    let key = CommunityKey::generate();
    let community = key.community_id();
    let quiet = Duration::from_millis(500);
    let config = archive_dispatch::Config {
        quiet_period: quiet,
        ..archive_dispatch::Config::default()
    };
    let mut listener = Dispatcher::new(member.clone() as Arc<dyn Transport>, config.clone())
        .listen(&[community], Arc::new(Joined(community)))
        .await
        .unwrap();
    // Gossipsub needs the member's subscription to reach the owner first.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // A forgery: a valid signature by a key that is not the community's,
    // sealed for the community's channel as any relay peer can.
    let channel = Channel::for_announcement(&community, LinkKind::TORRENT);
    let forged = sign_announcement(
        &CommunityKey::generate(),
        LinkKind::TORRENT,
        5,
        "magnet:?xt=urn:btih:ff",
    )
    .unwrap();
    let forged = seal_frame(&channel, &NodeIdentity::generate(), &forged, &mut OsEntropy).unwrap();
    owner
        .publish(&channel.content_topic, Bytes::from(forged))
        .await
        .unwrap();
    let event = timeout(TIMEOUT, listener.next()).await.unwrap().unwrap();
    assert!(
        matches!(
            event,
            Event::Rejected {
                rejection: Rejection::UnknownCommunity { .. },
                ..
            }
        ),
        "the forgery is rejected as coming from an unknown community: {event:?}"
    );

    let link = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=archive";
    let sent = Instant::now();
    Dispatcher::new(owner.clone() as Arc<dyn Transport>, config)
        .announce(&key, LinkKind::TORRENT, 1_700_000_000_000, link)
        .await
        .unwrap();
    let event = timeout(TIMEOUT, listener.next()).await.unwrap().unwrap();
    let Event::Accepted(announcement) = event else {
        panic!("expected the genuine announcement to be accepted, got {event:?}");
    };
    assert!(
        sent.elapsed() >= quiet,
        "accepted only after the quiet period"
    );
    assert_eq!(announcement.community, community);
    assert_eq!(announcement.link, link);

    drop(listener);
    owner.shutdown().await;
    member.shutdown().await;
}

/// A `Dispatcher` over a `WakuNode` sends what status-go sends (wire spec
/// A.8): version 1, a nanosecond timestamp, empty `meta`, `ephemeral = false`,
/// on the node's configured pubsub topic, which subscribers use too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcements_go_out_as_waku_version_1_on_the_configured_pubsub_topic() {
    let shard = "/waku/2/rs/16/64";
    let owner = WakuNode::start(Config {
        pubsub_topic: shard.to_owned(),
        ..Config::default()
    })
    .await
    .unwrap();
    let member = WakuNode::start(Config {
        pubsub_topic: shard.to_owned(),
        bootstrap: vec![owner.listen_addrs()[0].clone()],
        ..Config::default()
    })
    .await
    .unwrap();
    owner.wait_for_relay_peers(1, TIMEOUT).await.unwrap();
    member.wait_for_relay_peers(1, TIMEOUT).await.unwrap();
    let owner = Arc::new(owner);
    let key = CommunityKey::generate();
    let channel = Channel::member_update(&key.community_id());
    let mut relayed = member
        .subscribe_messages(std::slice::from_ref(&channel.content_topic))
        .await
        .unwrap();

    let before = now_ns();
    let link = "zDvZRwzmAbCdEf0123456789";
    Dispatcher::new(
        owner.clone() as Arc<dyn Transport>,
        archive_dispatch::Config::default(),
    )
    .announce(&key, LinkKind::CODEX, 1_700_000_000_000, link)
    .await
    .unwrap();
    let got = timeout(TIMEOUT, relayed.next()).await.unwrap().unwrap();
    assert_eq!(got.pubsub_topic, shard);
    assert_eq!(got.message.content_topic, channel.content_topic);
    assert_eq!(got.message.version, Some(1));
    assert_eq!(got.message.meta.as_deref(), Some(&[][..]));
    assert_eq!(got.message.ephemeral, Some(false));
    let timestamp = got.message.timestamp.unwrap();
    assert!(
        (before..=now_ns()).contains(&timestamp),
        "timestamp {timestamp} is Unix nanoseconds"
    );
    let opened = archive_dispatch::decode_announcement(
        &key.community_id(),
        &channel.content_topic,
        &got.message.payload,
    )
    .unwrap();
    assert_eq!(opened.link, link);

    owner.shutdown().await;
    member.shutdown().await;
}

fn now_ns() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(since_epoch.as_nanos()).unwrap()
}
