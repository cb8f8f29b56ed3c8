//! One hash-ratchet blob, byte for byte as status-go's
//! `BuildHashRatchetMessage` writes it (spec B.3–B.5):
//! `ProtocolMessage{installation_id, encrypted_message{"none":
//! EncryptedMessageProtocol{payload, HR_header}}}`, the payload being
//! AES-256-GCM under `K_seq` as `ciphertext ‖ tag ‖ nonce`.

use aes_gcm::{AeadInPlace, Aes256Gcm, KeyInit, Nonce, Tag};

use crate::{
    error::{Error, Result},
    installation::InstallationId,
    key::{HrKey, KeyId},
    wire::{Field, Fields, len_field_size, put_len_prefix, put_uint, uint_field_size},
};

/// AES-GCM nonce length; the nonce travels last.
pub const NONCE_LEN: usize = 12;
/// AES-GCM tag length; the tag travels between ciphertext and nonce.
pub const TAG_LEN: usize = 16;
/// The map key status-go files hash-ratchet messages under (`noInstallationID`).
const NO_INSTALLATION: &[u8] = b"none";

/// The `HRHeader` of a received blob, borrowed from its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HrHeader<'a> {
    /// Low 32 bits of the key's timestamp.
    pub deprecated_key_id: u32,
    /// The message number; the key is `K_seq_no`.
    pub seq_no: u32,
    /// The group (community ID for archives).
    pub group_id: &'a [u8],
    /// The key ID, if the header carries a well-formed one (old clients send none).
    pub key_id: Option<KeyId>,
}

/// A parsed hash-ratchet blob; nothing is decrypted yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HrMessage<'a> {
    /// The sender's installation ID (not authenticated; informational).
    pub installation_id: &'a str,
    /// Which key and message number.
    pub header: HrHeader<'a>,
    /// `ciphertext ‖ tag ‖ nonce`.
    pub payload: &'a [u8],
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::Malformed(reason.into())
}

/// Parses a `ProtocolMessage` carrying a hash-ratchet message under "none".
///
/// Borrowing only: nothing is allocated but the walker's stack of open
/// groups (at most 64 entries), whatever the input. Map and
/// repeated-message rules are protobuf's (the last "none" entry wins; a header
/// given twice merges field by field); bundles and a public message are
/// skipped, as status-go skips them for hash-ratchet messages.
pub fn parse_hr_message(bytes: &[u8]) -> Result<HrMessage<'_>> {
    let mut installation_id: &[u8] = &[];
    let mut entry: Option<&[u8]> = None;
    let mut fields = Fields::new(bytes);
    while let Some((number, field)) = fields.next_field().map_err(malformed)? {
        match (number, field) {
            (2, Field::Bytes(b)) => installation_id = b,
            (101, Field::Bytes(map_entry)) => {
                if let Some(value) = none_entry_value(map_entry)? {
                    entry = Some(value);
                }
            }
            (3 | 102, Field::Bytes(_)) => {}
            (2 | 3 | 101 | 102, _) => {
                return Err(malformed(format!(
                    "field {number} of ProtocolMessage has the wrong wire type"
                )));
            }
            _ => {}
        }
    }
    let installation_id = std::str::from_utf8(installation_id)
        .map_err(|_| malformed("the installation ID is not UTF-8"))?;
    let entry = entry.ok_or_else(|| malformed("no encrypted message under \"none\""))?;
    let (header, payload) = parse_encrypted_message(entry)?;
    Ok(HrMessage {
        installation_id,
        header,
        payload,
    })
}

/// The value of a map entry whose key is "none"; `None` for other keys.
fn none_entry_value(map_entry: &[u8]) -> Result<Option<&[u8]>> {
    let (mut key, mut value): (&[u8], Option<&[u8]>) = (&[], None);
    let mut fields = Fields::new(map_entry);
    while let Some((number, field)) = fields.next_field().map_err(malformed)? {
        match (number, field) {
            (1, Field::Bytes(b)) => key = b,
            // A map value given twice merges; only one is ever written, and a
            // merge of two would need a copy, so two are refused.
            (2, Field::Bytes(b)) if value.is_none() => value = Some(b),
            (2, Field::Bytes(_)) => return Err(malformed("a map entry has two values")),
            (1 | 2, _) => return Err(malformed("a map entry field has the wrong wire type")),
            _ => {}
        }
    }
    Ok((key == NO_INSTALLATION).then_some(value.unwrap_or_default()))
}

