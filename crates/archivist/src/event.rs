//! What a node reports: status-go's community-archive signals (spec e) plus
//! the announcement and failure events status-go only logged.

use archive_backend::Link;
use archive_index::{ArchiveId, CommunityId, LinkKind, TimeRange};
use serde_json::{Value, json};
use tokio::sync::broadcast;

/// Where a node's parts report [`NodeEvent`]s: a broadcast channel, so a
/// slow listener never stalls the node. A listener that falls more than the
/// capacity behind misses the oldest events and is told how many by its
/// next `recv` ([`next_event`] makes that an [`NodeEvent::EventsMissed`]);
/// nothing the node does depends on a listener keeping up.
#[derive(Clone, Debug)]
pub(crate) struct EventSender(broadcast::Sender<NodeEvent>);

impl EventSender {
    pub(crate) fn new(capacity: usize) -> EventSender {
        EventSender(broadcast::channel(capacity).0)
    }

    /// Sends `event` to every listener; with none it is dropped.
    pub(crate) fn emit(&self, event: NodeEvent) {
        tracing::debug!(signal = event.signal_name(), community = ?event.community(), "event");
        let _ = self.0.send(event);
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.0.subscribe()
    }
}

/// The next event for a listener, `None` once the node is gone. A
/// listener that fell behind gets [`NodeEvent::EventsMissed`] with how many
/// it missed before the events that follow, so nothing is lost without a
/// word (`broadcast::Receiver::recv` says it as an error, easy to drop).
pub async fn next_event(events: &mut broadcast::Receiver<NodeEvent>) -> Option<NodeEvent> {
    match events.recv().await {
        Ok(event) => Some(event),
        Err(broadcast::error::RecvError::Lagged(count)) => Some(NodeEvent::EventsMissed { count }),
        Err(broadcast::error::RecvError::Closed) => None,
    }
}

/// [`next_event`] without waiting: `None` when no event is waiting.
pub fn try_next_event(events: &mut broadcast::Receiver<NodeEvent>) -> Option<NodeEvent> {
    match events.try_recv() {
        Ok(event) => Some(event),
        Err(broadcast::error::TryRecvError::Lagged(count)) => {
            Some(NodeEvent::EventsMissed { count })
        }
        Err(broadcast::error::TryRecvError::Empty | broadcast::error::TryRecvError::Closed) => None,
    }
}

