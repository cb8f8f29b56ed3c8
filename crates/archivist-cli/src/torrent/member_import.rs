//! `archivist fetch --db`: a member imports what it fetched into its message
//! store, for magnet and `codex:` links alike.
//!
//! The store decides everything: which archives are still to import (an
//! index's archives minus the imported ones, a set difference) and how an
//! archive replaces its range (one transaction in
//! `archive_store::Database::import_archive`). A fetch killed at any moment
//! therefore leaves each archive either imported whole or not at all, and the
//! next fetch picks up exactly the ones not imported, including those it had
//! downloaded but not yet imported.

use std::{
    collections::HashSet,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::Context;
use archive_backend::RemoteIndex;
use archive_index::{Archive, ArchiveId, CommunityId};
use archive_store::Store;
use serde_json::json;

/// A member's store while one fetch imports into it.
#[derive(Debug)]
pub(crate) struct MemberStore {
    store: Store,
    community: CommunityId,
    archives: u64,
    inserted: u64,
    removed: u64,
    duplicates: u64,
    /// Messages dropped because their topic belongs to another community.
    foreign_topic_messages: u64,
    busy: Duration,
}

impl MemberStore {
    /// Opens (creating if missing) the store at `path`.
    pub(crate) async fn open(path: &Path, community: CommunityId) -> anyhow::Result<MemberStore> {
        let store = Store::open(path)
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(MemberStore {
            store,
            community,
            archives: 0,
            inserted: 0,
            removed: 0,
            duplicates: 0,
            foreign_topic_messages: 0,
            busy: Duration::ZERO,
        })
    }

    /// The archives of `index` not imported yet, oldest first. An archive
    /// recorded as downloaded by an interrupted fetch but never imported is
    /// among them, so it is fetched (at once: its bytes are here) and imported.
    pub(crate) async fn pending(&self, index: &RemoteIndex) -> anyhow::Result<Vec<ArchiveId>> {
        let downloaded = self.store.downloaded_archive_ids(self.community).await?;
        let unimported: HashSet<ArchiveId> = self
            .store
            .archives_to_import(self.community)
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect();
        let imported: HashSet<ArchiveId> = downloaded
            .into_iter()
            .filter(|id| !unimported.contains(id))
            .collect();
        Ok(index.missing(&imported))
    }

    /// Records the fetched archives as downloaded, before any is imported, so
    /// the store knows of them even if importing is interrupted.
    pub(crate) async fn record_downloaded(
        &self,
        index: &RemoteIndex,
        ids: &[ArchiveId],
    ) -> anyhow::Result<()> {
        for id in ids {
            let metadata = index
                .get(id)
                .with_context(|| format!("archive {id} is not in the index"))?;
            self.store
                .record_downloaded(self.community, *id, metadata.range)
                .await?;
        }
        Ok(())
    }

    /// Imports one fetched archive as the canonical history of its range.
    pub(crate) async fn import(&mut self, id: ArchiveId, archive: Archive) -> anyhow::Result<()> {
        let started = Instant::now();
        let report = self
            .store
            .import_archive(self.community, id, archive)
            .await
            .with_context(|| format!("importing archive {id}"))?;
        self.busy += started.elapsed();
        self.archives += 1;
        self.inserted += report.inserted;
        self.removed += report.removed;
        self.duplicates += report.duplicates;
        self.foreign_topic_messages += report.foreign_topic_messages;
        Ok(())
    }

    /// The `"imported"` object of the fetch report.
    pub(crate) fn report(&self) -> serde_json::Value {
        json!({
            "archives": self.archives,
            "messages": self.inserted,
            "removed": self.removed,
            "duplicates": self.duplicates,
            "foreign_topic_messages": self.foreign_topic_messages,
            "seconds": self.busy.as_secs_f64(),
        })
    }
}
