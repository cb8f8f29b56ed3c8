//! The community key: the owner's secp256k1 secret, its community ID, and the
//! key file `archivist keygen` writes.
//!
//! # Key file format
//!
//! One line: `0x` followed by the 64 lowercase hex digits of the 32-byte secret
//! scalar (big-endian), then a newline. Reading accepts upper-case digits,
//! `0X`, and trailing whitespace or no trailing newline; anything else is an
//! error. On unix the file is created with mode `0600`. This is the same text
//! go-ethereum's `crypto.FromECDSA` + `hexutil.Encode` gives, so a status-go
//! community key can be pasted in.

use std::{
    fmt, fs,
    io::{self, Read, Write},
    path::Path,
};

use archive_index::CommunityId;
use k256::{
    ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey},
    elliptic_curve::Generate,
};

use crate::error::{Error, Result};

/// Longer key files are not read past this; the line is 67 bytes.
const KEY_FILE_MAX_LEN: u64 = 1024;

/// A community's secret key. Only the community's owner (its control node)
/// holds it; whoever holds it can announce archives for the community.
///
/// `Debug` prints the community ID, never the secret.
#[derive(Clone)]
pub struct CommunityKey {
    signing: SigningKey,
}

impl CommunityKey {
    /// A new random key from the operating system's RNG.
    pub fn generate() -> CommunityKey {
        CommunityKey {
            signing: SigningKey::generate(),
        }
    }

    /// The key with the given big-endian secret scalar.
    pub fn from_bytes(secret: &[u8; 32]) -> Result<CommunityKey> {
        SigningKey::from_slice(secret)
            .map(|signing| CommunityKey { signing })
            .map_err(|_| Error::InvalidSecretKey)
    }

    /// The community ID: the compressed public key.
    pub fn community_id(&self) -> CommunityId {
        let point = self.signing.verifying_key().to_sec1_point(true);
        let mut id = [0u8; 33];
        id.copy_from_slice(point.as_bytes());
        CommunityId(id)
    }

    /// Signs a 32-byte digest in go-ethereum's `crypto.Sign` layout:
    /// `R ‖ S ‖ V` with low S and V ∈ {0, 1}.
    pub(crate) fn sign_prehash(&self, digest: &[u8; 32]) -> [u8; 65] {
        sign_recoverable(&self.signing, digest)
    }

    /// Reads a key file (format in the module docs).
    pub fn read_file(path: impl AsRef<Path>) -> Result<CommunityKey> {
        let path = path.as_ref();
        let text = read_small_file(path)?;
        let signing = parse_secret_line(path, text.trim_end())?;
        Ok(CommunityKey { signing })
    }

    /// Writes the key to a new file with mode 0600 (on unix). Fails with
    /// [`Error::KeyFileExists`] rather than replace a file: losing a community
    /// key means losing the community.
    pub fn write_file(&self, path: impl AsRef<Path>) -> Result<()> {
        write_new_file(path.as_ref(), secret_line(&self.signing).as_bytes())
    }
}

/// `R ‖ S ‖ V` (low S, V ∈ {0, 1}) over a 32-byte digest, as go-ethereum's
/// `crypto.Sign` writes it; RFC 6979 nonces make it deterministic.
pub(crate) fn sign_recoverable(signing: &SigningKey, digest: &[u8; 32]) -> [u8; 65] {
    let (signature, recovery): (Signature, RecoveryId) = signing.sign_prehash_recoverable(digest);
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&signature.to_bytes());
    out[64] = recovery.to_byte();
    out
}

/// `0x04 ‖ X ‖ Y`.
pub(crate) fn uncompressed(key: &VerifyingKey) -> [u8; 65] {
    let mut out = [0u8; 65];
    out.copy_from_slice(key.to_sec1_point(false).as_bytes());
    out
}

/// The key line of a key file: `0x` + 64 lowercase hex digits + newline.
pub(crate) fn secret_line(signing: &SigningKey) -> String {
    format!("0x{}\n", hex::encode(signing.to_bytes()))
}

