//! Hearing a joined community's announcements: the member task's loop,
//! which link to act on and when a new one supersedes the running download,
//! asking the owner for its link, and resuming after a restart.

use std::sync::{Arc, Mutex};

use archive_backend::Link;
use archive_dispatch::{
    CommunityLookup, CommunityView, Event as DispatchEvent, Listener, Rejection,
};
use archive_index::{CommunityId, LinkKind};
use archive_store::Store;
use async_trait::async_trait;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{
    MemberContext, Shared,
    download::{Download, start_download},
    lock,
};
use crate::{error::Result, event::NodeEvent, owner::OwnedCommunities};

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
            owned: context.owned.clone(),
        });
        let listener = context
            .dispatcher
            .listen(&[context.community], lookup)
            .await?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        // Accepted links of an earlier run, to resume or re-seed.
        for kind in context.order() {
            if let Some(announcement) = context
                .store()
                .announcement(context.community, &kind)
                .await?
                && let Ok(link) = Link::from_announced(kind.clone(), &announcement.link)
            {
                lock(&shared).links.insert(kind.clone(), link);
            }
        }
        let cancel = context.shutdown.child_token();
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

/// The member's view of its community, from the store.
struct Lookup {
    store: Store,
    community: CommunityId,
    owned: OwnedCommunities,
}

#[async_trait]
impl CommunityLookup for Lookup {
    async fn view(&self, community: CommunityId, kind: LinkKind) -> Option<CommunityView> {
        if community != self.community {
            return None;
        }
        let is_owner = self.owned.contains(&community);
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

async fn run(
    context: Arc<MemberContext>,
    mut listener: Listener,
    shared: Arc<Mutex<Shared>>,
    cancel: CancellationToken,
) {
    let mut download = resume(&context, &shared, &cancel).await;
    // Other status-go messages heard on the community's channels.
    let mut other_messages: u64 = 0;
    if context.request_link_on_join {
        tokio::spawn(request_link(Arc::clone(&context), cancel.clone()));
    }
    // Keys that arrived while a download ran: it may have found archives
    // locked before they came, so it runs once more when it ends.
    let mut keys_during_download = false;
    loop {
        let finished = async {
            match &mut download {
                Some(d) => {
                    let _ = (&mut d.task).await;
                }
                None => std::future::pending().await,
            }
        };
        let keys_arrived = async {
            match &context.encrypted {
                Some(encrypted) => encrypted.keys_arrived.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            () = finished => {
                download = None;
                lock(&shared).downloading = None;
                if std::mem::take(&mut keys_during_download) && lock(&shared).awaiting_key {
                    lock(&shared).awaiting_key = false;
                    download = start_download(&context, &shared, &cancel);
                }
            }
            () = keys_arrived => {
                if download.is_some() {
                    keys_during_download = true;
                } else if std::mem::take(&mut lock(&shared).awaiting_key) {
                    // Archives (or the index) waited for a key: import them
                    // now, without a restart.
                    download = start_download(&context, &shared, &cancel);
                }
            }
            event = listener.next() => match event {
                Some(DispatchEvent::Accepted(announcement)) => {
                    // Links of a network this node does not run are not its
                    // business (status-go ignores them the same way).
                    if context.backend(&announcement.kind).is_none() {
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
                        let waiting = lock(&shared).awaiting_key;
                        if download.is_none() && !waiting && !fetched(&context, announcement.kind, &link).await {
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
        match context.dispatcher.request_link(&context.community).await {
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
            .order()
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
        let Some(backend) = context.backend(&kind) else {
            continue;
        };
        if fetched.as_deref() == Some(link.announced())
            && backend.capabilities().member_seeding
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
