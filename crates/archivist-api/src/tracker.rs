//! What the API knows beyond what the node answers: each community's
//! download in progress (archives and bytes), its last event, and the recent
//! events for the dashboard, kept from the node's event stream, which also
//! feeds the metrics.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex, PoisonError},
    time::{SystemTime, UNIX_EPOCH},
};

use archivist::{Node, NodeEvent, index::CommunityId};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::metrics::Metrics;

/// Recent events kept for `GET /api/v1/events`.
const RECENT_EVENTS: usize = 200;

/// A download's progress, as `GET /api/v1/downloads` shows it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Download {
    pub(crate) community: String,
    pub(crate) network: String,
    /// `running`, `finished`, `failed` or `stopped`.
    pub(crate) state: String,
    pub(crate) archives_total: u64,
    pub(crate) archives_downloaded: u64,
    pub(crate) archives_imported: u64,
    /// Bytes moved so far: BitTorrent's live count while it runs, the
    /// backend's own report once finished (`null` for a Codex download in
    /// progress: its client reports bytes only at the end).
    pub(crate) bytes_done: Option<u64>,
    /// Not known before the archives arrive: indexes carry no sizes.
    pub(crate) bytes_total: Option<u64>,
    pub(crate) started_at: u64,
    pub(crate) updated_at: u64,
    /// BitTorrent's count for the community when this download started.
    #[serde(skip)]
    pub(crate) torrent_baseline: u64,
}

/// A community's last event.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct LastEvent {
    #[serde(rename = "type")]
    pub(crate) name: String,
    pub(crate) at: u64,
}

/// One recent event: its sequence number, when, and status-go's envelope.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Recent {
    pub(crate) seq: u64,
    pub(crate) at: u64,
    #[serde(rename = "type")]
    pub(crate) name: String,
    pub(crate) event: Value,
}

/// Everything the tracker keeps.
#[derive(Debug, Default)]
pub(crate) struct Tracked {
    pub(crate) downloads: BTreeMap<CommunityId, Download>,
    pub(crate) last_events: BTreeMap<CommunityId, LastEvent>,
    pub(crate) recent: VecDeque<Recent>,
    next_seq: u64,
}

/// The tracker's state, shared with the handlers.
#[derive(Clone, Debug)]
pub(crate) struct Tracker {
    state: Arc<Mutex<Tracked>>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) started_at: u64,
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Tracker {
    pub(crate) fn new() -> Tracker {
        Tracker {
            state: Arc::default(),
            metrics: Arc::new(Metrics::new()),
            started_at: now_secs(),
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Tracked> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes in the node's events until the stream ends.
    pub(crate) async fn follow(self, node: Node, mut events: broadcast::Receiver<NodeEvent>) {
        loop {
            match events.recv().await {
                Ok(event) => self.record(&node, &event),
                Err(RecvError::Lagged(missed)) => self.metrics.missed(missed),
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// Takes in one event.
    pub(crate) fn record(&self, node: &Node, event: &NodeEvent) {
        let at = now_secs();
        let envelope = event.to_json();
        let mut state = self.lock();
        let community = event.community().copied();
        let fetching = community
            .and_then(|c| state.downloads.get(&c))
            .filter(|d| d.state == "running")
            .map(|d| d.network.clone());
        self.metrics.record(event, fetching.as_deref());
        let seq = state.next_seq;
        state.next_seq += 1;
        if state.recent.len() == RECENT_EVENTS {
            state.recent.pop_front();
        }
        state.recent.push_back(Recent {
            seq,
            at,
            name: event.signal_name().to_owned(),
            event: envelope["event"].clone(),
        });
        let Some(community) = community else {
            return;
        };
        state.last_events.insert(
            community,
            LastEvent {
                name: event.signal_name().to_owned(),
                at,
            },
        );
        match event {
            NodeEvent::DownloadingHistoryArchivesStarted {
                backend, missing, ..
            } => {
                state.downloads.insert(
                    community,
                    Download {
                        community: community.to_string(),
                        network: (*backend).to_owned(),
                        state: "running".to_owned(),
                        archives_total: *missing as u64,
                        archives_downloaded: 0,
                        archives_imported: 0,
                        bytes_done: (*backend == "torrent").then_some(0),
                        bytes_total: None,
                        started_at: at,
                        updated_at: at,
                        torrent_baseline: node.torrent_fetched_bytes(&community),
                    },
                );
            }
            NodeEvent::HistoryArchiveDownloaded { .. } => {
                if let Some(d) = state.downloads.get_mut(&community) {
                    d.archives_downloaded += 1;
                    d.updated_at = at;
                }
            }
            NodeEvent::HistoryArchiveImported { .. } => {
                if let Some(d) = state.downloads.get_mut(&community) {
                    d.archives_imported += 1;
                    d.updated_at = at;
                }
            }
            NodeEvent::DownloadingHistoryArchivesFinished { bytes_fetched, .. } => {
                if let Some(d) = state.downloads.get_mut(&community) {
                    "finished".clone_into(&mut d.state);
                    d.bytes_done = Some(*bytes_fetched);
                    d.updated_at = at;
                }
            }
            NodeEvent::DownloadFailed { .. } | NodeEvent::DownloadStopped { .. } => {
                if let Some(d) = state.downloads.get_mut(&community) {
                    let new = if matches!(event, NodeEvent::DownloadFailed { .. }) {
                        "failed"
                    } else {
                        "stopped"
                    };
                    new.clone_into(&mut d.state);
                    d.updated_at = at;
                }
            }
            _ => {}
        }
    }

    /// The downloads, with BitTorrent's live byte count filled in for those
    /// still running.
    pub(crate) fn downloads(&self, node: &Node) -> Vec<Download> {
        let state = self.lock();
        state
            .downloads
            .iter()
            .map(|(community, d)| {
                let mut d = d.clone();
                if d.state == "running" && d.network == "torrent" {
                    d.bytes_done = Some(
                        node.torrent_fetched_bytes(community)
                            .saturating_sub(d.torrent_baseline),
                    );
                }
                d
            })
            .collect()
    }
}
