//! An announcement exactly as status-go puts it on Waku, every layer
//! (wire spec A.1): the signed `ApplicationMetadataMessage` inside
//! `ProtocolMessage.public_message`, inside a 26/WAKU2-PAYLOAD frame signed by
//! the node, sealed with AES-256-GCM under the chat's PBKDF2 key, carried by a
//! `WakuMessage` with `version = 1` on the chat's content topic.
//!
//! Pure: no network and no clock; randomness comes through [`Entropy`], so
//! the spec's vectors are reproduced byte for byte.
//!
//! ```
//! use archive_dispatch::{CommunityKey, NodeIdentity, wire};
//!
//! let community = CommunityKey::generate();
//! let node = NodeIdentity::generate();
//! let link = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567";
//! let out = wire::encode_announcement(&community, &node, link, 1_700_000_000_000,
//!     1_700_000_000_000_000_000, &mut wire::OsEntropy)?;
//! assert_eq!(out.version, 1);
//!
//! let got = wire::decode_announcement(&community.community_id(), &out.content_topic, &out.payload)?;
//! assert_eq!((got.link.as_str(), got.frame_signer), (link, node.public_key()));
//! # Ok::<(), archive_dispatch::Error>(())
//! ```

use std::fmt;

use archive_index::CommunityId;
use archive_proto::{
    Message,
    encryption::ProtocolMessage,
    protobuf::{ApplicationMetadataMessage, CommunityMessageArchiveLink},
    waku::relay::WakuRelayMessage,
};

use crate::{
    announcement::{
        Announcement, LinkKind, MAX_WIRE_SIZE, compressed, link_kind, open_message, recover_key,
        sign_announcement,
    },
    channel::{Channel, DEFAULT_PUBSUB_TOPIC},
    error::{Error, Result},
    frame,
    identity::NodeIdentity,
    key::{CommunityKey, uncompressed},
};

pub use crate::frame::{Entropy, FixedEntropy, NONCE_LEN, OsEntropy};

/// The `WakuMessage.version` status-go sends: 1, "use wakuv1 encryption".
pub const WAKU_VERSION: u32 = 1;

/// A node's public key, uncompressed (`0x04 ‖ X ‖ Y`) as status-go keeps the
/// frame signer (`types.Message.Sig`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodePublicKey(pub [u8; 65]);

impl fmt::Display for NodePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for NodePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A Waku message ready to publish: what a transport needs, nothing more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WakuOutbound {
    /// The sealed frame: `ciphertext ‖ tag ‖ nonce`.
    pub payload: Vec<u8>,
    /// `/waku/1/0x<Keccak-256(chat ID)[..4]>/rfc26`.
    pub content_topic: String,
    /// Where to publish it: [`DEFAULT_PUBSUB_TOPIC`] unless the caller
    /// configures another shard.
    pub pubsub_topic: String,
    /// Always [`WAKU_VERSION`].
    pub version: u32,
    /// Unix time in nanoseconds.
    pub timestamp_ns: i64,
}

impl WakuOutbound {
    /// The 14/WAKU2-MESSAGE with the fields status-go sets: version 1, the
    /// timestamp, an empty `meta` and `ephemeral = false`, both present.
    pub fn relay_message(&self) -> WakuRelayMessage {
        WakuRelayMessage {
            payload: self.payload.clone(),
            content_topic: self.content_topic.clone(),
            version: Some(self.version),
            timestamp: Some(self.timestamp_ns),
            meta: Some(Vec::new()),
            ephemeral: Some(false),
        }
    }

    /// The encoded `WakuMessage`, byte-identical to go-waku's.
    pub fn encode(&self) -> Vec<u8> {
        self.relay_message().encode_to_vec()
    }
}

/// A received announcement with every layer verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAnnouncement {
    /// Whose key signed the `ApplicationMetadataMessage`: the community, if
    /// genuine. This is the only signature that authenticates anything.
    pub community_signer: CommunityId,
    /// The node that signed the frame (any key; status-go requires one).
    pub frame_signer: NodePublicKey,
    /// The sender's installation ID; empty if it sent none.
    pub installation_id: String,
    /// The chat it arrived on (`…-memberUpdate` or `…-magnetlinks`).
    pub chat_id: String,
    /// Read from the signed link.
    pub kind: LinkKind,
    /// The owner's clock, milliseconds since the Unix epoch.
    pub clock: u64,
    /// The magnet link or index CID.
    pub link: String,
    /// status-go's message ID: Keccak-256 of the uncompressed community
    /// signer and the `ApplicationMetadataMessage` bytes.
    pub message_id: [u8; 32],
}

