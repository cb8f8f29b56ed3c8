//! Hex identifiers: 4-byte topics, community IDs and archive IDs.

use std::{fmt, str::FromStr};

use sha3::{Digest, Keccak256};

use crate::error::{Error, Result};

/// A 4-byte Waku v1 content topic, `Keccak-256(chat ID)[..4]`, written `0x` + 8 hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic(pub [u8; 4]);

/// A community ID: the community's compressed secp256k1 public key, written
/// `0x` + 66 hex as status-go's `types.EncodeHex` does.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommunityId(pub [u8; 33]);

/// An archive ID: Keccak-256 of the encoded index entry, written `0x` + 64 hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArchiveId(pub [u8; 32]);

/// Keccak-256 (the Ethereum variant, not SHA3-256).
pub fn keccak256(bytes: &[u8]) -> [u8; 32] {
    Keccak256::digest(bytes).into()
}

impl Topic {
    /// The topic of a chat: the first four bytes of Keccak-256 of its ID, as
    /// status-go's `transport.ToTopic`.
    pub fn for_chat(chat_id: &str) -> Topic {
        let digest = keccak256(chat_id.as_bytes());
        Topic([digest[0], digest[1], digest[2], digest[3]])
    }

    /// Reads a topic from the raw bytes of a protobuf field.
    pub fn from_slice(bytes: &[u8]) -> Option<Topic> {
        bytes.try_into().ok().map(Topic)
    }
}

impl ArchiveId {
    /// The ID of an encoded index entry.
    pub fn of_encoded_entry(encoded: &[u8]) -> ArchiveId {
        ArchiveId(keccak256(encoded))
    }
}

fn parse_hex<const N: usize>(what: &'static str, input: &str) -> Result<[u8; N]> {
    let invalid = |reason| Error::InvalidId {
        what,
        input: input.chars().take(80).collect(),
        reason,
    };
    let digits = input
        .strip_prefix("0x")
        .or_else(|| input.strip_prefix("0X"))
        .ok_or_else(|| invalid("must start with 0x"))?;
    if digits.len() != N * 2 {
        return Err(invalid(match N {
            4 => "must have 8 hex digits after 0x",
            32 => "must have 64 hex digits after 0x",
            _ => "must have 66 hex digits after 0x",
        }));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).map_err(|_| invalid("contains a non-hex character"))?;
    Ok(out)
}

impl FromStr for Topic {
    type Err = Error;
    fn from_str(s: &str) -> Result<Topic> {
        parse_hex("topic", s).map(Topic)
    }
}

impl FromStr for ArchiveId {
    type Err = Error;
    fn from_str(s: &str) -> Result<ArchiveId> {
        parse_hex("archive ID", s).map(ArchiveId)
    }
}

impl FromStr for CommunityId {
    type Err = Error;
    fn from_str(s: &str) -> Result<CommunityId> {
        let bytes: [u8; 33] = parse_hex("community ID", s)?;
        if bytes[0] != 0x02 && bytes[0] != 0x03 {
            return Err(Error::InvalidId {
                what: "community ID",
                input: s.chars().take(80).collect(),
                reason: "is not a compressed public key (must start with 0x02 or 0x03)",
            });
        }
        Ok(CommunityId(bytes))
    }
}

macro_rules! hex_display {
    ($($ty:ty),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "0x{}", hex::encode(self.0))
            }
        }
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }
    )*};
}
hex_display!(Topic, CommunityId, ArchiveId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_bad_input() {
        let topic: Topic = "0xdeadBEEF".parse().unwrap();
        assert_eq!(topic.to_string(), "0xdeadbeef");
        assert!("deadbeef".parse::<Topic>().is_err());
        assert!("0xdeadbee".parse::<Topic>().is_err());
        assert!("0xdeadbeeg".parse::<Topic>().is_err());

        let community = format!("0x02{}", "ab".repeat(32));
        assert_eq!(
            community.parse::<CommunityId>().unwrap().to_string(),
            community
        );
        let not_compressed = format!("0x04{}", "ab".repeat(32));
        let err = not_compressed.parse::<CommunityId>().unwrap_err();
        assert!(err.to_string().contains("compressed public key"), "{err}");
    }

    #[test]
    fn keccak_is_ethereum_keccak() {
        // Keccak-256("") from the Ethereum yellow paper, not SHA3-256("").
        assert_eq!(
            hex::encode(keccak256(b"")),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }
}
