//! The community key file: round trip, permissions, and each kind of bad file.

use std::fs;

use archive_dispatch::{CommunityKey, Error};

const SECRET_HEX: &str = "289c2857d4598e37fb9647507e47a309d6133539bf21a8b9cb6df88fd5232032";

#[test]
fn written_key_reads_back_as_the_same_community() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("community.key");
    let key = CommunityKey::generate();
    key.write_file(&path).unwrap();

    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.len(), 2 + 64 + 1, "{text:?}");
    assert!(text.starts_with("0x") && text.ends_with('\n'));
    assert_eq!(
        CommunityKey::read_file(&path).unwrap().community_id(),
        key.community_id()
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn writing_never_replaces_an_existing_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("community.key");
    CommunityKey::generate().write_file(&path).unwrap();
    let before = fs::read(&path).unwrap();
    let err = CommunityKey::generate().write_file(&path).unwrap_err();
    assert!(matches!(err, Error::KeyFileExists { .. }), "{err}");
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn lenient_about_case_and_trailing_whitespace_only() {
    let dir = tempfile::tempdir().unwrap();
    let expected = {
        let path = dir.path().join("reference");
        fs::write(&path, format!("0x{SECRET_HEX}")).unwrap();
        CommunityKey::read_file(&path).unwrap().community_id()
    };
    for text in [
        format!("0x{SECRET_HEX}\n"),
        format!("0x{SECRET_HEX}\r\n"),
        format!("0X{}  \n", SECRET_HEX.to_uppercase()),
    ] {
        let path = dir.path().join("k");
        fs::write(&path, &text).unwrap();
        assert_eq!(
            CommunityKey::read_file(&path).unwrap().community_id(),
            expected,
            "{text:?}"
        );
    }
}

#[test]
fn bad_key_files_have_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent");
    let err = CommunityKey::read_file(&missing).unwrap_err();
    assert!(
        matches!(err, Error::KeyFileMissing { ref path } if *path == missing),
        "{err}"
    );
    assert!(err.to_string().contains("does not exist"));

    let padded = format!("0x{SECRET_HEX}{}", " ".repeat(2000));
    let cases: [(&str, &[u8]); 8] = [
        ("huge", padded.as_bytes()),
        ("no prefix", SECRET_HEX.as_bytes()),
        (
            "leading space",
            b" 0x289c2857d4598e37fb9647507e47a309d6133539bf21a8b9cb6df88fd5232032",
        ),
        ("short", b"0x289c"),
        (
            "two lines",
            b"0x289c2857d4598e37fb9647507e47a309d6133539bf21a8b9cb6df88fd5232032\n0x00",
        ),
        (
            "not hex",
            b"0xzz9c2857d4598e37fb9647507e47a309d6133539bf21a8b9cb6df88fd5232032",
        ),
        ("binary", &[0xff, 0xfe, 0x00, 0x01]),
        ("empty", b""),
    ];
    for (name, contents) in cases {
        let path = dir.path().join(name);
        fs::write(&path, contents).unwrap();
        let err = CommunityKey::read_file(&path).unwrap_err();
        assert!(matches!(err, Error::KeyFileFormat { .. }), "{name}: {err}");
    }

    for (name, scalar) in [
        ("zero", "0".repeat(64)),
        // The curve order n itself.
        (
            "order",
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141".to_owned(),
        ),
    ] {
        let path = dir.path().join(name);
        fs::write(&path, format!("0x{scalar}\n")).unwrap();
        let err = CommunityKey::read_file(&path).unwrap_err();
        assert!(
            matches!(err, Error::KeyFileInvalidKey { .. }),
            "{name}: {err}"
        );
    }
}

#[test]
fn reading_a_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = CommunityKey::read_file(dir.path()).unwrap_err();
    assert!(matches!(err, Error::KeyFileIo { .. }), "{err}");
}
