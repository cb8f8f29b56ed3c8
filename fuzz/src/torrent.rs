//! Properties of `torrent-format`'s parsers: bencode, `.torrent` files and
//! magnet links.

use arbitrary::{Arbitrary, Unstructured};
use torrent_format::{
    InfoHash, Magnet, Metainfo,
    bencode::{self, Value},
};

use crate::heap;

/// Every parser's promise: peak heap within 8 × its input plus the fixed
/// allowance, whether it accepts the input or not.
fn assert_within_budget(what: &str, input: usize, heap: usize) {
    let bound = bencode::HEAP_PER_INPUT_BYTE * input + bencode::HEAP_ALLOWANCE;
    assert!(
        heap <= bound,
        "parsing a {what} of {input} bytes took {heap} heap bytes, over {bound}"
    );
}

/// A reference encoder, independent of `bencode::Enc`: dictionaries with keys
/// sorted byte-wise, as BEP 3 requires.
fn encode(value: &Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Int(n) => out.extend_from_slice(format!("i{n}e").as_bytes()),
        Value::Bytes(b) => {
            out.extend_from_slice(format!("{}:", b.len()).as_bytes());
            out.extend_from_slice(b);
        }
        Value::List(items) => {
            out.push(b'l');
            items.iter().for_each(|item| encode(item, out));
            out.push(b'e');
        }
        Value::Dict(dict) => {
            let mut entries: Vec<_> = dict.iter().collect();
            entries.sort_by_key(|(key, _)| *key);
            out.push(b'd');
            for (key, value) in entries {
                encode(&Value::Bytes(key), out);
                encode(value, out);
            }
            out.push(b'e');
        }
    }
}

fn sorted_everywhere(value: &Value<'_>) -> bool {
    match value {
        Value::Int(_) | Value::Bytes(_) => true,
        Value::List(items) => items.iter().all(sorted_everywhere),
        Value::Dict(dict) => {
            let keys: Vec<&[u8]> = dict.iter().map(|(k, _)| k).collect();
            keys.is_sorted() && dict.iter().all(|(_, v)| sorted_everywhere(v))
        }
    }
}

fn canonical(value: &Value<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    encode(value, &mut out);
    out
}

/// Whatever decodes re-encodes to bytes that decode to the same value; input
/// whose dictionaries are sorted re-encodes to itself (the decoder accepts only
/// canonical integers and lengths); the raw span kept for each dictionary
/// value decodes to that value.
pub fn bencode_decode(data: &[u8]) {
    let (decoded, heap) = heap::peak_during(|| bencode::decode(data));
    assert_within_budget("bencode", data.len(), heap);
    let Ok(value) = decoded else {
        return;
    };
    // Parts of a document decode within the budget the whole was given (a
    // span alone gets a smaller one: 2 800 bytes of nested empty
    // dictionaries fit 8 × 165 KB but not 8 × their own length).
    let budget = bencode::HEAP_PER_INPUT_BYTE * data.len() + bencode::HEAP_ALLOWANCE;
    let bytes = canonical(&value);
    let again = bencode::decode_within(&bytes, budget).expect("a canonical encoding decodes");
    assert_eq!(
        canonical(&again),
        bytes,
        "decode → encode → decode changed the value"
    );
    if sorted_everywhere(&value) {
        assert_eq!(bytes, data, "canonical input did not re-encode to itself");
    }
    if let Value::Dict(dict) = &value {
        for (key, entry) in dict.iter() {
            let Ok(key) = std::str::from_utf8(key) else {
                continue;
            };
            let raw = dict.raw(key).expect("a key that iter() listed has a span");
            let span = bencode::decode_within(raw, budget)
                .expect("a value's span decodes on its own within the document's budget");
            assert_eq!(
                canonical(&span),
                canonical(entry),
                "the span of {key:?} is not its value"
            );
        }
    }
}

