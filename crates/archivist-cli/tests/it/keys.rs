//! `archivist keys new`, and `inspect`/`verify --keys` on an encrypted community.

use std::{os::unix::fs::PermissionsExt, path::Path};

use archive_crypto::{HrKey, InstallationId, Keyring, OsNonces, parse_key_file};
use archive_index::{
    Archive, ArchiveMetadata, IndexEntry, Message, TimeRange, Topic, TorrentIndex, padded_size,
};

use super::*;

/// Makes a key for [`COMMUNITY`] at `path` with `archivist keys new`.
fn new_key(path: &Path) -> HrKey {
    let report = archivist_json(&[
        "keys",
        "new",
        "--community",
        COMMUNITY,
        "--out",
        path.to_str().unwrap(),
    ]);
    let mut keys = parse_key_file(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(keys.len(), 1);
    let key = keys.remove(0);
    assert_eq!(report["key_id"], key.key_id().to_string());
    assert_eq!(key.group.to_string(), COMMUNITY);
    key
}

/// Writes a community folder `root/<COMMUNITY>` whose one archive (three
/// messages) and index are encrypted with `key`, as an encrypting owner lays
/// them out: padding and offsets over the ciphertext. Returns the folder and
/// the archive ID.
fn encrypted_community(root: &Path, key: &HrKey) -> (std::path::PathBuf, String) {
    let dir = root.join(COMMUNITY);
    std::fs::create_dir_all(&dir).unwrap();
    let metadata = ArchiveMetadata::new(
        TimeRange {
            from: D1,
            to: D1 + DAY,
        },
        vec![Topic([0xde, 0xad, 0xbe, 0xef])],
    );
    let archive = Archive {
        metadata: metadata.clone(),
        messages: (0..3u8)
            .map(|i| Message {
                sig: vec![1; 65],
                timestamp: D1 + u64::from(i),
                topic: Topic([0xde, 0xad, 0xbe, 0xef]),
                payload: vec![i; 10],
                padding: vec![],
                hash: vec![i; 32],
                third_party_id: String::new(),
            })
            .collect(),
    };
    let mut keyring = Keyring::new();
    keyring.insert(key.clone());
    let installation = InstallationId::random().unwrap();
    let sealed = keyring
        .encrypt(&key.group, &archive.encode(), &installation, &mut OsNonces)
        .unwrap()
        .bytes;
    let (size, padding) = padded_size(sealed.len() as u64);
    let mut data = sealed;
    data.resize(size as usize, 0);
    std::fs::write(dir.join("data"), &data).unwrap();
    let mut index = TorrentIndex::new();
    let id = index
        .insert(IndexEntry {
            version: 0,
            metadata,
            offset: 0,
            size,
            padding,
        })
        .unwrap();
    let index = keyring
        .encrypt(&key.group, &index.encode(), &installation, &mut OsNonces)
        .unwrap()
        .bytes;
    std::fs::write(dir.join("index"), index).unwrap();
    (dir, id.to_string())
}

#[test]
fn keys_new_writes_a_private_key_file_and_never_overwrites_it() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("keys.json");
    new_key(&path);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    let text = std::fs::read(&path).unwrap();

    let again = archivist(&[
        "keys",
        "new",
        "--community",
        COMMUNITY,
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        text,
        "the key file is untouched"
    );
    let leftovers = std::fs::read_dir(tmp.path()).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file is left behind");
}

#[test]
fn inspect_and_verify_read_an_encrypted_community_with_its_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys.json");
    let key = new_key(&keys);
    let (dir, id) = encrypted_community(tmp.path(), &key);
    let keys = keys.to_str().unwrap();
    let dir = dir.to_str().unwrap();
    let index = format!("{dir}/index");

    let listed = archivist_json(&["inspect", "index", &index, "--json", "--keys", keys]);
    assert_eq!(listed["archives"][0]["id"], id.as_str());
    assert_eq!(listed["archives"].as_array().unwrap().len(), 1);

    let archive = archivist_json(&[
        "inspect", "archive", dir, "--id", &id, "--json", "--keys", keys,
    ]);
    assert_eq!(archive["messages"].as_array().unwrap().len(), 3);
    assert_eq!(archive["messages"][2]["timestamp"], D1 + 2);

    let verified = archivist_json(&["verify", dir, "--json", "--keys", keys]);
    assert_eq!(verified["archives"], 1);
    assert_eq!(verified["messages"], 3);
}

