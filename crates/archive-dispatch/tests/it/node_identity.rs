//! The node identity file: created once on first start (mode 0600), read
//! back unchanged on every later start, bad files refused with their reason.

use std::{fs, sync::Arc, thread};

use archive_dispatch::{Error, NODE_IDENTITY_FILE, NodeIdentity};

#[test]
fn first_start_creates_the_identity_and_later_starts_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(NODE_IDENTITY_FILE);
    let created = NodeIdentity::load_or_create(&path).unwrap();
    let again = NodeIdentity::load_or_create(&path).unwrap();
    assert_eq!(again.public_key(), created.public_key());
    assert_eq!(again.installation_id(), created.installation_id());
    assert_eq!(created.installation_id().len(), 36);

    let text = fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text:?}");
    assert!(lines[0].starts_with("0x") && lines[0].len() == 66);
    assert_eq!(lines[1], created.installation_id());
    // Nothing but the identity is left in the directory.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn racing_first_starts_agree_on_one_identity() {
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join(NODE_IDENTITY_FILE));
    let starts: Vec<_> = (0..8)
        .map(|_| {
            let path = path.clone();
            thread::spawn(move || NodeIdentity::load_or_create(&*path).unwrap().public_key())
        })
        .collect();
    let keys: Vec<_> = starts.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(keys.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_written_identity_reads_back_and_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.key");
    let identity = NodeIdentity::from_parts(&[0x22; 32], "rust-installation-1").unwrap();
    identity.write_file(&path).unwrap();
    let read = NodeIdentity::read_file(&path).unwrap();
    assert_eq!(read.public_key(), identity.public_key());
    assert_eq!(read.installation_id(), "rust-installation-1");
    assert!(matches!(
        NodeIdentity::generate().write_file(&path),
        Err(Error::KeyFileExists { .. })
    ));
}

#[test]
fn bad_identity_files_are_refused_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let key_line = format!("0x{}", "22".repeat(32));
    for (name, contents, reason) in [
        ("no-id", format!("{key_line}\n"), "installation ID"),
        ("empty-id", format!("{key_line}\n\n"), "installation ID"),
        (
            "spaced-id",
            format!("{key_line}\nhas space\n"),
            "installation ID",
        ),
        (
            "three",
            format!("{key_line}\nid\nmore\n"),
            "more than two lines",
        ),
        ("short-key", "0x1234\nid\n".to_owned(), "64 hex digits"),
        ("no-prefix", format!("{}\nid\n", "22".repeat(32)), "0x"),
    ] {
        let path = dir.path().join(name);
        fs::write(&path, contents).unwrap();
        let err = NodeIdentity::read_file(&path).unwrap_err();
        assert!(
            matches!(err, Error::KeyFileFormat { .. }) && err.to_string().contains(reason),
            "{name}: {err}"
        );
        // A bad file is an error at start, never silently replaced.
        assert!(NodeIdentity::load_or_create(&path).is_err(), "{name}");
    }
    let zero = dir.path().join("zero");
    fs::write(&zero, format!("0x{}\nid\n", "00".repeat(32))).unwrap();
    assert!(matches!(
        NodeIdentity::read_file(&zero),
        Err(Error::KeyFileInvalidKey { .. })
    ));
    assert!(matches!(
        NodeIdentity::load_or_create(dir.path().join("missing-dir").join("node.key")),
        Err(Error::KeyFileIo { .. })
    ));
}
