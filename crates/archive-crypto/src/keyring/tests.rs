//! The keyring's tests: rekeys, restarts, status-go's window, old headers, wrong keys.

use proptest::prelude::*;

use super::*;
use crate::key::GroupKey;

fn group(byte: u8) -> GroupId {
    GroupId::new(&[byte; 33]).unwrap()
}

fn key(group_byte: u8, timestamp_ms: u64, secret: u8) -> HrKey {
    HrKey {
        group: group(group_byte),
        timestamp_ms,
        key: GroupKey([secret; 32]),
    }
}

fn installation() -> InstallationId {
    InstallationId::new("rust-installation-1").unwrap()
}

fn ring(keys: &[HrKey]) -> Keyring {
    keys.iter().cloned().collect()
}

#[test]
fn sequence_numbers_never_repeat_across_restarts() {
    let k = key(2, 1_000, 1);
    let mut owner = ring(std::slice::from_ref(&k));
    let a = owner
        .encrypt(&group(2), b"a", &installation(), &mut OsNonces)
        .unwrap();
    let b = owner
        .encrypt(&group(2), b"b", &installation(), &mut OsNonces)
        .unwrap();
    assert_eq!((a.seq_no, b.seq_no), (1, 2));
    let saved = owner.counters();
    assert_eq!(
        saved,
        vec![Counters {
            key_id: k.key_id(),
            next_seq: 3,
            last_seen: 0
        }]
    );

    let mut restarted = ring(std::slice::from_ref(&k));
    restarted.restore(&saved);
    // Stale counters never move a key backwards.
    restarted.restore(&[Counters {
        key_id: k.key_id(),
        next_seq: 1,
        last_seen: 0,
    }]);
    let c = restarted
        .encrypt(&group(2), b"c", &installation(), &mut OsNonces)
        .unwrap();
    assert_eq!(c.seq_no, 3);
}

#[test]
fn the_newest_key_encrypts_and_older_ones_still_decrypt() {
    let (old, new) = (key(2, 1_000, 1), key(2, 2_000, 2));
    let mut owner = ring(&[new.clone(), old.clone()]);
    assert_eq!(owner.current(&group(2)), Some(&new));
    let sealed = owner
        .encrypt(&group(2), b"x", &installation(), &mut OsNonces)
        .unwrap();
    assert_eq!(sealed.key_id, new.key_id());
    let by_old = seal_with_key(&old, 5, b"older");
    let mut member = ring(&[old, new]);
    assert_eq!(
        member.decrypt(&sealed.bytes, &group(2)).unwrap().plaintext,
        b"x"
    );
    assert_eq!(
        member.decrypt(&by_old, &group(2)).unwrap().plaintext,
        b"older"
    );
    assert!(matches!(
        Keyring::new().encrypt(&group(2), b"x", &installation(), &mut OsNonces),
        Err(Error::NoKeyForGroup(_))
    ));
}

fn seal_with_key(key: &HrKey, seq_no: u32, plaintext: &[u8]) -> Vec<u8> {
    envelope::seal(key, seq_no, plaintext, &installation(), [3; 12]).unwrap()
}

#[test]
fn a_missing_key_names_its_key_id_and_a_foreign_one_is_refused() {
    let k = key(2, 1_000, 1);
    let blob = seal_with_key(&k, 1, b"x");
    let err = Keyring::new().decrypt(&blob, &group(2)).unwrap_err();
    assert!(
        matches!(err, Error::KeyMissing { key_id: Some(id), deprecated_key_id: 1_000, .. } if id == k.key_id())
    );
    assert!(err.to_string().contains(&k.key_id().to_string()), "{err}");
    let err = ring(&[k]).decrypt(&blob, &group(3)).unwrap_err();
    assert!(matches!(err, Error::WrongGroup { .. }), "{err}");
}

#[test]
fn old_headers_without_key_id_match_by_timestamp_and_group() {
    let k = key(2, (7 << 32) | 1_000, 1);
    let blob = seal_with_key(&k, 2, b"old client");
    let message = parse_hr_message(&blob).unwrap();
    let old_style = HrMessage {
        header: HrHeader {
            key_id: None,
            ..message.header
        },
        ..message
    };
    assert_eq!(old_style.header.deprecated_key_id, 1_000);
    let mut member = ring(&[key(3, 1_000, 1), k.clone()]);
    assert_eq!(member.find(&old_style.header), Some(&k));
    assert_eq!(
        member
            .decrypt_message(&old_style, &group(2))
            .unwrap()
            .plaintext,
        b"old client"
    );
    // Another key of the same group and stamp: found, and refused by AES-GCM.
    let mut impostor = ring(&[key(2, 1_000, 9)]);
    assert!(matches!(
        impostor.decrypt_message(&old_style, &group(2)),
        Err(Error::Authentication { seq_no: 2, .. })
    ));
}

