//! `archivist keygen`.

use super::*;

#[test]
fn keygen_writes_a_key_and_never_overwrites_it() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("owner.key");
    let report = archivist_json(&["keygen", "--out", key.to_str().unwrap()]);
    let community = report["community"].as_str().unwrap();
    assert!(community.starts_with("0x02") || community.starts_with("0x03"));
    assert_eq!(community.len(), 68);
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(text.starts_with("0x") && text.trim().len() == 66, "{text}");

    let again = archivist(&["keygen", "--out", key.to_str().unwrap()]);
    assert!(!again.status.success());
    assert_eq!(
        std::fs::read_to_string(&key).unwrap(),
        text,
        "the key is untouched"
    );
}