#[test]
fn reading_an_encrypted_community_without_its_key_names_the_key_id() {
    let tmp = tempfile::tempdir().unwrap();
    let key = new_key(&tmp.path().join("keys.json"));
    let other = tmp.path().join("other.json");
    new_key(&other);
    let (dir, id) = encrypted_community(tmp.path(), &key);
    let dir = dir.to_str().unwrap();
    let index = format!("{dir}/index");
    let key_id = key.key_id().to_string();

    let other = other.to_str().unwrap();
    for args in [
        vec!["inspect", "index", index.as_str()],
        vec!["inspect", "index", index.as_str(), "--keys", other],
        vec!["inspect", "archive", dir, "--id", id.as_str()],
        vec!["verify", dir, "--keys", other],
    ] {
        let out = archivist(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.matches(&key_id).count(),
            1,
            "{args:?} names the missing key ID once: {stderr}"
        );
        assert_eq!(
            stderr.lines().count(),
            1,
            "{args:?}: one error line: {stderr}"
        );
    }
}

#[test]
fn keys_import_is_idempotent_and_export_writes_them_back() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("first.json");
    let second = tmp.path().join("second.json");
    let keys = [new_key(&first), new_key(&second)];
    let db = tmp.path().join("store.sqlite");
    let db = db.to_str().unwrap();

    let imported = archivist_json(&["keys", "import", "--db", db, first.to_str().unwrap()]);
    assert_eq!(
        (
            imported["new"].as_u64(),
            imported["already_present"].as_u64()
        ),
        (Some(1), Some(0))
    );
    let again = archivist_json(&["keys", "import", "--db", db, first.to_str().unwrap()]);
    assert_eq!(
        (again["new"].as_u64(), again["already_present"].as_u64()),
        (Some(0), Some(1))
    );
    let more = archivist_json(&["keys", "import", "--db", db, second.to_str().unwrap()]);
    assert_eq!(more["new"], 1);
    assert_eq!(more["communities"][0], COMMUNITY);

    let out = tmp.path().join("exported.json");
    let exported = archivist_json(&[
        "keys",
        "export",
        "--db",
        db,
        "--community",
        COMMUNITY,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(exported["keys"], 2);
    let mode = std::fs::metadata(&out).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    let mut read_back = parse_key_file(&std::fs::read(&out).unwrap()).unwrap();
    let mut expected = keys.to_vec();
    read_back.sort_by_key(|k| (k.timestamp_ms, k.key.0));
    expected.sort_by_key(|k| (k.timestamp_ms, k.key.0));
    assert!(
        read_back == expected,
        "the exported keys are the imported ones"
    );

    let refused = archivist(&[
        "keys",
        "export",
        "--db",
        db,
        "--community",
        COMMUNITY,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        !refused.status.success(),
        "an existing key file is never overwritten"
    );

    let other = "0x03bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    let none = archivist(&[
        "keys",
        "export",
        "--db",
        db,
        "--community",
        other,
        "--out",
        tmp.path().join("none.json").to_str().unwrap(),
    ]);
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("holds no keys"));
    assert!(!tmp.path().join("none.json").exists());
}

/// `create --keys` seals what it writes: the index and archives open with the
/// key (and two weeks make two archives), and are refused without it.
#[test]
fn create_with_keys_writes_a_sealed_community_folder() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    new_key(&keys);
    let messages = dir.path().join("week.jsonl");
    write_jsonl(
        &messages,
        &[
            line(D1 + 1, "0x01", TOPIC),
            line(D1 + 7 * DAY + 1, "0x02", TOPIC),
        ],
    );
    let out = dir.path().join("archivedata");
    let (from, to) = (D1.to_string(), (D1 + 14 * DAY).to_string());
    let created = archivist_json(&[
        "create",
        "--messages",
        messages.to_str().unwrap(),
        "--community",
        COMMUNITY,
        "--topics",
        TOPIC,
        "--from",
        &from,
        "--to",
        &to,
        "--out",
        out.to_str().unwrap(),
        "--keys",
        keys.to_str().unwrap(),
    ]);
    assert_eq!(
        created["archives"].as_array().unwrap().len(),
        2,
        "{created}"
    );
    let index = out.join(COMMUNITY).join("index");
    let bytes = std::fs::read(&index).unwrap();
    assert!(matches!(
        archive_crypto::detect_index(&bytes),
        archive_crypto::Detected::Encrypted(_)
    ));
    let index = index.to_str().unwrap();
    let keys = keys.to_str().unwrap();
    let listed = archivist_json(&["inspect", "index", index, "--json", "--keys", keys]);
    assert_eq!(listed["archives"].as_array().unwrap().len(), 2);
    let folder = out.join(COMMUNITY);
    let verified = archivist(&["verify", folder.to_str().unwrap(), "--keys", keys]);
    assert!(verified.status.success(), "{verified:?}");
    assert!(!archivist(&["inspect", "index", index]).status.success());
}