/// Something a [`Node`](crate::Node) did or saw.
///
/// [`NodeEvent::signal_name`] gives status-go's signal string where there is
/// one and [`NodeEvent::to_json`] its `{"type", "event"}` envelope, so an app
/// written against status-go's signals can listen unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeEvent {
    /// An owned community's archive task reported progress on one network.
    Archive {
        /// The network: "torrent" or "codex".
        backend: &'static str,
        /// What the scheduler reported.
        event: archive_scheduler::Event,
    },
    /// The owner announced `link`.
    Announced {
        /// The community.
        community: CommunityId,
        /// The link's kind.
        kind: LinkKind,
        /// The link.
        link: String,
        /// The announcement's clock, milliseconds.
        clock: u64,
    },
    /// The owner announced its current link again: `reason` is `"period"`
    /// (the re-announce interval) or `"request"` (a member asked).
    Reannounced {
        /// The community.
        community: CommunityId,
        /// The link's kind.
        kind: LinkKind,
        /// The link.
        link: String,
        /// The clock it was first announced with.
        clock: u64,
        /// Why it went out again.
        reason: &'static str,
    },
    /// A member asked the owner for the community's current link.
    LinkRequested {
        /// The community.
        community: CommunityId,
    },
    /// Announcing failed (the transport refused it, e.g. no relay peer yet);
    /// it is retried with backoff until it goes out or a newer link
    /// replaces it. A failure that repeats (same community, network and
    /// kind of error) is reported once, then at most once per report
    /// interval (one minute, doubling up to half an hour) with the count of
    /// attempts so far, not on every retry.
    AnnounceFailed {
        /// The community.
        community: CommunityId,
        /// What failed.
        error: String,
        /// Failed attempts since the first of this run of failures (1 for
        /// the first report); the retries between reports are counted here.
        attempts: u32,
        /// When the first of them failed, Unix seconds.
        since: u64,
    },
    /// This listener fell behind the node by more than the event channel
    /// holds and missed `count` events (the oldest): what it knows may be
    /// out of date, and [`Node::status`](crate::Node::status) says what is.
    /// Only [`next_event`] and [`try_next_event`] report it.
    EventsMissed {
        /// How many events this listener missed.
        count: u64,
    },
    /// A member accepted an announcement: it will act on it.
    AnnouncementAccepted {
        /// The community.
        community: CommunityId,
        /// The link's kind.
        kind: LinkKind,
        /// The link.
        link: String,
    },
    /// A member heard the link it already has again (the owner's periodic
    /// re-announcement, or its answer to a link request): nothing to do.
    AnnouncementRepeated {
        /// The community.
        community: CommunityId,
        /// The link's kind.
        kind: LinkKind,
        /// The link.
        link: String,
    },
    /// A member ignored a message on an announcement channel, and why.
    AnnouncementRejected {
        /// The community it claimed, when it could be verified that far.
        community: Option<CommunityId>,
        /// A stable reason code (`unknown-community`, `stale-clock`, …).
        code: &'static str,
        /// The reason in words.
        reason: String,
    },
    /// The index was read and archives are missing (status-go's
    /// `downloadingHistoryArchivesStarted`).
    DownloadingHistoryArchivesStarted {
        /// The community.
        community: CommunityId,
        /// The network fetched from.
        backend: &'static str,
        /// How many archives are missing (of those the policy selects).
        missing: usize,
        /// The spans of time those archives cover, oldest first.
        ranges: Vec<TimeRange>,
        /// Archives not downloaded that the download policy leaves out.
        unselected: usize,
    },
    /// One archive is fetched and verified.
    HistoryArchiveDownloaded {
        /// The community.
        community: CommunityId,
        /// The archive.
        id: ArchiveId,
        /// Its range.
        range: TimeRange,
    },
    /// An archive's messages are being imported.
    ImportingHistoryArchiveMessages {
        /// The community.
        community: CommunityId,
        /// The archive.
        id: ArchiveId,
    },
    /// An archive's messages are in the store.
    HistoryArchiveImported {
        /// The community.
        community: CommunityId,
        /// The archive.
        id: ArchiveId,
        /// Messages it held.
        messages: usize,
    },
    /// A member finished fetching and importing a link (status-go's
    /// `downloadingHistoryArchivesFinished`).
    DownloadingHistoryArchivesFinished {
        /// The community.
        community: CommunityId,
        /// The network fetched from.
        backend: &'static str,
        /// The link.
        link: Link,
        /// Archives fetched by this download.
        fetched: usize,
        /// Bytes that travelled over the network.
        bytes_fetched: u64,
    },
    /// A member serves what it fetched (status-go sends
    /// `historyArchivesSeeding` after a download too).
    MemberSeeding {
        /// The community.
        community: CommunityId,
        /// The link served.
        link: Link,
    },
    /// A download failed; `fallback` names the network tried next, if any.
    DownloadFailed {
        /// The community.
        community: CommunityId,
        /// The network that failed.
        backend: &'static str,
        /// What failed.
        error: String,
        /// The other network, tried next because the owner announced both.
        fallback: Option<&'static str>,
    },
    /// A download was stopped (the node stopping, the community left, a
    /// newer link): what it did before the stop, and what the next start
    /// picks up.
    DownloadStopped {
        /// The community.
        community: CommunityId,
        /// The network it used.
        backend: &'static str,
        /// Archives fetched before the stop.
        fetched: usize,
        /// Archives imported before the stop.
        imported: usize,
        /// Fetched but not imported: imported on the next start.
        left_to_import: usize,
        /// Not fetched yet.
        not_fetched: usize,
    },
    /// An encrypted community's archives (or its index) are sealed with a
    /// key this node does not hold. What was downloaded is kept and imported
    /// as soon as the key arrives (`archivist keys import`); said once per
    /// key.
    ArchiveKeyMissing {
        /// The community.
        community: CommunityId,
        /// The missing key's ID, as the sealed bytes name it.
        key_id: String,
        /// Archives waiting for it (0 when the index itself is sealed with
        /// it, so nothing can be listed yet).
        archives: usize,
    },
    /// Importing failed; the archive stays queued and is imported again on
    /// the next download or restart.
    ImportFailed {
        /// The community.
        community: CommunityId,
        /// The archive.
        id: ArchiveId,
        /// What failed.
        error: String,
    },
}