/// Reads a file of at most [`KEY_FILE_MAX_LEN`] bytes of text.
pub(crate) fn read_small_file(path: &Path) -> Result<String> {
    // A key line is 67 bytes; the cap keeps a wrong path (a device, a huge
    // file) from being read whole.
    let mut text = String::new();
    let read = fs::File::open(path)
        .and_then(|file| file.take(KEY_FILE_MAX_LEN + 1).read_to_string(&mut text));
    read.map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => Error::KeyFileMissing {
            path: path.to_path_buf(),
        },
        io::ErrorKind::InvalidData => Error::KeyFileFormat {
            path: path.to_path_buf(),
            reason: "is not text",
        },
        _ => Error::KeyFileIo {
            path: path.to_path_buf(),
            source,
        },
    })?;
    if text.len() as u64 > KEY_FILE_MAX_LEN {
        return Err(Error::KeyFileFormat {
            path: path.to_path_buf(),
            reason: "is far longer than one key line",
        });
    }
    Ok(text)
}

/// Parses one key line (`0x` + 64 hex digits, either case) of the file at `path`.
pub(crate) fn parse_secret_line(path: &Path, line: &str) -> Result<SigningKey> {
    let format = |reason| Error::KeyFileFormat {
        path: path.to_path_buf(),
        reason,
    };
    let digits = line
        .strip_prefix("0x")
        .or_else(|| line.strip_prefix("0X"))
        .ok_or_else(|| format("must start with 0x"))?;
    if digits.len() != 64 {
        return Err(format("must hold 0x and exactly 64 hex digits on one line"));
    }
    let mut secret = [0u8; 32];
    hex::decode_to_slice(digits, &mut secret)
        .map_err(|_| format("contains a non-hex character"))?;
    let key = SigningKey::from_slice(&secret).map_err(|_| Error::KeyFileInvalidKey {
        path: path.to_path_buf(),
    });
    secret.fill(0);
    key
}

/// Creates `path` with `contents`, mode 0600 on unix; never replaces a file.
pub(crate) fn write_new_file(path: &Path, contents: &[u8]) -> Result<()> {
    let io_error = |source: io::Error| match source.kind() {
        io::ErrorKind::AlreadyExists => Error::KeyFileExists {
            path: path.to_path_buf(),
        },
        _ => Error::KeyFileIo {
            path: path.to_path_buf(),
            source,
        },
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_error)?;
    file.write_all(contents).map_err(io_error)?;
    file.sync_all().map_err(io_error)
}

impl fmt::Debug for CommunityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommunityKey")
            .field("community", &self.community_id())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use archive_index::keccak256;

    use super::*;

    // go-ethereum crypto_test.go: testPrivHex and the address it derives.
    const GETH_SECRET: &str = "289c2857d4598e37fb9647507e47a309d6133539bf21a8b9cb6df88fd5232032";
    const GETH_ADDRESS: &str = "970e8128ab834e8eac17ab8e3812f010678cf791";

    fn geth_key() -> CommunityKey {
        let mut secret = [0u8; 32];
        hex::decode_to_slice(GETH_SECRET, &mut secret).unwrap();
        CommunityKey::from_bytes(&secret).unwrap()
    }

    #[test]
    fn key_derivation_matches_go_ethereum() {
        let key = geth_key();
        let uncompressed = key.signing.verifying_key().to_sec1_point(false);
        let address = &keccak256(&uncompressed.as_bytes()[1..])[12..];
        assert_eq!(hex::encode(address), GETH_ADDRESS);

        let id = key.community_id();
        assert!(id.0[0] == 2 || id.0[0] == 3);
        assert_eq!(&id.0[1..], &uncompressed.as_bytes()[1..33]);
        assert_eq!(id.to_string().len(), 2 + 66);
    }

    #[test]
    fn debug_does_not_leak_the_secret() {
        let shown = format!("{:?}", geth_key());
        assert!(!shown.contains(GETH_SECRET), "{shown}");
        assert!(shown.contains(&geth_key().community_id().to_string()));
    }

    #[test]
    fn invalid_scalars_are_rejected() {
        assert!(matches!(
            CommunityKey::from_bytes(&[0; 32]),
            Err(Error::InvalidSecretKey)
        ));
        assert!(matches!(
            CommunityKey::from_bytes(&[0xff; 32]),
            Err(Error::InvalidSecretKey)
        ));
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(
            CommunityKey::generate().community_id(),
            CommunityKey::generate().community_id()
        );
    }
}
