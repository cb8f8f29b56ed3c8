//! The application layer of an announcement: status-go's
//! `CommunityMessageArchiveLink{clock, archive_link}` in an
//! `ApplicationMetadataMessage` of type 43 (`COMMUNITY_MESSAGE_ARCHIVE_LINK`),
//! signed with the community key, for magnet links and index CIDs alike.
//!
//! The signature is go-ethereum's `crypto.Sign` over Keccak-256 of the encoded
//! payload, so the signer's public key is recovered from the message itself;
//! compressed, it *is* the community ID (spec c.9: only the community key maps
//! to a community, there is no separate sender field). The type is not
//! covered by the signature, so the link's kind is read from the signed link
//! text (`magnet:`, a CID, or another network's `scheme:`), never from the
//! type.

use archive_index::{CommunityId, keccak256};
use archive_proto::{
    Message,
    protobuf::{
        ApplicationMetadataMessage, CommunityMessageArchiveLink, application_metadata_message::Type,
    },
};
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};

use crate::{
    error::{Error, Result},
    key::{CommunityKey, uncompressed},
};

/// The largest wire message a member decodes by default. An announcement is
/// two signatures, a clock and one link padded to 256 bytes — well under a
/// kilobyte — so 64 KiB leaves room for long magnet links with many trackers
/// while bounding the work a stranger can make a member do.
pub const MAX_WIRE_SIZE: usize = 64 * 1024;

/// Longest link announced or accepted: far beyond any real magnet link or CID.
pub const MAX_LINK_LEN: usize = 8 * 1024;

/// Longest string taken as a CID (a Codex CIDv1 in base58btc has 50–60).
const MAX_CID_LEN: usize = 128;

pub use archive_index::LinkKind;

/// `COMMUNITY_MESSAGE_ARCHIVE_LINK`, the only type an announcement has.
pub const ARCHIVE_LINK_TYPE: i32 = Type::CommunityMessageArchiveLink as i32;

/// The `ApplicationMetadataMessage.type` of each kind: 43 for both, as
/// current status-go sends them. (The Codex prototype's 76 is status-go's
/// `SYNC_ACTIVITY_CENTER_UNREAD` and is neither sent nor accepted.)
pub fn message_type(_kind: LinkKind) -> Type {
    Type::CommunityMessageArchiveLink
}

/// The network of a link, read from its text: a `magnet:` URI is a
/// BitTorrent link and a CID-shaped string (2 to 128 ASCII letters and
/// digits, which every base58 or base32 multibase form of a CID is) a Codex
/// index CID, as status-go reads them; any other `scheme:rest` belongs to the
/// network named by its scheme (a backend's own, such as `dir:`). Anything
/// else is refused. Whether the link names anything is decided by the
/// backend that resolves it.
pub fn link_kind(link: &str) -> Result<LinkKind> {
    if link.is_empty() {
        return Err(Error::EmptyLink);
    }
    if link.len() > MAX_LINK_LEN {
        return Err(Error::UnrecognisedLink {
            reason: "longer than any real link",
        });
    }
    if link.starts_with("magnet:") {
        return Ok(LinkKind::TORRENT);
    }
    if (2..=MAX_CID_LEN).contains(&link.len()) && link.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Ok(LinkKind::CODEX);
    }
    let Some((scheme, rest)) = link.split_once(':') else {
        return Err(Error::UnrecognisedLink {
            reason: "neither a magnet: URI, a CID nor a scheme: link",
        });
    };
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::UnrecognisedLink {
            reason: "a scheme: link needs printable ASCII without spaces after the scheme",
        });
    }
    match LinkKind::from_scheme(scheme) {
        // Codex links are announced as the bare CID, as status-go sends them.
        Ok(kind) if kind == LinkKind::CODEX => Err(Error::UnrecognisedLink {
            reason: "a Codex index is announced as the bare CID, not codex:<CID>",
        }),
        Ok(kind) => Ok(kind),
        Err(_) => Err(Error::UnrecognisedLink {
            reason: "its scheme is not a network name",
        }),
    }
}

/// A verified announcement: `community` is the signer, recovered from the
/// signature, not a claim of the sender; `kind` is read from the signed link.
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

/// An opened `ApplicationMetadataMessage`: the announcement and status-go's
/// message ID, `Keccak-256(uncompressed signer ‖ message bytes)`.
#[derive(Clone, Debug)]
pub(crate) struct Opened {
    pub(crate) announcement: Announcement,
    pub(crate) message_id: [u8; 32],
}

