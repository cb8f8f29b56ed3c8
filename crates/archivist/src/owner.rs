//! The owner's side: every link a scheduler starts seeding is announced,
//! signed with the community key, on the community's channel, and recorded
//! so the next start extends it. The recorded links are announced again
//! every `reannounce_interval` and when a member asks (a link request), at
//! most once per `link_reply_interval`, so late joiners hear them.

use std::{
    sync::{Arc, Weak},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use archive_backend::Link;
use archive_dispatch::{CommunityKey, LinkRequestListener};
use archive_index::{CommunityId, Topic};
use archive_scheduler::Event;
use tokio::{
    sync::broadcast::{self, error::RecvError},
    task::JoinHandle,
    time::{Instant, MissedTickBehavior},
};
use tokio_util::sync::CancellationToken;

use crate::{error::Result, event::NodeEvent, networks::Network, node::Inner};

/// A community this node owns.
pub(crate) struct Owned {
    pub(crate) key: CommunityKey,
    pub(crate) topics: Vec<Topic>,
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
    /// Starts ingesting the community's messages from Waku when configured.
    #[cfg_attr(
        not(feature = "waku"),
        allow(clippy::unused_async, reason = "no ingestion to start")
    )]
    pub(crate) async fn start(
        inner: &Arc<Inner>,
        key: CommunityKey,
        topics: Vec<Topic>,
    ) -> Result<Owned> {
        #[cfg(feature = "waku")]
        let ingestion = match &inner.networks.waku {
            Some(waku) if inner.config.waku.ingest => {
                let content_topics: Vec<String> = topics
                    .iter()
                    .map(|t| archive_dispatch::content_topic(*t))
                    .collect();
                Some(
                    transport_waku::Ingestion::start(waku, inner.store.clone(), &content_topics)
                        .await
                        .map_err(|e| crate::Error::Start {
                            what: "Waku message ingestion",
                            message: e.to_string(),
                        })?,
                )
            }
            _ => None,
        };
        let community = key.community_id();
        let requests = inner
            .dispatcher
            .listen_link_requests(&[community])
            .await
            .map_err(|e| crate::Error::Start {
                what: "listening for link requests",
                message: e.to_string(),
            })?;
        let reannouncing = Reannouncing(tokio::spawn(reannounce_loop(
            Arc::downgrade(inner),
            key.clone(),
            requests,
            inner.shutdown.clone(),
        )));
        Ok(Owned {
            key,
            topics,
            #[cfg(feature = "waku")]
            _ingestion: ingestion,
            _reannouncing: reannouncing,
        })
    }
}

/// Forwards one scheduler's events and announces each link it seeds, until
/// the node shuts down (after the events already sent are handled).
pub(crate) async fn pump(
    inner: Weak<Inner>,
    network: Network,
    mut events: broadcast::Receiver<Event>,
    shutdown: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            biased;
            event = events.recv() => event,
            () = shutdown.cancelled() => break,
        };
        let event = match event {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    backend = network.backend.name(),
                    "archive events missed"
                );
                continue;
            }
            Err(RecvError::Closed) => break,
        };
        let Some(inner) = inner.upgrade() else { break };
        let seeding = match &event {
            Event::HistoryArchivesSeeding { community, link } => Some((*community, link.clone())),
            _ => None,
        };
        inner.emit(NodeEvent::Archive {
            backend: network.backend.name(),
            event,
        });
        if let Some((community, link)) = seeding {
            announce(&inner, &network, community, &link).await;
        }
    }
}

