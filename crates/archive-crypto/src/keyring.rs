//! The keys a node holds and the sequence numbers it has used and seen with
//! each: encryption never repeats a sequence number for a key, decryption
//! accepts one at most [`MAX_SEQ_AHEAD`] past the last seen (status-go's
//! `maxHashRatchetSeqNoDelta`). The counters are state the caller persists
//! ([`Keyring::counters`]) and hands back ([`Keyring::restore`]); this crate
//! does no I/O.

use std::collections::BTreeMap;

use crate::{
    envelope::{self, HrHeader, HrMessage, NONCE_LEN, parse_hr_message},
    error::{Error, Result},
    installation::InstallationId,
    key::{GroupId, HrKey, KeyId, ratchet},
};

/// How far past the last seen sequence number a message may be; also the
/// highest sequence number this crate writes, because status-go receivers
/// without a cached step hash from message 0 and refuse anything past it.
pub const MAX_SEQ_AHEAD: u32 = 100_000;

/// Where AES-GCM nonces come from.
pub trait NonceSource {
    /// A fresh 12-byte nonce.
    fn nonce(&mut self) -> Result<[u8; NONCE_LEN]>;
}

/// Nonces from the operating system, never all zero (status-go refuses those).
#[derive(Clone, Copy, Debug, Default)]
pub struct OsNonces;

impl NonceSource for OsNonces {
    fn nonce(&mut self) -> Result<[u8; NONCE_LEN]> {
        let mut nonce = [0u8; NONCE_LEN];
        for _ in 0..4 {
            getrandom::fill(&mut nonce).map_err(|e| Error::Entropy(e.to_string()))?;
            if nonce != [0; NONCE_LEN] {
                return Ok(nonce);
            }
        }
        Err(Error::Entropy(
            "the system RNG returned only zero bytes".into(),
        ))
    }
}

/// One fixed nonce: for test vectors only. Every sequence number has its
/// own key, so even this never reuses a (key, nonce) pair through
/// [`Keyring::encrypt`], but real blobs use [`OsNonces`] as status-go does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedNonce(pub [u8; NONCE_LEN]);

impl NonceSource for FixedNonce {
    fn nonce(&mut self) -> Result<[u8; NONCE_LEN]> {
        Ok(self.0)
    }
}

/// What the keyring must remember of one key across restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Counters {
    /// The key.
    pub key_id: KeyId,
    /// The sequence number the next encryption uses (1 for an unused key).
    pub next_seq: u32,
    /// The highest sequence number decrypted (0 for none).
    pub last_seen: u32,
}

/// A blob [`Keyring::encrypt`] made, and which key and number it used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// The `ProtocolMessage` bytes to publish.
    pub bytes: Vec<u8>,
    /// The key used.
    pub key_id: KeyId,
    /// The sequence number used.
    pub seq_no: u32,
}

/// A blob [`Keyring::decrypt`] opened.
#[derive(Clone, PartialEq, Eq)]
pub struct Opened {
    /// The authenticated plaintext (archive or index bytes).
    pub plaintext: Vec<u8>,
    /// The key that opened it.
    pub key_id: KeyId,
    /// Its sequence number.
    pub seq_no: u32,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("plaintext_len", &self.plaintext.len())
            .field("key_id", &self.key_id)
            .field("seq_no", &self.seq_no)
            .finish()
    }
}

#[derive(Clone)]
struct Slot {
    key: HrKey,
    next_seq: u32,
    last_seen: u32,
    /// The highest authenticated step and its key, so reading archive after
    /// archive hashes forward from there instead of from the key each time.
    checkpoint: (u32, [u8; 32]),
}

impl Slot {
    fn message_key(&self, seq_no: u32) -> [u8; 32] {
        let (at, hash) = self.checkpoint;
        if seq_no >= at {
            ratchet(hash, at, seq_no)
        } else {
            ratchet(self.key.key.0, 0, seq_no)
        }
    }

    fn advance_checkpoint(&mut self, seq_no: u32, message_key: [u8; 32]) {
        if seq_no > self.checkpoint.0 {
            self.checkpoint = (seq_no, message_key);
        }
    }
}

/// Keys by key ID, with their counters. `Debug` shows key IDs only.
#[derive(Clone, Default)]
pub struct Keyring {
    slots: BTreeMap<KeyId, Slot>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.slots.keys()).finish()
    }
}

impl Extend<HrKey> for Keyring {
    /// Inserts every key, e.g. those of a key file.
    fn extend<I: IntoIterator<Item = HrKey>>(&mut self, keys: I) {
        for key in keys {
            self.insert(key);
        }
    }
}

impl FromIterator<HrKey> for Keyring {
    fn from_iter<I: IntoIterator<Item = HrKey>>(keys: I) -> Keyring {
        let mut ring = Keyring::new();
        ring.extend(keys);
        ring
    }
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Keyring {
        Keyring::default()
    }

    /// Adds `key` (a no-op if it is already held: the key ID covers group,
    /// timestamp and secret) and returns its ID.
    pub fn insert(&mut self, key: HrKey) -> KeyId {
        let key_id = key.key_id();
        self.slots.entry(key_id).or_insert_with(|| Slot {
            checkpoint: (0, key.key.0),
            key,
            next_seq: 1,
            last_seen: 0,
        });
        key_id
    }

    /// The key with this ID.
    pub fn get(&self, key_id: &KeyId) -> Option<&HrKey> {
        self.slots.get(key_id).map(|s| &s.key)
    }

    /// Every key held, in key-ID order.
    pub fn keys(&self) -> impl Iterator<Item = &HrKey> {
        self.slots.values().map(|s| &s.key)
    }