/// One test for both ends of status-go's window, because reaching it
/// costs 100 000 hashes each way (seconds in a debug build).
#[test]
fn the_window_is_100_000_past_the_last_seen_and_encryption_stops_there() {
    let k = key(2, 1_000, 1);
    let mut owner = ring(std::slice::from_ref(&k));
    owner.restore(&[Counters {
        key_id: k.key_id(),
        next_seq: MAX_SEQ_AHEAD,
        last_seen: 0,
    }]);
    let at_limit = owner
        .encrypt(&group(2), b"limit", &installation(), &mut OsNonces)
        .unwrap();
    assert_eq!(at_limit.seq_no, MAX_SEQ_AHEAD);
    assert!(matches!(
        owner.encrypt(&group(2), b"x", &installation(), &mut OsNonces),
        Err(Error::SequenceExhausted { .. })
    ));
    // Past the limit only by hand: one more step from the owner's checkpoint.
    let (at, k_limit) = owner.slots[&k.key_id()].checkpoint;
    assert_eq!(at, MAX_SEQ_AHEAD);
    let too_far = envelope::seal_with(
        &k,
        &ratchet(k_limit, at, at + 1),
        at + 1,
        b"far",
        &installation(),
        [3; 12],
    )
    .unwrap();

    let mut member = ring(std::slice::from_ref(&k));
    assert!(matches!(
        member.decrypt(&too_far, &group(2)),
        Err(Error::SequenceTooFarAhead { seq_no, last_seen: 0, .. }) if seq_no == MAX_SEQ_AHEAD + 1
    ));
    assert_eq!(
        member
            .decrypt(&at_limit.bytes, &group(2))
            .unwrap()
            .plaintext,
        b"limit"
    );
    assert_eq!(
        member.decrypt(&too_far, &group(2)).unwrap().plaintext,
        b"far"
    );
    // Lower numbers (archives read out of order) still open.
    let early = seal_with_key(&k, 3, b"early");
    assert_eq!(
        member.decrypt(&early, &group(2)).unwrap().plaintext,
        b"early"
    );
    assert_eq!(member.counters()[0].last_seen, MAX_SEQ_AHEAD + 1);
    let message = parse_hr_message(&early).unwrap();
    let key_exchange = HrMessage {
        header: HrHeader {
            seq_no: 0,
            ..message.header
        },
        ..message
    };
    assert!(matches!(
        member.decrypt_message(&key_exchange, &group(2)),
        Err(Error::KeyExchange)
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A member holding only (group, timestamp, key) decrypts from any
    /// sequence number, in any order, what an owner encrypted.
    #[test]
    fn members_decrypt_any_sequence_number(
        group_bytes in prop::collection::vec(any::<u8>(), 1..=40),
        timestamp_ms in 1..u64::MAX,
        secret in any::<[u8; 32]>(),
        start in 1u32..1_000,
        plaintexts in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..6),
    ) {
        let group = GroupId::new(&group_bytes).unwrap();
        let k = HrKey { group: group.clone(), timestamp_ms, key: GroupKey(secret) };
        let mut owner = ring(std::slice::from_ref(&k));
        owner.restore(&[Counters { key_id: k.key_id(), next_seq: start, last_seen: 0 }]);
        let sealed: Vec<Sealed> = plaintexts
            .iter()
            .map(|p| owner.encrypt(&group, p, &installation(), &mut OsNonces).unwrap())
            .collect();
        let mut member = ring(&[k]);
        for (s, p) in sealed.iter().zip(&plaintexts).rev() {
            let opened = member.decrypt(&s.bytes, &group).unwrap();
            prop_assert_eq!(&opened.plaintext, p);
            prop_assert_eq!(opened.seq_no, s.seq_no);
        }
    }

    /// A keyring holding only other keys never opens a blob: the key is
    /// missing or AES-GCM refuses, never a misread.
    #[test]
    fn other_keys_never_open(
        secret in any::<[u8; 32]>(),
        other in any::<[u8; 32]>(),
        timestamp_ms in 1..u64::MAX,
        plaintext in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        prop_assume!(secret != other);
        let k = HrKey { group: group(2), timestamp_ms, key: GroupKey(secret) };
        let blob = seal_with_key(&k, 1, &plaintext);
        let mut wrong = ring(&[HrKey { key: GroupKey(other), ..k }]);
        let refused = matches!(
            wrong.decrypt(&blob, &group(2)),
            Err(Error::KeyMissing { .. } | Error::Authentication { .. })
        );
        prop_assert!(refused);
        prop_assert_eq!(wrong.counters()[0].last_seen, 0);
    }
}