fn parse_encrypted_message(bytes: &[u8]) -> Result<(HrHeader<'_>, &[u8])> {
    let mut payload: &[u8] = &[];
    let mut header: Option<HrHeader<'_>> = None;
    let mut fields = Fields::new(bytes);
    while let Some((number, field)) = fields.next_field().map_err(malformed)? {
        match (number, field) {
            (3, Field::Bytes(b)) => payload = b,
            (102, Field::Bytes(b)) => {
                let merged = header.get_or_insert(HrHeader {
                    deprecated_key_id: 0,
                    seq_no: 0,
                    group_id: &[],
                    key_id: None,
                });
                merge_header(merged, b)?;
            }
            (3 | 102, _) => {
                return Err(malformed(format!(
                    "field {number} of EncryptedMessageProtocol has the wrong wire type"
                )));
            }
            // X3DH, double-ratchet and DH headers: not a hash-ratchet message.
            (1 | 2 | 101, _) => {
                return Err(malformed(
                    "a pairwise (X3DH/DR/DH) message, not a group one",
                ));
            }
            _ => {}
        }
    }
    let header = header.ok_or_else(|| malformed("the encrypted message has no HRHeader"))?;
    Ok((header, payload))
}

fn merge_header<'a>(header: &mut HrHeader<'a>, bytes: &'a [u8]) -> Result<()> {
    let mut fields = Fields::new(bytes);
    while let Some((number, field)) = fields.next_field().map_err(malformed)? {
        match (number, field) {
            // proto3 uint32 keeps the low 32 bits of the varint, as Go does.
            (1, Field::Varint(v)) => header.deprecated_key_id = v as u32,
            (2, Field::Varint(v)) => header.seq_no = v as u32,
            (3, Field::Bytes(b)) => header.group_id = b,
            (4, Field::Bytes(b)) => header.key_id = <[u8; 32]>::try_from(b).ok().map(KeyId),
            (5, Field::Bytes(_)) => {}
            (1..=5, _) => {
                return Err(malformed(format!(
                    "field {number} of HRHeader has the wrong wire type"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Encrypts `plaintext` as message `seq_no` of `key`, with `nonce`, and wraps
/// it as status-go does. The caller guarantees `seq_no` was never used with
/// this key before (see [`crate::Keyring::encrypt`], which does).
pub fn seal(
    key: &HrKey,
    seq_no: u32,
    plaintext: &[u8],
    installation_id: &InstallationId,
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>> {
    seal_with(
        key,
        &key.message_key(seq_no),
        seq_no,
        plaintext,
        installation_id,
        nonce,
    )
}

/// [`seal`] with `K_seq_no` already derived.
pub(crate) fn seal_with(
    key: &HrKey,
    message_key: &[u8; 32],
    seq_no: u32,
    plaintext: &[u8],
    installation_id: &InstallationId,
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>> {
    if seq_no == 0 {
        return Err(Error::KeyExchange);
    }
    let key_id = key.key_id();
    let group = key.group.as_bytes();
    let header_len = uint_field_size(1, u64::from(key.deprecated_key_id()))
        + uint_field_size(2, u64::from(seq_no))
        + len_field_size(3, group.len())
        + len_field_size(4, key_id.0.len());
    let payload_len = plaintext.len() + TAG_LEN + NONCE_LEN;
    let message_len = len_field_size(3, payload_len) + len_field_size(102, header_len);
    let entry_len = len_field_size(1, NO_INSTALLATION.len()) + len_field_size(2, message_len);
    let installation = installation_id.as_str().as_bytes();
    let total = len_field_size(2, installation.len()) + len_field_size(101, entry_len);

    let mut out = Vec::with_capacity(total);
    put_len_prefix(&mut out, 2, installation.len());
    out.extend_from_slice(installation);
    put_len_prefix(&mut out, 101, entry_len);
    put_len_prefix(&mut out, 1, NO_INSTALLATION.len());
    out.extend_from_slice(NO_INSTALLATION);
    put_len_prefix(&mut out, 2, message_len);
    // Go writes the payload (field 3) before the header (field 102).
    put_len_prefix(&mut out, 3, payload_len);
    let start = out.len();
    out.extend_from_slice(plaintext);
    let cipher = Aes256Gcm::new(message_key.into());
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), &[], &mut out[start..])
        .map_err(|_| malformed("the plaintext is too long for AES-GCM"))?;
    out.extend_from_slice(&tag);
    out.extend_from_slice(&nonce);
    put_len_prefix(&mut out, 102, header_len);
    put_uint(&mut out, 1, u64::from(key.deprecated_key_id()));
    put_uint(&mut out, 2, u64::from(seq_no));
    put_len_prefix(&mut out, 3, group.len());
    out.extend_from_slice(group);
    put_len_prefix(&mut out, 4, key_id.0.len());
    out.extend_from_slice(&key_id.0);
    debug_assert_eq!(out.len(), total);
    Ok(out)
}

/// Decrypts `message` with `key`, which the caller matched to its header.
/// The plaintext is returned only if AES-GCM authenticates it.
pub fn open(key: &HrKey, message: &HrMessage<'_>) -> Result<Vec<u8>> {
    open_with(key, &key.message_key(message.header.seq_no), message)
}

/// [`open`] with `K_seq_no` already derived (the keyring keeps a checkpoint).
pub(crate) fn open_with(
    key: &HrKey,
    message_key: &[u8; 32],
    message: &HrMessage<'_>,
) -> Result<Vec<u8>> {
    let seq_no = message.header.seq_no;
    if seq_no == 0 {
        return Err(Error::KeyExchange);
    }
    let payload = message.payload;
    let Some(ciphertext_len) = payload.len().checked_sub(TAG_LEN + NONCE_LEN) else {
        return Err(malformed(format!(
            "a payload of {} bytes is shorter than its tag and nonce",
            payload.len()
        )));
    };
    let (ciphertext, rest) = payload.split_at(ciphertext_len);
    let (tag, nonce) = rest.split_at(TAG_LEN);
    let mut plaintext = ciphertext.to_vec();
    let cipher = Aes256Gcm::new(message_key.into());
    cipher
        .decrypt_in_place_detached(
            Nonce::from_slice(nonce),
            &[],
            &mut plaintext,
            Tag::from_slice(tag),
        )
        .map_err(|_| Error::Authentication {
            key_id: key.key_id(),
            seq_no,
        })?;
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use archive_proto::{Message as _, encryption as pb};
    use proptest::prelude::*;

    use super::*;
    use crate::key::{GroupId, GroupKey};

    /// `hex!("…")` as an array, checked at run time.
    macro_rules! hex {
        ($s:literal) => {
            <[u8; $s.len() / 2]>::try_from(hex::decode($s).unwrap()).unwrap()
        };
    }

    fn b91_key() -> HrKey {
        HrKey {
            group: GroupId::new(
                &hex::decode("034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa")
                    .unwrap(),
            )
            .unwrap(),
            timestamp_ms: 1_700_000_000_010,
            key: GroupKey([0x33; 32]),
        }
    }

    fn installation() -> InstallationId {
        InstallationId::new("rust-installation-1").unwrap()
    }

    #[test]
    fn vector_b_9_1_byte_for_byte() {
        let key = b91_key();
        assert_eq!(key.timestamp_ms.to_le_bytes(), hex!("0a68e5cf8b010000"));
        assert_eq!(key.deprecated_key_id(), 3_487_918_090);
        assert_eq!(
            key.key_id().0,
            hex!("bec9aa4cc6d8043c7e9aa155f7dfc852496e13c9bce60030bf931e017d531a0d")
        );
        assert_eq!(
            key.message_key(1),
            hex!("02cc96397d444c8ebdd3c75f2c53fc945bed8aab1e8da3f22ecca96cd45f8c57")
        );
        assert_eq!(
            key.message_key(2),
            hex!("f71106156f6c6fb1e886f1022b84b417bc07ade1ba787da2e849607e605475b7")
        );
        assert_eq!(
            key.message_key(3),
            hex!("5f9e2a88c4c636efc88e3408ff358cfd65db7c703aed8208d7dbb37b4a47c159")
        );
        let nonce = hex!("000102030405060708090a0b");
        let blob = seal(&key, 1, b"archive-bytes", &installation(), nonce).unwrap();
        let expected = concat!(
            "1213727573742d696e7374616c6c6174696f6e2d31aa0683010a046e6f6e65127b1a298dc4724ee3031e77b92c412302d50657f5aec9c42275f7dfad74",
            "56a4b9000102030405060708090a0bb2064d088ad095ff0c10011a21034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa",
            "2220bec9aa4cc6d8043c7e9aa155f7dfc852496e13c9bce60030bf931e017d531a0d",
        );
        assert_eq!(hex::encode(&blob), expected);
        assert_eq!(blob.len(), 156);

        let message = parse_hr_message(&blob).unwrap();
        assert_eq!(message.installation_id, "rust-installation-1");
        assert_eq!(
            hex::encode(message.payload),
            "8dc4724ee3031e77b92c412302d50657f5aec9c42275f7dfad7456a4b9000102030405060708090a0b"
        );
        assert_eq!(
            message.header,
            HrHeader {
                deprecated_key_id: 3_487_918_090,
                seq_no: 1,
                group_id: key.group.as_bytes(),
                key_id: Some(key.key_id()),
            }
        );
        assert_eq!(open(&key, &message).unwrap(), b"archive-bytes");
    }

    #[test]
    fn refuses_key_exchanges_short_payloads_and_pairwise_messages() {
        let key = b91_key();
        assert!(matches!(
            seal(&key, 0, b"x", &installation(), [1; 12]),
            Err(Error::KeyExchange)
        ));
        let blob = seal(&key, 1, b"", &installation(), [1; 12]).unwrap();
        let mut message = parse_hr_message(&blob).unwrap();
        message.payload = &message.payload[..27];
        assert!(matches!(open(&key, &message), Err(Error::Malformed(_))));
        // An encrypted message under "none" without an HRHeader.
        let pairwise = pb::ProtocolMessage {
            installation_id: "x".into(),
            encrypted_message: [("none".to_owned(), pb::EncryptedMessageProtocol::default())]
                .into(),
            ..Default::default()
        };
        let mut bytes = pairwise.encode_to_vec();
        assert!(parse_hr_message(&bytes).is_err(), "no HR header");
        bytes.clear();
        assert!(parse_hr_message(&bytes).is_err(), "empty");
        assert!(parse_hr_message(&[0x12, 0x01, 0xff]).is_err(), "not UTF-8");
    }

    fn arb_key() -> impl Strategy<Value = HrKey> {
        (
            prop::collection::vec(any::<u8>(), 1..=64),
            1..u64::MAX,
            any::<[u8; 32]>(),
        )
            .prop_map(|(group, timestamp_ms, key)| HrKey {
                group: GroupId::new(&group).unwrap(),
                timestamp_ms,
                key: GroupKey(key),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Our bytes are what prost (protobuf-go's field order) encodes for
        /// the same message, and open to the plaintext.
        #[test]
        fn seals_as_protobuf_encodes_and_opens(
            key in arb_key(),
            seq_no in 1u32..300,
            plaintext in prop::collection::vec(any::<u8>(), 0..2_000),
            nonce in any::<[u8; 12]>(),
        ) {
            let blob = seal(&key, seq_no, &plaintext, &installation(), nonce).unwrap();
            let decoded = pb::ProtocolMessage::decode(blob.as_slice()).unwrap();
            prop_assert_eq!(decoded.encode_to_vec(), blob.clone());
            let inner = &decoded.encrypted_message["none"];
            let header = inner.hr_header.as_ref().unwrap();
            prop_assert_eq!(header.seq_no, seq_no);
            prop_assert_eq!(header.deprecated_key_id, key.timestamp_ms as u32);
            prop_assert_eq!(&header.key_id[..], &key.key_id().0[..]);
            prop_assert_eq!(&inner.payload[inner.payload.len() - 12..], &nonce[..]);

            let message = parse_hr_message(&blob).unwrap();
            prop_assert_eq!(message.header.seq_no, seq_no);
            prop_assert_eq!(open(&key, &message).unwrap(), plaintext);
        }

        /// One flipped bit never yields other plaintext: it is refused with
        /// a typed error, or (in an unauthenticated field such as the
        /// installation ID) opens to the very same bytes.
        #[test]
        fn a_flipped_bit_is_refused_or_harmless(
            key in arb_key(),
            seq_no in 1u32..200,
            plaintext in prop::collection::vec(any::<u8>(), 0..300),
            bit in any::<prop::sample::Index>(),
        ) {
            let mut blob = seal(&key, seq_no, &plaintext, &installation(), [9; 12]).unwrap();
            let bit = bit.index(blob.len() * 8);
            blob[bit / 8] ^= 1 << (bit % 8);
            if let Ok(message) = parse_hr_message(&blob)
                && let Ok(opened) = open(&key, &message)
            {
                prop_assert_eq!(opened, plaintext);
            }
        }

        /// Another key never opens a blob.
        #[test]
        fn a_wrong_key_is_refused(
            key in arb_key(),
            other in any::<[u8; 32]>(),
            seq_no in 1u32..200,
            plaintext in prop::collection::vec(any::<u8>(), 0..300),
        ) {
            prop_assume!(other != key.key.0);
            let blob = seal(&key, seq_no, &plaintext, &installation(), [9; 12]).unwrap();
            let wrong = HrKey { key: GroupKey(other), ..key };
            let message = parse_hr_message(&blob).unwrap();
            let refused = matches!(open(&wrong, &message), Err(Error::Authentication { seq_no: s, .. }) if s == seq_no);
            prop_assert!(refused);
        }

        /// Arbitrary bytes parse or fail, never panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_hr_message(&bytes);
        }
    }
}
