//! Tests of magnet rendering (status-go's exact shape) and parsing.

use proptest::prelude::*;

use super::*;

const HASH: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

fn community() -> String {
    format!("0x02{}", "ab".repeat(32))
}

fn status_go_magnet() -> Magnet {
    Magnet {
        info_hash: HASH.parse().unwrap(),
        display_name: Some(community()),
        trackers: crate::DEFAULT_TRACKERS.map(String::from).to_vec(),
        peers: Vec::new(),
    }
}

fn reason(link: &str) -> (&'static str, &'static str) {
    match link.parse::<Magnet>() {
        Err(Error::InvalidMagnet { part, reason }) => (part, reason),
        other => panic!("expected an invalid-magnet error for {link:?}, got {other:?}"),
    }
}

#[test]
fn renders_exactly_as_status_go_with_the_default_trackers() {
    let expected = format!(
        "magnet:?xt=urn:btih:{HASH}&dn={}\
         &tr=udp%3A%2F%2Ftracker.opentrackr.org%3A1337%2Fannounce\
         &tr=udp%3A%2F%2Ftracker.openbittorrent.com%3A6969%2Fannounce",
        community()
    );
    assert_eq!(status_go_magnet().to_string(), expected);
    assert_eq!(expected.parse::<Magnet>().unwrap(), status_go_magnet());
}

#[test]
fn peers_come_last_and_values_are_escaped_like_go() {
    let mut magnet = Magnet::new(HASH.parse().unwrap());
    magnet.display_name = Some("a b&c=d/é~".into());
    magnet.peers = vec!["127.0.0.1:6881".into(), "[::1]:6881".into()];
    assert_eq!(
        magnet.to_string(),
        format!(
            "magnet:?xt=urn:btih:{HASH}&dn=a+b%26c%3Dd%2F%C3%A9~\
             &x.pe=127.0.0.1%3A6881&x.pe=%5B%3A%3A1%5D%3A6881"
        )
    );
    assert_eq!(magnet.to_string().parse::<Magnet>().unwrap(), magnet);
}

#[test]
fn an_empty_display_name_is_omitted() {
    let mut magnet = Magnet::new(HASH.parse().unwrap());
    magnet.display_name = Some(String::new());
    assert_eq!(magnet.to_string(), format!("magnet:?xt=urn:btih:{HASH}"));
}

#[test]
fn parses_what_other_clients_write() {
    let b32 = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK";
    let upper = format!(
        "MAGNET:?tr=http://127.0.0.1:6969/announce&xt=URN:BTIH:{b32}&foo=bar&&x.pe=127.0.0.1:1#frag"
    );
    let magnet: Magnet = upper.parse().unwrap();
    assert_eq!(magnet.info_hash.to_string(), HASH);
    assert_eq!(magnet.display_name, None);
    assert_eq!(magnet.trackers, ["http://127.0.0.1:6969/announce"]);
    assert_eq!(magnet.peers, ["127.0.0.1:1"]);

    // A v2 URN next to the v1 one is skipped; the same btih twice is fine.
    let hybrid = format!(
        "magnet:?xt=urn:btmh:1220{}&xt=urn:btih:{HASH}&xt=urn:btih:{}",
        "00".repeat(32),
        HASH.to_uppercase()
    );
    assert_eq!(
        hybrid.parse::<Magnet>().unwrap().info_hash.to_string(),
        HASH
    );
}

#[test]
fn bad_links_name_what_is_wrong() {
    assert_eq!(reason(""), ("link", "does not start with magnet:"));
    assert_eq!(reason("http://x"), ("link", "does not start with magnet:"));
    assert_eq!(
        reason("magnet:xt=1"),
        ("link", "has no query after magnet:")
    );
    assert_eq!(reason("magnet:?dn=x"), ("xt", "is missing"));
    assert_eq!(
        reason("magnet:?xt=urn:sha1:abc"),
        ("xt", "has no urn:btih: info hash")
    );
    assert_eq!(
        reason("magnet:?xt=urn:btih:abc"),
        ("xt", "info hash must be 40 hex or 32 base32 characters")
    );
    assert_eq!(
        reason(&format!("magnet:?xt=urn:btih:{}", "z".repeat(40))),
        ("xt", "info hash is not valid hex")
    );
    assert_eq!(
        reason(&format!("magnet:?xt=urn:btih:{}", "1".repeat(32))),
        ("xt", "info hash is not valid base32")
    );
    assert_eq!(
        reason(&format!(
            "magnet:?xt=urn:btih:{HASH}&xt=urn:btih:{}",
            "0".repeat(40)
        )),
        ("xt", "names two different info hashes")
    );
    let ok = format!("magnet:?xt=urn:btih:{HASH}");
    assert_eq!(
        reason(&format!("{ok}&dn=a&dn=b")),
        ("dn", "appears more than once")
    );
    assert_eq!(reason(&format!("{ok}&tr=")), ("tr", "is empty"));
    assert_eq!(reason(&format!("{ok}&x.pe")), ("x.pe", "is empty"));
    assert_eq!(
        reason(&format!("{ok}&dn=%4")),
        ("dn", "has a truncated %-escape")
    );
    assert_eq!(
        reason(&format!("{ok}&tr=%zz")),
        ("tr", "has an invalid %-escape")
    );
    assert_eq!(
        reason(&format!("{ok}&dn=%ff")),
        ("dn", "is not UTF-8 once unescaped")
    );
    assert_eq!(
        reason(&format!("{ok}&%zz=1")),
        ("link", "has an invalid %-escape")
    );
    assert_eq!(
        reason(&format!("{ok}&dn={}", "a".repeat(MAX_MAGNET_LEN))),
        ("link", "is longer than 64 KiB")
    );
    assert_eq!(reason("magné:?x"), ("link", "does not start with magnet:"));
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![".+", "[a-z0-9:/.%+&=#?\\[\\] ]{1,20}"]
}

proptest! {
    #[test]
    fn parsing_arbitrary_strings_never_panics(link in ".*") {
        let _ = link.parse::<Magnet>();
        let _ = format!("magnet:?{link}").parse::<Magnet>();
        let _ = format!("magnet:?xt=urn:btih:{link}").parse::<Magnet>();
    }

    #[test]
    fn rendered_links_parse_back(
        hash in any::<[u8; 20]>(),
        dn in proptest::option::of(text()),
        trackers in proptest::collection::vec(text(), 0..4),
        peers in proptest::collection::vec(text(), 0..3),
    ) {
        let magnet = Magnet { info_hash: InfoHash(hash), display_name: dn, trackers, peers };
        let parsed: Magnet = magnet.to_string().parse().unwrap();
        prop_assert_eq!(parsed, magnet);
    }
}
