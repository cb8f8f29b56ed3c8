//! Where announcements travel: status-go's chat IDs for a community, their
//! 4-byte Waku v1 topics, the Waku v2 content topics those map to, and the
//! symmetric key each chat's messages are encrypted with (wire spec A.6, A.7).

use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock},
};

use archive_index::{CommunityId, Topic};
use sha2::Sha256;

use crate::announcement::LinkKind;

/// status-go's PBKDF2 iteration count for chat keys: 65356, not 65536.
pub const CHAT_KEY_ITERATIONS: u32 = 65_356;

/// Derived chat keys kept before the cache is emptied; a node listens on two
/// channels per community, so this covers hundreds of communities.
const CHAT_KEY_CACHE_LIMIT: usize = 1024;

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

    /// `<communityID>-magnetlinks`, where status-go up to 2024 sent magnet
    /// links (`MagnetlinkMessageChannelID`); still listened on, never sent on.
    pub fn magnetlinks(community: &CommunityId) -> Channel {
        Channel::for_chat(format!("{community}-magnetlinks"))
    }

    /// `<communityID>-memberUpdate`, the universal channel where current
    /// status-go sends archive links of both kinds (`UniversalChatID`).
    pub fn member_update(community: &CommunityId) -> Channel {
        Channel::for_chat(format!("{community}-memberUpdate"))
    }

    /// `<communityID>-archiveLinkRequest`, where a member that joins asks
    /// the owner for the current link (see [`crate::request`]). Archivist's
    /// own channel: status-go neither sends nor listens on it.
    pub fn link_request(community: &CommunityId) -> Channel {
        Channel::for_chat(format!("{community}-archiveLinkRequest"))
    }

    /// The channel an announcement is sent on: `-memberUpdate` for either
    /// kind, which both status-go generations listen on (wire spec A.7.1).
    pub fn for_announcement(community: &CommunityId, _kind: LinkKind) -> Channel {
        Channel::member_update(community)
    }

    /// Every channel a member listens on for a community's announcements:
    /// `-memberUpdate`, and the legacy `-magnetlinks`.
    pub fn all_for(community: &CommunityId) -> [Channel; 2] {
        [
            Channel::member_update(community),
            Channel::magnetlinks(community),
        ]
    }

    /// The channel of `community` whose content topic is `content_topic`.
    pub fn of_community(community: &CommunityId, content_topic: &str) -> Option<Channel> {
        Channel::all_for(community)
            .into_iter()
            .find(|channel| channel.content_topic == content_topic)
    }

    /// The AES-256 key of this chat:
    /// `PBKDF2-HMAC-SHA256(chat ID, empty salt, 65356 iterations, 32 bytes)`.
    ///
    /// Anyone can derive it from the community ID: it keeps nothing secret,
    /// status-go just requires it. Derivations are cached per chat ID, as
    /// status-go caches them in its `keys` table, because each costs 65356
    /// HMAC rounds.
    pub fn symmetric_key(&self) -> [u8; 32] {
        static CACHE: OnceLock<Mutex<HashMap<String, [u8; 32]>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Mutex::default);
        let cached = cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&self.chat_id)
            .copied();
        if let Some(key) = cached {
            return key;
        }
        // Derived outside the lock: other chats need not wait for this one.
        let key = derive_chat_key(&self.chat_id);
        let mut cache = cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= CHAT_KEY_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(self.chat_id.clone(), key);
        key
    }
}

fn derive_chat_key(chat_id: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(chat_id.as_bytes(), &[], CHAT_KEY_ITERATIONS, &mut key);
    key
}

/// What comes before and after the 4-byte topic in a bridged content topic.
const BRIDGED_PREFIX: &str = "/waku/1/";
const BRIDGED_SUFFIX: &str = "/rfc26";

/// The content topic a Waku v1 topic is bridged to (23/WAKU2-TOPICS):
/// `/waku/1/0x<8 hex>/rfc26`. Announcements and a community's chat messages
/// both travel on such topics.
pub fn content_topic(topic: Topic) -> String {
    format!("{BRIDGED_PREFIX}{topic}{BRIDGED_SUFFIX}")
}

/// The 4-byte Waku v1 topic a bridged content topic `/waku/1/0x<8 hex>/rfc26`
/// carries, the inverse of [`content_topic`]; `None` for any other content
/// topic.
pub fn v1_topic(content_topic: &str) -> Option<Topic> {
    content_topic
        .strip_prefix(BRIDGED_PREFIX)?
        .strip_suffix(BRIDGED_SUFFIX)?
        .parse()
        .ok()
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

    proptest::proptest! {
        #[test]
        fn v1_topic_reads_back_every_content_topic(topic in proptest::prelude::any::<[u8; 4]>()) {
            proptest::prop_assert_eq!(v1_topic(&content_topic(Topic(topic))), Some(Topic(topic)));
        }
    }

    #[test]
    fn both_kinds_are_sent_on_member_update_and_magnetlinks_is_still_heard() {
        let community = CommunityId([3; 33]);
        for kind in [LinkKind::TORRENT, LinkKind::CODEX] {
            assert!(
                Channel::for_announcement(&community, kind)
                    .chat_id
                    .ends_with("-memberUpdate")
            );
        }
        let legacy = Channel::magnetlinks(&community);
        assert_eq!(
            Channel::of_community(&community, &legacy.content_topic),
            Some(legacy)
        );
        assert_eq!(
            Channel::of_community(&community, "/waku/1/0x00000000/rfc26"),
            None
        );
    }
}
