//! Encrypted communities on a running node: one [`CommunityEnvelope`] per
//! community, loaded from the store's keys and counters, shared by the
//! owner's schedulers and the member's downloads, and given new keys while
//! the node runs ([`Node::import_keys`](crate::Node::import_keys), or a key
//! file dropped into `<data_dir>/keys-inbox/`), which wakes the member
//! downloads that waited for them.
//!
//! Whether a community is encrypted is configuration (`encrypted = true`),
//! never a guess from the bytes: a plain community has no envelope.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use archive_backend::SharedEnvelope;
use archive_crypto::{
    CommunityEnvelope, Counters, GroupId, GroupKey, HrKey, InstallationId, KeyId, Keyring,
};
use archive_index::CommunityId;
use archive_store::{KeysImported, Store, StoredCounters, StoredKey};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};

/// The folder of a node's data directory where key files handed to a
/// running node wait (`archivist keys import` puts them there when the
/// node holds the store).
pub const KEYS_INBOX: &str = "keys-inbox";

/// How often a running node looks into its keys inbox: a key handed over
/// is in use within this, and an empty folder costs one `readdir`.
const INBOX_POLL: Duration = Duration::from_secs(2);

/// One encrypted community: its envelope, and who waits for its keys.
#[derive(Clone)]
pub(crate) struct Encrypted {
    pub(crate) envelope: CommunityEnvelope,
    /// Woken when keys arrive, so a member waiting for one resumes at once.
    pub(crate) keys_arrived: Arc<Notify>,
}

impl Encrypted {
    /// The envelope as the backends take it.
    pub(crate) fn shared(&self) -> SharedEnvelope {
        Arc::new(self.envelope.clone())
    }
}

/// The node's encrypted communities.
pub(crate) struct Keyrings {
    installation: InstallationId,
    communities: Mutex<HashMap<CommunityId, Encrypted>>,
}

