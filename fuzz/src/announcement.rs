//! Properties of `archive-dispatch`'s announcement envelope.

use arbitrary::{Arbitrary, Unstructured};
use archive_dispatch::{
    Announcement, CommunityKey, LinkKind, MAX_WIRE_SIZE, open_announcement, sign_announcement,
};

/// First byte even: the rest is a received message. What opens has a link, a
/// signer that is a compressed public key, and opens the same again.
///
/// Odd: the rest picks a key, a kind, a clock, a link and one bit to flip.
/// A signed announcement opens to exactly what was signed, and with any one
/// bit flipped it never opens as the same signer saying something else: the
/// payload is what the signature covers.
pub fn announcement_open(data: &[u8]) {
    let [mode, rest @ ..] = data else {
        return;
    };
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
    let Ok((secret, cid, clock, link, flip)) =
        <([u8; 32], bool, u64, String, u32)>::arbitrary(&mut u)
    else {
        return;
    };
    let Ok(key) = CommunityKey::from_bytes(&secret) else {
        return;
    };
    let kind = if cid {
        LinkKind::IndexCid
    } else {
        LinkKind::Magnet
    };
    let wire = match sign_announcement(&key, kind, clock, &link) {
        Ok(wire) => wire,
        Err(e) => {
            assert!(link.is_empty(), "signing {link:?} failed: {e}");
            return;
        }
    };
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
        // Only the unsigned message type may change (status-go does not sign it).
        assert_eq!(
            (opened.clock, &opened.link),
            (signed.clock, &signed.link),
            "flipping bit {bit} changed what the community said"
        );
    }
}
