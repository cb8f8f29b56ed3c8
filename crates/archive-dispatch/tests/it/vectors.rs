//! The wire spec's computed vectors (status-go-wire.md A.11.2, V-A1…V-A6),
//! reproduced byte for byte with the spec's fixed nonce and padding.

use archive_dispatch::{
    Channel, CommunityId, CommunityKey, LinkKind, NodeIdentity, wire,
    wire::{FixedEntropy, WakuOutbound},
};
use archive_proto::{
    Message,
    encryption::ProtocolMessage,
    protobuf::{ApplicationMetadataMessage, CommunityMessageArchiveLink},
};
use sha2::{Digest, Sha256};

const COMMUNITY_ID: &str = "0x034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa";
const NODE_PUB: &str = "04466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f276728176c3c6431f8eeda4538dc37c865e2784f3a9e77d044f33e407797e1278a";
const CLOCK: u64 = 1_700_000_000_000;
const LINK: &str = "zDvZRwzmTestCID123";
const TIMESTAMP_NS: i64 = 1_700_000_000_000_000_000;

const PAYLOAD: &str = "0880d095ffbc3112127a44765a52777a6d54657374434944313233";
const AMM_SIGNATURE: &str = "4b12e91bae6869c71aea5d8a68604525c64f3539ce4185dd40e3c5f17195efb574f7c8937efd1c7797be96318138107af314eb5e21d1641bd89e23db6c1a331000";
const MESSAGE_ID: &str = "b6d4cae957e6190e68d0f23a320e2dc209db77a5b015b6fb329ea3c600a51619";
const FRAME_SIGNATURE: &str = "a2473f73b936873ac5260744a9d2f567890ef040c00427f7c27d8329a9884d971243e704df4306efe2892734de6f66ca2670f21c18d402e470f693476f2f6fd001";
const WIRE_PAYLOAD: &str = concat!(
    "471cb4f8ef4eee342d1a8f3a2e9b3055e1e76b86ed6ee442928ff30471d47bdcda6445dcdfe6353148aa7bd6e4ed24b68304b13dbaa27230ad8258e5967e28881e",
    "bd9320d0577a053e33fd36102d13fe3753451638024b71e8bca12b7b66be6ff9f065988ea8351584fd44d27f66e7fa93b64026bbc10db8ca22a8ca19caf98b94",
    "c626550fc6e7cab26055185378ea64ab49ec66d4a4ada2edb9ecc80e5537f786eada8fea5182c1b286c2f5b98999fc5f778f56aca67b0f03ff0863b629569c7d",
    "e05fc98e41ad6cbf3a5fe7ca72c505656683f58dc87536b3d42382513840cbb36950f161f5cd6d1d0f72be2f37b8acbfff8229c2ffcbf0632c6fb9d5c163cf21",
    "397c24eeb244441c8b4e41a8d30bfb000102030405060708090a0b",
);
const MESSAGE_HASH: &str = "ee6e458f32abc02675cff0196c5a0ef677ead10cf0e3427961ae15eae6c9acdf";

fn community_key() -> CommunityKey {
    CommunityKey::from_bytes(&[0x11; 32]).unwrap()
}

fn node() -> NodeIdentity {
    NodeIdentity::from_parts(&[0x22; 32], "rust-installation-1").unwrap()
}

fn community() -> CommunityId {
    COMMUNITY_ID.parse().unwrap()
}

fn spec_entropy() -> FixedEntropy {
    FixedEntropy {
        nonce: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        padding: 0xaa,
    }
}

fn encode() -> WakuOutbound {
    wire::encode_announcement(
        &community_key(),
        &node(),
        LINK,
        CLOCK,
        TIMESTAMP_NS,
        &mut spec_entropy(),
    )
    .unwrap()
}

fn amm() -> Vec<u8> {
    hex::decode(format!("0a41{AMM_SIGNATURE}121b{PAYLOAD}182b")).unwrap()
}

#[test]
fn v_a1_to_a3_chat_keys_and_content_topics() {
    let id = community();
    assert_eq!(community_key().community_id(), id);
    for (channel, key, topic) in [
        (
            Channel::member_update(&id),
            "87572d06a802e6f6c8242f2cc6dcc2fbdcb3aa160d17492282607675e4dfe6fb",
            "/waku/1/0xc09a9d22/rfc26",
        ),
        (
            Channel::magnetlinks(&id),
            "4e4bba16a1b9ee158852993c5e514727ab33059f36d07a7bb93a6aeacea90a5e",
            "/waku/1/0x97ec6269/rfc26",
        ),
        (
            Channel::for_chat(COMMUNITY_ID.to_owned()),
            "4c90fc85dedbd813ae9ad25a6951f850906dde0c717a8fd13a094ba375266913",
            "/waku/1/0x0b420918/rfc26",
        ),
    ] {
        assert_eq!(
            hex::encode(channel.symmetric_key()),
            key,
            "{}",
            channel.chat_id
        );
        assert_eq!(channel.content_topic, topic, "{}", channel.chat_id);
    }
}

