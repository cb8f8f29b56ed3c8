//! The link request: how a member that joins late asks the owner for the
//! community's current link. Archivist's own extension — status-go carries
//! the link in its community description and serves history from store
//! nodes instead; status-go nodes never subscribe to this channel, so they
//! ignore it.
//!
//! # Format
//!
//! Sent on `<communityID>-archiveLinkRequest` (content topic
//! `/waku/1/0x<Keccak-256(chat ID)[..4]>/rfc26`), framed and sealed exactly
//! like an announcement — 26/WAKU2-PAYLOAD frame signed by the requesting
//! node, AES-256-GCM under `PBKDF2-SHA256(chat ID, empty salt, 65356, 32)` —
//! so any member can build one from the community ID alone. The frame data
//! is
//!
//! ```text
//! "archivist/archive-link-request/1" (32 ASCII bytes) ‖ community ID (33 bytes)
//! ```
//!
//! and nothing else. A request carries no authority and asks for nothing
//! but a repeat: the owner answers by re-publishing its current signed
//! announcement on `-memberUpdate`, rate-limited per community. Only the
//! community key's signature makes an answer count, so a reply forged by
//! whoever saw the request fails verification like any forged announcement.

use archive_index::CommunityId;

use crate::{
    announcement::MAX_WIRE_SIZE,
    channel::{Channel, DEFAULT_PUBSUB_TOPIC},
    error::{Error, Result},
    frame,
    identity::NodeIdentity,
    key::uncompressed,
    wire::{Entropy, NodePublicKey, WAKU_VERSION, WakuOutbound},
};

/// The first bytes of a request's frame data: name and version.
pub const LINK_REQUEST_MAGIC: &[u8; 32] = b"archivist/archive-link-request/1";

/// A request is one frame of 256 bytes sealed (plus tag and nonce); anything
/// much larger is not one and is refused before decryption.
pub const MAX_LINK_REQUEST_SIZE: usize = 4 * 1024;

/// A verified link request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkRequest {
    /// The community whose link is asked for.
    pub community: CommunityId,
    /// The node that signed the frame (any key: a request authenticates
    /// nobody, it only says that someone is listening).
    pub requester: NodePublicKey,
}

/// The Waku message a member publishes to ask for `community`'s link,
/// framed and signed by `node`.
pub fn encode_link_request(
    community: &CommunityId,
    node: &NodeIdentity,
    timestamp_ns: i64,
    entropy: &mut dyn Entropy,
) -> Result<WakuOutbound> {
    let channel = Channel::link_request(community);
    let payload = crate::wire::seal_frame(&channel, node, &request_data(community), entropy)?;
    Ok(WakuOutbound {
        payload,
        content_topic: channel.content_topic,
        pubsub_topic: DEFAULT_PUBSUB_TOPIC.to_owned(),
        version: WAKU_VERSION,
        timestamp_ns,
    })
}

/// Opens a payload received on `content_topic` as a request for
/// `community`'s link: the topic must be the community's request channel,
/// the payload must decrypt under its key, carry a signed frame, and hold
/// exactly the request for that community.
pub fn decode_link_request(
    community: &CommunityId,
    content_topic: &str,
    payload: &[u8],
) -> Result<LinkRequest> {
    let channel = Channel::link_request(community);
    if channel.content_topic != content_topic {
        return Err(Error::UnknownContentTopic {
            content_topic: content_topic.to_owned(),
        });
    }
    let max = MAX_LINK_REQUEST_SIZE.min(MAX_WIRE_SIZE);
    if payload.len() > max {
        return Err(Error::Oversized {
            len: payload.len(),
            max,
        });
    }
    let opened = frame::open(payload, &channel.symmetric_key())?;
    if opened.data != request_data(community) {
        return Err(Error::NotALinkRequest);
    }
    Ok(LinkRequest {
        community: *community,
        requester: NodePublicKey(uncompressed(&opened.signer)),
    })
}

fn request_data(community: &CommunityId) -> Vec<u8> {
    let mut data = Vec::with_capacity(LINK_REQUEST_MAGIC.len() + community.0.len());
    data.extend_from_slice(LINK_REQUEST_MAGIC);
    data.extend_from_slice(&community.0);
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{key::CommunityKey, wire::OsEntropy};

    #[test]
    fn a_request_round_trips_and_names_its_signer() {
        let community = CommunityKey::generate().community_id();
        let node = NodeIdentity::generate();
        let out = encode_link_request(&community, &node, 1, &mut OsEntropy).unwrap();
        assert!(out.content_topic.starts_with("/waku/1/0x"));
        let got = decode_link_request(&community, &out.content_topic, &out.payload).unwrap();
        assert_eq!(got.community, community);
        assert_eq!(got.requester, node.public_key());
    }

    #[test]
    fn a_request_for_another_community_or_channel_is_refused() {
        let ours = CommunityKey::generate().community_id();
        let theirs = CommunityKey::generate().community_id();
        let node = NodeIdentity::generate();
        let out = encode_link_request(&theirs, &node, 1, &mut OsEntropy).unwrap();
        assert!(matches!(
            decode_link_request(&ours, &out.content_topic, &out.payload),
            Err(Error::UnknownContentTopic { .. })
        ));
        // Their payload on our topic does not even decrypt.
        let topic = Channel::link_request(&ours).content_topic;
        assert!(matches!(
            decode_link_request(&ours, &topic, &out.payload),
            Err(Error::Decrypt { .. })
        ));
        // Other data sealed for our channel is not a request.
        let channel = Channel::link_request(&ours);
        let other = crate::wire::seal_frame(&channel, &node, b"hello", &mut OsEntropy).unwrap();
        assert!(matches!(
            decode_link_request(&ours, &topic, &other),
            Err(Error::NotALinkRequest)
        ));
        assert!(matches!(
            decode_link_request(&ours, &topic, &vec![0; MAX_LINK_REQUEST_SIZE + 1]),
            Err(Error::Oversized { .. })
        ));
    }
}
