//! The 26/WAKU2-PAYLOAD version-1 frame as go-waku and status-go build it
//! (wire spec A.5): `flags ‖ size ‖ data ‖ padding ‖ signature`, padded to a
//! multiple of 256 bytes, signed by the sending node, then sealed with
//! AES-256-GCM as `ciphertext ‖ tag ‖ nonce`.

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use archive_index::keccak256;
use k256::ecdsa::VerifyingKey;

use crate::{
    announcement::recover_key,
    error::{Error, Result},
    identity::NodeIdentity,
};

/// AES-GCM nonce length; the nonce travels after the tag.
pub const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const SIGNATURE_LEN: usize = 65;
const FLAG_SIGNED: u8 = 0x04;
const SIZE_FIELD_MASK: u8 = 0x03;
const PADDING_UNIT: usize = 256;

/// Where a frame's nonce and padding come from.
///
/// status-go draws both from `crypto/rand` and never uses an all-zero nonce
/// or all-zero padding; [`OsEntropy`] does the same. Tests and tools inject
/// fixed values to reproduce byte-exact vectors.
pub trait Entropy {
    /// A 12-byte AES-GCM nonce.
    fn nonce(&mut self) -> Result<[u8; NONCE_LEN]>;
    /// Fills the frame's padding.
    fn padding(&mut self, padding: &mut [u8]) -> Result<()>;
}

/// Randomness from the operating system, as status-go uses.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn nonce(&mut self) -> Result<[u8; NONCE_LEN]> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_nonzero(&mut nonce)?;
        Ok(nonce)
    }

    fn padding(&mut self, padding: &mut [u8]) -> Result<()> {
        fill_nonzero(padding)
    }
}

fn fill_nonzero(out: &mut [u8]) -> Result<()> {
    // An all-zero draw is what a broken RNG returns; go-waku refuses it too.
    for _ in 0..4 {
        getrandom::fill(out).map_err(|e| Error::Entropy(e.to_string()))?;
        if out.iter().any(|&b| b != 0) {
            return Ok(());
        }
    }
    Err(Error::Entropy(
        "the system RNG returned only zero bytes".into(),
    ))
}

/// Fixed nonce and padding byte: for test vectors and inspection tools only.
/// Real announcements use [`OsEntropy`], so that two announcements of the
/// same link are different messages to gossip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedEntropy {
    /// The nonce every frame gets.
    pub nonce: [u8; NONCE_LEN],
    /// The byte the padding is filled with.
    pub padding: u8,
}

impl Entropy for FixedEntropy {
    fn nonce(&mut self) -> Result<[u8; NONCE_LEN]> {
        Ok(self.nonce)
    }

    fn padding(&mut self, padding: &mut [u8]) -> Result<()> {
        padding.fill(self.padding);
        Ok(())
    }
}

/// A frame opened and verified: its data and who signed it.
#[derive(Debug)]
pub(crate) struct OpenedFrame {
    pub(crate) data: Vec<u8>,
    pub(crate) signer: VerifyingKey,
}

/// Bytes of the size field for `len` data bytes (go-waku
/// `getSizeOfPayloadSizeField`); 4 would collide with the signature flag, so
/// longer data is refused.
fn size_field_len(len: usize) -> Result<usize> {
    match len {
        0..=0xff => Ok(1),
        0x100..=0xffff => Ok(2),
        0x1_0000..=0xff_ffff => Ok(3),
        _ => Err(Error::Oversized {
            len,
            max: 0xff_ffff,
        }),
    }
}

/// The signed, padded plaintext frame around `data` (before encryption).
pub(crate) fn build(
    data: &[u8],
    node: &NodeIdentity,
    entropy: &mut dyn Entropy,
) -> Result<Vec<u8>> {
    let size_len = size_field_len(data.len())?;
    let unpadded = 1 + size_len + data.len() + SIGNATURE_LEN;
    // Never zero: an already aligned frame gets a whole unit (go-waku appendPadding).
    let padding_len = PADDING_UNIT - unpadded % PADDING_UNIT;
    let mut frame = Vec::with_capacity(unpadded + padding_len);
    // The signature flag is set before signing, so it is covered by the signature.
    frame.push(size_len as u8 | FLAG_SIGNED);
    frame.extend_from_slice(&(data.len() as u32).to_le_bytes()[..size_len]);
    frame.extend_from_slice(data);
    let padding_start = frame.len();
    frame.resize(padding_start + padding_len, 0);
    entropy.padding(&mut frame[padding_start..])?;
    let signature = node.sign_prehash(&keccak256(&frame));
    frame.extend_from_slice(&signature);
    Ok(frame)
}

/// `AES-256-GCM(key, frame)` as `ciphertext ‖ tag ‖ nonce`, no associated data.
pub(crate) fn seal(frame: &[u8], key: &[u8; 32], entropy: &mut dyn Entropy) -> Result<Vec<u8>> {
    let nonce = entropy.nonce()?;
    let cipher = Aes256Gcm::new(key.into());
    let mut sealed = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload::from(frame))
        .map_err(|_| Error::Entropy("AES-GCM refused the frame".into()))?;
    sealed.extend_from_slice(&nonce);
    Ok(sealed)
}

