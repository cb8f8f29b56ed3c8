//! Interop with an independent implementation of Part B (`part_b.mjs`: plain
//! Node, its own Keccak-256 and protobuf code, AES-GCM from `node:crypto`):
//! a blob this crate encrypts, with the key exported as a key file, decrypts
//! there; a blob encrypted there decrypts here. Needs `node` on the PATH.

use std::{
    path::Path,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use archive_crypto::{
    Counters, Detected, GroupId, HrKey, InstallationId, Keyring, OsNonces, detect_archive,
    write_key_file,
};

const SCRIPT: &str = include_str!("part_b.mjs");
/// Node start-up plus a few hundred Keccak rounds in BigInt arithmetic.
const NODE_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs the script with `args` in `dir`, killing it past the deadline;
/// returns its trimmed stdout.
fn part_b(dir: &Path, args: &[&str]) -> String {
    let script = dir.join("part_b.mjs");
    std::fs::write(&script, SCRIPT).unwrap();
    let mut child = Command::new("node")
        .arg(&script)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is on the PATH");
    let deadline = Instant::now() + NODE_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("node {args:?} ran over {NODE_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "node {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn community() -> GroupId {
    let id: archive_index::CommunityId =
        "0x034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa"
            .parse()
            .unwrap();
    GroupId::from(id)
}

#[test]
fn blobs_encrypted_here_open_in_an_independent_implementation() {
    let dir = tempfile::tempdir().unwrap();
    let key = HrKey::generate(community(), 1_700_000_000_000, None).unwrap();
    write_key_file(&dir.path().join("keys.json"), std::slice::from_ref(&key)).unwrap();

    let mut owner = Keyring::new();
    owner.insert(key.clone());
    // A key that has already sealed a few blobs: the reader must ratchet.
    owner.restore(&[Counters {
        key_id: key.key_id(),
        next_seq: 37,
        last_seen: 0,
    }]);
    let plaintext: Vec<u8> = (0..5_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let installation = InstallationId::random().unwrap();
    let sealed = owner
        .encrypt(&community(), &plaintext, &installation, &mut OsNonces)
        .unwrap();
    assert_eq!(sealed.seq_no, 37);
    std::fs::write(dir.path().join("blob"), &sealed.bytes).unwrap();

    let opened = part_b(dir.path(), &["open", "keys.json", "blob"]);
    assert_eq!(opened, hex::encode(&plaintext));
}

#[test]
fn blobs_encrypted_by_an_independent_implementation_open_here() {
    let dir = tempfile::tempdir().unwrap();
    let key = HrKey::generate(community(), 1_700_000_000_000, None).unwrap();
    write_key_file(&dir.path().join("keys.json"), std::slice::from_ref(&key)).unwrap();
    let plaintext = b"an archive from elsewhere".to_vec();

    let blob = part_b(
        dir.path(),
        &[
            "seal",
            "keys.json",
            "58",
            &hex::encode(&plaintext),
            "rust-installation-1",
        ],
    );
    let blob = hex::decode(blob).unwrap();
    assert!(matches!(detect_archive(&blob), Detected::Encrypted(_)));
    let keys =
        archive_crypto::parse_key_file(&std::fs::read(dir.path().join("keys.json")).unwrap())
            .unwrap();
    let mut member: Keyring = keys.into_iter().collect();
    let opened = member.decrypt(&blob, &community()).unwrap();
    assert_eq!((opened.plaintext, opened.seq_no), (plaintext, 58));
}
