//! Archive announcements on the wire: status-go's signed
//! `ApplicationMetadataMessage` carrying a magnet link (type 43) or a Codex
//! index CID (type 76).
//!
//! The signature is go-ethereum's `crypto.Sign` over Keccak-256 of the encoded
//! payload, so the signer's public key is recovered from the message itself;
//! compressed, it *is* the community ID (spec c.9: only the community key maps
//! to a community, there is no separate sender field).

use archive_index::{CommunityId, keccak256};
use archive_proto::{
    Message,
    protobuf::{
        ApplicationMetadataMessage, CommunityMessageArchiveIndexCid,
        CommunityMessageArchiveMagnetlink, application_metadata_message::Type,
    },
};
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};

use crate::{
    error::{Error, Result},
    key::CommunityKey,
};

/// The largest wire message [`open_announcement`] accepts by default. An announcement is a
/// signature, a clock and one link — a few hundred bytes — so 64 KiB leaves
/// room for long magnet links with many trackers while bounding the work a
/// stranger can make a member do.
pub const MAX_WIRE_SIZE: usize = 64 * 1024;

pub use archive_index::LinkKind;

/// The `ApplicationMetadataMessage.type` of each kind:
/// `COMMUNITY_MESSAGE_ARCHIVE_MAGNETLINK` (43) and
/// `COMMUNITY_MESSAGE_ARCHIVE_INDEX_CID` (76). Each kind has its own clock and
/// last-seen link on the member (spec c.9 `magnetlink_clock`, h.2 `index_cid_clock`).
pub fn message_type(kind: LinkKind) -> Type {
    match kind {
        LinkKind::Magnet => Type::CommunityMessageArchiveMagnetlink,
        LinkKind::IndexCid => Type::CommunityMessageArchiveIndexCid,
    }
}

fn kind_from_wire(value: i32) -> Result<LinkKind> {
    match Type::try_from(value) {
        Ok(Type::CommunityMessageArchiveMagnetlink) => Ok(LinkKind::Magnet),
        Ok(Type::CommunityMessageArchiveIndexCid) => Ok(LinkKind::IndexCid),
        Ok(Type::Unknown) | Err(_) => Err(Error::UnknownType(value)),
    }
}

/// A verified announcement: `community` is the signer, recovered from the
/// signature, not a claim of the sender.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Announcement {
    /// The community whose key signed the announcement.
    pub community: CommunityId,
    /// What kind of link it carries.
    pub kind: LinkKind,
    /// The owner's clock when it was sent, in milliseconds since the Unix epoch.
    pub clock: u64,
    /// The magnet link or index CID.
    pub link: String,
}

/// Builds and signs an announcement, returning the encoded
/// `ApplicationMetadataMessage` ready for a transport.
///
/// Fails on an empty link, and on a link so long the message would exceed
/// [`MAX_WIRE_SIZE`] (members would drop it unread).
pub fn sign_announcement(
    key: &CommunityKey,
    kind: LinkKind,
    clock: u64,
    link: &str,
) -> Result<Vec<u8>> {
    if link.is_empty() {
        return Err(Error::EmptyLink);
    }
    let payload = match kind {
        LinkKind::Magnet => CommunityMessageArchiveMagnetlink {
            clock,
            magnet_uri: link.to_owned(),
        }
        .encode_to_vec(),
        LinkKind::IndexCid => CommunityMessageArchiveIndexCid {
            clock,
            cid: link.to_owned(),
        }
        .encode_to_vec(),
    };
    let signature = key.sign_prehash(&keccak256(&payload));
    let wire = ApplicationMetadataMessage {
        signature: signature.to_vec(),
        payload,
        r#type: message_type(kind) as i32,
    }
    .encode_to_vec();
    if wire.len() > MAX_WIRE_SIZE {
        return Err(Error::Oversized {
            len: wire.len(),
            max: MAX_WIRE_SIZE,
        });
    }
    Ok(wire)
}