impl VerifiedAnnouncement {
    /// The announcement the rules and the debouncer work on.
    pub fn announcement(&self) -> Announcement {
        Announcement {
            community: self.community_signer,
            kind: self.kind.clone(),
            clock: self.clock,
            link: self.link.clone(),
        }
    }
}

/// Everything an owner publishes for `link`: signed by the community key,
/// wrapped with `node`'s installation ID, framed and signed by `node`,
/// sealed for the community's `-memberUpdate` channel.
///
/// `clock` is the announcement clock (Unix milliseconds); `timestamp_ns` the
/// Waku timestamp (Unix nanoseconds).
pub fn encode_announcement(
    community: &CommunityKey,
    node: &NodeIdentity,
    link: &str,
    clock: u64,
    timestamp_ns: i64,
    entropy: &mut dyn Entropy,
) -> Result<WakuOutbound> {
    let kind = link_kind(link)?;
    let signed = sign_announcement(community, kind.clone(), clock, link)?;
    let wrapped = ProtocolMessage {
        installation_id: node.installation_id().to_owned(),
        public_message: signed,
        ..ProtocolMessage::default()
    }
    .encode_to_vec();
    let channel = Channel::for_announcement(&community.community_id(), kind);
    let payload = seal_frame(&channel, node, &wrapped, entropy)?;
    if payload.len() > MAX_WIRE_SIZE {
        return Err(Error::Oversized {
            len: payload.len(),
            max: MAX_WIRE_SIZE,
        });
    }
    Ok(WakuOutbound {
        payload,
        content_topic: channel.content_topic,
        pubsub_topic: DEFAULT_PUBSUB_TOPIC.to_owned(),
        version: WAKU_VERSION,
        timestamp_ns,
    })
}

/// Frames any bytes as status-go's transport does (go-waku `rfc26.Encode`):
/// size field, padding to 256, `node`'s signature, AES-256-GCM under
/// `channel`'s key. [`encode_announcement`] uses it for the wrapped
/// announcement; tools and tests use it to build what other senders might.
pub fn seal_frame(
    channel: &Channel,
    node: &NodeIdentity,
    data: &[u8],
    entropy: &mut dyn Entropy,
) -> Result<Vec<u8>> {
    let frame = frame::build(data, node, entropy)?;
    frame::seal(&frame, &channel.symmetric_key(), entropy)
}

/// Opens a payload received on `community`'s channel with that content
/// topic, and requires the announcement to be signed by `community`.
///
/// Every failure is a typed [`Error`] naming the layer: unknown content
/// topic, size, decryption, frame, frame signature, envelope, type, community
/// signature, payload, link, signer.
pub fn decode_announcement(
    community: &CommunityId,
    content_topic: &str,
    payload: &[u8],
) -> Result<VerifiedAnnouncement> {
    let channel = Channel::of_community(community, content_topic).ok_or_else(|| {
        Error::UnknownContentTopic {
            content_topic: content_topic.to_owned(),
        }
    })?;
    let verified = open_on_channel(&channel, payload, MAX_WIRE_SIZE)?;
    if verified.community_signer != *community {
        return Err(Error::SignerMismatch {
            expected: *community,
            signer: verified.community_signer,
        });
    }
    Ok(verified)
}

/// Opens a payload received on `channel`, verifying every layer but leaving
/// the question of *which* community signed it to the caller (status-go
/// looks the signer up among the communities it knows).
///
/// status-go's receive path (wire spec A.9): decrypt with the chat key,
/// require a frame signature, take `ProtocolMessage.public_message` — or, as
/// status-go falls back to, the frame data itself when it is no
/// `ProtocolMessage` with a public message — then verify the
/// `ApplicationMetadataMessage`.
pub fn open_on_channel(
    channel: &Channel,
    payload: &[u8],
    max_size: usize,
) -> Result<VerifiedAnnouncement> {
    if payload.len() > max_size {
        return Err(Error::Oversized {
            len: payload.len(),
            max: max_size,
        });
    }
    let opened = frame::open(payload, &channel.symmetric_key())?;
    let (installation_id, application) = unwrap_public(opened.data);
    let message = open_message(&application, max_size)?;
    Ok(VerifiedAnnouncement {
        community_signer: message.announcement.community,
        frame_signer: NodePublicKey(uncompressed(&opened.signer)),
        installation_id,
        chat_id: channel.chat_id.clone(),
        kind: message.announcement.kind,
        clock: message.announcement.clock,
        link: message.announcement.link,
        message_id: message.message_id,
    })
}

