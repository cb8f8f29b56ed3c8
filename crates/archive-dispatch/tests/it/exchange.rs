//! Two nodes on the in-memory hub: an owner announces, a member listens,
//! verifies, debounces and accepts, and reports every rejection.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use archive_dispatch::{
    Channel, CommunityId, CommunityKey, CommunityLookup, CommunityView, Dispatcher, Error, Event,
    LinkKind, Listener, MemoryHub, NodeIdentity, Rejection, Transport, sign_announcement,
    wire::{self, OsEntropy},
};
use archive_proto::{Message, encryption::ProtocolMessage, protobuf::ApplicationMetadataMessage};
use async_trait::async_trait;
use bytes::Bytes;
use tokio::time::{Instant, timeout};

const QUIET: Duration = Duration::from_secs(20);

/// The member's state: which communities it joined and what it last accepted.
#[derive(Default)]
struct Member {
    views: Mutex<HashMap<(CommunityId, LinkKind), CommunityView>>,
}

impl Member {
    fn join(&self, community: CommunityId, kind: LinkKind) {
        let view = CommunityView {
            joined: true,
            ..CommunityView::default()
        };
        self.views.lock().unwrap().insert((community, kind), view);
    }

    fn record(&self, community: CommunityId, kind: LinkKind, clock: u64, link: &str) {
        let mut views = self.views.lock().unwrap();
        let view = views.get_mut(&(community, kind)).unwrap();
        view.last_clock = clock;
        view.last_link = Some(link.to_owned());
    }
}

#[async_trait]
impl CommunityLookup for Member {
    async fn view(&self, community: CommunityId, kind: LinkKind) -> Option<CommunityView> {
        self.views.lock().unwrap().get(&(community, kind)).cloned()
    }
}

struct Setup {
    owner_key: CommunityKey,
    owner: Dispatcher,
    raw: Arc<dyn Transport>,
    member: Arc<Member>,
    listener: Listener,
}

async fn setup() -> Setup {
    let hub = MemoryHub::new(64);
    let config = archive_dispatch::Config {
        quiet_period: QUIET,
        ..archive_dispatch::Config::default()
    };
    let owner_key = CommunityKey::generate();
    let community = owner_key.community_id();
    let owner = Dispatcher::new(Arc::new(hub.attach()), config.clone());
    let member_node = Dispatcher::new(Arc::new(hub.attach()), config);
    let member = Arc::new(Member::default());
    member.join(community, LinkKind::TORRENT);
    member.join(community, LinkKind::CODEX);
    let listener = member_node
        .listen(&[community], member.clone())
        .await
        .unwrap();
    Setup {
        owner_key,
        owner,
        raw: Arc::new(hub.attach()),
        member,
        listener,
    }
}

async fn next_event(listener: &mut Listener) -> Event {
    timeout(Duration::from_secs(3600), listener.next())
        .await
        .expect("an event within the hour")
        .expect("listener still running")
}

/// What a relay peer can publish on a community's channel: any signed
/// application message, wrapped and sealed under the public chat key.
fn sealed(channel: &Channel, application: Vec<u8>) -> Bytes {
    let wrapped = ProtocolMessage {
        installation_id: "relay-peer".to_owned(),
        public_message: application,
        ..ProtocolMessage::default()
    }
    .encode_to_vec();
    let payload =
        wire::seal_frame(channel, &NodeIdentity::generate(), &wrapped, &mut OsEntropy).unwrap();
    Bytes::from(payload)
}