/// Decodes a received message and recovers who signed it.
///
/// Checks, in order: size (before any decoding), the wrapper, the type, the
/// signature's shape (65 bytes, V ∈ {0, 1}, low S), recovery of the signer, the
/// payload, a non-empty link. Never panics, whatever the bytes.
pub fn open_announcement(wire: &[u8], max_size: usize) -> Result<Announcement> {
    if wire.len() > max_size {
        return Err(Error::Oversized {
            len: wire.len(),
            max: max_size,
        });
    }
    let message = ApplicationMetadataMessage::decode(wire).map_err(|e| Error::Malformed {
        what: "ApplicationMetadataMessage",
        reason: e.to_string(),
    })?;
    let kind = kind_from_wire(message.r#type)?;
    let community = recover_signer(&message.signature, &message.payload)?;
    let malformed = |e: prost::DecodeError| Error::Malformed {
        what: match kind {
            LinkKind::Magnet => "CommunityMessageArchiveMagnetlink",
            LinkKind::IndexCid => "CommunityMessageArchiveIndexCid",
        },
        reason: e.to_string(),
    };
    let (clock, link) = match kind {
        LinkKind::Magnet => {
            let m = CommunityMessageArchiveMagnetlink::decode(message.payload.as_slice())
                .map_err(malformed)?;
            (m.clock, m.magnet_uri)
        }
        LinkKind::IndexCid => {
            let m = CommunityMessageArchiveIndexCid::decode(message.payload.as_slice())
                .map_err(malformed)?;
            (m.clock, m.cid)
        }
    };
    if link.is_empty() {
        return Err(Error::EmptyLink);
    }
    Ok(Announcement {
        community,
        kind,
        clock,
        link,
    })
}

/// Recovers the compressed public key that made a go-ethereum style signature
/// over Keccak-256 of `payload`.
pub(crate) fn recover_signer(signature: &[u8], payload: &[u8]) -> Result<CommunityId> {
    recover_prehash(signature, &keccak256(payload))
}

fn recover_prehash(signature: &[u8], digest: &[u8; 32]) -> Result<CommunityId> {
    let signature: &[u8; 65] = signature
        .try_into()
        .map_err(|_| Error::SignatureLength(signature.len()))?;
    let v = signature[64];
    // go-ethereum's crypto.Sign only ever writes 0 or 1; 2 and 3 (x-reduced R)
    // are valid ECDSA but never produced, so they are treated as forgeries.
    let recovery = match v {
        0 | 1 => RecoveryId::from_byte(v).ok_or(Error::RecoveryId(v))?,
        _ => return Err(Error::RecoveryId(v)),
    };
    let rs = Signature::from_slice(&signature[..64])
        .map_err(|_| Error::BadSignature("R or S is zero or not below the curve order"))?;
    // A high-S twin is a second valid encoding of the same announcement; refusing
    // it keeps one announcement to one byte string (gossip dedups by hash).
    if rs.normalize_s() != rs {
        return Err(Error::BadSignature(
            "S is not in the low half of the curve order",
        ));
    }
    let key = VerifyingKey::recover_from_prehash(digest, &rs, recovery)
        .map_err(|_| Error::BadSignature("no public key can be recovered from it"))?;
    let point = key.to_sec1_point(true);
    let mut id = [0u8; 33];
    id.copy_from_slice(point.as_bytes());
    Ok(CommunityId(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex<const N: usize>(s: &str) -> [u8; N] {
        let mut out = [0u8; N];
        hex::decode_to_slice(s, &mut out).unwrap();
        out
    }

    // go-ethereum crypto/signature_test.go: testmsg, testsig, testpubkeyc.
    const GETH_MSG: &str = "ce0677bb30baa8cf067c88db9811f4333d131bf8bcf12fe7065d211dce971008";
    const GETH_SIG: &str = "90f27b8b488db00b00606796d2987f6a5f59ae62ea05effe84fef5b8b0e549984a691139ad57a3f0b906637673aa2f63d1f55cb1a69199d4009eea23ceaddc9301";
    const GETH_PUBKEY_C: &str =
        "02e32df42865e97135acfb65f3bae71bdc86f4d49150ad6a440b6f15878109880a";

    #[test]
    fn recovers_go_ethereum_test_vector() {
        let id = recover_prehash(&unhex::<65>(GETH_SIG), &unhex(GETH_MSG)).unwrap();
        assert_eq!(hex::encode(id.0), GETH_PUBKEY_C);
    }

    #[test]
    fn rejects_go_ethereum_malleable_vector() {
        // TestVerifySignatureMalleable's high-S signature, with a recovery byte added.
        let mut sig = [0u8; 65];
        sig[..64].copy_from_slice(&unhex::<64>(
            "638a54215d80a6713c8d523a6adc4e6e73652d859103a36b700851cb0e61b66b8ebfc1a610c57d732ec6e0a8f06a9a7a28df5051ece514702ff9cdff0b11f454",
        ));
        let msg = unhex("d301ce462d3e639518f482c7f03821fec1e602018630ce621e1e7851c12343a6");
        for v in [0, 1] {
            sig[64] = v;
            assert!(matches!(
                recover_prehash(&sig, &msg),
                Err(Error::BadSignature(_))
            ));
        }
    }

    #[test]
    fn signing_gives_low_s_and_v_0_or_1() {
        let key = CommunityKey::generate();
        for i in 0..32u8 {
            let digest = keccak256(&[i]);
            let sig = key.sign_prehash(&digest);
            assert!(sig[64] <= 1);
            assert_eq!(recover_prehash(&sig, &digest).unwrap(), key.community_id());
        }
    }

    #[test]
    fn recovery_ids_other_than_0_and_1_are_refused() {
        let key = CommunityKey::generate();
        let digest = keccak256(b"x");
        let mut sig = key.sign_prehash(&digest);
        for v in [2, 3, 27, 28, 255] {
            sig[64] = v;
            assert!(
                matches!(recover_prehash(&sig, &digest), Err(Error::RecoveryId(got)) if got == v)
            );
        }
    }

    #[test]
    fn zero_r_and_s_are_refused() {
        let sig = [0u8; 65];
        assert!(matches!(
            recover_prehash(&sig, &[7; 32]),
            Err(Error::BadSignature(_))
        ));
    }

    #[test]
    fn signing_refuses_empty_and_oversized_links() {
        let key = CommunityKey::generate();
        assert!(matches!(
            sign_announcement(&key, LinkKind::Magnet, 1, ""),
            Err(Error::EmptyLink)
        ));
        let long = "m".repeat(MAX_WIRE_SIZE);
        assert!(matches!(
            sign_announcement(&key, LinkKind::IndexCid, 1, &long),
            Err(Error::Oversized { .. })
        ));
    }
}