impl NodeEvent {
    /// The community the event is about, if one.
    pub fn community(&self) -> Option<&CommunityId> {
        match self {
            NodeEvent::Archive { event, .. } => Some(event.community()),
            NodeEvent::AnnouncementRejected { community, .. } => community.as_ref(),
            NodeEvent::EventsMissed { .. } => None,
            NodeEvent::Announced { community, .. }
            | NodeEvent::Reannounced { community, .. }
            | NodeEvent::LinkRequested { community }
            | NodeEvent::AnnouncementRepeated { community, .. }
            | NodeEvent::AnnounceFailed { community, .. }
            | NodeEvent::AnnouncementAccepted { community, .. }
            | NodeEvent::DownloadingHistoryArchivesStarted { community, .. }
            | NodeEvent::HistoryArchiveDownloaded { community, .. }
            | NodeEvent::ImportingHistoryArchiveMessages { community, .. }
            | NodeEvent::HistoryArchiveImported { community, .. }
            | NodeEvent::DownloadingHistoryArchivesFinished { community, .. }
            | NodeEvent::MemberSeeding { community, .. }
            | NodeEvent::DownloadFailed { community, .. }
            | NodeEvent::DownloadStopped { community, .. }
            | NodeEvent::ArchiveKeyMissing { community, .. }
            | NodeEvent::ImportFailed { community, .. } => Some(community),
        }
    }

    /// status-go's signal name, or ours (`archivist.…`) for events status-go
    /// has no signal for.
    pub fn signal_name(&self) -> &'static str {
        match self {
            NodeEvent::Archive { event, .. } => event.signal_name(),
            NodeEvent::Announced { .. } => "archivist.announced",
            NodeEvent::Reannounced { .. } => "archivist.reannounced",
            NodeEvent::LinkRequested { .. } => "archivist.linkRequested",
            NodeEvent::AnnouncementRepeated { .. } => "archivist.announcementRepeated",
            NodeEvent::AnnounceFailed { .. } => "archivist.announceFailed",
            NodeEvent::EventsMissed { .. } => "archivist.eventsMissed",
            NodeEvent::AnnouncementAccepted { .. } => "archivist.announcementAccepted",
            NodeEvent::AnnouncementRejected { .. } => "archivist.announcementRejected",
            NodeEvent::DownloadingHistoryArchivesStarted { .. } => {
                "community.downloadingHistoryArchivesStarted"
            }
            NodeEvent::HistoryArchiveDownloaded { .. } => "community.historyArchiveDownloaded",
            NodeEvent::ImportingHistoryArchiveMessages { .. } => {
                "community.importingHistoryArchiveMessages"
            }
            NodeEvent::HistoryArchiveImported { .. } => "archivist.historyArchiveImported",
            NodeEvent::DownloadingHistoryArchivesFinished { .. } => {
                "community.downloadingHistoryArchivesFinished"
            }
            NodeEvent::MemberSeeding { .. } => "community.historyArchivesSeeding",
            NodeEvent::DownloadFailed { .. } => "archivist.downloadFailed",
            NodeEvent::DownloadStopped { .. } => "archivist.downloadStopped",
            NodeEvent::ArchiveKeyMissing { .. } => "archivist.archiveKeyMissing",
            NodeEvent::ImportFailed { .. } => "archivist.importFailed",
        }
    }

    /// The signal envelope `{"type": <name>, "event": {...}}` status-go
    /// sends, with `communityId` and the event's fields.
    pub fn to_json(&self) -> Value {
        let community = self.community().map(ToString::to_string);
        let mut event = match self {
            NodeEvent::Archive { backend, event } => archive_json(backend, event),
            NodeEvent::Announced {
                kind, link, clock, ..
            } => json!({ "kind": kind.name(), "link": link, "clock": clock }),
            NodeEvent::Reannounced {
                kind,
                link,
                clock,
                reason,
                ..
            } => json!({
                "kind": kind.name(),
                "link": link,
                "clock": clock,
                "reason": reason,
            }),
            NodeEvent::LinkRequested { .. } => json!({}),
            NodeEvent::AnnouncementRepeated { kind, link, .. } => {
                json!({ "kind": kind.name(), "link": link, "known": true })
            }
            NodeEvent::AnnounceFailed {
                error,
                attempts,
                since,
                ..
            } => json!({ "error": error, "attempts": attempts, "since": since }),
            NodeEvent::EventsMissed { count } => json!({ "count": count }),
            NodeEvent::AnnouncementAccepted { kind, link, .. } => {
                json!({ "kind": kind.name(), "link": link })
            }
            NodeEvent::AnnouncementRejected { code, reason, .. } => {
                json!({ "code": code, "reason": reason })
            }
            NodeEvent::DownloadingHistoryArchivesStarted {
                backend,
                missing,
                ranges,
                unselected,
                ..
            } => json!({
                "backend": backend,
                "missing": missing,
                "ranges": ranges.iter().map(|r| json!({ "from": r.from, "to": r.to })).collect::<Vec<_>>(),
                "notSelected": unselected,
            }),
            NodeEvent::HistoryArchiveDownloaded { id, range, .. } => {
                json!({ "archiveId": id.to_string(), "from": range.from, "to": range.to })
            }
            NodeEvent::ImportingHistoryArchiveMessages { id, .. } => {
                json!({ "archiveId": id.to_string() })
            }
            NodeEvent::HistoryArchiveImported { id, messages, .. } => {
                json!({ "archiveId": id.to_string(), "messages": messages })
            }
            NodeEvent::DownloadingHistoryArchivesFinished {
                backend,
                link,
                fetched,
                bytes_fetched,
                ..
            } => json!({
                "backend": backend,
                "link": link.to_string(),
                "fetched": fetched,
                "bytesFetched": bytes_fetched,
            }),
            NodeEvent::MemberSeeding { link, .. } => json!({ "link": link.to_string() }),
            NodeEvent::DownloadFailed {
                backend,
                error,
                fallback,
                ..
            } => json!({ "backend": backend, "error": error, "fallback": fallback }),
            NodeEvent::DownloadStopped {
                backend,
                fetched,
                imported,
                left_to_import,
                not_fetched,
                ..
            } => json!({
                "backend": backend,
                "fetched": fetched,
                "imported": imported,
                "leftToImport": left_to_import,
                "notFetched": not_fetched,
            }),
            NodeEvent::ArchiveKeyMissing {
                key_id, archives, ..
            } => json!({ "keyId": key_id, "archives": archives }),
            NodeEvent::ImportFailed { id, error, .. } => {
                json!({ "archiveId": id.to_string(), "error": error })
            }
        };
        if let (Some(object), Some(community)) = (event.as_object_mut(), community) {
            object.insert("communityId".to_owned(), Value::String(community));
        }
        json!({ "type": self.signal_name(), "event": event })
    }
}

