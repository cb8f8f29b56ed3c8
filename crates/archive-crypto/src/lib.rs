//! status-go's hash-ratchet encryption of history archives and indexes
//! (`docs/spec/status-go-wire.md` Part B), as a pure library.
//!
//! An encrypted community's archive or index is a `ProtocolMessage` whose
//! `encrypted_message["none"]` holds an `HRHeader` (group ID = community ID,
//! key ID, sequence number) and the AES-256-GCM encryption of the plain bytes
//! under `K_n = Keccak-256ⁿ(key)`, the 12-byte nonce appended. Padding,
//! offsets and archive IDs are then computed over these bytes as over plain
//! ones, by `archive-index`.
//!
//! - [`HrKey`] is one key of a group: group, timestamp (ms), 32-byte secret;
//!   [`HrKey::key_id`] and [`HrKey::message_key`] are B.2–B.3.
//! - [`Keyring`] holds keys, finds the one a header names (by key ID, or by
//!   the deprecated (timestamp, group) pair), encrypts with a group's current
//!   key under sequence numbers that never repeat, and decrypts any sequence
//!   number up to [`MAX_SEQ_AHEAD`] past the last seen. Its [`Counters`] are
//!   what the caller persists.
//! - [`seal`], [`open`] and [`parse_hr_message`] are the envelope itself.
//! - [`detect_archive`] and [`detect_index`] are status-go's "try plain first"
//!   rule for reading blobs whose encryption is not known, without its
//!   empty-installation-ID pitfall; [`InstallationId`] refuses IDs that
//!   would fall into it.
//! - [`CommunityEnvelope`] is a community's keyring as the
//!   `archive_index::Envelope` the backends seal and open blobs with.
//! - [`parse_key_file`], [`render_key_file`] and [`write_key_file`] are the
//!   key file (JSON; written 0600, never overwriting).
//!
//! No I/O except [`write_key_file`]; no async runtime. Decoding borrows from
//! its input and allocates only the plaintext, never more than the input.
//!
//! ```
//! use archive_crypto::{FixedNonce, GroupId, GroupKey, HrKey, InstallationId, Keyring};
//!
//! # fn main() -> archive_crypto::Result<()> {
//! let group = GroupId::new(&[0x02; 33])?;
//! let key = HrKey { group: group.clone(), timestamp_ms: 1_700_000_000_010, key: GroupKey([7; 32]) };
//! let mut owner = Keyring::new();
//! owner.insert(key.clone());
//! let installation = InstallationId::new("rust-installation-1")?;
//! let sealed = owner.encrypt(&group, b"archive bytes", &installation, &mut FixedNonce([1; 12]))?;
//! assert_eq!(sealed.seq_no, 1);
//!
//! let mut member = Keyring::new();
//! member.insert(key);
//! assert_eq!(member.decrypt(&sealed.bytes, &group)?.plaintext, b"archive bytes");
//! # Ok(())
//! # }
//! ```

mod community;
mod detect;
mod envelope;
mod error;
mod installation;
mod key;
mod key_file;
mod keyring;
mod wire;

pub use community::CommunityEnvelope;
pub use detect::{Detected, archive_plaintext, detect_archive, detect_index, index_plaintext};
pub use envelope::{HrHeader, HrMessage, NONCE_LEN, TAG_LEN, open, parse_hr_message, seal};
pub use error::{Error, Result};
pub use installation::{InstallationId, MAX_INSTALLATION_ID_LEN};
pub use key::{GroupId, GroupKey, HrKey, KeyId, MAX_GROUP_ID_LEN, next_timestamp};
pub use key_file::{MAX_KEY_FILE_LEN, parse_key_file, render_key_file, write_key_file};
pub use keyring::{
    Counters, FixedNonce, Keyring, MAX_SEQ_AHEAD, NonceSource, Opened, OsNonces, Sealed,
};
