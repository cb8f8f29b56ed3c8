//! status-go's "try plain first" reading of archives and indexes (spec
//! B.7.1), for the compatibility path (`inspect`, `verify`). A community
//! configured as encrypted is read by [`crate::CommunityEnvelope`], which
//! takes a blob as plain only when it holds messages (or entries) and
//! otherwise only decrypts it, so a damaged sealed blob is never read as
//! plain.
//!
//! status-go reads an archive as plain and decrypts only when that fails. Its
//! pitfall: an encrypted blob with an empty installation ID (or one whose
//! bytes parse as a message) *succeeds* as a plain archive with no messages,
//! because `ProtocolMessage`'s fields are unknown to, or collide harmlessly
//! with, `WakuMessageArchive`'s; the archive is then silently lost. Here a
//! plain parse that yields no messages also tries the hash-ratchet envelope.
//! An index has the one field 1, which `ProtocolMessage` lacks, so status-go's
//! rule for it (no entries and not empty ⇒ encrypted) is already robust.
//!
//! The decision walks the top-level fields only; the plain decoders in
//! `archive-index` then validate everything below. On every blob status-go or
//! Archivist writes this agrees with status-go, except where status-go falls
//! into the pitfall.

use std::borrow::Cow;

use crate::{
    envelope::{HrMessage, parse_hr_message},
    error::Result,
    key::GroupId,
    keyring::Keyring,
    wire::{Field, Fields},
};

/// What a downloaded archive or index blob is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detected<'a> {
    /// Plain protobuf: hand the bytes to `archive-index` as they are.
    Plain,
    /// A hash-ratchet message: decrypt it first.
    Encrypted(HrMessage<'a>),
}

/// Counts the length-delimited occurrences of `field` in the top level of
/// `blob`; `None` if the blob does not walk as a protobuf message. A known
/// field with another wire type is skipped, as Go's decoder keeps it as an
/// unknown field.
fn count_top_level(blob: &[u8], field: u32) -> Option<usize> {
    let mut fields = Fields::new(blob);
    let mut count = 0;
    loop {
        match fields.next_field() {
            Ok(Some((number, Field::Bytes(_)))) if number == field => count += 1,
            Ok(Some(_)) => {}
            Ok(None) => return Some(count),
            Err(_) => return None,
        }
    }
}

fn hash_ratchet_or_plain(blob: &[u8]) -> Detected<'_> {
    match parse_hr_message(blob) {
        Ok(message) => Detected::Encrypted(message),
        Err(_) => Detected::Plain,
    }
}

/// Whether `blob` is a plain archive with at least one message (`index`:
/// false) or a plain index with at least one entry (`index`: true): what
/// status-go's "try plain first" reads as plain without a doubt.
pub(crate) fn plain_with_content(blob: &[u8], index: bool) -> bool {
    let field = if index { 1 } else { 3 };
    count_top_level(blob, field).is_some_and(|n| n > 0)
}

/// Decides whether an archive blob (unpadded) is plain or encrypted:
/// plain if it parses as a `WakuMessageArchive` with at least one message;
/// otherwise encrypted if it parses as a hash-ratchet `ProtocolMessage`;
/// otherwise plain (an empty archive, or bytes the archive decoder will
/// refuse with a precise error).
pub fn detect_archive(blob: &[u8]) -> Detected<'_> {
    match count_top_level(blob, 3) {
        Some(messages) if messages > 0 => Detected::Plain,
        _ => hash_ratchet_or_plain(blob),
    }
}

/// Decides whether an index blob (torrent `WakuMessageArchiveIndex` or Codex
/// index) is plain or encrypted: plain if it has an entry or is empty,
/// otherwise encrypted if it parses as a hash-ratchet `ProtocolMessage`.
/// (Where status-go fails on a non-empty, entry-less blob that does not
/// decrypt, this says plain and the index decoder reads it as empty.)
pub fn detect_index(blob: &[u8]) -> Detected<'_> {
    match count_top_level(blob, 1) {
        Some(entries) if entries > 0 => Detected::Plain,
        _ if blob.is_empty() => Detected::Plain,
        _ => hash_ratchet_or_plain(blob),
    }
}

