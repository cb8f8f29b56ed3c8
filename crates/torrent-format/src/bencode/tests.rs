//! Tests of the bencode encoder and the bounded decoder.

use proptest::prelude::*;

use super::*;

fn reason(input: &[u8]) -> &'static str {
    match decode(input) {
        Err(Error::Bencode { reason, .. }) => reason,
        other => panic!("expected a bencode error for {input:?}, got {other:?}"),
    }
}

#[test]
fn dictionaries_encode_with_keys_sorted_bytewise() {
    let dict = Enc::Dict(BTreeMap::from([
        (&b"pieces"[..], Enc::Bytes(b"ab")),
        (&b"piece length"[..], Enc::UInt(102_400)),
        (&b"name"[..], Enc::Bytes(b"x")),
        (&b"files"[..], Enc::List(vec![Enc::Int(-3)])),
    ]));
    assert_eq!(
        dict.to_vec(),
        b"d5:filesli-3ee4:name1:x12:piece lengthi102400e6:pieces2:abe"
    );
}

#[test]
fn decoding_keeps_the_raw_bytes_of_each_value() {
    let input = b"d1:ad1:bi1ee1:cl0:ee";
    let Value::Dict(dict) = decode(input).unwrap() else {
        panic!("not a dict")
    };
    assert_eq!(dict.raw("a"), Some(&b"d1:bi1ee"[..]));
    assert_eq!(dict.raw("c"), Some(&b"l0:e"[..]));
    assert!(matches!(dict.get("c"), Some(Value::List(items)) if items.len() == 1));
    assert!(dict.get("z").is_none());
}

#[test]
fn unsorted_keys_are_accepted_but_repeated_keys_are_not() {
    assert!(decode(b"d1:bi1e1:ai2ee").is_ok());
    assert_eq!(
        reason(b"d1:ai1e1:bi1e1:ai2ee"),
        "dictionary has a repeated key"
    );
}

#[test]
fn malformed_input_is_a_typed_error() {
    assert_eq!(reason(b""), "unexpected end of input");
    assert_eq!(reason(b"i1"), "unexpected end of input");
    assert_eq!(reason(b"i1ei2e"), "trailing bytes after the value");
    assert_eq!(reason(b"i01e"), "integer is not in canonical form");
    assert_eq!(reason(b"i-0e"), "integer is not in canonical form");
    assert_eq!(reason(b"ie"), "empty integer");
    assert_eq!(reason(b"i1x"), "expected a digit");
    assert_eq!(reason(b"i99999999999999999999e"), "integer out of range");
    assert_eq!(reason(b"5:abc"), "string runs past the end of input");
    assert_eq!(
        reason(b"18446744073709551615:x"),
        "integer out of range",
        "a length beyond i64 is refused before any slicing"
    );
    assert_eq!(reason(b"-1:x"), "expected i, l, d or a digit");
    assert_eq!(reason(b"di1ei1ee"), "dictionary key is not a byte string");
    assert_eq!(reason(b"x"), "expected i, l, d or a digit");
    assert_eq!(reason(&[b'l'; 10_000]), "nested too deeply");
}

#[test]
fn extreme_integers_round_trip() {
    for n in [i64::MIN, -1, 0, 1, i64::MAX] {
        let bytes = Enc::Int(n).to_vec();
        assert!(matches!(decode(&bytes), Ok(Value::Int(m)) if m == n));
    }
    assert_eq!(Enc::UInt(u64::MAX).to_vec(), b"i18446744073709551615e");
}

proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn decoding_bencode_like_bytes_never_panics(
        bytes in proptest::collection::vec(
            prop::sample::select(b"ilde0123456789:-".to_vec()), 0..128)
    ) {
        let _ = decode(&bytes);
    }
}
