//! The owner's side: every link a scheduler hands over ([`NetworkAnnouncer`])
//! is recorded so the next start extends it, then announced, signed with the
//! community key, on the community's channel. The recorded links are
//! announced again every `reannounce_interval` and when a member asks (a link
//! request), at most once per `link_reply_interval`, so late joiners hear
//! them.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use archive_backend::Link;
use archive_dispatch::{CommunityKey, Dispatcher, LinkRequestListener};
use archive_index::{CommunityId, LinkKind, Topic};
use archive_scheduler::{Announcer, Event, NotRecorded};
use archive_store::Store;
use tokio::{
    task::JoinHandle,
    time::{Instant, MissedTickBehavior},
};
use tokio_util::sync::CancellationToken;

use crate::{
    encryption::{Encrypted, Keyrings},
    error::Result,
    event::{EventSender, NodeEvent},
    repeats::{FailureKey, RepeatedFailures},
};

/// How a node owns a community ([`Node::add_owned_with`](crate::Node::add_owned_with)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OwnOptions {
    /// Its chat topics, archived and claimed in the store.
    pub topics: Vec<Topic>,
    /// Whether archiving runs.
    pub archiving: bool,
    /// Whether archives and index are encrypted with the community's
    /// hash-ratchet keys (a first key is made when the store has none).
    pub encrypted: bool,
}

impl OwnOptions {
    /// Archiving `topics`, plain.
    pub fn new(topics: Vec<Topic>) -> OwnOptions {
        OwnOptions {
            topics,
            archiving: true,
            encrypted: false,
        }
    }

    /// The same, archiving or not.
    pub fn with_archiving(mut self, archiving: bool) -> OwnOptions {
        self.archiving = archiving;
        self
    }

    /// The same, encrypted or not.
    pub fn with_encrypted(mut self, encrypted: bool) -> OwnOptions {
        self.encrypted = encrypted;
        self
    }
}

/// What the owner's side uses of the node, and nothing more.
#[derive(Clone)]
pub(crate) struct OwnerContext {
    pub(crate) store: Store,
    pub(crate) dispatcher: Dispatcher,
    pub(crate) events: EventSender,
    pub(crate) shutdown: CancellationToken,
    pub(crate) owned: OwnedCommunities,
    /// The link kinds of the enabled networks, re-announced in this order.
    pub(crate) kinds: Vec<LinkKind>,
    pub(crate) reannounce_interval: Duration,
    pub(crate) link_reply_interval: Duration,
    /// Announce failures that repeat, reported once and then with a count.
    pub(crate) failures: RepeatedFailures,
    /// Encrypted communities' keyrings, whose counters are saved after
    /// each publish.
    pub(crate) keyrings: Arc<Keyrings>,
    /// The Waku node whose relayed messages are stored, when ingestion is on.
    #[cfg(feature = "waku")]
    pub(crate) ingest_from: Option<Arc<transport_waku::WakuNode>>,
}

impl OwnerContext {
    /// The announcer for the scheduler of the network named `backend`.
    pub(crate) fn announcer(&self, backend: &'static str) -> NetworkAnnouncer {
        NetworkAnnouncer {
            context: self.clone(),
            backend,
        }
    }
}

/// The communities this node owns, shared by the node, the announcers and
/// the member side (which refuses its own community's announcements).
#[derive(Clone, Default)]
pub(crate) struct OwnedCommunities(Arc<Mutex<HashMap<CommunityId, Owned>>>);

impl OwnedCommunities {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<CommunityId, Owned>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn contains(&self, community: &CommunityId) -> bool {
        self.lock().contains_key(community)
    }

    fn key(&self, community: &CommunityId) -> Option<CommunityKey> {
        self.lock().get(community).map(|o| o.key.clone())
    }
}

/// A community this node owns.
pub(crate) struct Owned {
    pub(crate) key: CommunityKey,
    pub(crate) topics: Vec<Topic>,
    /// Its envelope, when it is encrypted.
    pub(crate) encrypted: Option<Encrypted>,
    /// Stores relayed messages on the topics while it lives.
    #[cfg(feature = "waku")]
    _ingestion: Option<transport_waku::Ingestion>,
    /// Re-announces and answers link requests while it lives.
    _reannouncing: Reannouncing,
}

/// The re-announcing task of an owned community, stopped when the
/// community is no longer owned.
struct Reannouncing(JoinHandle<()>);

