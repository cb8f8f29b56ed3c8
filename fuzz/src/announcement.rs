//! Properties of `archive-dispatch`'s announcement envelope and of the whole
//! Waku wire format around it.

use arbitrary::{Arbitrary, Unstructured};
use archive_dispatch::{
    Announcement, Channel, CommunityKey, MAX_WIRE_SIZE, link_kind, open_announcement,
    sign_announcement, wire,
};

/// First byte 2 mod 4: the rest is a Waku payload received on a community's
/// `-memberUpdate` channel. Decoding and peeling never panic and agree; what
/// decodes is signed by that community.
///
/// Other even first bytes: the rest is a signed application message. What
/// opens has a link, a signer that is a compressed public key, and opens the
/// same again.
///
/// Odd: the rest picks a key, a clock, a link and one bit to flip. A signed
/// announcement opens to exactly what was signed, and with any one bit
/// flipped it never opens as the same signer saying something else: the
/// payload is what the signature covers, and the link's kind is read from it.
pub fn announcement_open(data: &[u8]) {
    let [mode, rest @ ..] = data else {
        return;
    };
    if mode % 4 == 2 {
        let community = CommunityKey::from_bytes(&[0x11; 32])
            .expect("a valid key")
            .community_id();
        let topic = Channel::member_update(&community).content_topic;
        let decoded = wire::decode_announcement(&community, &topic, rest);
        let peeled = wire::peel(&community, Some(&topic), rest);
        assert_eq!(decoded.as_ref().ok(), peeled.verdict.as_ref().ok());
        if let Ok(verified) = decoded {
            assert_eq!(verified.community_signer, community);
            assert_eq!(link_kind(&verified.link).ok(), Some(verified.kind));
        }
        return;
    }
    if mode % 2 == 0 {
        let Ok(announcement) = open_announcement(rest, MAX_WIRE_SIZE) else {
            return;
        };
        assert!(!announcement.link.is_empty());
        assert!(matches!(announcement.community.0[0], 2 | 3));
        assert_eq!(
            open_announcement(rest, MAX_WIRE_SIZE).ok(),
            Some(announcement)
        );
        assert!(
            open_announcement(rest, rest.len() - 1).is_err(),
            "the size cap is not applied"
        );
        return;
    }
    let mut u = Unstructured::new(rest);
    let Ok((secret, clock, link, flip)) = <([u8; 32], u64, String, u32)>::arbitrary(&mut u) else {
        return;
    };
    let Ok(key) = CommunityKey::from_bytes(&secret) else {
        return;
    };
    // Links of no recognised shape (no scheme, not a CID) cannot be announced.
    let Ok(kind) = link_kind(&link) else {
        return;
    };
    let wire = sign_announcement(&key, kind.clone(), clock, &link)
        .unwrap_or_else(|e| panic!("signing {link:?} failed: {e}"));
    let signed = Announcement {
        community: key.community_id(),
        kind,
        clock,
        link,
    };
    assert_eq!(
        open_announcement(&wire, MAX_WIRE_SIZE).ok(),
        Some(signed.clone())
    );

    let mut forged = wire;
    let bit = flip as usize % (forged.len() * 8);
    forged[bit / 8] ^= 1 << (bit % 8);
    if let Ok(opened) = open_announcement(&forged, MAX_WIRE_SIZE)
        && opened.community == signed.community
    {
        // The unsigned type is refused unless it is 43, so nothing may change.
        assert_eq!(
            opened, signed,
            "flipping bit {bit} changed what the community said"
        );
    }
}
