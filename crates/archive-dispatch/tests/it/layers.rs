//! Every layer of a Waku announcement together: round trips, what status-go
//! sends that we must accept, and altered messages, each refused with a typed
//! error. Re-sealed forgeries are built here with aes-gcm and k256 directly,
//! as an independent sender would.

use aes_gcm::{Aes256Gcm, KeyInit, Nonce, aead::Aead};
use archive_dispatch::{
    Channel, CommunityId, CommunityKey, Error, LinkKind, NodeIdentity, wire,
    wire::{FixedEntropy, OsEntropy},
};
use archive_index::keccak256;
use archive_proto::{Message, encryption::ProtocolMessage, protobuf::ApplicationMetadataMessage};
use proptest::prelude::*;

const MAGNET: &str = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=archive";
const CID: &str = "zDvZRwzmAbCdEfGhJkLmNoPqRsTuVwXyZ123456789abcdefghij";

fn owner() -> CommunityKey {
    CommunityKey::from_bytes(&[0x11; 32]).unwrap()
}

fn node() -> NodeIdentity {
    NodeIdentity::from_parts(&[0x22; 32], "rust-installation-1").unwrap()
}

fn community() -> CommunityId {
    owner().community_id()
}

fn member_update() -> Channel {
    Channel::member_update(&community())
}

/// A 26/WAKU2-PAYLOAD frame around `data`, signed by `signer` (or unsigned),
/// sealed for `channel`: what any relay peer can produce, since the chat key
/// derives from the public community ID.
fn seal_like_go_waku(channel: &Channel, data: &[u8], signer: Option<[u8; 32]>) -> Vec<u8> {
    let size_len = if data.len() < 256 { 1 } else { 2 };
    let signed = signer.is_some();
    let mut frame = vec![size_len as u8 | if signed { 4 } else { 0 }];
    frame.extend_from_slice(&(data.len() as u32).to_le_bytes()[..size_len]);
    frame.extend_from_slice(data);
    let raw = frame.len() + if signed { 65 } else { 0 };
    frame.resize(frame.len() + 256 - raw % 256, 0x5a);
    if let Some(secret) = signer {
        let key = k256::ecdsa::SigningKey::from_slice(&secret).unwrap();
        let (sig, v) = key.sign_prehash_recoverable(&keccak256(&frame));
        frame.extend_from_slice(&sig.to_bytes());
        frame.push(v.to_byte());
    }
    let nonce = [7u8; 12];
    let mut out = Aes256Gcm::new((&channel.symmetric_key()).into())
        .encrypt(Nonce::from_slice(&nonce), frame.as_slice())
        .unwrap();
    out.extend_from_slice(&nonce);
    out
}

fn protocol_message(amm: Vec<u8>) -> Vec<u8> {
    ProtocolMessage {
        installation_id: "3f1c4ad8-2b1e-4a57-9c3e-0d1f2a3b4c5d".to_owned(),
        public_message: amm,
        ..ProtocolMessage::default()
    }
    .encode_to_vec()
}

fn decode(channel: &Channel, payload: &[u8]) -> Result<wire::VerifiedAnnouncement, Error> {
    wire::decode_announcement(&community(), &channel.content_topic, payload)
}

#[test]
fn both_kinds_round_trip_on_member_update_as_type_43() {
    for (link, kind) in [(MAGNET, LinkKind::TORRENT), (CID, LinkKind::CODEX)] {
        let out =
            wire::encode_announcement(&owner(), &node(), link, 42, 1, &mut OsEntropy).unwrap();
        assert_eq!(out.content_topic, member_update().content_topic);
        assert_eq!((out.version, out.payload.len() % 256), (1, 28));
        let got = decode(&member_update(), &out.payload).unwrap();
        assert_eq!((got.kind, got.clock, got.link.as_str()), (kind, 42, link));
        assert_eq!(got.frame_signer, node().public_key());
        assert_eq!(got.installation_id, node().installation_id());
    }
}

#[test]
fn random_nonces_make_every_announcement_a_new_message() {
    let encode =
        || wire::encode_announcement(&owner(), &node(), MAGNET, 1, 1, &mut OsEntropy).unwrap();
    assert_ne!(encode().payload, encode().payload);
}

