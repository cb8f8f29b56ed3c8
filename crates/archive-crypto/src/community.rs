//! [`CommunityEnvelope`]: one encrypted community's keyring as the
//! `archive_index::Envelope` the backends seal and open blobs with.
//!
//! A community is encrypted because its configuration says so, and only then
//! does it get an envelope; a plain community's blobs never reach this code.
//! Reading goes through status-go's "try plain first" rule (as
//! [`crate::detect_archive`] and [`crate::detect_index`], without its
//! empty-installation-ID pitfall), because an encrypted community's history may begin with archives
//! published before it turned encrypted: a plain archive must still hold
//! messages to be read as plain, and a hash-ratchet blob is only ever
//! decrypted, never read as plain.

use std::sync::{Arc, Mutex, PoisonError};

use archive_index::{BlobKind, Envelope, EnvelopeError};

use crate::{
    detect::plain_with_content,
    envelope::parse_hr_message,
    error::Error,
    installation::InstallationId,
    key::{GroupId, HrKey},
    keyring::{Counters, Keyring, OsNonces},
};

/// A community's keyring behind a lock, shared by every network's calls and
/// by whoever adds keys while the node runs.
#[derive(Clone)]
pub struct CommunityEnvelope {
    group: GroupId,
    keyring: Arc<Mutex<Keyring>>,
    installation: InstallationId,
}

impl std::fmt::Debug for CommunityEnvelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommunityEnvelope")
            .field("group", &self.group)
            .field("keys", &self.keyring().len())
            .finish_non_exhaustive()
    }
}

impl CommunityEnvelope {
    /// The envelope of `group`, sealing with its newest key in `keyring` and
    /// writing `installation` into every sealed blob (status-go's sender
    /// installation; never empty, see [`InstallationId`]).
    pub fn new(
        group: GroupId,
        keyring: Keyring,
        installation: InstallationId,
    ) -> CommunityEnvelope {
        CommunityEnvelope {
            group,
            keyring: Arc::new(Mutex::new(keyring)),
            installation,
        }
    }

    /// The group (community) it seals for.
    pub fn group(&self) -> &GroupId {
        &self.group
    }

    /// Adds keys (a rekey, or keys that arrived for waiting archives); a key
    /// already held keeps its counters. Returns how many were new.
    pub fn add_keys(&self, keys: impl IntoIterator<Item = HrKey>) -> usize {
        let mut keyring = self.keyring();
        let before = keyring.len();
        for key in keys {
            keyring.insert(key);
        }
        keyring.len() - before
    }

    /// Whether a key is held for the group, so the owner can seal.
    pub fn can_seal(&self) -> bool {
        self.keyring().current(&self.group).is_some()
    }

    /// The counters to persist (see [`Keyring::counters`]).
    pub fn counters(&self) -> Vec<Counters> {
        self.keyring().counters()
    }

    /// Takes persisted counters back.
    pub fn restore(&self, counters: &[Counters]) {
        self.keyring().restore(counters);
    }