fn rejection(event: Event) -> Rejection {
    match event {
        Event::Rejected { rejection, .. } => rejection,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn member_accepts_owner_announcement_after_the_quiet_period() {
    let mut s = setup().await;
    let start = Instant::now();
    let sent = s
        .owner
        .announce(
            &s.owner_key,
            LinkKind::TORRENT,
            1_000,
            "magnet:?xt=urn:btih:aa",
        )
        .await
        .unwrap();

    let Event::Accepted(got) = next_event(&mut s.listener).await else {
        panic!("expected acceptance");
    };
    assert_eq!(got, sent);
    assert!(
        start.elapsed() >= QUIET,
        "accepted after {:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn both_link_kinds_are_debounced_and_accepted_independently() {
    let mut s = setup().await;
    s.owner
        .announce(&s.owner_key, LinkKind::TORRENT, 1, "magnet:?a")
        .await
        .unwrap();
    s.owner
        .announce(&s.owner_key, LinkKind::CODEX, 1, "zDvCid")
        .await
        .unwrap();
    let mut kinds = Vec::new();
    for _ in 0..2 {
        match next_event(&mut s.listener).await {
            Event::Accepted(a) => kinds.push(a.kind),
            other => panic!("{other:?}"),
        }
    }
    kinds.sort();
    assert_eq!(kinds, [LinkKind::TORRENT, LinkKind::CODEX]);
}

#[tokio::test(start_paused = true)]
async fn only_the_newest_of_a_burst_is_accepted() {
    let mut s = setup().await;
    s.owner
        .announce(&s.owner_key, LinkKind::TORRENT, 1, "magnet:?one")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    s.owner
        .announce(&s.owner_key, LinkKind::TORRENT, 2, "magnet:?two")
        .await
        .unwrap();

    let first = rejection(next_event(&mut s.listener).await);
    assert!(
        matches!(first, Rejection::Superseded { clock: 1, by: 2 }),
        "{first}"
    );
    let start = Instant::now();
    let Event::Accepted(got) = next_event(&mut s.listener).await else {
        panic!("expected acceptance");
    };
    assert_eq!(got.link, "magnet:?two");
    assert!(start.elapsed() >= QUIET - Duration::from_millis(1));
}

#[tokio::test(start_paused = true)]
async fn forged_and_foreign_announcements_are_rejected_with_reasons() {
    let mut s = setup().await;
    let channel = Channel::member_update(&s.owner_key.community_id());
    let topic = channel.content_topic.clone();

    // Flip a byte of R in a genuine announcement.
    let signed = sign_announcement(&s.owner_key, LinkKind::TORRENT, 5, "magnet:?forged").unwrap();
    let mut outer = ApplicationMetadataMessage::decode(signed.as_slice()).unwrap();
    outer.signature[3] ^= 0x40;
    s.raw
        .publish(&topic, sealed(&channel, outer.encode_to_vec()))
        .await
        .unwrap();
    let event = next_event(&mut s.listener).await;
    match event {
        Event::Rejected {
            announcement: Some(a),
            rejection: Rejection::UnknownCommunity { community },
        } => {
            assert_eq!(a.community, community);
            assert_ne!(community, s.owner_key.community_id());
        }
        Event::Rejected {
            announcement: None,
            rejection: Rejection::Invalid(Error::BadSignature(_)),
        } => {}
        other => panic!("{other:?}"),
    }

    // A well-signed announcement from a stranger on the community's channel.
    let stranger = CommunityKey::generate();
    let signed = sign_announcement(&stranger, LinkKind::TORRENT, 6, "magnet:?stranger").unwrap();
    s.raw
        .publish(&topic, sealed(&channel, signed))
        .await
        .unwrap();
    let r = rejection(next_event(&mut s.listener).await);
    assert!(
        matches!(r, Rejection::UnknownCommunity { community } if community == stranger.community_id())
    );

    // Garbage outside and inside the frame, and oversized payloads.
    s.raw
        .publish(&topic, Bytes::from_static(b"\xff\xff\xff"))
        .await
        .unwrap();
    let r = rejection(next_event(&mut s.listener).await);
    assert!(
        matches!(r, Rejection::Invalid(Error::Decrypt { .. })),
        "{r}"
    );
    s.raw
        .publish(&topic, sealed(&channel, vec![0xff, 0xff, 0xff]))
        .await
        .unwrap();
    let r = rejection(next_event(&mut s.listener).await);
    assert!(
        matches!(r, Rejection::Invalid(Error::Malformed { .. })),
        "{r}"
    );
    s.raw
        .publish(&topic, Bytes::from(vec![0u8; 70_000]))
        .await
        .unwrap();
    let r = rejection(next_event(&mut s.listener).await);
    assert!(
        matches!(r, Rejection::Invalid(Error::Oversized { len: 70_000, .. })),
        "{r}"
    );
    assert_eq!(r.code(), "invalid");

    // None of that got in the way of the genuine one.
    s.owner
        .announce(&s.owner_key, LinkKind::TORRENT, 7, "magnet:?real")
        .await
        .unwrap();
    assert!(
        matches!(next_event(&mut s.listener).await, Event::Accepted(a) if a.link == "magnet:?real")
    );
}

#[tokio::test(start_paused = true)]
async fn replays_are_rejected_and_repeats_are_already_known() {
    let mut s = setup().await;
    let community = s.owner_key.community_id();
    s.member
        .record(community, LinkKind::TORRENT, 500, "magnet:?seen");

    s.owner
        .announce(&s.owner_key, LinkKind::TORRENT, 400, "magnet:?old")
        .await
        .unwrap();
    let r = rejection(next_event(&mut s.listener).await);
    assert!(
        matches!(
            r,
            Rejection::StaleClock {
                clock: 400,
                last: 500
            }
        ),
        "{r}"
    );

    s.owner
        .announce(&s.owner_key, LinkKind::TORRENT, 600, "magnet:?seen")
        .await
        .unwrap();
    match next_event(&mut s.listener).await {
        Event::Repeated(a) => assert_eq!((a.clock, a.link.as_str()), (600, "magnet:?seen")),
        other => panic!("a repeat of the fetched link is already known, got {other:?}"),
    }
}

/// The owner's periodic re-announcement arriving while the first copy still
/// waits out the quiet period: one acceptance, and the copy is a repeat.
#[tokio::test(start_paused = true)]
async fn a_repeat_during_the_quiet_period_is_already_known_not_rejected() {
    let mut s = setup().await;
    for _ in 0..2 {
        s.owner
            .announce(&s.owner_key, LinkKind::TORRENT, 700, "magnet:?same")
            .await
            .unwrap();
    }
    assert!(matches!(
        next_event(&mut s.listener).await,
        Event::Repeated(_)
    ));
    match next_event(&mut s.listener).await {
        Event::Accepted(a) => assert_eq!(a.link, "magnet:?same"),
        other => panic!("expected the acceptance, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn state_that_changes_during_the_quiet_period_is_respected() {
    let mut s = setup().await;
    let community = s.owner_key.community_id();
    s.owner
        .announce(&s.owner_key, LinkKind::TORRENT, 10, "magnet:?x")
        .await
        .unwrap();
    // Let the listener take the message in, then have a CommunityDescription
    // raise the clock before the quiet period ends.
    tokio::time::sleep(Duration::from_secs(1)).await;
    s.member
        .record(community, LinkKind::TORRENT, 11, "magnet:?y");
    let r = rejection(next_event(&mut s.listener).await);
    assert!(
        matches!(
            r,
            Rejection::StaleClock {
                clock: 10,
                last: 11
            }
        ),
        "{r}"
    );
}

#[tokio::test(start_paused = true)]
async fn owner_node_and_unjoined_member_do_not_act() {
    let hub = MemoryHub::new(16);
    let key = CommunityKey::generate();
    let community = key.community_id();
    let owner = Dispatcher::new(Arc::new(hub.attach()), archive_dispatch::Config::default());

    let owner_state = Arc::new(Member::default());
    owner_state.views.lock().unwrap().insert(
        (community, LinkKind::TORRENT),
        CommunityView {
            joined: true,
            is_owner: true,
            ..CommunityView::default()
        },
    );
    let spectator = Arc::new(Member::default());
    spectator
        .views
        .lock()
        .unwrap()
        .insert((community, LinkKind::TORRENT), CommunityView::default());

    // A second node holding the owner's key (e.g. a restarted control node) and a spectator.
    let mut owner_listener =
        Dispatcher::new(Arc::new(hub.attach()), archive_dispatch::Config::default())
            .listen(&[community], owner_state)
            .await
            .unwrap();
    let mut spectator_listener =
        Dispatcher::new(Arc::new(hub.attach()), archive_dispatch::Config::default())
            .listen(&[community], spectator)
            .await
            .unwrap();

    owner
        .announce(&key, LinkKind::TORRENT, 1, "magnet:?o")
        .await
        .unwrap();
    let r = rejection(next_event(&mut owner_listener).await);
    assert!(matches!(r, Rejection::OwnNode { .. }), "{r}");
    let r = rejection(next_event(&mut spectator_listener).await);
    assert!(matches!(r, Rejection::NotJoined { .. }), "{r}");
}

/// Regression (issue 14): a relay peer re-published the owner's magnet
/// announcement relabelled as type 76; the member took it for an index CID,
/// dropped the genuine index-CID announcement of the same clock in its favour,
/// and the relabelled one then failed, so a Codex-only member fetched nothing.
#[tokio::test(start_paused = true)]
async fn relabelled_magnet_announcement_does_not_displace_the_index_cid() {
    let mut s = setup().await;
    let community = s.owner_key.community_id();
    let cid = "zDvZRwzmAbCdEfGhJkLmNoPqRsTuVwXyZ123456789abcdefghij";
    let magnet = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567";
    s.owner
        .announce(&s.owner_key, LinkKind::CODEX, 10, cid)
        .await
        .unwrap();
    s.owner
        .announce(&s.owner_key, LinkKind::TORRENT, 10, magnet)
        .await
        .unwrap();
    let signed = sign_announcement(&s.owner_key, LinkKind::TORRENT, 10, magnet).unwrap();
    let mut relabelled = ApplicationMetadataMessage::decode(signed.as_slice()).unwrap();
    relabelled.r#type = 76;
    for channel in Channel::all_for(&community) {
        s.raw
            .publish(
                &channel.content_topic,
                sealed(&channel, relabelled.encode_to_vec()),
            )
            .await
            .unwrap();
    }

    let mut accepted = Vec::new();
    let mut refused_76 = 0;
    while accepted.len() < 2 {
        match next_event(&mut s.listener).await {
            Event::Accepted(a) => accepted.push((a.kind, a.link)),
            Event::Rejected {
                announcement: None,
                rejection: Rejection::Invalid(Error::UnknownType(76)),
            } => refused_76 += 1,
            Event::Rejected {
                announcement,
                rejection,
            } => panic!("unexpected rejection of {announcement:?}: {rejection}"),
            other => panic!("{other:?}"),
        }
    }
    accepted.sort();
    assert_eq!(
        accepted,
        [
            (LinkKind::TORRENT, magnet.to_owned()),
            (LinkKind::CODEX, cid.to_owned())
        ]
    );
    assert_eq!(
        refused_76, 2,
        "each relabelled copy is reported with its reason"
    );
}