fn archive_json(backend: &str, event: &archive_scheduler::Event) -> Value {
    use archive_scheduler::Event;
    let mut value = match event {
        Event::HistoryArchivesCreated {
            from, to, archives, ..
        } => json!({
            "from": from,
            "to": to,
            "archives": archives.iter().map(|a| json!({
                "id": a.id.to_string(),
                "from": a.range.from,
                "to": a.range.to,
                "messages": a.message_count,
            })).collect::<Vec<_>>(),
        }),
        Event::NoHistoryArchivesCreated { from, to, .. } => json!({ "from": from, "to": to }),
        Event::HistoryArchivesSeeding { link, .. }
        | Event::HistoryArchivesUnseeded { link, .. } => {
            json!({ "link": link.to_string() })
        }
        Event::PublishFailed {
            error,
            attempt,
            will_retry,
            ..
        } => json!({ "error": error, "attempt": attempt, "willRetry": will_retry }),
        Event::MessagesDropped { dropped, .. } => json!({ "dropped": dropped.len() }),
        Event::SeedingFailed { link, error, .. } => {
            json!({ "link": link.to_string(), "error": error })
        }
        Event::StoreFailed { error, .. } => json!({ "error": error }),
        // An event the scheduler gains later carries what every event does.
        _ => json!({}),
    };
    if let Some(object) = value.as_object_mut() {
        object.insert("backend".to_owned(), Value::String(backend.to_owned()));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_listener_that_falls_behind_is_told_how_many_it_missed() {
        let sender = EventSender::new(2);
        let mut events = sender.subscribe();
        for _ in 0..5 {
            sender.emit(NodeEvent::EventsMissed { count: 0 });
        }
        let missed = try_next_event(&mut events).unwrap();
        assert_eq!(missed, NodeEvent::EventsMissed { count: 3 });
        assert_eq!(
            missed.to_json(),
            json!({ "type": "archivist.eventsMissed", "event": { "count": 3 } })
        );
        assert!(next_event(&mut events).await.is_some());
        assert!(try_next_event(&mut events).is_some());
        assert!(
            try_next_event(&mut events).is_none(),
            "both kept events read"
        );
        drop(sender);
        assert!(next_event(&mut events).await.is_none(), "the node is gone");
    }
}
