//! The member's side of one joined community: announcement → debounce →
//! cancel the running download → resolve → missing (a set difference) →
//! fetch → import → keep seeding, falling back to the other network when the
//! owner announced both and the preferred one fails.

use std::{
    collections::{BTreeMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
};

use archive_backend::{
    DynBackend, ErrorKind, FetchEvent, FetchOptions, FetchOrder, FetchOutcome, Link, ResolveOptions,
};
use archive_dispatch::{
    CommunityLookup, CommunityView, Event as DispatchEvent, Listener, Rejection,
};
use archive_index::{ArchiveId, CommunityId, LinkKind};
use archive_store::Store;
use async_trait::async_trait;
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{error::Result, event::NodeEvent, node::Inner};

/// What a member task needs from the node.
pub(crate) struct MemberContext {
    inner: Arc<Inner>,
    community: CommunityId,
    /// Networks in the order they are tried.
    order: Vec<LinkKind>,
}

impl MemberContext {
    pub(crate) fn new(
        inner: &Arc<Inner>,
        community: CommunityId,
        prefer: Option<LinkKind>,
    ) -> MemberContext {
        let mut order = inner.networks.kinds();
        if let Some(prefer) = prefer
            && let Some(at) = order.iter().position(|k| *k == prefer)
        {
            order.remove(at);
            order.insert(0, prefer);
        }
        MemberContext {
            inner: Arc::clone(inner),
            community,
            order,
        }
    }

    fn backend(&self, kind: &LinkKind) -> Option<&DynBackend> {
        self.inner.networks.backend(kind)
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    fn emit(&self, event: NodeEvent) {
        self.inner.emit(event);
    }
}

/// State shared by a member's task and its downloads.
#[derive(Default)]
struct Shared {
    /// The newest accepted link per kind.
    links: BTreeMap<LinkKind, Link>,
    /// Kinds whose link this node serves.
    seeding: Vec<LinkKind>,
    /// The kind the running download uses.
    downloading: Option<LinkKind>,
}

/// A joined community's running task.
pub(crate) struct Member {
    shared: Arc<Mutex<Shared>>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl Member {
    /// Starts listening for `context.community`'s announcements and resumes
    /// what a previous run left unfinished.
    pub(crate) async fn start(context: MemberContext) -> Result<Member> {
        let context = Arc::new(context);
        let lookup = Arc::new(Lookup {
            store: context.store().clone(),
            community: context.community,
            inner: Arc::downgrade(&context.inner),
        });
        let listener = context
            .inner
            .dispatcher
            .listen(&[context.community], lookup)
            .await?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        // Accepted links of an earlier run, to resume or re-seed.
        for kind in &context.order {
            if let Some(announcement) = context
                .store()
                .announcement(context.community, &kind)
                .await?
                && let Ok(link) = Link::from_announced(kind.clone(), &announcement.link)
            {
                lock(&shared).links.insert(kind.clone(), link);
            }
        }
        let cancel = context.inner.shutdown.child_token();
        let task = tokio::spawn(run(
            Arc::clone(&context),
            listener,
            Arc::clone(&shared),
            cancel.clone(),
        ));
        Ok(Member {
            shared,
            cancel,
            task,
        })
    }

    /// The kinds whose links this member serves.
    pub(crate) fn seeding(&self) -> Vec<LinkKind> {
        lock(&self.shared).seeding.clone()
    }

    /// Whether a download runs.
    pub(crate) fn downloading(&self) -> bool {
        lock(&self.shared).downloading.is_some()
    }

    /// Stops listening and cancels the download, waiting for both.
    pub(crate) async fn stop(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The member's view of its community, from the store.
struct Lookup {
    store: Store,
    community: CommunityId,
    inner: std::sync::Weak<Inner>,
}

#[async_trait]
impl CommunityLookup for Lookup {
    async fn view(&self, community: CommunityId, kind: LinkKind) -> Option<CommunityView> {
        if community != self.community {
            return None;
        }
        let is_owner = self
            .inner
            .upgrade()
            .is_some_and(|inner| inner.lock_owned().contains_key(&community));
        // A store that cannot be read must not turn into "accept anything":
        // the announcement is dropped as unknown and arrives again later.
        let last_clock = self
            .store
            .announcement(community, &kind)
            .await
            .ok()?
            .map_or(0, |a| a.clock);
        let last_link = self.store.fetched_link(community, &kind).await.ok()?;
        Some(CommunityView {
            joined: true,
            is_owner,
            last_clock,
            last_link,
        })
    }
}

/// A running download and how to stop it.
struct Download {
    kind: LinkKind,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

async fn run(
    context: Arc<MemberContext>,
    mut listener: Listener,
    shared: Arc<Mutex<Shared>>,
    cancel: CancellationToken,
) {
    let mut download = resume(&context, &shared, &cancel).await;
    // Other status-go messages heard on the community's channels.
    let mut other_messages: u64 = 0;
    if context.inner.config.request_link_on_join {
        tokio::spawn(request_link(Arc::clone(&context), cancel.clone()));
    }
    loop {
        let finished = async {
            match &mut download {
                Some(d) => {
                    let _ = (&mut d.task).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            () = finished => {
                download = None;
                lock(&shared).downloading = None;
            }
            event = listener.next() => match event {
                Some(DispatchEvent::Accepted(announcement)) => {
                    // Links of a network this node does not run are not its
                    // business (status-go ignores them the same way).
                    if context.backend(&announcement.kind.clone()).is_none() {
                        tracing::debug!(kind = %announcement.kind, "announcement for a disabled network ignored");
                        continue;
                    }
                    let Ok(link) = Link::from_announced(announcement.kind.clone(), &announcement.link) else {
                        continue;
                    };
                    // The clock is recorded at once so a replay of an older
                    // announcement is refused even while this one downloads.
                    if let Err(e) = context
                        .store()
                        .record_announcement(context.community, &announcement.kind, announcement.clock, announcement.link.clone())
                        .await
                    {
                        tracing::warn!(error = %e, "recording an accepted announcement failed");
                    }
                    let known = lock(&shared).links.get(&announcement.kind) == Some(&link);
                    if known {
                        // The owner repeating a link this member already
                        // acts on: the running download goes on; one that
                        // failed before is tried again.
                        context.emit(NodeEvent::AnnouncementRepeated {
                            community: context.community,
                            kind: announcement.kind.clone(),
                            link: announcement.link,
                        });
                        if download.is_none() && !fetched(&context, announcement.kind, &link).await {
                            download = start_download(&context, &shared, &cancel);
                        }
                        continue;
                    }
                    context.emit(NodeEvent::AnnouncementAccepted {
                        community: context.community,
                        kind: announcement.kind.clone(),
                        link: announcement.link,
                    });
                    lock(&shared).links.insert(announcement.kind.clone(), link);
                    if supersedes(&context, download.as_ref().map(|d| d.kind.clone()), announcement.kind) {
                        if let Some(running) = download.take() {
                            running.cancel.cancel();
                            let _ = running.task.await;
                        }
                        download = start_download(&context, &shared, &cancel);
                    }
                }
                Some(DispatchEvent::Repeated(announcement)) => {
                    context.emit(NodeEvent::AnnouncementRepeated {
                        community: context.community,
                        kind: announcement.kind,
                        link: announcement.link,
                    });
                }
                Some(DispatchEvent::Rejected { announcement, rejection }) => {
                    if let Some(message_type) = other_message_type(&rejection) {
                        other_messages += 1;
                        tracing::debug!(
                            community = %context.community,
                            message_type,
                            other_messages,
                            "status-go message of another type on an announcement channel ignored"
                        );
                        continue;
                    }
                    context.emit(NodeEvent::AnnouncementRejected {
                        community: announcement.map(|a| a.community),
                        code: rejection.code(),
                        reason: rejection.to_string(),
                    });
                }
                Some(_) => {}
                None => break,
            },
        }
    }
    if let Some(running) = download {
        running.cancel.cancel();
        let _ = running.task.await;
    }
}

/// Whether `link` is the one this member last fetched completely.
async fn fetched(context: &MemberContext, kind: LinkKind, link: &Link) -> bool {
    context
        .store()
        .fetched_link(context.community, &kind)
        .await
        .ok()
        .flatten()
        .is_some_and(|f| f == link.announced())
}

/// Attempts at sending the link request before leaving it to the owner's
/// periodic re-announcement; the first waits for nothing, then 1 s, 2 s, …
const REQUEST_ATTEMPTS: u32 = 6;

/// Asks the owner for the current link (Archivist's link request, see
/// `archive_dispatch::request`), so a member that joined after the last
/// announcement hears it now rather than next round. A transport that
/// refuses (no relay peer yet) is retried a few times with backoff.
async fn request_link(context: Arc<MemberContext>, cancel: CancellationToken) {
    let mut delay = std::time::Duration::from_secs(1);
    for attempt in 1..=REQUEST_ATTEMPTS {
        match context
            .inner
            .dispatcher
            .request_link(&context.community)
            .await
        {
            Ok(()) => {
                context.emit(NodeEvent::LinkRequested {
                    community: context.community,
                });
                return;
            }
            Err(e) => {
                tracing::debug!(community = %context.community, attempt, error = %e, "link request not sent");
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
        delay *= 2;
    }
}

/// The type of a well-formed status-go message that is simply not an
/// announcement: status-go sends many kinds on `-memberUpdate` (member
/// updates, community events, …), so they are no rejections worth an event.
/// Type 76, which Archivist once announced index CIDs with, stays a
/// rejection: a message of it is a relabelled or outdated announcement.
fn other_message_type(rejection: &Rejection) -> Option<i32> {
    match rejection {
        Rejection::Invalid(archive_dispatch::Error::UnknownType(message_type))
            if *message_type != LEGACY_INDEX_CID_TYPE =>
        {
            Some(*message_type)
        }
        _ => None,
    }
}

/// The `ApplicationMetadataMessage` type the Codex prototype announced index
/// CIDs with (status-go's `SYNC_ACTIVITY_CENTER_UNREAD`, never sent on a
/// community channel).
const LEGACY_INDEX_CID_TYPE: i32 = 76;

/// Whether a newly accepted link of `new` should replace the running
/// download (of `running`): a newer link of the same network does, and so
/// does the preferred network's link while a fallback runs.
fn supersedes(context: &MemberContext, running: Option<LinkKind>, new: LinkKind) -> bool {
    let rank = |k: LinkKind| {
        context
            .order
            .iter()
            .position(|o| *o == k)
            .unwrap_or(usize::MAX)
    };
    match running {
        None => true,
        Some(running) => rank(new) <= rank(running),
    }
}

/// On start: links already fetched are served again where the network can
/// do that from local files; anything else accepted but not fetched (or not
/// servable without its peers) is downloaded, which also resumes imports.
async fn resume(
    context: &Arc<MemberContext>,
    shared: &Arc<Mutex<Shared>>,
    cancel: &CancellationToken,
) -> Option<Download> {
    let links: Vec<(LinkKind, Link)> = lock(shared).links.clone().into_iter().collect();
    let mut unfinished = false;
    for (kind, link) in links {
        let fetched = context
            .store()
            .fetched_link(context.community, &kind)
            .await
            .ok()
            .flatten();
        let Some(backend) = context.backend(&kind.clone()) else {
            continue;
        };
        if fetched.as_deref() == Some(link.announced())
            && backend.seed(&context.community, &link).await.is_ok()
        {
            lock(shared).seeding.push(kind);
            context.emit(NodeEvent::MemberSeeding {
                community: context.community,
                link,
            });
            continue;
        }
        unfinished = true;
    }
    let pending = !context
        .store()
        .archives_to_import(context.community)
        .await
        .unwrap_or_default()
        .is_empty();
    if unfinished || pending {
        start_download(context, shared, cancel)
    } else {
        None
    }
}

fn start_download(
    context: &Arc<MemberContext>,
    shared: &Arc<Mutex<Shared>>,
    parent: &CancellationToken,
) -> Option<Download> {
    let first = {
        let state = lock(shared);
        context
            .order
            .iter()
            .find(|k| state.links.contains_key(*k))?
            .clone()
    };
    lock(shared).downloading = Some(first.clone());
    let cancel = parent.child_token();
    let task = tokio::spawn(download(
        Arc::clone(context),
        Arc::clone(shared),
        cancel.clone(),
    ));
    Some(Download {
        kind: first,
        cancel,
        task,
    })
}

/// Tries each network with an accepted link in preference order until one
/// fetches and imports everything.
async fn download(
    context: Arc<MemberContext>,
    shared: Arc<Mutex<Shared>>,
    cancel: CancellationToken,
) {
    let mut tried = Vec::new();
    loop {
        let next = {
            let state = lock(&shared);
            context
                .order
                .iter()
                .filter(|k| !tried.contains(*k))
                .find_map(|k| state.links.get(k).map(|l| (k.clone(), l.clone())))
        };
        let Some((kind, link)) = next else { return };
        tried.push(kind.clone());
        lock(&shared).downloading = Some(kind.clone());
        let Some(backend) = context.backend(&kind) else {
            continue;
        };
        match fetch_and_import(&context, backend, &link, &cancel).await {
            Ok(outcome) => {
                {
                    let mut state = lock(&shared);
                    if !state.seeding.contains(&kind) {
                        state.seeding.push(kind);
                    }
                }
                context.emit(NodeEvent::DownloadingHistoryArchivesFinished {
                    community: context.community,
                    backend: backend.name(),
                    link: link.clone(),
                    fetched: outcome.fetched.len(),
                    bytes_fetched: outcome.bytes_fetched,
                });
                context.emit(NodeEvent::MemberSeeding {
                    community: context.community,
                    link,
                });
                return;
            }
            Err(e) if e.kind() == ErrorKind::Cancelled || cancel.is_cancelled() => return,
            Err(e) => {
                let fallback = {
                    let state = lock(&shared);
                    context
                        .order
                        .iter()
                        .filter(|k| !tried.contains(k) && state.links.contains_key(k))
                        .find_map(|k| context.backend(k).map(|b| b.name()))
                };
                tracing::warn!(community = %context.community, backend = backend.name(), error = %e, "download failed");
                context.emit(NodeEvent::DownloadFailed {
                    community: context.community,
                    backend: backend.name(),
                    error: e.to_string(),
                    fallback,
                });
            }
        }
    }
}

/// Resolves `link`, fetches the archives not downloaded yet, imports each as
/// it arrives (and any left from before), and records the link as fetched.
async fn fetch_and_import(
    context: &Arc<MemberContext>,
    backend: &DynBackend,
    link: &Link,
    cancel: &CancellationToken,
) -> archive_backend::Result<FetchOutcome> {
    let community = context.community;
    let options = ResolveOptions::default();
    let index = tokio::select! {
        biased;
        () = cancel.cancelled() => return Err(cancelled(backend)),
        index = backend.resolve(&community, link, &options) => index?,
    };
    let downloaded: HashSet<ArchiveId> = context
        .store()
        .downloaded_archive_ids(community)
        .await
        .map_err(|e| store_error(backend, e))?
        .into_iter()
        .collect();
    let missing = index.missing(&downloaded);
    // Downloaded earlier, not imported yet (a crash, a failed import).
    let leftovers: Vec<ArchiveId> = context
        .store()
        .archives_to_import(community)
        .await
        .map_err(|e| store_error(backend, e))?
        .into_iter()
        .map(|a| a.id)
        .filter(|id| index.get(id).is_some())
        .collect();
    if !missing.is_empty() {
        context.emit(NodeEvent::DownloadingHistoryArchivesStarted {
            community,
            backend: backend.name(),
            missing: missing.len(),
        });
    }
    let (events, mut fetched) = mpsc::channel(64);
    let importer = {
        let context = Arc::clone(context);
        let backend = Arc::clone(backend);
        let link = link.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let mut tally = ImportTally::default();
            for id in leftovers {
                tally.import(&context, &backend, &link, id, &cancel).await;
            }
            while let Some(FetchEvent::ArchiveFetched { id, range }) = fetched.recv().await {
                if let Err(e) = context
                    .store()
                    .record_downloaded(context.community, id, range)
                    .await
                {
                    tracing::warn!(error = %e, "recording a downloaded archive failed");
                    tally.failed += 1;
                    continue;
                }
                tally.fetched += 1;
                context.emit(NodeEvent::HistoryArchiveDownloaded {
                    community: context.community,
                    id,
                    range,
                });
                tally.import(&context, &backend, &link, id, &cancel).await;
            }
            tally
        })
    };
    let order = if context.inner.config.import.newest_first {
        FetchOrder::NewestFirst
    } else {
        FetchOrder::OldestFirst
    };
    let outcome = backend
        .fetch(
            &community,
            link,
            &missing,
            &FetchOptions { order },
            events,
            cancel.child_token(),
        )
        .await;
    // The sender is gone with the fetch, so the importer drains and ends.
    let tally = importer.await.unwrap_or(ImportTally {
        failed: 1,
        ..ImportTally::default()
    });
    if cancel.is_cancelled() {
        // Said once, at the boundary where the work stopped: what is
        // recorded as downloaded is imported on the next start.
        context.emit(NodeEvent::DownloadStopped {
            community,
            backend: backend.name(),
            fetched: tally.fetched,
            imported: tally.imported,
            left_to_import: tally.deferred,
            not_fetched: missing.len().saturating_sub(tally.fetched),
        });
        return Err(cancelled(backend));
    }
    let outcome = outcome?;
    let failures = tally.failed;
    if failures > 0 {
        return Err(archive_backend::Error::new(
            ErrorKind::Other,
            backend.name(),
            format!(
                "{failures} archive(s) could not be imported; they are retried on the next download"
            ),
        ));
    }
    context
        .store()
        .set_fetched_link(community, &link.kind(), link.announced().to_owned())
        .await
        .map_err(|e| store_error(backend, e))?;
    Ok(outcome)
}

/// What one download's importer did.
#[derive(Debug, Default)]
struct ImportTally {
    /// Archives the fetch handed over (recorded as downloaded).
    fetched: usize,
    imported: usize,
    failed: usize,
    /// Not imported because the download was stopped first; they are
    /// recorded as downloaded, so the next start imports them.
    deferred: usize,
}

impl ImportTally {
    /// Imports `id` unless the download was stopped: a stop lets the import
    /// in progress finish (one transaction) and starts no other.
    async fn import(
        &mut self,
        context: &MemberContext,
        backend: &DynBackend,
        link: &Link,
        id: ArchiveId,
        cancel: &CancellationToken,
    ) {
        if cancel.is_cancelled() {
            self.deferred += 1;
        } else if import(context, backend, link, id).await {
            self.imported += 1;
        } else {
            self.failed += 1;
        }
    }
}

/// Imports one downloaded archive (when importing is on) and marks it;
/// says whether it succeeded.
async fn import(context: &MemberContext, backend: &DynBackend, link: &Link, id: ArchiveId) -> bool {
    if !context.inner.config.import.enabled {
        return true;
    }
    let community = context.community;
    context.emit(NodeEvent::ImportingHistoryArchiveMessages { community, id });
    let result = async {
        let archive = backend
            .read_archive(&community, link, &id)
            .await
            .map_err(|e| e.to_string())?;
        let messages = archive.messages.len();
        context
            .store()
            .import_archive(community, id, archive)
            .await
            .map_err(|e| e.to_string())?;
        context
            .store()
            .set_imported(community, id, true)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(messages)
    }
    .await;
    match result {
        Ok(messages) => {
            context.emit(NodeEvent::HistoryArchiveImported {
                community,
                id,
                messages,
            });
            true
        }
        Err(error) => {
            tracing::warn!(%community, archive = %id, %error, "import failed");
            context.emit(NodeEvent::ImportFailed {
                community,
                id,
                error,
            });
            false
        }
    }
}

fn cancelled(backend: &DynBackend) -> archive_backend::Error {
    archive_backend::Error::new(ErrorKind::Cancelled, backend.name(), "download cancelled")
}

fn store_error(backend: &DynBackend, e: archive_store::Error) -> archive_backend::Error {
    archive_backend::Error::new(ErrorKind::Other, backend.name(), format!("store: {e}"))
}