impl Keyrings {
    /// Keyrings sealing with `installation_id` (the node identity's), or a
    /// random one where that ID could be misread as a protobuf message
    /// (status-go's pitfall, about 0.07 % of UUIDs).
    pub(crate) fn new(installation_id: &str) -> Result<Keyrings> {
        let installation = InstallationId::new(installation_id)
            .or_else(|_| InstallationId::random())
            .map_err(|e| Error::Start {
                what: "the installation ID for encrypted archives",
                message: e.to_string(),
            })?;
        Ok(Keyrings {
            installation,
            communities: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CommunityId, Encrypted>> {
        self.communities
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// `community` as encrypted: its keys and counters from the store, loaded
    /// once and then shared.
    pub(crate) async fn open(&self, store: &Store, community: CommunityId) -> Result<Encrypted> {
        if let Some(known) = self.lock().get(&community) {
            return Ok(known.clone());
        }
        let (keys, counters) = store
            .with(move |db| Ok((db.community_keys(&community)?, db.key_counters(&community)?)))
            .await?;
        let group = GroupId::from(community);
        let keyring: Keyring = keys.iter().map(|k| hr_key(&group, k)).collect();
        let envelope = CommunityEnvelope::new(group, keyring, self.installation.clone());
        restore_counters(&envelope, &counters);
        let encrypted = Encrypted {
            envelope,
            keys_arrived: Arc::new(Notify::new()),
        };
        Ok(self.lock().entry(community).or_insert(encrypted).clone())
    }

    /// An owner's envelope that can seal: a community without a key gets a
    /// fresh one (status-go's control node makes it the same way), stored
    /// before first use so members can be given it with `keys export`.
    pub(crate) async fn open_for_owner(
        &self,
        store: &Store,
        community: CommunityId,
    ) -> Result<Encrypted> {
        let encrypted = self.open(store, community).await?;
        if !encrypted.envelope.can_seal() {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let key = HrKey::generate(GroupId::from(community), now_ms, None).map_err(|e| {
                Error::Start {
                    what: "a key for the encrypted community",
                    message: e.to_string(),
                }
            })?;
            tracing::info!(%community, key_id = %key.key_id(), "made the encrypted community's first key; give members `archivist keys export`");
            self.add(store, community, vec![key]).await?;
        }
        Ok(encrypted)
    }

    /// Stores `keys` as `community`'s and hands them to its envelope if it
    /// is open, waking whoever waits for keys.
    pub(crate) async fn add(
        &self,
        store: &Store,
        community: CommunityId,
        keys: Vec<HrKey>,
    ) -> Result<KeysImported> {
        let stored: Vec<StoredKey> = keys
            .iter()
            .map(|k| StoredKey {
                timestamp_ms: k.timestamp_ms,
                key: k.key.0,
            })
            .collect();
        let report = store
            .with(move |db| db.import_keys(&community, &stored))
            .await?;
        if let Some(encrypted) = self.lock().get(&community) {
            encrypted.envelope.add_keys(keys);
            encrypted.keys_arrived.notify_one();
        }
        Ok(report)
    }

    /// Stores `keys` under the communities their groups name (a key file
    /// may hold several communities' keys), as [`Self::add`] does for each.
    pub(crate) async fn import(
        &self,
        store: &Store,
        keys: Vec<HrKey>,
    ) -> Result<Vec<(CommunityId, KeysImported)>> {
        let mut by_community: Vec<(CommunityId, Vec<HrKey>)> = Vec::new();
        for key in keys {
            let community = key
                .group
                .as_bytes()
                .try_into()
                .map(CommunityId)
                .map_err(|_| Error::KeyGroup {
                    group: hex_of(key.group.as_bytes()),
                })?;
            match by_community.iter_mut().find(|(c, _)| *c == community) {
                Some((_, keys)) => keys.push(key),
                None => by_community.push((community, vec![key])),
            }
        }
        let mut reports = Vec::with_capacity(by_community.len());
        for (community, keys) in by_community {
            let report = self.add(store, community, keys).await?;
            tracing::info!(%community, new = report.new, "hash-ratchet keys imported");
            reports.push((community, report));
        }
        Ok(reports)
    }

    /// Saves `community`'s counters, so a restart seals under numbers not
    /// used before. Called after each publish; sealed bytes that left before
    /// a crash could repeat a number, which costs nothing but status-go's
    /// bookkeeping (every blob has its own random nonce).
    pub(crate) async fn save_counters(&self, store: &Store, community: CommunityId) -> Result<()> {
        let Some(encrypted) = self.lock().get(&community).cloned() else {
            return Ok(());
        };
        let counters = stored_counters(&encrypted.envelope);
        store
            .with(move |db| db.save_key_counters(&community, &counters))
            .await?;
        Ok(())
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hr_key(group: &GroupId, key: &StoredKey) -> HrKey {
    HrKey {
        group: group.clone(),
        timestamp_ms: key.timestamp_ms,
        key: GroupKey(key.key),
    }
}

/// `envelope`'s counters as the store keeps them (by key ID).
pub fn stored_counters(envelope: &CommunityEnvelope) -> Vec<StoredCounters> {
    envelope
        .counters()
        .into_iter()
        .map(|c| StoredCounters {
            key_id: c.key_id.0,
            next_seq: c.next_seq,
            last_seen: c.last_seen,
        })
        .collect()
}

/// Gives `envelope` back the counters the store kept.
pub fn restore_counters(envelope: &CommunityEnvelope, counters: &[StoredCounters]) {
    let counters: Vec<Counters> = counters
        .iter()
        .map(|c| Counters {
            key_id: KeyId(c.key_id),
            next_seq: c.next_seq,
            last_seen: c.last_seen,
        })
        .collect();
    envelope.restore(&counters);
}

/// `<data_dir>/keys-inbox`.
pub fn keys_inbox(data_dir: &Path) -> PathBuf {
    data_dir.join(KEYS_INBOX)
}

/// Takes the key files in `inbox` into the node every [`INBOX_POLL`] until
/// `shutdown`; each file is removed once its keys are stored, and one that
/// does not parse is renamed `*.rejected` and reported, never retried.
pub(crate) async fn watch_inbox(
    inbox: PathBuf,
    shutdown: CancellationToken,
    import: impl Fn(Vec<HrKey>) -> futures::future::BoxFuture<'static, Result<()>>,
) {
    let mut tick = tokio::time::interval(INBOX_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let Ok(entries) = std::fs::read_dir(&inbox) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for file in files {
            let parsed = std::fs::read(&file)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    if bytes.len() > archive_crypto::MAX_KEY_FILE_LEN {
                        return Err(format!("over {} bytes", archive_crypto::MAX_KEY_FILE_LEN));
                    }
                    archive_crypto::parse_key_file(&bytes).map_err(|e| e.to_string())
                });
            match parsed {
                Ok(keys) => match import(keys).await {
                    Ok(()) => {
                        let _ = std::fs::remove_file(&file);
                    }
                    // The store failed: the file stays and is tried at the
                    // next look.
                    Err(e) => {
                        tracing::warn!(file = %file.display(), error = %e, "importing a key file failed")
                    }
                },
                Err(e) => {
                    tracing::warn!(file = %file.display(), error = %e, "a key file in the inbox does not parse; renamed *.rejected");
                    let _ = std::fs::rename(&file, file.with_extension("rejected"));
                }
            }
        }
    }
}