#[test]
fn v_a4_signed_message_and_protocol_message() {
    let signed =
        archive_dispatch::sign_announcement(&community_key(), LinkKind::CODEX, CLOCK, LINK)
            .unwrap();
    assert_eq!(hex::encode(&signed), hex::encode(amm()));
    let payload = CommunityMessageArchiveLink {
        clock: CLOCK,
        archive_link: LINK.to_owned(),
    }
    .encode_to_vec();
    assert_eq!(hex::encode(payload), PAYLOAD);

    let wrapped = ProtocolMessage {
        installation_id: "rust-installation-1".to_owned(),
        public_message: signed,
        ..ProtocolMessage::default()
    }
    .encode_to_vec();
    assert_eq!(wrapped.len(), 122);
    assert_eq!(
        hex::encode(&wrapped),
        format!(
            "1213727573742d696e7374616c6c6174696f6e2d31b20662{}",
            hex::encode(amm())
        )
    );
}

#[test]
fn v_a5_wire_payload_and_frame() {
    let out = encode();
    assert_eq!(out.payload.len(), 284);
    assert_eq!(hex::encode(&out.payload), WIRE_PAYLOAD);
    assert_eq!(out.content_topic, "/waku/1/0xc09a9d22/rfc26");
    assert_eq!(out.pubsub_topic, "/waku/2/rs/16/32");

    // The frame inside, decrypted independently of the crate's own opener.
    use aes_gcm::{Aes256Gcm, KeyInit, Nonce, aead::Aead};
    let key = Channel::member_update(&community()).symmetric_key();
    let (sealed, nonce) = out.payload.split_at(out.payload.len() - 12);
    let frame = Aes256Gcm::new((&key).into())
        .decrypt(Nonce::from_slice(nonce), sealed)
        .unwrap();
    assert_eq!(frame.len(), 256);
    assert_eq!(&frame[..2], &[0x05, 0x7a]);
    assert!(frame[124..191].iter().all(|&b| b == 0xaa));
    assert_eq!(hex::encode(&frame[191..]), FRAME_SIGNATURE);
}

#[test]
fn v_a6_waku_message_and_hash() {
    let out = encode();
    let encoded = out.encode();
    assert_eq!(encoded.len(), 330);
    assert_eq!(
        hex::encode(&encoded),
        format!(
            "0a9c02{WIRE_PAYLOAD}12182f77616b752f312f307863303961396432322f72666332361801508080d0e2c6bfce972f5a00f80100"
        )
    );
    // 14/WAKU2-MESSAGE hash: pubsub topic ‖ payload ‖ content topic ‖ meta ‖ BE64(timestamp).
    let mut hasher = Sha256::new();
    hasher.update(out.pubsub_topic.as_bytes());
    hasher.update(&out.payload);
    hasher.update(out.content_topic.as_bytes());
    hasher.update(TIMESTAMP_NS.to_be_bytes());
    assert_eq!(hex::encode(hasher.finalize()), MESSAGE_HASH);
}

#[test]
fn vector_decodes_to_its_signers_and_link() {
    let payload = hex::decode(WIRE_PAYLOAD).unwrap();
    let got =
        wire::decode_announcement(&community(), "/waku/1/0xc09a9d22/rfc26", &payload).unwrap();
    assert_eq!(got.community_signer, community());
    assert_eq!(hex::encode(got.frame_signer.0), NODE_PUB);
    assert_eq!(got.frame_signer, node().public_key());
    assert_eq!(got.installation_id, "rust-installation-1");
    assert_eq!(got.kind, LinkKind::CODEX);
    assert_eq!((got.clock, got.link.as_str()), (CLOCK, LINK));
    assert_eq!(got.chat_id, format!("{COMMUNITY_ID}-memberUpdate"));
    assert_eq!(hex::encode(got.message_id), MESSAGE_ID);
    // The AMM inside is the one V-A4 gives.
    let amm = ApplicationMetadataMessage::decode(amm().as_slice()).unwrap();
    assert_eq!(amm.r#type, 43);
}
