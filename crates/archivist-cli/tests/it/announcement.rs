//! `archivist announcement encode|decode`: the wire as an owner sends it and
//! a member judges it.

use std::path::PathBuf;

use archive_dispatch::{
    Channel, CommunityKey, LinkKind, NodeIdentity, sign_announcement,
    wire::{self, OsEntropy},
};

use super::*;

const MAGNET: &str = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567";

/// The wire spec's vector V-A5 (status-go-wire.md A.11.2): community key
/// 0x11…11, node key 0x22…22, fixed nonce and padding.
const V_A5_COMMUNITY: &str = "0x034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa";
const V_A5_NODE: &str = "0x04466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f276728176c3c6431f8eeda4538dc37c865e2784f3a9e77d044f33e407797e1278a";
const V_A5_PAYLOAD: &str = concat!(
    "471cb4f8ef4eee342d1a8f3a2e9b3055e1e76b86ed6ee442928ff30471d47bdcda6445dcdfe6353148aa7bd6e4ed24b68304b13dbaa27230ad8258e5967e28881e",
    "bd9320d0577a053e33fd36102d13fe3753451638024b71e8bca12b7b66be6ff9f065988ea8351584fd44d27f66e7fa93b64026bbc10db8ca22a8ca19caf98b94",
    "c626550fc6e7cab26055185378ea64ab49ec66d4a4ada2edb9ecc80e5537f786eada8fea5182c1b286c2f5b98999fc5f778f56aca67b0f03ff0863b629569c7d",
    "e05fc98e41ad6cbf3a5fe7ca72c505656683f58dc87536b3d42382513840cbb36950f161f5cd6d1d0f72be2f37b8acbfff8229c2ffcbf0632c6fb9d5c163cf21",
    "397c24eeb244441c8b4e41a8d30bfb000102030405060708090a0b",
);

/// A fresh community key file and its community ID.
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let report = archivist_json(&["keygen", "--out", key.to_str().unwrap()]);
    (key, report["community"].as_str().unwrap().to_owned())
}

fn encode(key: &Path, link: &str, clock: &str) -> serde_json::Value {
    archivist_json(&[
        "announcement",
        "encode",
        "--key",
        key.to_str().unwrap(),
        "--link",
        link,
        "--clock",
        clock,
        "--json",
    ])
}

/// `archivist announcement decode --json` of `payload` (an argument), with
/// its exit status and the JSON it printed, rejected or not.
fn decode(args: &[&str], payload: &str) -> (Output, serde_json::Value) {
    let mut all = vec!["announcement", "decode", "--json"];
    all.extend_from_slice(args);
    all.push(payload);
    let out = archivist(&all);
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "stdout is JSON: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, value)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn encode_then_decode_round_trips_through_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, community) = keygen(tmp.path(), "owner.key");
    for (link, kind, clock) in [
        (MAGNET, "torrent", 1_700_000_000_000_u64),
        ("zDvZRwzmTestCID123", "codex", 7),
    ] {
        let sent = encode(&key, link, &clock.to_string());
        assert_eq!(sent["community"], community);
        assert_eq!(sent["version"], 1);
        assert_eq!(sent["pubsub_topic"], "/waku/2/rs/16/32");
        assert_eq!(sent["node_identity"], "ephemeral");
        assert_eq!(sent["link_kind"], kind);
        let content_topic = sent["content_topic"].as_str().unwrap();
        assert!(
            content_topic.starts_with("/waku/1/0x") && content_topic.ends_with("/rfc26"),
            "{content_topic}"
        );
        assert!(sent["timestamp"].as_i64().unwrap() > 1_600_000_000_000_000_000);
        assert_eq!(sent["message_hash"].as_str().unwrap().len(), 66);
        // Wire spec A.5: ciphertext of a 256-byte multiple, tag and nonce.
        let payload = sent["payload"].as_str().unwrap();
        assert_eq!((payload.len() / 2) % 256, 28, "{payload}");

        let (out, got) = decode(
            &["--community", &community, "--content-topic", content_topic],
            payload,
        );
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(got["accepted"], true);
        assert_eq!(got["reason"], serde_json::Value::Null);
        assert_eq!(got["link"], link);
        assert_eq!(got["link_kind"], kind);
        assert_eq!(got["clock"], clock);
        assert_eq!(got["message_type"], 43);
        assert_eq!(got["community_signer"], community);
        assert_eq!(got["frame_signer"], sent["frame_signer"]);
        assert_eq!(got["installation_id"], sent["installation_id"]);
        assert_eq!(got["chat_id"], format!("{community}-memberUpdate"));

        // The same payload read from stdin, without a content topic.
        let out = archivist_with_stdin(
            &["announcement", "decode", "--community", &community, "-"],
            Some(&format!("0x{payload}\n")),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(link) && text.contains("accepted"), "{text}");
    }
}

