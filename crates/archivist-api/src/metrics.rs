//! `GET /metrics`: the node's counters in the Prometheus text format
//! (prometheus-client's OpenMetrics encoder), counted from its events, and
//! the gauges read when scraped.

use archivist::{NodeEvent, scheduler::Event as ArchiveEvent};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

/// The `network` label: `torrent`, `codex`, `waku`, or a backend's own.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Network {
    pub(crate) network: String,
}

/// The `reason` label: an announcement rejection's stable code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Reason {
    pub(crate) reason: String,
}

/// The `network` and `outcome` labels of a scheduler run.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Run {
    pub(crate) network: String,
    pub(crate) outcome: String,
}

/// Every metric, and the registry that encodes them.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    archives_published: Family<Network, Counter>,
    archives_fetched: Family<Network, Counter>,
    archives_imported: Counter,
    messages_imported: Counter,
    bytes_downloaded: Family<Network, Counter>,
    announcements_accepted: Counter,
    announcements_repeated: Counter,
    announcements_rejected: Family<Reason, Counter>,
    announced: Family<Network, Counter>,
    scheduler_runs: Family<Run, Counter>,
    scheduler_retries: Family<Network, Counter>,
    download_failures: Family<Network, Counter>,
    events_missed: Counter,
    pub(crate) peers: Family<Network, Gauge>,
    pub(crate) torrent_bytes_live: Gauge,
    pub(crate) torrent_bytes_uploaded: Gauge,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("archivist"),
            archives_published: Family::default(),
            archives_fetched: Family::default(),
            archives_imported: Counter::default(),
            messages_imported: Counter::default(),
            bytes_downloaded: Family::default(),
            announcements_accepted: Counter::default(),
            announcements_repeated: Counter::default(),
            announcements_rejected: Family::default(),
            announced: Family::default(),
            scheduler_runs: Family::default(),
            scheduler_retries: Family::default(),
            download_failures: Family::default(),
            events_missed: Counter::default(),
            peers: Family::default(),
            torrent_bytes_live: Gauge::default(),
            torrent_bytes_uploaded: Gauge::default(),
        };
        let r = &mut metrics.registry;
        r.register(
            "archives_published",
            "Archives an owned community's runs created and published",
            metrics.archives_published.clone(),
        );
        r.register(
            "archives_fetched",
            "Archives a member fetched and verified",
            metrics.archives_fetched.clone(),
        );
        r.register(
            "archives_imported",
            "Archives imported into the store",
            metrics.archives_imported.clone(),
        );
        r.register(
            "messages_imported",
            "Messages imported from archives (rate() of it is the import rate)",
            metrics.messages_imported.clone(),
        );
        r.register(
            "downloaded_bytes",
            "Bytes that travelled over a network for finished downloads",
            metrics.bytes_downloaded.clone(),
        );
        r.register(
            "announcements_accepted",
            "Announcements a member accepted and acts on",
            metrics.announcements_accepted.clone(),
        );
        r.register(
            "announcements_repeated",
            "Announcements of a link a member already had",
            metrics.announcements_repeated.clone(),
        );
        r.register(
            "announcements_rejected",
            "Messages on announcement channels rejected, by reason",
            metrics.announcements_rejected.clone(),
        );
        r.register(
            "links_announced",
            "Links an owner announced (first time)",
            metrics.announced.clone(),
        );
        r.register(
            "scheduler_runs",
            "Archive runs by outcome (created, empty, failed)",
            metrics.scheduler_runs.clone(),
        );
        r.register(
            "scheduler_retries",
            "Failed publishes the scheduler retries",
            metrics.scheduler_retries.clone(),
        );
        r.register(
            "download_failures",
            "Downloads that failed on a network",
            metrics.download_failures.clone(),
        );
        r.register(
            "events_missed",
            "Node events the API fell too far behind to see",
            metrics.events_missed.clone(),
        );
        r.register(
            "peers",
            "Connected peers per network (Waku relay peers; BitTorrent peers over all torrents)",
            metrics.peers.clone(),
        );
        r.register(
            "torrent_fetched_bytes",
            "Bytes fetched over BitTorrent since the node started, all communities",
            metrics.torrent_bytes_live.clone(),
        );
        r.register(
            "torrent_uploaded_bytes",
            "Bytes served to BitTorrent peers since the node started, all communities",
            metrics.torrent_bytes_uploaded.clone(),
        );
        metrics
    }

    /// Counts `event`; `fetching` is the network of the community's
    /// download in progress (archive events do not name it).
    pub(crate) fn record(&self, event: &NodeEvent, fetching: Option<&str>) {
        let net = |name: &str| Network {
            network: name.to_owned(),
        };
        match event {
            NodeEvent::Archive { backend, event } => {
                let run = |outcome: &str| Run {
                    network: (*backend).to_owned(),
                    outcome: outcome.to_owned(),
                };
                match event {
                    ArchiveEvent::HistoryArchivesCreated { archives, .. } => {
                        self.archives_published
                            .get_or_create(&net(backend))
                            .inc_by(archives.len() as u64);
                        self.scheduler_runs.get_or_create(&run("created")).inc();
                    }
                    ArchiveEvent::NoHistoryArchivesCreated { .. } => {
                        self.scheduler_runs.get_or_create(&run("empty")).inc();
                    }
                    ArchiveEvent::PublishFailed { will_retry, .. } => {
                        if *will_retry {
                            self.scheduler_retries.get_or_create(&net(backend)).inc();
                        } else {
                            self.scheduler_runs.get_or_create(&run("failed")).inc();
                        }
                    }
                    _ => {}
                }
            }
            NodeEvent::Announced { kind, .. } => {
                self.announced.get_or_create(&net(kind.name())).inc();
            }
            NodeEvent::AnnouncementAccepted { .. } => {
                self.announcements_accepted.inc();
            }
            NodeEvent::AnnouncementRepeated { .. } => {
                self.announcements_repeated.inc();
            }
            NodeEvent::AnnouncementRejected { code, .. } => {
                self.announcements_rejected
                    .get_or_create(&Reason {
                        reason: (*code).to_owned(),
                    })
                    .inc();
            }
            NodeEvent::HistoryArchiveDownloaded { .. } => {
                self.archives_fetched
                    .get_or_create(&net(fetching.unwrap_or("unknown")))
                    .inc();
            }
            NodeEvent::HistoryArchiveImported { messages, .. } => {
                self.archives_imported.inc();
                self.messages_imported.inc_by(*messages as u64);
            }
            NodeEvent::DownloadingHistoryArchivesFinished {
                backend,
                bytes_fetched,
                ..
            } => {
                self.bytes_downloaded
                    .get_or_create(&net(backend))
                    .inc_by(*bytes_fetched);
            }
            NodeEvent::DownloadFailed { backend, .. } => {
                self.download_failures.get_or_create(&net(backend)).inc();
            }
            _ => {}
        }
    }

    /// Counts events a lagging receiver skipped.
    pub(crate) fn missed(&self, count: u64) {
        self.events_missed.inc_by(count);
    }

    /// The text exposition.
    pub(crate) fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