#[test]
fn announcements_on_the_legacy_magnetlinks_channel_are_heard() {
    let amm = archive_dispatch::sign_announcement(&owner(), LinkKind::TORRENT, 9, MAGNET).unwrap();
    let legacy = Channel::magnetlinks(&community());
    let payload = seal_like_go_waku(&legacy, &protocol_message(amm), Some([0x33; 32]));
    let got = decode(&legacy, &payload).unwrap();
    assert_eq!(got.link, MAGNET);
    assert!(got.chat_id.ends_with("-magnetlinks"));
    // The same bytes on the other channel do not decrypt.
    assert!(matches!(
        decode(&member_update(), &payload),
        Err(Error::Decrypt { .. })
    ));
}

#[test]
fn a_bare_signed_message_in_the_frame_is_accepted_as_status_go_falls_back() {
    let amm = archive_dispatch::sign_announcement(&owner(), LinkKind::CODEX, 3, CID).unwrap();
    let payload = seal_like_go_waku(&member_update(), &amm, Some([0x33; 32]));
    let got = decode(&member_update(), &payload).unwrap();
    assert_eq!((got.link.as_str(), got.installation_id.as_str()), (CID, ""));
}

#[test]
fn unsigned_frames_are_refused_as_status_go_drops_them() {
    let amm = archive_dispatch::sign_announcement(&owner(), LinkKind::TORRENT, 1, MAGNET).unwrap();
    let payload = seal_like_go_waku(&member_update(), &protocol_message(amm), None);
    assert!(matches!(
        decode(&member_update(), &payload),
        Err(Error::UnsignedFrame)
    ));
}

#[test]
fn relabelled_type_76_is_refused_and_kind_follows_the_signed_link() {
    let amm = archive_dispatch::sign_announcement(&owner(), LinkKind::TORRENT, 5, MAGNET).unwrap();
    let mut relabelled = ApplicationMetadataMessage::decode(amm.as_slice()).unwrap();
    relabelled.r#type = 76;
    let payload = seal_like_go_waku(
        &member_update(),
        &protocol_message(relabelled.encode_to_vec()),
        Some([0x44; 32]),
    );
    assert!(matches!(
        decode(&member_update(), &payload),
        Err(Error::UnknownType(76))
    ));
    // Under type 43 the same signed payload is a magnet link, whatever the
    // sender's channel or frame key.
    let payload = seal_like_go_waku(&member_update(), &protocol_message(amm), Some([0x44; 32]));
    assert_eq!(
        decode(&member_update(), &payload).unwrap().kind,
        LinkKind::TORRENT
    );
}

#[test]
fn another_key_or_another_topic_is_refused_by_name() {
    let stranger = CommunityKey::from_bytes(&[0x66; 32]).unwrap();
    let amm = archive_dispatch::sign_announcement(&stranger, LinkKind::TORRENT, 1, MAGNET).unwrap();
    let payload = seal_like_go_waku(&member_update(), &protocol_message(amm), Some([0x33; 32]));
    assert!(matches!(
        decode(&member_update(), &payload),
        Err(Error::SignerMismatch { expected, signer })
            if expected == community() && signer == stranger.community_id()
    ));
    let out = wire::encode_announcement(&owner(), &node(), MAGNET, 1, 1, &mut OsEntropy).unwrap();
    assert!(matches!(
        wire::decode_announcement(&community(), "/waku/1/0x01020304/rfc26", &out.payload),
        Err(Error::UnknownContentTopic { .. })
    ));
    assert!(matches!(
        wire::decode_announcement(&community(), &out.content_topic, &vec![0; 70_000]),
        Err(Error::Oversized { len: 70_000, .. })
    ));
}