#[test]
fn encode_signs_the_frame_with_the_given_node_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, community) = keygen(tmp.path(), "owner.key");
    let node_file = tmp.path().join("node-identity.key");
    let node = NodeIdentity::generate();
    node.write_file(&node_file).unwrap();
    let sent = archivist_json(&[
        "announcement",
        "encode",
        "--key",
        key.to_str().unwrap(),
        "--link",
        MAGNET,
        "--node-key",
        node_file.to_str().unwrap(),
        "--pubsub-topic",
        "/waku/2/rs/16/64",
        "--json",
    ]);
    assert_eq!(sent["frame_signer"], node.public_key().to_string());
    assert_eq!(sent["installation_id"], node.installation_id());
    assert_eq!(sent["pubsub_topic"], "/waku/2/rs/16/64");
    // The hash is 14/WAKU2-MESSAGE's, of the message printed, on the topic given.
    let message = archivist::waku::decode_message(
        &hex::decode(sent["waku_message"].as_str().unwrap()).unwrap(),
        usize::MAX,
    )
    .unwrap();
    assert_eq!(
        hex::encode(&message.payload),
        sent["payload"].as_str().unwrap()
    );
    assert_eq!(
        message.content_topic,
        sent["content_topic"].as_str().unwrap()
    );
    assert_eq!(message.version, Some(1));
    assert_eq!(message.timestamp, sent["timestamp"].as_i64());
    assert_eq!(
        format!(
            "0x{}",
            hex::encode(archivist::waku::message_hash("/waku/2/rs/16/64", &message))
        ),
        sent["message_hash"].as_str().unwrap()
    );
    let (out, got) = decode(
        &["--community", &community],
        sent["payload"].as_str().unwrap(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(got["frame_signer"], node.public_key().to_string());

    let missing = tmp.path().join("absent.key");
    let out = archivist(&[
        "announcement",
        "encode",
        "--key",
        key.to_str().unwrap(),
        "--link",
        MAGNET,
        "--node-key",
        missing.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("absent.key"), "{}", stderr(&out));
    assert!(!missing.exists(), "a named node identity is never created");
}

#[test]
fn decode_of_a_flipped_byte_fails_naming_the_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, community) = keygen(tmp.path(), "owner.key");
    let sent = encode(&key, MAGNET, "42");
    let mut payload = hex::decode(sent["payload"].as_str().unwrap()).unwrap();
    payload[17] ^= 0x01;
    let (out, got) = decode(&["--community", &community], &hex::encode(&payload));
    assert!(!out.status.success());
    assert_eq!(got["accepted"], false);
    assert_eq!(got["rejected_layer"], "encryption (AES-256-GCM)");
    assert_eq!(got["link"], serde_json::Value::Null);
    assert!(
        stderr(&out).contains("rejected at the encryption (AES-256-GCM) layer"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn decode_reproduces_the_spec_vector_v_a5() {
    let (out, got) = decode(
        &[
            "--community",
            V_A5_COMMUNITY,
            "--content-topic",
            "/waku/1/0xc09a9d22/rfc26",
        ],
        V_A5_PAYLOAD,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(got["accepted"], true);
    assert_eq!(got["chat_id"], format!("{V_A5_COMMUNITY}-memberUpdate"));
    assert_eq!(got["frame_signer"], V_A5_NODE);
    assert_eq!(got["installation_id"], "rust-installation-1");
    assert_eq!(got["message_type"], 43);
    assert_eq!(got["community_signer"], V_A5_COMMUNITY);
    assert_eq!(got["clock"], 1_700_000_000_000_u64);
    assert_eq!(got["link"], "zDvZRwzmTestCID123");
    assert_eq!(got["link_kind"], "codex");
    assert_eq!(
        got["message_id"],
        "0xb6d4cae957e6190e68d0f23a320e2dc209db77a5b015b6fb329ea3c600a51619"
    );
}

#[test]
fn decode_for_the_wrong_community_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, _) = keygen(tmp.path(), "owner.key");
    let (_, other) = keygen(tmp.path(), "other.key");
    let sent = encode(&key, MAGNET, "42");
    let (out, got) = decode(&["--community", &other], sent["payload"].as_str().unwrap());
    assert!(!out.status.success());
    assert_eq!(got["accepted"], false);
    assert_eq!(got["rejected_layer"], "encryption (AES-256-GCM)");

    // The content topic of another community's channel is not one of ours.
    let (out, got) = decode(
        &[
            "--community",
            &other,
            "--content-topic",
            sent["content_topic"].as_str().unwrap(),
        ],
        sent["payload"].as_str().unwrap(),
    );
    assert!(!out.status.success());
    assert_eq!(got["rejected_layer"], "content topic");
}

#[test]
fn decode_of_a_message_sealed_for_us_but_signed_by_another_community_names_the_signer() {
    // Anyone who knows a community ID can derive its channel key and seal a
    // frame for it; only the community signature authenticates.
    let ours = CommunityKey::generate();
    let stranger = CommunityKey::generate();
    let signed = sign_announcement(&stranger, LinkKind::TORRENT, 9, MAGNET).unwrap();
    let channel = Channel::member_update(&ours.community_id());
    let payload =
        wire::seal_frame(&channel, &NodeIdentity::generate(), &signed, &mut OsEntropy).unwrap();
    let community = ours.community_id().to_string();
    let (out, got) = decode(&["--community", &community], &hex::encode(payload));
    assert!(!out.status.success());
    assert_eq!(got["accepted"], false);
    assert_eq!(got["rejected_layer"], "community signer");
    assert_eq!(got["community_signer"], stranger.community_id().to_string());
    assert_eq!(got["link"], MAGNET);
    assert_eq!(got["clock"], 9);
    assert!(
        stderr(&out).contains("rejected at the community signer layer"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn announcement_help_shows_an_example_for_both_commands() {
    for command in ["encode", "decode"] {
        let out = archivist(&["announcement", command, "--help"]);
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Example:\n  archivist announcement encode --key owner.key"),
            "{help}"
        );
    }
}
