//! Link requests over the in-memory hub: a member's request reaches the
//! owner's request listener, anything else on the request channel is an
//! error, and requests for communities the owner does not serve never reach
//! it.

use std::{sync::Arc, time::Duration};

use archive_dispatch::{
    Channel, CommunityKey, Dispatcher, Error, MemoryHub, NodeIdentity, Transport,
    request::LINK_REQUEST_MAGIC,
    wire::{self, OsEntropy},
};
use bytes::Bytes;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_members_request_reaches_the_owner_and_names_the_requester() {
    let hub = MemoryHub::new(64);
    let key = CommunityKey::generate();
    let community = key.community_id();
    let owner = Dispatcher::new(Arc::new(hub.attach()), archive_dispatch::Config::default());
    let member = Dispatcher::new(Arc::new(hub.attach()), archive_dispatch::Config::default());
    let mut requests = owner.listen_link_requests(&[community]).await.unwrap();

    member.request_link(&community).await.unwrap();
    let got = timeout(WAIT, requests.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(got.community, community);
    assert_eq!(got.requester, member.identity().public_key());

    // A request for a community the owner does not serve never reaches it.
    let other = CommunityKey::generate().community_id();
    member.request_link(&other).await.unwrap();
    assert!(
        timeout(Duration::from_millis(300), requests.next())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn other_data_on_the_request_channel_is_a_typed_error() {
    let hub = MemoryHub::new(64);
    let community = CommunityKey::generate().community_id();
    let owner = Dispatcher::new(Arc::new(hub.attach()), archive_dispatch::Config::default());
    let mut requests = owner.listen_link_requests(&[community]).await.unwrap();
    let channel = Channel::link_request(&community);
    let raw = hub.attach();
    // The magic with another community's ID, sealed for this channel.
    let mut data = LINK_REQUEST_MAGIC.to_vec();
    data.extend_from_slice(&CommunityKey::generate().community_id().0);
    let wrong =
        wire::seal_frame(&channel, &NodeIdentity::generate(), &data, &mut OsEntropy).unwrap();
    raw.publish(&channel.content_topic, Bytes::from(wrong))
        .await
        .unwrap();
    raw.publish(&channel.content_topic, Bytes::from_static(b"noise"))
        .await
        .unwrap();

    let first = timeout(WAIT, requests.next()).await.unwrap().unwrap();
    assert!(matches!(first, Err(Error::NotALinkRequest)), "{first:?}");
    let second = timeout(WAIT, requests.next()).await.unwrap().unwrap();
    assert!(matches!(second, Err(Error::Decrypt { .. })), "{second:?}");
}

/// Every single flipped bit of a request is refused with a typed error:
/// the AES-GCM tag covers the whole frame, and the nonce keys it.
#[test]
fn any_flipped_bit_of_a_request_is_refused() {
    let community = CommunityKey::generate().community_id();
    let out = archive_dispatch::encode_link_request(
        &community,
        &NodeIdentity::generate(),
        1,
        &mut OsEntropy,
    )
    .unwrap();
    assert!(
        archive_dispatch::decode_link_request(&community, &out.content_topic, &out.payload).is_ok()
    );
    for bit in 0..out.payload.len() * 8 {
        let mut flipped = out.payload.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let result =
            archive_dispatch::decode_link_request(&community, &out.content_topic, &flipped);
        assert!(
            matches!(result, Err(Error::Decrypt { .. })),
            "bit {bit}: {result:?}"
        );
    }
}
