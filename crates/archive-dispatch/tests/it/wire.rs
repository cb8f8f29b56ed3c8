//! The signed `ApplicationMetadataMessage` alone: signing, verifying and
//! rejecting it (the layers around it are in `layers.rs`).

use archive_dispatch::{
    Announcement, CommunityKey, CommunityView, Error, LinkKind, MAX_WIRE_SIZE, Rejection, check,
    open_announcement, sign_announcement,
};
use archive_proto::{
    Message,
    protobuf::{ApplicationMetadataMessage, CommunityMessageArchiveLink},
};
use proptest::prelude::*;

const MAGNET: &str = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=0x02";
const CID: &str = "zDvZRwzmAbCdEfGhJkLmNoPqRsTuVwXyZ123456789abcdefghij";

fn open(wire: &[u8]) -> Result<Announcement, Error> {
    open_announcement(wire, MAX_WIRE_SIZE)
}

fn member_of(last_clock: u64, last_link: Option<&str>) -> CommunityView {
    CommunityView {
        joined: true,
        is_owner: false,
        last_clock,
        last_link: last_link.map(str::to_owned),
    }
}

#[test]
fn magnet_and_cid_announcements_round_trip() {
    let key = CommunityKey::generate();
    for (kind, link) in [(LinkKind::TORRENT, MAGNET), (LinkKind::CODEX, CID)] {
        let wire = sign_announcement(&key, kind.clone(), 1_700_000_000_123, link).unwrap();

        let outer = ApplicationMetadataMessage::decode(wire.as_slice()).unwrap();
        assert_eq!(outer.r#type, 43);
        assert_eq!(outer.signature.len(), 65);
        assert!(outer.signature[64] <= 1);

        let got = open(&wire).unwrap();
        assert_eq!(
            got,
            Announcement {
                community: key.community_id(),
                kind,
                clock: 1_700_000_000_123,
                link: link.to_owned(),
            }
        );
        assert!(check(&got, Some(&member_of(0, None))).is_ok());
    }
}

#[test]
fn payloads_are_status_go_messages() {
    let key = CommunityKey::generate();
    let outer = |wire: Vec<u8>| ApplicationMetadataMessage::decode(wire.as_slice()).unwrap();

    let magnet = outer(sign_announcement(&key, LinkKind::TORRENT, 7, MAGNET).unwrap());
    let payload = CommunityMessageArchiveLink::decode(magnet.payload.as_slice()).unwrap();
    assert_eq!((payload.clock, payload.archive_link.as_str()), (7, MAGNET));

    let cid = outer(sign_announcement(&key, LinkKind::CODEX, 8, CID).unwrap());
    let payload = CommunityMessageArchiveLink::decode(cid.payload.as_slice()).unwrap();
    assert_eq!((payload.clock, payload.archive_link.as_str()), (8, CID));
}

#[test]
fn every_flipped_signature_bit_is_caught() {
    let key = CommunityKey::generate();
    let wire = sign_announcement(&key, LinkKind::TORRENT, 1, MAGNET).unwrap();
    let outer = ApplicationMetadataMessage::decode(wire.as_slice()).unwrap();
    for byte in 0..65 {
        for bit in [0x01u8, 0x80] {
            let mut forged = outer.clone();
            forged.signature[byte] ^= bit;
            match open(&forged.encode_to_vec()) {
                // A flipped R or S usually still recovers *some* key, just not the community's.
                Ok(a) => assert_ne!(a.community, key.community_id(), "byte {byte} bit {bit:#x}"),
                Err(Error::BadSignature(_) | Error::RecoveryId(_) | Error::SignatureLength(_)) => {}
                Err(other) => panic!("byte {byte}: unexpected {other}"),
            }
        }
    }
}

#[test]
fn tampered_payload_maps_to_another_signer() {
    let key = CommunityKey::generate();
    let wire = sign_announcement(&key, LinkKind::TORRENT, 1, MAGNET).unwrap();
    let mut outer = ApplicationMetadataMessage::decode(wire.as_slice()).unwrap();
    outer.payload = CommunityMessageArchiveLink {
        clock: 1,
        archive_link: "magnet:?xt=urn:btih:evil".into(),
    }
    .encode_to_vec();
    let opened = open(&outer.encode_to_vec());
    assert!(opened.map_or(true, |a| a.community != key.community_id()));
}

#[test]
fn signature_by_a_non_owner_key_is_an_unknown_community() {
    let owner = CommunityKey::generate();
    let stranger = CommunityKey::generate();
    let wire = sign_announcement(&stranger, LinkKind::TORRENT, 1, MAGNET).unwrap();
    let got = open(&wire).unwrap();
    assert_eq!(got.community, stranger.community_id());

    // The member only knows the owner's community, so the lookup finds nothing.
    let lookup = |id| (id == owner.community_id()).then(|| member_of(0, None));
    let rejection = check(&got, lookup(got.community).as_ref()).unwrap_err();
    assert!(
        matches!(rejection, Rejection::UnknownCommunity { community } if community == stranger.community_id())
    );
    assert!(rejection.to_string().contains("not a known community"));
}

#[test]
fn replayed_older_clock_and_repeated_link_are_rejected() {
    let key = CommunityKey::generate();
    let old =
        open(&sign_announcement(&key, LinkKind::TORRENT, 100, "magnet:?old").unwrap()).unwrap();
    let rejection = check(&old, Some(&member_of(200, Some("magnet:?new")))).unwrap_err();
    assert!(matches!(
        rejection,
        Rejection::StaleClock {
            clock: 100,
            last: 200
        }
    ));

    let again =
        open(&sign_announcement(&key, LinkKind::TORRENT, 300, "magnet:?new").unwrap()).unwrap();
    let rejection = check(&again, Some(&member_of(200, Some("magnet:?new")))).unwrap_err();
    assert!(matches!(rejection, Rejection::AlreadySeen { ref link } if link == "magnet:?new"));
    assert_eq!(rejection.code(), "already-seen");
}

#[test]
fn truncated_messages_never_verify() {
    let key = CommunityKey::generate();
    let wire = sign_announcement(&key, LinkKind::CODEX, 42, CID).unwrap();
    for len in 0..wire.len() {
        match open(&wire[..len]) {
            Ok(a) => panic!("prefix of {len} bytes verified as {a:?}"),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
}

#[test]
fn malformed_layers_give_their_own_errors() {
    let key = CommunityKey::generate();
    let wire = sign_announcement(&key, LinkKind::TORRENT, 1, MAGNET).unwrap();
    let outer = ApplicationMetadataMessage::decode(wire.as_slice()).unwrap();

    assert!(matches!(
        open(&[0xff, 0xff, 0xff]),
        Err(Error::Malformed { .. })
    ));

    // 76 was the Codex prototype's number; it is status-go's
    // SYNC_ACTIVITY_CENTER_UNREAD and is refused like any other type.
    for ty in [1, 76] {
        let wrong_type = ApplicationMetadataMessage {
            r#type: ty,
            ..outer.clone()
        };
        assert!(matches!(
            open(&wrong_type.encode_to_vec()),
            Err(Error::UnknownType(got)) if got == ty
        ));
    }
    let unknown = ApplicationMetadataMessage {
        r#type: 0,
        ..outer.clone()
    };
    assert!(matches!(
        open(&unknown.encode_to_vec()),
        Err(Error::UnknownType(0))
    ));

    let short_sig = ApplicationMetadataMessage {
        signature: outer.signature[..64].to_vec(),
        ..outer.clone()
    };
    assert!(matches!(
        open(&short_sig.encode_to_vec()),
        Err(Error::SignatureLength(64))
    ));

    let mut v27 = outer.clone();
    v27.signature[64] = 27;
    assert!(matches!(
        open(&v27.encode_to_vec()),
        Err(Error::RecoveryId(27))
    ));

    // A valid signature over a payload that is not a magnet-link message.
    let garbage = vec![0x0a, 0xff];
    let signed_garbage = ApplicationMetadataMessage {
        signature: sign_raw(&garbage),
        payload: garbage,
        r#type: 43,
    };
    assert!(matches!(
        open(&signed_garbage.encode_to_vec()),
        Err(Error::Malformed {
            what: "CommunityMessageArchiveLink",
            ..
        })
    ));

    // Valid signatures over a message without a link, and over a link that
    // is neither a magnet link, a CID nor any network's `scheme:` link.
    let signed_link = |link: &str| {
        let payload = CommunityMessageArchiveLink {
            clock: 5,
            archive_link: link.to_owned(),
        }
        .encode_to_vec();
        ApplicationMetadataMessage {
            signature: sign_raw(&payload),
            payload,
            r#type: 43,
        }
        .encode_to_vec()
    };
    assert!(matches!(open(&signed_link("")), Err(Error::EmptyLink)));
    assert!(matches!(
        open(&signed_link("an archive at example.org")),
        Err(Error::UnrecognisedLink { .. })
    ));
}

/// A go-ethereum style signature by the [`SECRET`] key over any bytes, for
/// payloads the public API refuses to build.
fn sign_raw(payload: &[u8]) -> Vec<u8> {
    let signing = k256::ecdsa::SigningKey::from_slice(&SECRET).unwrap();
    let (sig, v) = signing.sign_prehash_recoverable(&archive_index::keccak256(payload));
    let mut out = sig.to_bytes().to_vec();
    out.push(v.to_byte());
    out
}

const SECRET: [u8; 32] = [0x11; 32];

#[test]
fn oversized_messages_are_refused_before_decoding() {
    let huge = vec![0u8; MAX_WIRE_SIZE + 1];
    assert!(matches!(
        open(&huge),
        Err(Error::Oversized { len, max: MAX_WIRE_SIZE }) if len == MAX_WIRE_SIZE + 1
    ));
    let key = CommunityKey::generate();
    let wire = sign_announcement(&key, LinkKind::TORRENT, 1, MAGNET).unwrap();
    assert!(matches!(
        open_announcement(&wire, wire.len() - 1),
        Err(Error::Oversized { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = open(&bytes);
        let _ = open_announcement(&bytes, 16);
        let _ = ApplicationMetadataMessage::decode(bytes.as_slice());
    }

    #[test]
    fn arbitrary_fields_in_a_valid_wrapper_never_panic(
        signature in proptest::collection::vec(any::<u8>(), 0..80),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        ty in prop_oneof![Just(43), Just(76), any::<i32>()],
    ) {
        let wire = ApplicationMetadataMessage { signature, payload, r#type: ty }.encode_to_vec();
        let _ = open(&wire);
    }

    #[test]
    fn every_signed_announcement_verifies(
        clock in any::<u64>(),
        link in prop_oneof!["magnet:[ -~]{0,200}", "z[1-9A-HJ-NP-Za-km-z]{1,100}"],
    ) {
        let key = CommunityKey::from_bytes(&SECRET).unwrap();
        let kind = archive_dispatch::link_kind(&link).unwrap();
        let got = open(&sign_announcement(&key, kind.clone(), clock, &link).unwrap()).unwrap();
        prop_assert_eq!(got, Announcement { community: key.community_id(), kind, clock, link });
    }
}