    fn keyring(&self) -> std::sync::MutexGuard<'_, Keyring> {
        // The keyring's state is valid between calls; a panic elsewhere
        // while holding the lock leaves nothing half-written.
        self.keyring.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Envelope for CommunityEnvelope {
    fn seal(&self, _kind: BlobKind, plain: Vec<u8>) -> Result<Vec<u8>, EnvelopeError> {
        self.keyring()
            .encrypt(&self.group, &plain, &self.installation, &mut OsNonces)
            .map(|sealed| sealed.bytes)
            .map_err(|e| EnvelopeError::Invalid(e.to_string()))
    }

    fn open(&self, kind: BlobKind, blob: Vec<u8>) -> Result<Vec<u8>, EnvelopeError> {
        // Plain only when it holds something (status-go's "try plain
        // first"); anything else must be a hash-ratchet message, so a
        // damaged sealed blob is refused rather than handed on as plain.
        if plain_with_content(&blob, kind == BlobKind::Index) {
            return Ok(blob);
        }
        let message = parse_hr_message(&blob).map_err(|e| {
            EnvelopeError::Invalid(format!(
                "neither a plain {} with content nor a sealed one: {e}",
                kind.name()
            ))
        })?;
        self.keyring()
            .decrypt_message(&message, &self.group)
            .map(|opened| opened.plaintext)
            .map_err(|e| match e {
                Error::KeyMissing {
                    key_id,
                    deprecated_key_id,
                    ..
                } => EnvelopeError::KeyMissing {
                    key_id: key_id.map_or_else(
                        || format!("(timestamp {deprecated_key_id})"),
                        |k| k.to_string(),
                    ),
                },
                e => EnvelopeError::Invalid(e.to_string()),
            })
    }
}

#[cfg(test)]
mod tests {
    use archive_index::{BlobKind, Envelope, EnvelopeError};

    use super::*;
    use crate::key::GroupKey;

    fn key(group: &GroupId, ts: u64, byte: u8) -> HrKey {
        HrKey {
            group: group.clone(),
            timestamp_ms: ts,
            key: GroupKey([byte; 32]),
        }
    }

    fn envelope(keys: &[HrKey]) -> CommunityEnvelope {
        let group = keys[0].group.clone();
        CommunityEnvelope::new(
            group,
            keys.iter().cloned().collect(),
            InstallationId::new("rust-installation-1").unwrap(),
        )
    }

    #[test]
    fn a_rekey_seals_with_the_new_key_and_old_blobs_stay_readable() {
        let group = GroupId::new(&[2; 33]).unwrap();
        let old = key(&group, 1_000, 1);
        let owner = envelope(std::slice::from_ref(&old));
        let before = owner
            .seal(BlobKind::Archive, b"old archive".to_vec())
            .unwrap();
        owner.add_keys([key(&group, 2_000, 2)]);
        let after = owner.seal(BlobKind::Index, b"new index".to_vec()).unwrap();

        let member = envelope(std::slice::from_ref(&old));
        assert_eq!(
            member.open(BlobKind::Archive, before.clone()).unwrap(),
            b"old archive"
        );
        let missing = member.open(BlobKind::Index, after.clone()).unwrap_err();
        assert!(
            matches!(missing, EnvelopeError::KeyMissing { .. }),
            "{missing:?}"
        );
        assert_eq!(member.add_keys([key(&group, 2_000, 2)]), 1);
        assert_eq!(member.open(BlobKind::Index, after).unwrap(), b"new index");
    }

    #[test]
    fn a_flipped_bit_is_invalid_never_plaintext() {
        let group = GroupId::new(&[3; 33]).unwrap();
        let env = envelope(&[key(&group, 5, 9)]);
        let sealed = env.seal(BlobKind::Archive, b"secret".to_vec()).unwrap();
        let mut refused = 0;
        for at in 0..sealed.len() {
            let mut flipped = sealed.clone();
            flipped[at] ^= 1;
            // The installation ID is outside the authenticated payload (as in
            // status-go): a flip there still opens to the true plaintext.
            match env.open(BlobKind::Archive, flipped) {
                Ok(plain) => assert_eq!(plain, b"secret", "byte {at} misread"),
                Err(_) => refused += 1,
            }
        }
        // Ciphertext, tag and nonce at least.
        assert!(refused >= 6 + 16 + 12, "only {refused} flips refused");
    }

    #[test]
    fn without_a_key_nothing_is_sealed() {
        let group = GroupId::new(&[4; 33]).unwrap();
        let env = CommunityEnvelope::new(
            group,
            Keyring::new(),
            InstallationId::new("rust-installation-1").unwrap(),
        );
        assert!(!env.can_seal());
        assert!(env.seal(BlobKind::Index, vec![1]).is_err());
    }
}
