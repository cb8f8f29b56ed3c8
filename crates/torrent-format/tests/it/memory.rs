//! Parsers keep their peak heap within 8 × the input: bencode (a list of
//! empty strings used to cost 24 times its size), `.torrent` files and
//! magnet links; what is too dense to decode in that is a typed error.

use torrent_format::{Error, Magnet, Metainfo, bencode};

use crate::{assert_within_budget, peak_during, pieces_field, serial, torrent};

#[test]
fn a_bencode_list_of_empty_strings_is_refused_within_eight_times_its_size() {
    let _serial = serial();
    let bytes = [b"l".as_slice(), &b"0:".repeat(2 << 20), b"e"].concat();
    let (result, peak) = peak_during(|| bencode::decode(&bytes).map(drop));
    let err = result.unwrap_err();
    assert!(
        err.to_string().contains("more values than its size allows"),
        "{err}"
    );
    assert_within_budget("bencode list of empty strings", bytes.len(), peak);
}

#[test]
fn a_torrent_of_empty_tracker_strings_is_refused_within_eight_times_its_size() {
    let _serial = serial();
    let tier = format!("l{}e", "0:".repeat(2 << 20));
    let bytes = torrent(
        &format!("13:announce-listl{tier}e"),
        &format!(
            "5:filesld6:lengthi10e4:pathl4:dataeee4:name4:abcd12:piece lengthi102400e{}",
            pieces_field(1)
        ),
    );
    let (result, peak) = peak_during(|| Metainfo::from_bytes(&bytes).map(drop));
    assert!(matches!(result, Err(Error::Bencode { .. })), "{result:?}");
    assert_within_budget(".torrent of empty strings", bytes.len(), peak);
}

#[test]
fn a_large_honest_torrent_parses_within_eight_times_its_size() {
    let _serial = serial();
    let pieces = 200_000;
    let bytes = torrent(
        "13:announce-listll21:udp://tracker.exampleee",
        &format!(
            "5:filesld6:lengthi{}e4:pathl4:dataeed6:lengthi1e4:pathl5:indexeee\
             4:name4:abcd12:piece lengthi102400e{}",
            (pieces - 1) * 102_400,
            pieces_field(pieces)
        ),
    );
    let (result, peak) = peak_during(|| Metainfo::from_bytes(&bytes));
    assert_eq!(result.unwrap().info().pieces.len(), pieces);
    assert_within_budget(".torrent of 200 000 pieces", bytes.len(), peak);
}

#[test]
fn a_magnet_of_many_short_trackers_parses_within_eight_times_its_size() {
    let _serial = serial();
    let mut link = format!("magnet:?xt=urn:btih:{}", "ab".repeat(20));
    while link.len() + 5 <= torrent_format::MAX_MAGNET_LEN {
        link.push_str("&tr=x");
    }
    let (result, peak) = peak_during(|| link.parse::<Magnet>());
    assert!(result.unwrap().trackers.len() > 10_000);
    // Tiny by the allowance's standard, so held to the ratio alone.
    assert!(
        peak <= 8 * link.len(),
        "peak heap {peak} for {}",
        link.len()
    );
}