#[test]
fn truncated_payloads_never_verify() {
    let out = wire::encode_announcement(&owner(), &node(), CID, 1, 1, &mut OsEntropy).unwrap();
    for len in 0..out.payload.len() {
        assert!(
            decode(&member_update(), &out.payload[..len]).is_err(),
            "{len}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encode_then_decode_round_trips(
        clock in any::<u64>(),
        link in prop_oneof!["magnet:\\?xt=urn:btih:[0-9a-f]{40}(&[ -~]{0,300})?", "z[1-9A-HJ-NP-Za-km-z]{10,100}"],
        nonce in any::<[u8; 12]>(),
        padding in any::<u8>(),
    ) {
        let out = wire::encode_announcement(
            &owner(), &node(), &link, clock, 1, &mut FixedEntropy { nonce, padding },
        ).unwrap();
        let got = decode(&member_update(), &out.payload).unwrap();
        prop_assert_eq!(got.community_signer, community());
        prop_assert_eq!(got.clock, clock);
        prop_assert_eq!(got.kind, archive_dispatch::link_kind(&link).unwrap());
        prop_assert_eq!(got.link, link);
    }

    /// Any single flipped bit of the wire payload fails AES-GCM's tag.
    #[test]
    fn any_flipped_bit_of_the_payload_is_refused(bit in 0usize..284 * 8) {
        let out = wire::encode_announcement(&owner(), &node(), "zDvZRwzmTestCID123", 7, 1, &mut OsEntropy).unwrap();
        prop_assert_eq!(out.payload.len(), 284);
        let mut flipped = out.payload.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let refused = matches!(decode(&member_update(), &flipped), Err(Error::Decrypt { .. }));
        prop_assert!(refused, "bit {} not refused as undecryptable", bit);
    }

    /// A relay peer can re-seal anything under the public chat key, so a bit
    /// flipped in the signed application message must be caught by the
    /// community signature (or the message's own structure) instead.
    #[test]
    fn any_flipped_bit_of_the_signed_message_is_refused(seed in any::<u64>(), bit_choice in any::<prop::sample::Index>()) {
        let amm = archive_dispatch::sign_announcement(&owner(), LinkKind::TORRENT, seed, MAGNET).unwrap();
        let bit = bit_choice.index(amm.len() * 8);
        let mut flipped = amm.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let payload = seal_like_go_waku(&member_update(), &protocol_message(flipped), Some([0x33; 32]));
        match decode(&member_update(), &payload) {
            Err(e) => prop_assert!(!e.to_string().is_empty()),
            Ok(got) => prop_assert!(false, "bit {} accepted as {:?}", bit, got),
        }
    }

    #[test]
    fn arbitrary_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
        prop_assert!(decode(&member_update(), &bytes).is_err());
    }

    #[test]
    fn arbitrary_frames_under_the_right_key_never_panic(
        data in proptest::collection::vec(any::<u8>(), 0..400),
        signed in any::<bool>(),
    ) {
        let payload = seal_like_go_waku(&member_update(), &data, signed.then_some([0x33; 32]));
        let _ = decode(&member_update(), &payload);
    }
}

#[test]
fn peeling_shows_every_layer_of_a_refused_relabelled_message() {
    let amm = archive_dispatch::sign_announcement(&owner(), LinkKind::TORRENT, 5, MAGNET).unwrap();
    let mut relabelled = ApplicationMetadataMessage::decode(amm.as_slice()).unwrap();
    relabelled.r#type = 76;
    let legacy = Channel::magnetlinks(&community());
    let payload = seal_like_go_waku(
        &legacy,
        &protocol_message(relabelled.encode_to_vec()),
        Some([0x22; 32]),
    );
    // No content topic given: the legacy channel's key is found by trial.
    let peeled = wire::peel(&community(), None, &payload);
    assert_eq!(peeled.chat_id.as_deref(), Some(legacy.chat_id.as_str()));
    assert_eq!(peeled.frame_signer, Some(node().public_key()));
    assert_eq!(
        peeled.installation_id.as_deref(),
        Some("3f1c4ad8-2b1e-4a57-9c3e-0d1f2a3b4c5d")
    );
    assert_eq!(peeled.message_type, Some(76));
    assert_eq!(peeled.community_signer, Some(community()));
    assert_eq!(
        (peeled.clock, peeled.link.as_deref()),
        (Some(5), Some(MAGNET))
    );
    assert!(matches!(peeled.verdict, Err(Error::UnknownType(76))));

    let out = wire::encode_announcement(&owner(), &node(), CID, 8, 1, &mut OsEntropy).unwrap();
    let peeled = wire::peel(&community(), Some(&out.content_topic), &out.payload);
    assert_eq!(peeled.verdict.unwrap().link, CID);
    let peeled = wire::peel(
        &community(),
        None,
        b"not sealed for anyone, long enough to try",
    );
    assert!(matches!(peeled.verdict, Err(Error::Decrypt { .. })));
    assert!(peeled.chat_id.is_none() && peeled.message_type.is_none());
    let peeled = wire::peel(&community(), Some("/waku/1/0x00000000/rfc26"), &out.payload);
    assert!(matches!(
        peeled.verdict,
        Err(Error::UnknownContentTopic { .. })
    ));
}
