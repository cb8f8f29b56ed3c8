//! A node on status-go's wire: its persistent frame-signing identity, and
//! what a member makes of the other status-go messages sharing the
//! community's `-memberUpdate` channel, and the legacy `-magnetlinks` chat.

use std::{sync::Arc, time::Duration};

use archivist::{
    Error, Node, NodeEvent,
    dispatch::{
        Channel, CommunityKey, MemoryHub, NODE_IDENTITY_FILE, NodeIdentity, Transport,
        decode_announcement, sign_announcement,
        wire::{OsEntropy, seal_frame},
    },
    index::LinkKind,
};
use futures::StreamExt;
use tokio::time::timeout;

use crate::fixture::{DEADLINE, Member, Networks, World, assert_same_history};

/// The identity file is created on first start, readable by its owner only,
/// and the restarted node signs its frames with the same key: the owner's
/// announcements on the wire carry it as their frame signer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_identity_is_created_owner_only_and_signs_frames_across_restarts() {
    let world = World::new(Networks::Torrent).await;
    let mut owner = world.owner().await;
    let path = world.path("owner").join(NODE_IDENTITY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{} is owner-only", path.display());
    }
    let first = owner.node.identity().public_key();
    assert_eq!(
        NodeIdentity::read_file(&path).unwrap().public_key(),
        first,
        "the file holds the key the node uses"
    );
    owner.node.clone().stop().await;

    let config = world.config("owner", None);
    owner.node = Node::builder(config)
        .transport(Arc::new(world.hub.attach()))
        .clock(Arc::clone(&owner.clock) as _)
        .start()
        .await
        .unwrap();
    assert_eq!(
        owner.node.identity().public_key(),
        first,
        "kept across restarts"
    );
    assert!(!owner.node.identity().installation_id().is_empty());

    let channel = Channel::member_update(&owner.community());
    let mut wire = world
        .hub
        .attach()
        .subscribe(std::slice::from_ref(&channel.content_topic))
        .await
        .unwrap();
    owner.write_weeks(1).await;
    owner.start_archiving().await;
    let heard = timeout(DEADLINE, wire.next()).await.unwrap().unwrap();
    let opened =
        decode_announcement(&owner.community(), &heard.content_topic, &heard.payload).unwrap();
    assert_eq!(opened.frame_signer, first);
    assert_eq!(
        opened.installation_id,
        owner.node.identity().installation_id()
    );
    owner.node.stop().await;
}

/// A node does not start on an identity file it cannot read, and says which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_node_identity_file_stops_the_start_naming_the_file() {
    let world = World::new(Networks::Torrent).await;
    let config = world.config("owner", None);
    std::fs::create_dir_all(&config.data_dir).unwrap();
    let path = config.data_dir.join(NODE_IDENTITY_FILE);
    std::fs::write(&path, "not a key\n").unwrap();
    let error = Node::builder(config)
        .transport(Arc::new(world.hub.attach()))
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::NodeIdentity { path: p, .. } if *p == path),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
}

/// status-go sends many message types on `-memberUpdate`; a member does not
/// report them as rejected announcements, but an archive link (type 43) that
/// fails verification still is, with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_status_go_messages_on_member_update_are_no_rejections() {
    let world = World::new(Networks::Torrent).await;
    let owner = world.owner().await;
    let config = world.member_config("member", owner.node.torrent_listen_addr());
    let mut member = world.member(config, owner.community(), None).await;
    let channel = Channel::member_update(&owner.community());
    let sender = world.hub.attach();
    let seal = |amm: &[u8]| {
        bytes::Bytes::from(
            seal_frame(&channel, &NodeIdentity::generate(), amm, &mut OsEntropy).unwrap(),
        )
    };

    // A well-formed ApplicationMetadataMessage of another type, signed by the
    // community key itself: the type (field 3, a one-byte varint here) is
    // the message's last byte.
    let mut other = sign_announcement(
        &owner.key,
        LinkKind::TORRENT,
        1,
        "magnet:?xt=urn:btih:1111111111111111111111111111111111111111",
    )
    .unwrap();
    assert_eq!(other[other.len() - 2..], [0x18, 43]);
    *other.last_mut().unwrap() = 7;
    sender
        .publish(&channel.content_topic, seal(&other))
        .await
        .unwrap();

    // A type-43 archive link signed by some other key.
    let forged = sign_announcement(
        &CommunityKey::from_bytes(&[66; 32]).unwrap(),
        LinkKind::TORRENT,
        2,
        "magnet:?xt=urn:btih:2222222222222222222222222222222222222222",
    )
    .unwrap();
    sender
        .publish(&channel.content_topic, seal(&forged))
        .await
        .unwrap();

    let mut seen = Vec::new();
    let code = member
        .wait_for(&mut seen, |e| match e {
            NodeEvent::AnnouncementRejected { code, .. } => Some(*code),
            _ => None,
        })
        .await;
    assert_eq!(
        code, "unknown-community",
        "the first rejection is the forged link, not the other message"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    while let Ok(event) = member.events.try_recv() {
        assert!(
            !matches!(event, NodeEvent::AnnouncementRejected { .. }),
            "{event:?}"
        );
    }
    member.node.stop().await;
    owner.node.stop().await;
}

/// `waku.pubsub_topic` is the topic the node's Waku relay runs on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configured_pubsub_topic_is_the_waku_nodes() {
    let world = World::new(Networks::Torrent).await;
    let mut config = world.config("node", None);
    config.waku.enabled = true;
    config.waku.pubsub_topic = "/waku/2/rs/16/64".to_owned();
    let node = Node::start(config).await.unwrap();
    assert_eq!(node.waku().unwrap().pubsub_topic(), "/waku/2/rs/16/64");
    node.stop().await;
}

/// A member still hears the legacy `<community>-magnetlinks` chat, where
/// status-go sent magnet links until 2024, and fetches what it announces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_accepts_and_fetches_a_link_announced_on_legacy_magnetlinks() {
    let world = World::new(Networks::Torrent).await;
    let mut owner = world.owner().await;
    let mut owner_events = owner.node.events();
    owner.write_weeks(1).await;
    owner.start_archiving().await;
    let mut seen = Vec::new();
    let (link, clock) = crate::fixture::wait_for(&mut owner_events, &mut seen, &mut |e| match e {
        NodeEvent::Announced { link, clock, .. } => Some((link.clone(), *clock)),
        _ => None,
    })
    .await;

    // The member is on a network of its own, where only the legacy chat
    // carries the link.
    let legacy_hub = MemoryHub::new(16);
    let config = world.member_config("member", owner.node.torrent_listen_addr());
    let node = Node::builder(config)
        .transport(Arc::new(legacy_hub.attach()))
        .start()
        .await
        .unwrap();
    let events = node.events();
    node.join(owner.community(), None).await.unwrap();
    let mut member = Member { node, events };
    let channel = Channel::magnetlinks(&owner.community());
    let amm = sign_announcement(&owner.key, LinkKind::TORRENT, clock, &link).unwrap();
    let sealed = seal_frame(&channel, &NodeIdentity::generate(), &amm, &mut OsEntropy).unwrap();
    legacy_hub
        .attach()
        .publish(&channel.content_topic, bytes::Bytes::from(sealed))
        .await
        .unwrap();
    let (fetched, _, _, _) = member.finished().await;
    assert_eq!(fetched, 1);
    assert_same_history(&owner, &member.node).await;
    member.node.stop().await;
    owner.node.stop().await;
}