/// Records `link` as the community's current link, with a clock above any
/// recorded before (members drop announcements with older clocks), then
/// signs and publishes it; a failed publish is retried in the background
/// until it goes through or a newer link replaces it.
///
/// The record comes first: it is the owner's own state (the next start
/// seeds and extends it), whether or not anyone heard the announcement.
/// Only then is the link it replaces unseeded: a backend whose unseeding
/// deletes (Codex drops the old index) keeps it until the new one is safe.
async fn announce(inner: &Arc<Inner>, network: &Network, community: CommunityId, link: &Link) {
    let Some(key) = inner.lock_owned().get(&community).map(|o| o.key.clone()) else {
        return;
    };
    let kind = link.kind();
    let recorded = async {
        let last = inner.store.announcement(community, &kind).await?;
        let clock = now_ms().max(last.as_ref().map_or(0, |a| a.clock) + 1);
        inner
            .store
            .record_announcement(community, &kind, clock, link.announced().to_owned())
            .await?;
        Ok::<_, archive_store::Error>((clock, last.map(|a| a.link)))
    }
    .await;
    let clock = match recorded {
        Ok((clock, previous)) => {
            if let Some(previous) = previous.filter(|p| p != link.announced())
                && let Ok(previous) = Link::from_announced(kind.clone(), &previous)
                && let Err(e) = network.backend.unseed(&community, &previous).await
            {
                tracing::warn!(%community, %previous, error = %e, "unseeding the replaced link failed");
            }
            clock
        }
        Err(e) => {
            inner.emit(NodeEvent::AnnounceFailed {
                community,
                error: format!("recording the link: {e}"),
            });
            return;
        }
    };
    if publish(inner, &key, community, clock, link).await {
        return;
    }
    let inner = Arc::clone(inner);
    let link = link.clone();
    tokio::spawn(async move {
        let mut delay = RETRY_FIRST;
        loop {
            tokio::select! {
                () = inner.shutdown.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
            let current = inner
                .store
                .announcement(community, &kind)
                .await
                .ok()
                .flatten();
            if current.is_none_or(|a| a.link != link.announced() || a.clock != clock) {
                return;
            }
            if publish(&inner, &key, community, clock, &link).await {
                return;
            }
            delay = (delay * 2).min(RETRY_MAX);
        }
    });
}

/// Announces the community's recorded links again every
/// `reannounce_interval` (unless zero), and after link requests: the first
/// request is answered at once, later ones within `link_reply_interval` of
/// an answer share one answer at its end, so requests cannot make the owner
/// flood the channel. The answer is the ordinary signed announcement with
/// its original clock; the community signature is what makes it count.
async fn reannounce_loop(
    inner: Weak<Inner>,
    key: CommunityKey,
    requests: LinkRequestListener,
    shutdown: CancellationToken,
) {
    let (period, reply_every) = match inner.upgrade() {
        Some(inner) => (
            inner.config.reannounce_interval,
            inner.config.link_reply_interval,
        ),
        None => return,
    };
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
            () = shutdown.cancelled() => return,
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
        let Some(inner) = inner.upgrade() else { return };
        reannounce(&inner, &key, reason).await;
    }
}

/// Publishes every recorded link of the community again, with its clock.
async fn reannounce(inner: &Inner, key: &CommunityKey, reason: &'static str) {
    let community = key.community_id();
    for kind in inner.networks.kinds() {
        let recorded = match inner.store.announcement(community, &kind).await {
            Ok(Some(recorded)) => recorded,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(%community, error = %e, "reading the recorded link failed");
                continue;
            }
        };
        match inner
            .dispatcher
            .announce(key, kind.clone(), recorded.clock, &recorded.link)
            .await
        {
            Ok(_) => inner.emit(NodeEvent::Reannounced {
                community,
                kind,
                link: recorded.link,
                clock: recorded.clock,
                reason,
            }),
            Err(e) => inner.emit(NodeEvent::AnnounceFailed {
                community,
                error: e.to_string(),
            }),
        }
    }
}

/// First wait before announcing again after the transport refused (no relay
/// peer yet, say); doubled up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// Signs and publishes one announcement; says whether it went out.
async fn publish(
    inner: &Inner,
    key: &CommunityKey,
    community: CommunityId,
    clock: u64,
    link: &Link,
) -> bool {
    match inner
        .dispatcher
        .announce(key, link.kind(), clock, link.announced())
        .await
    {
        Ok(_) => {
            tracing::info!(%community, %link, "announced");
            inner.emit(NodeEvent::Announced {
                community,
                kind: link.kind(),
                link: link.announced().to_owned(),
                clock,
            });
            true
        }
        Err(e) => {
            tracing::debug!(%community, error = %e, "announcing failed; retrying");
            inner.emit(NodeEvent::AnnounceFailed {
                community,
                error: e.to_string(),
            });
            false
        }
    }
}

/// Milliseconds since the epoch: status-go's announcement clock.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
