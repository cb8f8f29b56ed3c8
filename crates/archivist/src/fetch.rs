//! One pass from a link to the message store, shared by a node's members and
//! `archivist fetch --db`: resolve the link, fetch the archives the member's
//! [`DownloadPolicy`] selects that the store has not downloaded (a set
//! difference, so a wider policy later fetches only the rest), and import each as the backend hands it
//! over — decoded once, recorded as downloaded, imported and marked in one
//! transaction. Archives downloaded but not imported before (a crash, a
//! failed import) are read back with `Backend::read_archive` and imported
//! first.
//!
//! The backend holds at most [`HANDOVER_CAPACITY`] decoded archives waiting
//! for the importer, so memory stays bounded however many archives a link
//! has.

use std::collections::HashSet;

use archive_backend::{
    Backend, Error, ErrorKind, FetchEvent, FetchOptions, FetchOrder, FetchOutcome, Link,
    ResolveOptions, Result, SharedEnvelope,
};
use archive_index::{Archive, ArchiveId, CommunityId, DownloadPolicy, TimeRange};
use archive_store::{ImportReport, Store};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How many verified archives a backend may hand over ahead of the importer.
pub const HANDOVER_CAPACITY: usize = 2;

/// How to fetch into the store.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FetchIntoStore {
    /// The order archives are fetched and imported in.
    pub order: FetchOrder,
    /// Whether archives are imported (else only recorded as downloaded).
    pub import: bool,
    /// How long to wait for the index.
    pub resolve: ResolveOptions,
    /// Which archives are wanted.
    pub policy: DownloadPolicy,
    /// Opens the index and archives of an encrypted community.
    pub envelope: Option<SharedEnvelope>,
}

impl Default for FetchIntoStore {
    fn default() -> FetchIntoStore {
        FetchIntoStore {
            order: FetchOrder::OldestFirst,
            import: true,
            resolve: ResolveOptions::default(),
            policy: DownloadPolicy::All,
            envelope: None,
        }
    }
}

impl FetchIntoStore {
    /// The same in `order`.
    pub fn with_order(mut self, order: FetchOrder) -> FetchIntoStore {
        self.order = order;
        self
    }

    /// The same, importing or not.
    pub fn with_import(mut self, import: bool) -> FetchIntoStore {
        self.import = import;
        self
    }

    /// The same, fetching what `policy` selects.
    pub fn with_policy(mut self, policy: DownloadPolicy) -> FetchIntoStore {
        self.policy = policy;
        self
    }

    /// The same, opening sealed blobs with `envelope` (an encrypted
    /// community's).
    pub fn with_envelope(mut self, envelope: Option<SharedEnvelope>) -> FetchIntoStore {
        self.envelope = envelope;
        self
    }

    /// The same, waiting `resolve` for the index.
    pub fn with_resolve(mut self, resolve: ResolveOptions) -> FetchIntoStore {
        self.resolve = resolve;
        self
    }
}

/// A step of [`fetch_into_store`], as it happens.
#[derive(Debug)]
#[non_exhaustive]
pub enum Step<'a> {
    /// The index is read: `missing` archives will be fetched, and
    /// `leftovers` downloaded earlier will be imported.
    Resolved {
        /// Archives to fetch.
        missing: usize,
        /// The ranges of the archives to fetch, oldest first.
        ranges: &'a [TimeRange],
        /// Archives not downloaded that the policy leaves out.
        unselected: usize,
        /// Archives downloaded earlier, not yet imported.
        leftovers: usize,
    },
    /// The backend handed an archive over; it is recorded as downloaded.
    Fetched {
        /// The archive.
        id: ArchiveId,
        /// Its partition.
        range: TimeRange,
        /// Its messages.
        archive: &'a Archive,
    },
    /// An archive's import begins.
    Importing {
        /// The archive.
        id: ArchiveId,
    },
    /// An archive is imported and marked so.
    Imported {
        /// The archive.
        id: ArchiveId,
        /// Messages it holds.
        messages: usize,
        /// What the import did.
        report: &'a ImportReport,
    },
    /// An archive is downloaded (recorded so) but sealed with a key this
    /// node does not hold: it is imported once the key arrives.
    Locked {
        /// The archive.
        id: ArchiveId,
        /// The missing key's ID.
        key_id: &'a str,
    },
    /// An archive could not be recorded, read back or imported; the next
    /// download tries again.
    Failed {
        /// The archive.
        id: ArchiveId,
        /// What failed.
        error: String,
    },
}

/// What [`fetch_into_store`] did.
#[derive(Debug)]
pub struct Fetched {
    /// The fetch's own result; `Err` of kind `Cancelled` when `cancel` fired.
    pub outcome: Result<FetchOutcome>,
    /// Archives the policy selected that the store had not downloaded.
    pub missing: usize,
    /// Archives the store has not downloaded that the policy left out; a
    /// link is fetched completely only when this is 0.
    pub unselected: usize,
    /// Archives handed over and recorded as downloaded.
    pub recorded: usize,
    /// Archives imported (handed over or left from before).
    pub imported: usize,
    /// Archives that failed to be recorded, read or imported.
    pub failed: usize,
    /// Archives downloaded but waiting for their key (an encrypted
    /// community's, sealed with a key this node lacks).
    pub locked: usize,
    /// Archives recorded but not imported because `cancel` fired first; the
    /// next download imports them.
    pub deferred: usize,
}