impl Drop for Reannouncing {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Owned {
    /// Starts ingesting the community's messages from Waku when configured,
    /// and re-announcing its links.
    #[cfg_attr(
        not(feature = "waku"),
        allow(clippy::unused_async, reason = "no ingestion to start")
    )]
    pub(crate) async fn start(
        context: &OwnerContext,
        key: CommunityKey,
        topics: Vec<Topic>,
        encrypted: Option<Encrypted>,
    ) -> Result<Owned> {
        #[cfg(feature = "waku")]
        let ingestion = match &context.ingest_from {
            Some(waku) => {
                let content_topics: Vec<String> = topics
                    .iter()
                    .map(|t| archive_dispatch::content_topic(*t))
                    .collect();
                Some(
                    transport_waku::Ingestion::start(waku, context.store.clone(), &content_topics)
                        .await
                        .map_err(|e| crate::Error::Start {
                            what: "Waku message ingestion",
                            message: e.to_string(),
                        })?,
                )
            }
            None => None,
        };
        let community = key.community_id();
        let requests = context
            .dispatcher
            .listen_link_requests(&[community])
            .await
            .map_err(|e| crate::Error::Start {
                what: "listening for link requests",
                message: e.to_string(),
            })?;
        let reannouncing = Reannouncing(tokio::spawn(reannounce_loop(
            context.clone(),
            key.clone(),
            requests,
        )));
        Ok(Owned {
            key,
            topics,
            encrypted,
            #[cfg(feature = "waku")]
            _ingestion: ingestion,
            _reannouncing: reannouncing,
        })
    }
}

/// The owner's side of one network's scheduler: every event it reports
/// becomes a [`NodeEvent::Archive`], and every link it hands over is
/// recorded and announced. The scheduler awaits each hand-over, so no link
/// goes unannounced however far an event listener lags, and the events
/// reach the node's listeners in order with the announcements.
pub(crate) struct NetworkAnnouncer {
    context: OwnerContext,
    /// The network: "torrent" or "codex".
    backend: &'static str,
}

impl fmt::Debug for NetworkAnnouncer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetworkAnnouncer")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Announcer for NetworkAnnouncer {
    async fn announce(&self, community: CommunityId, link: &Link) -> Result<(), NotRecorded> {
        announce(&self.context, community, link).await
    }

    fn observe(&self, event: &Event) {
        self.context.events.emit(NodeEvent::Archive {
            backend: self.backend,
            event: event.clone(),
        });
    }
}

