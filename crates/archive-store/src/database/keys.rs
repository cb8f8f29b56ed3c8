//! The hash-ratchet keys of encrypted communities (status-go's
//! `HashRatchetKeyCompatibility` rows): stored as given, never generated here.

use archive_index::CommunityId;

use super::Database;
use crate::{
    columns::{community_blob, from_sql, to_sql},
    error::{Error, Result},
};

/// One key of a community: when it was made and its 32-byte secret.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Milliseconds since the epoch; part of the key's ID.
    pub timestamp_ms: u64,
    /// The secret.
    pub key: [u8; 32],
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of logs.
        write!(f, "StoredKey({} ms, …)", self.timestamp_ms)
    }
}

/// A key's hash-ratchet counters, by key ID (the store does not derive key
/// IDs; `archive-crypto` does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredCounters {
    /// The key's ID.
    pub key_id: [u8; 32],
    /// The sequence number the next seal uses.
    pub next_seq: u32,
    /// The highest sequence number opened.
    pub last_seen: u32,
}

/// What [`Database::import_keys`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeysImported {
    /// Keys the store did not hold before.
    pub new: usize,
    /// Keys it already held (an import repeated is all of these).
    pub already_present: usize,
}

impl Database {
    /// Stores `keys` as `community`'s, in one transaction; keys already held
    /// are counted and left as they are.
    pub fn import_keys(
        &mut self,
        community: &CommunityId,
        keys: &[StoredKey],
    ) -> Result<KeysImported> {
        let tx = self.conn.transaction()?;
        let mut report = KeysImported::default();
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO community_keys (community_id, timestamp_ms, key) \
                 VALUES (?1, ?2, ?3)",
            )?;
            for key in keys {
                let timestamp = to_sql("key timestamp", key.timestamp_ms)?;
                let added = insert.execute(rusqlite::params![
                    community_blob(community),
                    timestamp,
                    &key.key[..]
                ])?;
                if added == 1 {
                    report.new += 1;
                } else {
                    report.already_present += 1;
                }
            }
        }
        tx.commit()?;
        Ok(report)
    }

    /// `community`'s keys, oldest first (the newest is the current one).
    pub fn community_keys(&self, community: &CommunityId) -> Result<Vec<StoredKey>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT timestamp_ms, key FROM community_keys WHERE community_id = ?1 \
             ORDER BY timestamp_ms, key",
        )?;
        let mut rows = stmt.query([community_blob(community)])?;
        let mut keys = Vec::new();
        while let Some(row) = rows.next()? {
            let timestamp_ms = from_sql("key timestamp", row.get(0)?)?;
            let bytes: Vec<u8> = row.get(1)?;
            let key = bytes.as_slice().try_into().map_err(|_| Error::Corrupt {
                what: "community key",
                reason: format!("{} bytes, expected 32", bytes.len()),
            })?;
            keys.push(StoredKey { timestamp_ms, key });
        }
        Ok(keys)
    }

    /// Saves `community`'s key counters; a counter only moves forward, so
    /// saving stale ones changes nothing.
    pub fn save_key_counters(
        &mut self,
        community: &CommunityId,
        counters: &[StoredCounters],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO key_counters (community_id, key_id, next_seq, last_seen) \
                 VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (community_id, key_id) DO UPDATE SET \
                 next_seq = max(next_seq, excluded.next_seq), \
                 last_seen = max(last_seen, excluded.last_seen)",
            )?;
            for c in counters {
                upsert.execute(rusqlite::params![
                    community_blob(community),
                    &c.key_id[..],
                    c.next_seq,
                    c.last_seen
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// `community`'s saved key counters.
    pub fn key_counters(&self, community: &CommunityId) -> Result<Vec<StoredCounters>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key_id, next_seq, last_seen FROM key_counters WHERE community_id = ?1",
        )?;
        let mut rows = stmt.query([community_blob(community)])?;
        let mut counters = Vec::new();
        while let Some(row) = rows.next()? {
            let bytes: Vec<u8> = row.get(0)?;
            let key_id = bytes.as_slice().try_into().map_err(|_| Error::Corrupt {
                what: "key counter",
                reason: format!("a key ID of {} bytes, expected 32", bytes.len()),
            })?;
            counters.push(StoredCounters {
                key_id,
                next_seq: row.get(1)?,
                last_seen: row.get(2)?,
            });
        }
        Ok(counters)
    }
}