/// `ProtocolMessage.public_message` and the installation ID, or — status-go's
/// fallback when the encryption layer yields nothing — the data itself.
fn unwrap_public(data: Vec<u8>) -> (String, Vec<u8>) {
    match ProtocolMessage::decode(data.as_slice()) {
        Ok(wrapper) if !wrapper.public_message.is_empty() => {
            (wrapper.installation_id, wrapper.public_message)
        }
        _ => (String::new(), data),
    }
}

/// Every layer of a received payload that could be read, and the verdict:
/// what an inspection tool shows, including for messages that are refused.
/// The fields are read best effort; only `verdict` says what a member does.
#[derive(Debug)]
pub struct Peeled {
    /// The chat whose key decrypted the payload.
    pub chat_id: Option<String>,
    /// The node that signed the frame.
    pub frame_signer: Option<NodePublicKey>,
    /// `ProtocolMessage.installation_id`; `None` for a bare signed message.
    pub installation_id: Option<String>,
    /// `ApplicationMetadataMessage.type`.
    pub message_type: Option<i32>,
    /// Whose key signed the application message.
    pub community_signer: Option<CommunityId>,
    /// `CommunityMessageArchiveLink.clock`.
    pub clock: Option<u64>,
    /// `CommunityMessageArchiveLink.archive_link`.
    pub link: Option<String>,
    /// [`decode_announcement`]'s answer for this payload.
    pub verdict: Result<VerifiedAnnouncement>,
}

/// Peels a payload meant for `community`, layer by layer. Without a content
/// topic each of the community's channel keys is tried, as status-go tries
/// the keys of every filter on the pubsub topic.
pub fn peel(community: &CommunityId, content_topic: Option<&str>, payload: &[u8]) -> Peeled {
    let mut peeled = Peeled {
        chat_id: None,
        frame_signer: None,
        installation_id: None,
        message_type: None,
        community_signer: None,
        clock: None,
        link: None,
        verdict: Err(Error::Decrypt {
            reason: "no channel key of the community opens it",
        }),
    };
    let channels: Vec<Channel> = match content_topic {
        Some(topic) => match Channel::of_community(community, topic) {
            Some(channel) => vec![channel],
            None => {
                peeled.verdict = Err(Error::UnknownContentTopic {
                    content_topic: topic.to_owned(),
                });
                return peeled;
            }
        },
        None => Channel::all_for(community).into(),
    };
    if payload.len() > MAX_WIRE_SIZE {
        peeled.verdict = Err(Error::Oversized {
            len: payload.len(),
            max: MAX_WIRE_SIZE,
        });
        return peeled;
    }
    let mut opened = None;
    for channel in &channels {
        match frame::open(payload, &channel.symmetric_key()) {
            Ok(frame) => {
                opened = Some((channel, frame));
                break;
            }
            // A key that decrypts but finds a bad frame is the right key.
            Err(e @ Error::Decrypt { .. }) if content_topic.is_none() => peeled.verdict = Err(e),
            Err(e) => {
                peeled.verdict = Err(e);
                return peeled;
            }
        }
    }
    let Some((channel, frame)) = opened else {
        return peeled;
    };
    peeled.chat_id = Some(channel.chat_id.clone());
    peeled.frame_signer = Some(NodePublicKey(uncompressed(&frame.signer)));
    let wrapped = ProtocolMessage::decode(frame.data.as_slice())
        .is_ok_and(|wrapper| !wrapper.public_message.is_empty());
    let (installation_id, application) = unwrap_public(frame.data.clone());
    peeled.installation_id = wrapped.then_some(installation_id);
    if let Ok(message) = ApplicationMetadataMessage::decode(application.as_slice()) {
        peeled.message_type = Some(message.r#type);
        peeled.community_signer = recover_key(
            &message.signature,
            &archive_index::keccak256(&message.payload),
        )
        .ok()
        .map(|key| compressed(&key));
        if let Ok(link) = CommunityMessageArchiveLink::decode(message.payload.as_slice()) {
            peeled.clock = Some(link.clock);
            peeled.link = Some(link.archive_link);
        }
    }
    peeled.verdict = open_on_channel(channel, payload, MAX_WIRE_SIZE).and_then(|verified| {
        if verified.community_signer == *community {
            Ok(verified)
        } else {
            Err(Error::SignerMismatch {
                expected: *community,
                signer: verified.community_signer,
            })
        }
    });
    peeled
}