/// The plain archive bytes of `blob`: itself if [`detect_archive`] calls it
/// plain, else its decryption with `keyring` for `group`.
pub fn archive_plaintext<'a>(
    keyring: &mut Keyring,
    blob: &'a [u8],
    group: &GroupId,
) -> Result<Cow<'a, [u8]>> {
    match detect_archive(blob) {
        Detected::Plain => Ok(Cow::Borrowed(blob)),
        Detected::Encrypted(message) => Ok(Cow::Owned(
            keyring.decrypt_message(&message, group)?.plaintext,
        )),
    }
}

/// The plain index bytes of `blob`, as [`archive_plaintext`] with [`detect_index`].
pub fn index_plaintext<'a>(
    keyring: &mut Keyring,
    blob: &'a [u8],
    group: &GroupId,
) -> Result<Cow<'a, [u8]>> {
    match detect_index(blob) {
        Detected::Plain => Ok(Cow::Borrowed(blob)),
        Detected::Encrypted(message) => Ok(Cow::Owned(
            keyring.decrypt_message(&message, group)?.plaintext,
        )),
    }
}

#[cfg(test)]
mod tests {
    use archive_index::{
        Archive, ArchiveMetadata, CodexEntry, CodexIndex, IndexEntry, Message, PIECE_LENGTH,
        TimeRange, Topic, TorrentIndex,
    };
    use archive_proto::{Message as _, protobuf as pb};
    use proptest::prelude::*;

    use super::*;
    use crate::{
        envelope::seal,
        installation::InstallationId,
        key::{GroupKey, HrKey},
    };

    fn metadata() -> ArchiveMetadata {
        ArchiveMetadata::new(
            TimeRange {
                from: 1_600_000_000,
                to: 1_600_604_800,
            },
            vec![Topic([1, 2, 3, 4])],
        )
    }

    fn archive(messages: usize) -> Vec<u8> {
        Archive {
            metadata: metadata(),
            messages: (0..messages)
                .map(|i| Message {
                    sig: vec![1; 65],
                    timestamp: 1_600_000_000 + i as u64,
                    topic: Topic([1, 2, 3, 4]),
                    payload: b"hello".to_vec(),
                    padding: vec![],
                    hash: vec![i as u8; 32],
                    third_party_id: String::new(),
                })
                .collect(),
        }
        .encode()
    }

    fn torrent_index() -> Vec<u8> {
        let mut index = TorrentIndex::new();
        index
            .insert(IndexEntry {
                version: 0,
                metadata: metadata(),
                offset: 0,
                size: PIECE_LENGTH,
                padding: 100,
            })
            .unwrap();
        index.encode()
    }

    fn codex_index() -> Vec<u8> {
        let mut index = CodexIndex::new();
        index.insert(CodexEntry {
            version: 0,
            metadata: metadata(),
            cid: "zDvZRwzm".into(),
        });
        index.encode()
    }

    fn key() -> HrKey {
        HrKey {
            group: GroupId::new(&[3; 33]).unwrap(),
            timestamp_ms: 1_700_000_000_010,
            key: GroupKey([0x33; 32]),
        }
    }

    fn encrypt(plaintext: &[u8], installation_id: &str) -> Vec<u8> {
        let id = InstallationId::new(installation_id).unwrap();
        seal(&key(), 1, plaintext, &id, [5; 12]).unwrap()
    }

    /// What proto3 writes for an empty installation ID: the blob without its
    /// field 2 — what Archivist never writes.
    fn without_installation_id(blob: &[u8]) -> Vec<u8> {
        assert_eq!(blob[0], 0x12);
        blob[2 + usize::from(blob[1])..].to_vec()
    }

