//! status-go's "try plain first" reading of archives and indexes (spec
//! B.7.1), for the compatibility path only: a community configured as
//! encrypted is read with [`crate::Keyring::decrypt`] and nothing else, so
//! nothing is ever guessed for it.
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
