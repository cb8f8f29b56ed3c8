//! Hash-ratchet key material (spec B.2–B.3): group IDs, group keys, key IDs
//! and the per-message keys `K_n = Keccak-256ⁿ(key)`.

use std::fmt;

use archive_index::{CommunityId, keccak256};

use crate::error::{Error, Result};

/// Longest group ID accepted. Archives use the 33-byte community ID; status-go's
/// channel groups are chat IDs (a community ID in hex plus a UUID, ~102 bytes).
pub const MAX_GROUP_ID_LEN: usize = 256;

/// The group a key belongs to: for archives and indexes, the community ID bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(Vec<u8>);

impl GroupId {
    /// A group ID of 1 to [`MAX_GROUP_ID_LEN`] bytes.
    pub fn new(bytes: &[u8]) -> Result<GroupId> {
        if bytes.is_empty() || bytes.len() > MAX_GROUP_ID_LEN {
            return Err(Error::InvalidKeyMaterial {
                what: "group ID",
                reason: format!("{} bytes, not 1 to {MAX_GROUP_ID_LEN}", bytes.len()),
            });
        }
        Ok(GroupId(bytes.to_vec()))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn hex(&self) -> String {
        hex::encode(&self.0)
    }
}

impl From<CommunityId> for GroupId {
    fn from(community: CommunityId) -> GroupId {
        GroupId(community.0.to_vec())
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", self.hex())
    }
}

impl fmt::Debug for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `Keccak-256(group_id ‖ LE64(timestamp ms) ‖ key)`: how headers name a key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 32]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A 32-byte group key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct GroupKey(pub [u8; 32]);

impl GroupKey {
    /// A fresh random key. status-go uses a secp256k1 private key's 32 bytes;
    /// uniformly random bytes are indistinguishable from one to a reader.
    pub fn random() -> Result<GroupKey> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| Error::Entropy(e.to_string()))?;
        if key == [0; 32] {
            return Err(Error::Entropy(
                "the system RNG returned only zero bytes".into(),
            ));
        }
        Ok(GroupKey(key))
    }
}

impl fmt::Debug for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GroupKey(…)")
    }
}

/// One key of one group, as status-go stores it
/// (`HashRatchetKeyCompatibility`): everything a reader needs.
#[derive(Clone, PartialEq, Eq)]
pub struct HrKey {
    /// The group (community ID for archives).
    pub group: GroupId,
    /// When the key was made, milliseconds since the epoch.
    pub timestamp_ms: u64,
    /// The secret.
    pub key: GroupKey,
}

impl HrKey {
    /// A new random key for `group`, stamped as status-go's `GenerateNext`
    /// does: `now + 10` ms, or one past the group's newest key when that is
    /// not older than now, so the newest key is always the current one.
    pub fn generate(group: GroupId, now_ms: u64, newest_ms: Option<u64>) -> Result<HrKey> {
        Ok(HrKey {
            group,
            timestamp_ms: next_timestamp(now_ms, newest_ms),
            key: GroupKey::random()?,
        })
    }

    /// `Keccak-256(group ‖ LE64(timestamp_ms) ‖ key)`.
    pub fn key_id(&self) -> KeyId {
        let mut input = Vec::with_capacity(self.group.0.len() + 8 + 32);
        input.extend_from_slice(&self.group.0);
        input.extend_from_slice(&self.timestamp_ms.to_le_bytes());
        input.extend_from_slice(&self.key.0);
        KeyId(keccak256(&input))
    }

    /// The low 32 bits of the timestamp, which old clients name keys by.
    pub fn deprecated_key_id(&self) -> u32 {
        self.timestamp_ms as u32
    }

    /// `K_n = Keccak-256ⁿ(key)`, the key of message number `n`.
    pub fn message_key(&self, n: u32) -> [u8; 32] {
        ratchet(self.key.0, 0, n)
    }
}

impl fmt::Debug for HrKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HrKey")
            .field("group", &self.group)
            .field("timestamp_ms", &self.timestamp_ms)
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

/// status-go's `bumpKeyID`: keys of one group get strictly increasing stamps.
pub fn next_timestamp(now_ms: u64, newest_ms: Option<u64>) -> u64 {
    match newest_ms {
        Some(newest) if newest >= now_ms => newest.saturating_add(1),
        _ => now_ms.saturating_add(10),
    }
}

/// Hashes `hash` (the key of message `from`) forward to message `to`.
pub(crate) fn ratchet(mut hash: [u8; 32], from: u32, to: u32) -> [u8; 32] {
    for _ in from..to {
        hash = keccak256(&hash);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_follow_bump_key_id() {
        assert_eq!(next_timestamp(1_000, None), 1_010);
        assert_eq!(next_timestamp(1_000, Some(500)), 1_010);
        assert_eq!(next_timestamp(1_000, Some(1_000)), 1_001);
        assert_eq!(next_timestamp(1_000, Some(5_000)), 5_001);
    }

    #[test]
    fn group_ids_are_bounded_and_debug_hides_keys() {
        assert!(GroupId::new(&[]).is_err());
        assert!(GroupId::new(&[1; MAX_GROUP_ID_LEN + 1]).is_err());
        let key = HrKey {
            group: GroupId::new(&[2; 33]).unwrap(),
            timestamp_ms: 7,
            key: GroupKey([0xab; 32]),
        };
        assert!(!format!("{key:?}").contains("abab"));
    }
}