    #[test]
    fn plain_blobs_are_plain_and_encrypted_ones_encrypted() {
        for plain in [archive(1), archive(3)] {
            assert_eq!(detect_archive(&plain), Detected::Plain);
            let sealed = encrypt(&plain, "rust-installation-1");
            assert!(matches!(detect_archive(&sealed), Detected::Encrypted(_)));
        }
        for plain in [torrent_index(), codex_index()] {
            assert_eq!(detect_index(&plain), Detected::Plain);
            let sealed = encrypt(&plain, "rust-installation-1");
            assert!(matches!(detect_index(&sealed), Detected::Encrypted(_)));
            // status-go's index rule, reproduced with a protobuf decoder:
            // the encrypted index parses, with no entries.
            let as_plain = pb::WakuMessageArchiveIndex::decode(sealed.as_slice()).unwrap();
            assert!(as_plain.archives.is_empty());
        }
        assert_eq!(detect_index(&[]), Detected::Plain);
        // An archive with no messages is still plain: it is no HR message.
        assert_eq!(detect_archive(&archive(0)), Detected::Plain);
        assert_eq!(detect_archive(b"\xff garbage"), Detected::Plain);
    }

    #[test]
    fn the_empty_installation_id_pitfall_is_avoided() {
        let plain = archive(2);
        let pitfall = without_installation_id(&encrypt(&plain, "rust-installation-1"));
        // status-go's rule, reproduced with a protobuf decoder: the blob
        // parses as a plain archive with no messages, so it never decrypts.
        let as_plain = pb::WakuMessageArchive::decode(pitfall.as_slice()).unwrap();
        assert!(as_plain.messages.is_empty() && as_plain.metadata.is_none());
        // Here it is recognised and opened.
        let Detected::Encrypted(message) = detect_archive(&pitfall) else {
            panic!("the pitfall blob was read as plain");
        };
        assert_eq!(message.installation_id, "");
        let mut keyring = Keyring::new();
        keyring.insert(key());
        let opened = archive_plaintext(&mut keyring, &pitfall, &key().group).unwrap();
        assert_eq!(&*opened, plain.as_slice());
        // And the writer refuses to produce it.
        assert!(InstallationId::new("").is_err());
    }

    #[test]
    fn plaintext_helpers_pass_plain_blobs_through_and_name_missing_keys() {
        let mut keyring = Keyring::new();
        let group = key().group;
        let plain = archive(1);
        assert!(matches!(
            archive_plaintext(&mut keyring, &plain, &group).unwrap(),
            Cow::Borrowed(b) if b == plain.as_slice()
        ));
        let index = torrent_index();
        let sealed = encrypt(&index, "rust-installation-1");
        let err = index_plaintext(&mut keyring, &sealed, &group).unwrap_err();
        assert!(
            matches!(err, crate::Error::KeyMissing { key_id: Some(id), .. } if id == key().key_id())
        );
        keyring.insert(key());
        assert_eq!(
            &*index_plaintext(&mut keyring, &sealed, &group).unwrap(),
            index.as_slice()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every installation ID the writer accepts yields a blob status-go's
        /// plain-first reader decrypts (the plain parse fails or has no
        /// messages and no metadata), and that this detection calls encrypted.
        #[test]
        fn accepted_installation_ids_are_detected(
            id in "[ -~]{1,64}",
            messages in 1usize..4,
        ) {
            let Ok(installation) = InstallationId::new(&id) else {
                return Ok(());
            };
            let plain = archive(messages);
            let sealed = seal(&key(), 1, &plain, &installation, [5; 12]).unwrap();
            prop_assert!(matches!(detect_archive(&sealed), Detected::Encrypted(_)));
            if let Ok(as_plain) = pb::WakuMessageArchive::decode(sealed.as_slice()) {
                prop_assert!(as_plain.messages.is_empty());
                prop_assert!(as_plain.metadata.is_none(), "{:?} parses as metadata", id);
            }
        }

        /// Detection never panics on arbitrary bytes.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = detect_archive(&bytes);
            let _ = detect_index(&bytes);
        }
    }
}