/// Decrypts a wire payload with `key` and opens the frame inside: the
/// signature is required (status-go drops unsigned frames) and its signer
/// recovered; the size field must stay inside the frame. Padding is not
/// checked, as status-go does not check it.
pub(crate) fn open(payload: &[u8], key: &[u8; 32]) -> Result<OpenedFrame> {
    let Some(body_len) = payload.len().checked_sub(NONCE_LEN + TAG_LEN) else {
        return Err(Error::Decrypt {
            reason: "shorter than an AES-GCM tag and nonce",
        });
    };
    let (sealed, nonce) = payload.split_at(body_len + TAG_LEN);
    let frame = Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(nonce), Payload::from(sealed))
        .map_err(|_| Error::Decrypt {
            reason: "authentication failed: not sealed with this channel's key, or altered",
        })?;
    let Some(&flags) = frame.first() else {
        return Err(Error::Frame("empty frame"));
    };
    if flags & FLAG_SIGNED == 0 {
        return Err(Error::UnsignedFrame);
    }
    let Some(signed_len) = frame.len().checked_sub(SIGNATURE_LEN) else {
        return Err(Error::Frame("shorter than its signature"));
    };
    let (signed, signature) = frame.split_at(signed_len);
    let signer = recover_key(signature, &keccak256(signed))
        .map_err(|e| Error::FrameSignature(Box::new(e)))?;
    let size_len = usize::from(flags & SIZE_FIELD_MASK);
    if size_len == 0 {
        return Err(Error::Frame("no size field, so no data"));
    }
    let Some(size_bytes) = signed.get(1..1 + size_len) else {
        return Err(Error::Frame("size field runs past the frame"));
    };
    let mut size = [0u8; 4];
    size[..size_len].copy_from_slice(size_bytes);
    let size = u32::from_le_bytes(size) as usize;
    let start = 1 + size_len;
    let Some(data) = start
        .checked_add(size)
        .and_then(|end| signed.get(start..end))
    else {
        return Err(Error::Frame("data size runs past the frame"));
    };
    Ok(OpenedFrame {
        data: data.to_vec(),
        signer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeIdentity {
        NodeIdentity::from_parts(&[0x22; 32], "rust-installation-1").unwrap()
    }

    const FIXED: FixedEntropy = FixedEntropy {
        nonce: [1; NONCE_LEN],
        padding: 0xaa,
    };

    #[test]
    fn frames_are_padded_to_256_and_never_unpadded() {
        for len in [0, 1, 189 - 67, 256 - 68, 256 - 67, 300, 70_000] {
            let frame = build(&vec![7; len], &node(), &mut FIXED.clone()).unwrap();
            assert_eq!(frame.len() % PADDING_UNIT, 0, "len {len}");
            let size_len = size_field_len(len).unwrap();
            assert!(
                frame.len() > 1 + size_len + len + SIGNATURE_LEN,
                "len {len}"
            );
        }
        // 1 + 1 + 189 + 65 = 256 exactly: a whole unit of padding is added.
        let aligned = build(&[0; 189], &node(), &mut FIXED.clone()).unwrap();
        assert_eq!(aligned.len(), 512);
    }

    #[test]
    fn size_field_grows_with_the_data() {
        assert_eq!(size_field_len(255).unwrap(), 1);
        assert_eq!(size_field_len(256).unwrap(), 2);
        assert_eq!(size_field_len(65_536).unwrap(), 3);
        assert!(matches!(
            size_field_len(1 << 24),
            Err(Error::Oversized { .. })
        ));
        let frame = build(&[9; 300], &node(), &mut FIXED.clone()).unwrap();
        assert_eq!(&frame[..3], &[0x06, 0x2c, 0x01]);
    }

    #[test]
    fn open_recovers_data_and_node() {
        let key = [5u8; 32];
        let frame = build(b"hello", &node(), &mut FIXED.clone()).unwrap();
        let opened = open(&seal(&frame, &key, &mut FIXED.clone()).unwrap(), &key).unwrap();
        assert_eq!(opened.data, b"hello");
        assert_eq!(
            crate::key::uncompressed(&opened.signer),
            node().public_key().0
        );
    }

    #[test]
    fn unsigned_and_inconsistent_frames_are_refused() {
        let key = [5u8; 32];
        let sealed = |frame: &[u8]| seal(frame, &key, &mut FIXED.clone()).unwrap();
        let mut unsigned = vec![0x01, 0x02, b'h', b'i'];
        unsigned.resize(256, 0xaa);
        assert!(matches!(
            open(&sealed(&unsigned), &key),
            Err(Error::UnsignedFrame)
        ));
        assert!(matches!(open(&sealed(&[]), &key), Err(Error::Frame(_))));
        assert!(matches!(
            open(&sealed(&[0x05; 10]), &key),
            Err(Error::Frame(_))
        ));

        // A well-signed frame whose size field claims more than it holds.
        let mut frame = build(b"hello", &node(), &mut FIXED.clone()).unwrap();
        frame[1] = 0xff;
        let n = frame.len() - SIGNATURE_LEN;
        let signature = node().sign_prehash(&keccak256(&frame[..n]));
        frame[n..].copy_from_slice(&signature);
        assert!(matches!(open(&sealed(&frame), &key), Err(Error::Frame(_))));

        assert!(matches!(open(&[0; 27], &key), Err(Error::Decrypt { .. })));
        assert!(matches!(
            open(&sealed(b"x"), &[6; 32]),
            Err(Error::Decrypt { .. })
        ));
    }
}
