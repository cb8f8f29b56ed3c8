//! A `.torrent` or magnet link stands for one community and one layout: its
//! `name` and `dn` must be the community being fetched, and no path may be
//! listed twice.

use archive_index::CommunityId;
use torrent_format::{Error, Magnet, Metainfo};

use crate::{pieces_field, serial, torrent};

fn community(byte: &str) -> CommunityId {
    format!("0x02{}", byte.repeat(32)).parse().unwrap()
}

fn named(name: &str) -> Metainfo {
    let bytes = torrent(
        "",
        &format!(
            "5:filesld6:lengthi10e4:pathl4:dataeee4:name{}:{name}12:piece lengthi102400e{}",
            name.len(),
            pieces_field(1)
        ),
    );
    Metainfo::from_bytes(&bytes).unwrap()
}

#[test]
fn a_torrent_named_after_another_community_is_refused_naming_both() {
    let _serial = serial();
    let (ours, theirs) = (community("11"), community("22"));
    named(&ours.to_string()).check_community(&ours).unwrap();
    let err = named(&theirs.to_string())
        .check_community(&ours)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongCommunity {
                what: "torrent name",
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&theirs.to_string()) && text.contains(&ours.to_string()),
        "{text}"
    );
    assert!(named("abcd").check_community(&ours).is_err());
}

#[test]
fn a_magnet_whose_dn_is_another_community_is_refused_naming_both() {
    let _serial = serial();
    let (ours, theirs) = (community("11"), community("22"));
    let link = |dn: &str| -> Magnet {
        format!("magnet:?xt=urn:btih:{}&dn={dn}", "ab".repeat(20))
            .parse()
            .unwrap()
    };
    link(&ours.to_string()).check_community(&ours).unwrap();
    let err = link(&theirs.to_string())
        .check_community(&ours)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongCommunity {
                what: "magnet dn",
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&theirs.to_string()) && text.contains(&ours.to_string()),
        "{text}"
    );
    // No dn says nothing either way.
    let bare: Magnet = format!("magnet:?xt=urn:btih:{}", "ab".repeat(20))
        .parse()
        .unwrap();
    bare.check_community(&ours).unwrap();
}

#[test]
fn a_torrent_listing_one_path_twice_is_refused() {
    let _serial = serial();
    let bytes = torrent(
        "",
        &format!(
            "5:filesld6:lengthi10e4:pathl4:dataeed6:lengthi10e4:pathl4:dataeee\
             4:name4:abcd12:piece lengthi102400e{}",
            pieces_field(1)
        ),
    );
    let err = Metainfo::from_bytes(&bytes).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidTorrent {
                field: "files",
                reason: "lists the same path twice"
            }
        ),
        "{err}"
    );
}