/// A parsed `.torrent` has exactly the piece hashes its files need, its
/// infohash is over the `info` bytes found, it writes back to bytes that parse
/// to the same torrent, and its magnet link parses back to the same link.
pub fn torrent_parse(data: &[u8]) {
    let (parsed, heap) = heap::peak_during(|| Metainfo::from_bytes(data));
    assert_within_budget(".torrent", data.len(), heap);
    let Ok(metainfo) = parsed else {
        return;
    };
    let mut paths: Vec<_> = metainfo.info().files.iter().map(|f| &f.path).collect();
    paths.sort();
    assert!(
        paths.windows(2).all(|w| w[0] != w[1]),
        "a torrent listing one path twice parsed"
    );
    if let Ok(community) = metainfo.community() {
        metainfo
            .check_community(&community)
            .expect("a torrent is named after its own community");
        metainfo
            .magnet()
            .check_community(&community)
            .expect("a torrent's magnet names its own community");
    }
    let info = metainfo.info();
    assert_eq!(
        info.pieces.len() as u64,
        info.total_length().div_ceil(info.piece_length),
        "piece count does not cover the files exactly"
    );
    assert_eq!(
        metainfo.info_hash(),
        InfoHash::of_info_bytes(metainfo.info_bytes())
    );
    assert!(
        matches!(bencode::decode(metainfo.info_bytes()), Ok(Value::Dict(_))),
        "the info bytes are not the info dictionary"
    );
    let bytes = metainfo.to_bytes();
    let again = Metainfo::from_bytes(&bytes).expect("a written torrent parses");
    assert_eq!(again, metainfo, "parse → write → parse changed the torrent");
    assert_eq!(again.to_bytes(), bytes, "writing is not deterministic");

    let magnet = metainfo.magnet();
    let link = magnet.to_string();
    let parsed: Magnet = link
        .parse()
        .unwrap_or_else(|e| panic!("the torrent's own magnet {link:?} does not parse: {e}"));
    assert_eq!(parsed, magnet);
}

/// What a link is expected to parse back to once rendered: an empty display
/// name is not rendered, as in Go.
fn normalized(mut magnet: Magnet) -> Magnet {
    if magnet.display_name.as_deref() == Some("") {
        magnet.display_name = None;
    }
    magnet
}

/// First byte even: the rest is a link to parse; whatever parses renders to a
/// link that parses to the same magnet, and renders the same again.
/// Odd: the rest builds a magnet; parsing its rendering gives it back, except
/// that empty trackers and peers are refused.
pub fn magnet_parse(data: &[u8]) {
    let [mode, rest @ ..] = data else {
        return;
    };
    if mode % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        let (parsed, heap) = heap::peak_during(|| text.parse::<Magnet>());
        assert_within_budget("magnet", text.len(), heap);
        let Ok(magnet) = parsed else {
            return;
        };
        let rendered = magnet.to_string();
        let again: Magnet = rendered.parse().unwrap_or_else(|e| {
            panic!("{rendered:?}, rendered from {text:?}, does not parse: {e}")
        });
        assert_eq!(again, normalized(magnet));
        assert_eq!(again.to_string(), rendered, "rendering is not canonical");
        return;
    }
    let mut u = Unstructured::new(rest);
    let Ok((hash, display_name, trackers, peers)) =
        <([u8; 20], Option<String>, Vec<String>, Vec<String>)>::arbitrary(&mut u)
    else {
        return;
    };
    let magnet = Magnet {
        info_hash: InfoHash(hash),
        display_name,
        trackers,
        peers,
    };
    let rendered = magnet.to_string();
    let parsed = rendered.parse::<Magnet>();
    let has_empty = magnet
        .trackers
        .iter()
        .chain(&magnet.peers)
        .any(String::is_empty);
    match parsed {
        Ok(parsed) => {
            assert!(
                !has_empty,
                "{rendered:?} with an empty tracker or peer parsed"
            );
            assert_eq!(
                parsed,
                normalized(magnet),
                "render → parse changed the magnet"
            );
        }
        Err(e) => assert!(has_empty, "{rendered:?} does not parse: {e}"),
    }
}