/// Records `link` as the community's current link, with a clock above any
/// recorded before (members drop announcements with older clocks), then
/// signs and publishes it; a failed publish is retried in the background
/// until it goes through or a newer link replaces it.
///
/// The record comes first: it is the owner's own state (the next start
/// seeds and extends it), whether or not anyone heard the announcement.
/// The scheduler unseeds the link this one replaces once this returns `Ok`.
async fn announce(
    context: &OwnerContext,
    community: CommunityId,
    link: &Link,
) -> Result<(), NotRecorded> {
    let Some(key) = context.owned.key(&community) else {
        // Left while the run was under way: nothing of it is recorded.
        tracing::debug!(%community, %link, "link of a community no longer owned not announced");
        return Err(NotRecorded);
    };
    let kind = link.kind();
    // What the publish sealed is about to be announced: its sequence
    // numbers are saved first, so a restart does not start them over.
    if let Err(e) = context
        .keyrings
        .save_counters(&context.store, community)
        .await
    {
        tracing::warn!(%community, error = %e, "saving the hash-ratchet counters failed");
    }
    let recorded = async {
        let last = context.store.announcement(community, &kind).await?;
        let clock = now_ms().max(last.as_ref().map_or(0, |a| a.clock) + 1);
        context
            .store
            .record_announcement(community, &kind, clock, link.announced().to_owned())
            .await?;
        Ok::<_, archive_store::Error>(clock)
    }
    .await;
    let clock = match recorded {
        Ok(clock) => clock,
        Err(e) => {
            context.events.emit(NodeEvent::AnnounceFailed {
                community,
                error: format!("recording the link: {e}"),
                attempts: 1,
                since: now_ms() / 1000,
            });
            return Err(NotRecorded);
        }
    };
    if publish(context, &key, community, clock, link).await {
        return Ok(());
    }
    let context = context.clone();
    let link = link.clone();
    tokio::spawn(async move {
        let mut delay = RETRY_FIRST;
        loop {
            tokio::select! {
                () = context.shutdown.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
            let current = context
                .store
                .announcement(community, &kind)
                .await
                .ok()
                .flatten();
            if current.is_none_or(|a| a.link != link.announced() || a.clock != clock) {
                return;
            }
            if publish(&context, &key, community, clock, &link).await {
                return;
            }
            delay = (delay * 2).min(RETRY_MAX);
        }
    });
    Ok(())
}

/// Announces the community's recorded links again every
/// `reannounce_interval` (unless zero), and after link requests: the first
/// request is answered at once, later ones within `link_reply_interval` of
/// an answer share one answer at its end, so requests cannot make the owner
/// flood the channel. The answer is the ordinary signed announcement with
/// its original clock; the community signature is what makes it count.
async fn reannounce_loop(context: OwnerContext, key: CommunityKey, requests: LinkRequestListener) {
    let (period, reply_every) = (context.reannounce_interval, context.link_reply_interval);
    let mut ticks = (!period.is_zero()).then(|| {
        let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticks
    });
    let mut requests = Some(requests);
    let mut next_reply = Instant::now();
    let mut owed = false;
    loop {
        let reason = tokio::select! {
            biased;
            () = context.shutdown.cancelled() => return,
            () = async {
                match ticks.as_mut() {
                    Some(ticks) => drop(ticks.tick().await),
                    None => std::future::pending().await,
                }
            }, if ticks.is_some() => "period",
            () = tokio::time::sleep_until(next_reply), if owed => {
                owed = false;
                next_reply = Instant::now() + reply_every;
                "request"
            }
            request = async {
                match requests.as_mut() {
                    Some(requests) => requests.next().await,
                    None => std::future::pending().await,
                }
            }, if requests.is_some() => {
                match request {
                    Some(Ok(request)) => {
                        tracing::debug!(community = %request.community, requester = %request.requester, "link requested");
                        owed = true;
                    }
                    Some(Err(e)) => tracing::debug!(error = %e, "not a link request"),
                    None => requests = None,
                }
                continue;
            }
        };
        reannounce(&context, &key, reason).await;
    }
}

/// Publishes every recorded link of the community again, with its clock.
async fn reannounce(context: &OwnerContext, key: &CommunityKey, reason: &'static str) {
    let community = key.community_id();
    for kind in &context.kinds {
        let recorded = match context.store.announcement(community, kind).await {
            Ok(Some(recorded)) => recorded,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(%community, error = %e, "reading the recorded link failed");
                continue;
            }
        };
        match context
            .dispatcher
            .announce(key, kind.clone(), recorded.clock, &recorded.link)
            .await
        {
            Ok(_) => {
                context.failures.succeeded(&community, kind);
                context.events.emit(NodeEvent::Reannounced {
                    community,
                    kind: kind.clone(),
                    link: recorded.link,
                    clock: recorded.clock,
                    reason,
                });
            }
            Err(e) => announce_failed(context, community, kind.clone(), &e),
        }
    }
}

/// First wait before announcing again after the transport refused (no relay
/// peer yet, say); doubled up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// Signs and publishes one announcement; says whether it went out.
async fn publish(
    context: &OwnerContext,
    key: &CommunityKey,
    community: CommunityId,
    clock: u64,
    link: &Link,
) -> bool {
    match context
        .dispatcher
        .announce(key, link.kind(), clock, link.announced())
        .await
    {
        Ok(_) => {
            tracing::info!(%community, %link, "announced");
            context.failures.succeeded(&community, &link.kind());
            context.events.emit(NodeEvent::Announced {
                community,
                kind: link.kind(),
                link: link.announced().to_owned(),
                clock,
            });
            true
        }
        Err(e) => {
            tracing::debug!(%community, error = %e, "announcing failed; retrying");
            announce_failed(context, community, link.kind(), &e);
            false
        }
    }
}

/// Reports a failed announcement: the first of a streak at once, its
/// repeats (same network, same kind of error) only now and then with their
/// count, so a node without a relay peer does not flood its listeners.
fn announce_failed(
    context: &OwnerContext,
    community: CommunityId,
    network: LinkKind,
    error: &archive_dispatch::Error,
) {
    let key = FailureKey {
        community,
        network,
        error: std::mem::discriminant(error),
    };
    if let Some(report) = context.failures.failed(key) {
        context.events.emit(NodeEvent::AnnounceFailed {
            community,
            error: error.to_string(),
            attempts: report.attempts,
            since: report.since,
        });
    }
}

/// Milliseconds since the epoch: status-go's announcement clock.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