    /// The number of keys held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The group's current key: the one with the largest timestamp
    /// (status-go's `GetCurrentKeyForGroup`).
    pub fn current(&self, group: &GroupId) -> Option<&HrKey> {
        self.current_id(group).map(|id| &self.slots[&id].key)
    }

    fn current_id(&self, group: &GroupId) -> Option<KeyId> {
        self.slots
            .iter()
            .filter(|(_, s)| &s.key.group == group)
            .max_by_key(|(_, s)| s.key.timestamp_ms)
            .map(|(id, _)| *id)
    }

    /// The key a header names, looked up as status-go does: by key ID, else
    /// by (deprecated key ID, group), the newest if several match.
    pub fn find(&self, header: &HrHeader<'_>) -> Option<&HrKey> {
        self.find_id(header).map(|id| &self.slots[&id].key)
    }

    fn find_id(&self, header: &HrHeader<'_>) -> Option<KeyId> {
        if let Some(id) = header.key_id.filter(|id| self.slots.contains_key(id)) {
            return Some(id);
        }
        self.slots
            .iter()
            .filter(|(_, s)| {
                s.key.deprecated_key_id() == header.deprecated_key_id
                    && s.key.group.as_bytes() == header.group_id
            })
            .max_by_key(|(_, s)| s.key.timestamp_ms)
            .map(|(id, _)| *id)
    }

    /// Every key's counters, to persist. Persist them after each
    /// [`Self::encrypt`] and before its bytes leave the process, so a
    /// restart never reuses a sequence number.
    pub fn counters(&self) -> Vec<Counters> {
        self.slots
            .iter()
            .map(|(id, s)| Counters {
                key_id: *id,
                next_seq: s.next_seq,
                last_seen: s.last_seen,
            })
            .collect()
    }

    /// Takes persisted counters back. Counters only move forward, so
    /// restoring stale ones is harmless; counters of keys not held are
    /// ignored (insert the keys first).
    pub fn restore(&mut self, counters: &[Counters]) {
        for c in counters {
            if let Some(slot) = self.slots.get_mut(&c.key_id) {
                slot.next_seq = slot.next_seq.max(c.next_seq);
                slot.last_seen = slot.last_seen.max(c.last_seen);
            }
        }
    }

    /// Encrypts `plaintext` (archive or index bytes) with the group's current
    /// key under the next unused sequence number, which is consumed even if
    /// encryption then fails.
    pub fn encrypt(
        &mut self,
        group: &GroupId,
        plaintext: &[u8],
        installation_id: &InstallationId,
        nonces: &mut dyn NonceSource,
    ) -> Result<Sealed> {
        let key_id = self
            .current_id(group)
            .ok_or_else(|| Error::NoKeyForGroup(group.hex()))?;
        let slot = self
            .slots
            .get_mut(&key_id)
            .expect("current_id names a slot");
        let seq_no = slot.next_seq;
        if seq_no > MAX_SEQ_AHEAD {
            return Err(Error::SequenceExhausted {
                key_id,
                limit: MAX_SEQ_AHEAD,
            });
        }
        slot.next_seq = seq_no + 1;
        let message_key = slot.message_key(seq_no);
        let bytes = envelope::seal_with(
            &slot.key,
            &message_key,
            seq_no,
            plaintext,
            installation_id,
            nonces.nonce()?,
        )?;
        slot.advance_checkpoint(seq_no, message_key);
        Ok(Sealed {
            bytes,
            key_id,
            seq_no,
        })
    }

    /// Parses and decrypts a blob of `group`: [`parse_hr_message`], then
    /// [`Self::decrypt_message`].
    pub fn decrypt(&mut self, blob: &[u8], group: &GroupId) -> Result<Opened> {
        self.decrypt_message(&parse_hr_message(blob)?, group)
    }

    /// Decrypts a parsed blob of `group`. The key is found by the header but
    /// must belong to `group`; the sequence number must be 1 to
    /// [`MAX_SEQ_AHEAD`] past the last seen (or used) for that key. Only an
    /// authenticated message moves the counters.
    pub fn decrypt_message(&mut self, message: &HrMessage<'_>, group: &GroupId) -> Result<Opened> {
        let header = &message.header;
        let key_id = self.find_id(header).ok_or_else(|| Error::KeyMissing {
            group_id: hex::encode(header.group_id),
            key_id: header.key_id,
            deprecated_key_id: header.deprecated_key_id,
        })?;
        let slot = self.slots.get_mut(&key_id).expect("find_id names a slot");
        if &slot.key.group != group {
            return Err(Error::WrongGroup {
                key_id,
                key_group: slot.key.group.hex(),
                expected: group.hex(),
            });
        }
        let seq_no = header.seq_no;
        if seq_no == 0 {
            return Err(Error::KeyExchange);
        }
        let last_seen = slot.last_seen.max(slot.next_seq - 1);
        if seq_no - last_seen.min(seq_no) > MAX_SEQ_AHEAD {
            return Err(Error::SequenceTooFarAhead {
                key_id,
                seq_no,
                last_seen,
                limit: MAX_SEQ_AHEAD,
            });
        }
        let message_key = slot.message_key(seq_no);
        let plaintext = envelope::open_with(&slot.key, &message_key, message)?;
        slot.last_seen = slot.last_seen.max(seq_no);
        slot.advance_checkpoint(seq_no, message_key);
        Ok(Opened {
            plaintext,
            key_id,
            seq_no,
        })
    }
}

#[cfg(test)]
mod tests;