/// Builds and signs an announcement, returning the encoded
/// `ApplicationMetadataMessage` (type 43). `kind` must be the kind of `link`
/// (see [`link_kind`]); it is what members will read from it.
///
/// Fails on an empty or unrecognised link, a kind that does not match it, and
/// a link so long the message would exceed [`MAX_WIRE_SIZE`].
pub fn sign_announcement(
    key: &CommunityKey,
    kind: LinkKind,
    clock: u64,
    link: &str,
) -> Result<Vec<u8>> {
    let actual = link_kind(link)?;
    if actual != kind {
        return Err(Error::LinkKindMismatch {
            declared: kind,
            actual,
        });
    }
    let payload = CommunityMessageArchiveLink {
        clock,
        archive_link: link.to_owned(),
    }
    .encode_to_vec();
    let signature = key.sign_prehash(&keccak256(&payload));
    let wire = ApplicationMetadataMessage {
        signature: signature.to_vec(),
        payload,
        r#type: ARCHIVE_LINK_TYPE,
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

/// Decodes an `ApplicationMetadataMessage` and recovers who signed it.
///
/// Checks, in order: size (before any decoding), the wrapper, the type (43
/// only), the signature's shape (65 bytes, V ∈ {0, 1}, low S), recovery of the
/// signer, the payload, and the link, whose text gives the kind. Never
/// panics, whatever the bytes.
pub fn open_announcement(wire: &[u8], max_size: usize) -> Result<Announcement> {
    open_message(wire, max_size).map(|opened| opened.announcement)
}

pub(crate) fn open_message(wire: &[u8], max_size: usize) -> Result<Opened> {
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
    if message.r#type != ARCHIVE_LINK_TYPE {
        return Err(Error::UnknownType(message.r#type));
    }
    let signer = recover_key(&message.signature, &keccak256(&message.payload))?;
    let payload = CommunityMessageArchiveLink::decode(message.payload.as_slice()).map_err(|e| {
        Error::Malformed {
            what: "CommunityMessageArchiveLink",
            reason: e.to_string(),
        }
    })?;
    let kind = link_kind(&payload.archive_link)?;
    let mut id_input = uncompressed(&signer).to_vec();
    id_input.extend_from_slice(wire);
    Ok(Opened {
        announcement: Announcement {
            community: compressed(&signer),
            kind,
            clock: payload.clock,
            link: payload.archive_link,
        },
        message_id: keccak256(&id_input),
    })
}

/// The compressed public key, which for a community key is its ID.
pub(crate) fn compressed(key: &VerifyingKey) -> CommunityId {
    let mut id = [0u8; 33];
    id.copy_from_slice(key.to_sec1_point(true).as_bytes());
    CommunityId(id)
}

/// Recovers the public key that made a go-ethereum style signature over a
/// 32-byte digest.
pub(crate) fn recover_key(signature: &[u8], digest: &[u8; 32]) -> Result<VerifyingKey> {
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
    VerifyingKey::recover_from_prehash(digest, &rs, recovery)
        .map_err(|_| Error::BadSignature("no public key can be recovered from it"))
}

#[cfg(test)]
fn recover_prehash(signature: &[u8], digest: &[u8; 32]) -> Result<CommunityId> {
    recover_key(signature, digest).map(|key| compressed(&key))
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
    fn signing_refuses_empty_long_and_mislabelled_links() {
        let key = CommunityKey::generate();
        assert!(matches!(
            sign_announcement(&key, LinkKind::TORRENT, 1, ""),
            Err(Error::EmptyLink)
        ));
        let long = format!("magnet:?{}", "m".repeat(MAX_LINK_LEN));
        assert!(matches!(
            sign_announcement(&key, LinkKind::TORRENT, 1, &long),
            Err(Error::UnrecognisedLink { .. })
        ));
        assert!(matches!(
            sign_announcement(&key, LinkKind::CODEX, 1, "magnet:?xt=urn:btih:aa"),
            Err(Error::LinkKindMismatch { declared, actual })
                if declared == LinkKind::CODEX && actual == LinkKind::TORRENT
        ));
    }

    #[test]
    fn link_kind_comes_from_the_text() {
        assert_eq!(
            link_kind("magnet:?xt=urn:btih:aa").unwrap(),
            LinkKind::TORRENT
        );
        assert_eq!(link_kind("zDvZRwzmTestCID123").unwrap(), LinkKind::CODEX);
        assert_eq!(
            link_kind("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi").unwrap(),
            LinkKind::CODEX
        );
        // Any other network's link is named by its scheme.
        assert_eq!(link_kind("dir:archives-0x02").unwrap().name(), "dir");
        assert_eq!(link_kind("ipfs://bafy").unwrap().name(), "ipfs");
        for bad in [
            "z",
            "codex:zDvZ",
            "zDv Z",
            "HTTP://x",
            "torrent:abc",
            "dir:",
            "dir:a b",
            "dir:\u{e9}",
            "zDv\u{e9}",
            &format!("z{}", "a".repeat(128)),
        ] {
            assert!(
                matches!(link_kind(bad), Err(Error::UnrecognisedLink { .. })),
                "{bad}"
            );
        }
        assert!(matches!(link_kind(""), Err(Error::EmptyLink)));
    }
}
