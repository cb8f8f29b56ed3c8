//! Properties of `archive-crypto`'s decrypting decoder: hash-ratchet blobs
//! from strangers, and blobs we sealed with one bit flipped.

use arbitrary::{Arbitrary, Unstructured};
use archive_crypto::{
    Detected, FixedNonce, GroupId, GroupKey, HrKey, InstallationId, Keyring, archive_plaintext,
    detect_archive, detect_index, parse_hr_message,
};

use crate::heap;

/// Heap a decryption may take beyond the plaintext (which is never longer
/// than the input): none is expected, this is slack for the allocator.
const DECRYPT_HEAP_SLACK: usize = 1024;

fn key(timestamp_ms: u64) -> HrKey {
    HrKey {
        group: GroupId::new(&[0x02; 33]).expect("a valid group"),
        timestamp_ms,
        key: GroupKey([0x33; 32]),
    }
}

fn keyring(key: &HrKey) -> Keyring {
    let mut ring = Keyring::new();
    ring.insert(key.clone());
    ring
}

/// Even first byte: the rest is a received blob, read by a member holding
/// one key. Decryption and detection never panic; decryption allocates no
/// more than the input; detection's verdict is the envelope parser's, and a
/// blob that opens is at least its tag and nonce longer than its plaintext.
///
/// Odd: the rest picks a timestamp, a sequence number, a plaintext, a nonce
/// and one bit to flip. The sealed blob is detected as encrypted and opens to
/// the plaintext; with the bit flipped it is refused with a typed error or
/// opens to the very same plaintext, never to other bytes.
pub fn hr_decrypt(data: &[u8]) {
    let [mode, rest @ ..] = data else {
        return;
    };
    if mode % 2 == 0 {
        let key = key(1_700_000_000_010);
        let mut ring = keyring(&key);
        let (opened, heap) = heap::peak_during(|| ring.decrypt(rest, &key.group));
        assert!(
            heap <= rest.len() + DECRYPT_HEAP_SLACK,
            "decrypting {} bytes took {heap} heap bytes",
            rest.len()
        );
        if let Ok(opened) = opened {
            assert!(opened.plaintext.len() + 28 <= rest.len());
        }
        for detected in [detect_archive(rest), detect_index(rest)] {
            if let Detected::Encrypted(message) = detected {
                assert_eq!(parse_hr_message(rest).ok(), Some(message));
            }
        }
        let _ = archive_plaintext(&mut keyring(&key), rest, &key.group);
        return;
    }
    let mut u = Unstructured::new(rest);
    let Ok((timestamp_ms, seq, plaintext, nonce, flip)) =
        <(u64, u16, Vec<u8>, [u8; 12], u32)>::arbitrary(&mut u)
    else {
        return;
    };
    let key = key(timestamp_ms.max(1));
    let mut owner = keyring(&key);
    owner.restore(&[archive_crypto::Counters {
        key_id: key.key_id(),
        next_seq: u32::from(seq % 1_000) + 1,
        last_seen: 0,
    }]);
    let installation = InstallationId::new("rust-installation-1").expect("a valid ID");
    let sealed = owner
        .encrypt(&key.group, &plaintext, &installation, &mut FixedNonce(nonce))
        .expect("sealing works");
    assert!(matches!(detect_archive(&sealed.bytes), Detected::Encrypted(_)));
    let opened = keyring(&key)
        .decrypt(&sealed.bytes, &key.group)
        .expect("a sealed blob opens");
    assert_eq!(opened.plaintext, plaintext);

    let mut flipped = sealed.bytes;
    let bit = flip as usize % (flipped.len() * 8);
    flipped[bit / 8] ^= 1 << (bit % 8);
    if let Ok(opened) = keyring(&key).decrypt(&flipped, &key.group) {
        assert_eq!(
            opened.plaintext, plaintext,
            "flipping bit {bit} changed the plaintext"
        );
    }
}
