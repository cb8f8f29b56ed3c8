//! Where announcements travel: status-go's chat IDs for a community, their
//! 4-byte Waku v1 topics and the Waku v2 content topics those map to.

use archive_index::{CommunityId, Topic};

use crate::announcement::LinkKind;

/// The pubsub topic status-go's communities use by default: cluster 16, shard 32.
pub const DEFAULT_PUBSUB_TOPIC: &str = "/waku/2/rs/16/32";

/// One chat channel of a community.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Channel {
    /// status-go's chat ID, e.g. `0x02…-magnetlinks`.
    pub chat_id: String,
    /// `Keccak-256(chat ID)[..4]`.
    pub topic: Topic,
    /// The Waku v2 content topic: `/waku/1/0x<8 hex>/rfc26`.
    pub content_topic: String,
}

impl Channel {
    /// The channel with the given chat ID.
    pub fn for_chat(chat_id: String) -> Channel {
        let topic = Topic::for_chat(&chat_id);
        Channel {
            content_topic: content_topic(topic),
            topic,
            chat_id,
        }
    }

    /// `<communityID>-magnetlinks`, where status-go sends magnet links
    /// (`MagnetlinkMessageChannelID`, spec c.8).
    pub fn magnetlinks(community: &CommunityId) -> Channel {
        Channel::for_chat(format!("{community}-magnetlinks"))
    }

    /// `<communityID>-memberUpdate`, the universal channel where the Codex
    /// prototype sends index CIDs (`UniversalChatID`, spec h.2).
    pub fn member_update(community: &CommunityId) -> Channel {
        Channel::for_chat(format!("{community}-memberUpdate"))
    }

    /// The channel an announcement of `kind` is sent on, as status-go does.
    pub fn for_announcement(community: &CommunityId, kind: LinkKind) -> Channel {
        match kind {
            LinkKind::Magnet => Channel::magnetlinks(community),
            LinkKind::IndexCid => Channel::member_update(community),
        }
    }

    /// Every channel a member listens on for a community's announcements.
    pub fn all_for(community: &CommunityId) -> [Channel; 2] {
        [
            Channel::magnetlinks(community),
            Channel::member_update(community),
        ]
    }
}

/// The content topic a Waku v1 topic is bridged to (23/WAKU2-TOPICS).
pub fn content_topic(topic: Topic) -> String {
    format!("/waku/1/{topic}/rfc26")
}

#[cfg(test)]
mod tests {
    use archive_index::keccak256;

    use super::*;

    #[test]
    fn magnetlink_channel_is_derived_like_status_go() {
        let community: CommunityId = format!("0x02{}", "ab".repeat(32)).parse().unwrap();
        let channel = Channel::magnetlinks(&community);
        assert_eq!(
            channel.chat_id,
            format!("0x02{}-magnetlinks", "ab".repeat(32))
        );
        let digest = keccak256(channel.chat_id.as_bytes());
        assert_eq!(channel.topic.0, digest[..4]);
        assert_eq!(
            channel.content_topic,
            format!("/waku/1/0x{}/rfc26", hex::encode(&digest[..4]))
        );
    }

    #[test]
    fn content_topic_is_lowercase_hex() {
        assert_eq!(
            content_topic(Topic([0xde, 0xad, 0xBE, 0xEF])),
            "/waku/1/0xdeadbeef/rfc26"
        );
    }

    #[test]
    fn kinds_use_status_go_channels() {
        let community = CommunityId([3; 33]);
        assert!(
            Channel::for_announcement(&community, LinkKind::Magnet)
                .chat_id
                .ends_with("-magnetlinks")
        );
        assert!(
            Channel::for_announcement(&community, LinkKind::IndexCid)
                .chat_id
                .ends_with("-memberUpdate")
        );
    }
}
