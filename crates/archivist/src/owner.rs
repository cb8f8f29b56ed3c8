//! The owner's side: every link a scheduler starts seeding is announced,
//! signed with the community key, on the community's channel, and recorded
//! so the next start extends it.

use std::{
    sync::{Arc, Weak},
    time::{SystemTime, UNIX_EPOCH},
};

use archive_backend::Link;
use archive_dispatch::CommunityKey;
use archive_index::{CommunityId, Topic};
use archive_scheduler::Event;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use crate::{error::Result, event::NodeEvent, networks::Network, node::Inner};

/// A community this node owns.
pub(crate) struct Owned {
    pub(crate) key: CommunityKey,
    pub(crate) topics: Vec<Topic>,
    /// Stores relayed messages on the topics while it lives.
    #[cfg(feature = "waku")]
    _ingestion: Option<transport_waku::Ingestion>,
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
                    .map(|t| crate::networks::chat_content_topic(*t))
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
        #[cfg(not(feature = "waku"))]
        let _ = inner;
        Ok(Owned {
            key,
            topics,
            #[cfg(feature = "waku")]
            _ingestion: ingestion,
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
            announce(&inner, community, &link).await;
        }
    }
}

/// Signs and publishes `link` and records it, with a clock above any
/// recorded before (members drop announcements with older clocks).
async fn announce(inner: &Inner, community: CommunityId, link: &Link) {
    let Some(key) = inner.lock_owned().get(&community).map(|o| o.key.clone()) else {
        return;
    };
    let kind = link.kind();
    let result = async {
        let last = inner
            .store
            .announcement(community, kind)
            .await?
            .map_or(0, |a| a.clock);
        let clock = now_ms().max(last + 1);
        inner
            .dispatcher
            .announce(&key, kind, clock, link.announced())
            .await?;
        inner
            .store
            .record_announcement(community, kind, clock, link.announced().to_owned())
            .await?;
        Ok::<_, crate::Error>(clock)
    }
    .await;
    match result {
        Ok(clock) => {
            tracing::info!(%community, %link, "announced");
            inner.emit(NodeEvent::Announced {
                community,
                kind,
                link: link.announced().to_owned(),
                clock,
            });
        }
        Err(e) => {
            tracing::warn!(%community, error = %e, "announcing failed");
            inner.emit(NodeEvent::AnnounceFailed {
                community,
                error: e.to_string(),
            });
        }
    }
}

/// Milliseconds since the epoch: status-go's announcement clock.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