/// Resolves `link` on `backend`, fetches the archives of `community` that
/// `store` has not downloaded, and imports each as it is handed over (and
/// those left from before), reporting each [`Step`] to `on_step`. A cancel
/// lets the import in progress finish (one transaction) and starts no other.
/// Fails only when the index cannot be read or the store not queried; every
/// later failure is in [`Fetched`].
pub async fn fetch_into_store(
    store: &Store,
    backend: &dyn Backend,
    community: CommunityId,
    link: &Link,
    options: &FetchIntoStore,
    cancel: &CancellationToken,
    on_step: &(dyn Fn(Step<'_>) + Send + Sync),
) -> Result<Fetched> {
    let store_error = |e: archive_store::Error| {
        Error::new(ErrorKind::Other, backend.name(), format!("store: {e}"))
    };
    let resolve = options
        .resolve
        .clone()
        .with_envelope(options.envelope.clone());
    let index = tokio::select! {
        biased;
        () = cancel.cancelled() => {
            return Err(Error::new(ErrorKind::Cancelled, backend.name(), "download cancelled"));
        }
        index = backend.resolve(&community, link, &resolve) => index?,
    };
    let downloaded: HashSet<ArchiveId> = store
        .downloaded_archive_ids(community)
        .await
        .map_err(store_error)?
        .into_iter()
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let missing = index.missing_selected(&downloaded, &options.policy, now);
    let unselected = index.missing(&downloaded).len() - missing.len();
    let ranges: Vec<TimeRange> = missing
        .iter()
        .filter_map(|id| index.get(id).map(|m| m.range))
        .collect();
    // Not read back when nothing is imported: they would only be dropped.
    let leftovers: Vec<ArchiveId> = if options.import {
        store
            .archives_to_import(community)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|a| a.id)
            .filter(|id| index.get(id).is_some())
            .collect()
    } else {
        Vec::new()
    };
    on_step(Step::Resolved {
        missing: missing.len(),
        ranges: &ranges,
        unselected,
        leftovers: leftovers.len(),
    });
    let mut importer = Importer {
        store,
        community,
        import: options.import,
        cancel,
        on_step,
        fetched: Fetched {
            outcome: Ok(FetchOutcome::default()),
            missing: missing.len(),
            unselected,
            recorded: 0,
            imported: 0,
            failed: 0,
            locked: 0,
            deferred: 0,
        },
    };
    let fetch_options = FetchOptions {
        order: options.order,
        envelope: options.envelope.clone(),
    };
    for id in leftovers {
        match backend
            .read_archive(&community, link, &id, &fetch_options)
            .await
        {
            Ok(archive) => importer.import(id, archive).await,
            Err(e) if e.kind() == ErrorKind::KeyMissing => {
                importer.locked(id, e.missing_key().unwrap_or_default());
            }
            Err(e) => importer.failed(id, format!("reading it back: {e}")),
        }
    }
    let (events, mut handed_over) = mpsc::channel(HANDOVER_CAPACITY);
    let fetching = backend.fetch(
        &community,
        link,
        &missing,
        &fetch_options,
        events,
        cancel.child_token(),
    );
    let importing = async {
        // Ends when the fetch drops its sender.
        while let Some(event) = handed_over.recv().await {
            match event {
                FetchEvent::ArchiveFetched { id, range, archive } => {
                    importer.fetched(id, range, archive).await;
                }
                FetchEvent::ArchiveLocked { id, range, key_id } => {
                    importer.fetched_locked(id, range, &key_id).await;
                }
            }
        }
    };
    let (outcome, ()) = tokio::join!(fetching, importing);
    importer.fetched.outcome = outcome;
    Ok(importer.fetched)
}

/// Records and imports what the fetch hands over, counting as it goes.
struct Importer<'a> {
    store: &'a Store,
    community: CommunityId,
    import: bool,
    cancel: &'a CancellationToken,
    on_step: &'a (dyn Fn(Step<'_>) + Send + Sync),
    fetched: Fetched,
}

impl Importer<'_> {
    /// Records `id` as downloaded; false (and reported) when the store
    /// failed.
    async fn record(&mut self, id: ArchiveId, range: TimeRange) -> bool {
        if let Err(e) = self
            .store
            .record_downloaded(self.community, id, range)
            .await
        {
            self.failed(id, format!("recording it as downloaded: {e}"));
            return false;
        }
        self.fetched.recorded += 1;
        true
    }

    async fn fetched(&mut self, id: ArchiveId, range: TimeRange, archive: Archive) {
        if !self.record(id, range).await {
            return;
        }
        (self.on_step)(Step::Fetched {
            id,
            range,
            archive: &archive,
        });
        self.import(id, archive).await;
    }

    /// Imports `archive` unless importing is off or the download was
    /// cancelled; `import_archive` marks it imported in the same transaction.
    async fn import(&mut self, id: ArchiveId, archive: Archive) {
        if !self.import {
            return;
        }
        if self.cancel.is_cancelled() {
            self.fetched.deferred += 1;
            return;
        }
        (self.on_step)(Step::Importing { id });
        let messages = archive.messages.len();
        match self.store.import_archive(self.community, id, archive).await {
            Ok(report) => {
                self.fetched.imported += 1;
                (self.on_step)(Step::Imported {
                    id,
                    messages,
                    report: &report,
                });
            }
            Err(e) => self.failed(id, e.to_string()),
        }
    }

    /// Records a sealed archive as downloaded (its bytes stay with the
    /// backend) so that it is read back and imported once its key arrives.
    async fn fetched_locked(&mut self, id: ArchiveId, range: TimeRange, key_id: &str) {
        if self.record(id, range).await {
            self.locked(id, key_id);
        }
    }

    fn locked(&mut self, id: ArchiveId, key_id: &str) {
        self.fetched.locked += 1;
        (self.on_step)(Step::Locked { id, key_id });
    }

    fn failed(&mut self, id: ArchiveId, error: String) {
        self.fetched.failed += 1;
        (self.on_step)(Step::Failed { id, error });
    }
}

#[cfg(test)]
mod tests;
