//! `archivist fetch`: download the archives behind a magnet or `codex:` link
//! through one backend-neutral flow, and with `--db` import them into a
//! message store along the path a node's members take
//! ([`archivist::fetch::fetch_into_store`]).
//!
//! With `--db` the store decides what is fetched (the index's archives minus
//! the ones downloaded there, a set difference) and each archive is imported
//! whole or not at all as the backend hands it over, so a fetch killed at
//! any moment leaves the next one exactly the rest to do; archives
//! downloaded but not imported before are read back and imported first.
//!
//! `--latest`, `--from`/`--to` and `--last` fetch only the archives a
//! download policy selects; with `--db` a later, wider fetch brings only the
//! rest.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use archive_backend::{
    Backend, FetchEvent, FetchOptions, FetchOutcome, Link, LinkKind, ResolveOptions,
};
use archive_index::{
    Archive, ArchiveId, CommunityId, DownloadPolicy, TimeRange, parse_duration, parse_timestamp,
};
use archive_store::Store;
use archivist::fetch::{FetchIntoStore, Step, fetch_into_store};
use backend_codex::{CodexBackend, Source};
use backend_torrent::{Config, Magnet, TorrentBackend};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::jsonl;

/// Arguments of `archivist fetch`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  archivist fetch 'magnet:?xt=urn:btih:…&dn=0x02…' --out ./member --peer 127.0.0.1:9025\n  \
    archivist fetch codex:zDvZRw… --codex http://127.0.0.1:8081 --community 0x02… --out ./member"
)]
pub(crate) struct FetchArgs {
    /// The link announced by the owner: a magnet link or codex:<index CID>.
    link: Link,
    /// The Codex node to fetch through (for codex: links).
    #[arg(long, value_name = "URL")]
    codex: Option<String>,
    /// The community (codex: links do not name it; magnet links do in dn=).
    #[arg(long)]
    community: Option<CommunityId>,
    /// Files go to DIR/<community>/{data,index}.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// A peer to contact directly (repeatable).
    #[arg(long = "peer", value_name = "HOST:PORT")]
    peers: Vec<SocketAddr>,
    /// A tracker to announce to (repeatable); none are contacted otherwise.
    #[arg(long = "tracker", value_name = "URL")]
    trackers: Vec<String>,
    /// Seconds to wait for the metadata (retried once, as status-go).
    #[arg(long, default_value_t = 20)]
    timeout: u64,
    /// Seconds a BitTorrent download may go without a verified byte before
    /// its peers are dialled afresh (three times, then it fails).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    stall_timeout: u64,
    /// Seconds the whole fetch may take, whatever it waits on; past it the
    /// command fails, keeping what it fetched and imported.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    deadline: u64,
    /// Import the fetched archives into the message store at FILE (created if
    /// missing), each whole or not at all; archives imported there before are
    /// not fetched again.
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// Fetch only the latest archive (the last partition).
    #[arg(long, conflicts_with_all = ["from", "to", "last"])]
    latest: bool,
    /// Fetch only archives overlapping [DATE, --to): RFC 3339
    /// (2026-01-01, 2026-01-01T12:00:00Z) or Unix seconds.
    #[arg(long, value_name = "DATE", value_parser = timestamp, conflicts_with = "last")]
    from: Option<u64>,
    /// Fetch only archives overlapping [--from, DATE).
    #[arg(long, value_name = "DATE", value_parser = timestamp, conflicts_with = "last")]
    to: Option<u64>,
    /// Fetch only archives overlapping the last DURATION (30d, 12h, 2w).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    last: Option<u64>,
}

fn timestamp(text: &str) -> Result<u64, archive_index::Error> {
    parse_timestamp(text)
}

fn duration(text: &str) -> Result<u64, archive_index::Error> {
    parse_duration(text)
}

impl FetchArgs {
    /// The download policy the flags ask for.
    fn policy(&self) -> anyhow::Result<DownloadPolicy> {
        if self.latest {
            return Ok(DownloadPolicy::Latest);
        }
        if let Some(seconds) = self.last {
            return Ok(DownloadPolicy::Last { seconds });
        }
        if self.from.is_none() && self.to.is_none() {
            return Ok(DownloadPolicy::All);
        }
        let window = TimeRange {
            from: self.from.unwrap_or(0),
            to: self.to.unwrap_or(u64::MAX),
        };
        if window.from >= window.to {
            bail!(
                "--from ({}) must be before --to ({})",
                window.from,
                window.to
            );
        }
        Ok(DownloadPolicy::Window(window))
    }
}

/// `archivist fetch`, within its `--deadline`.
pub(crate) async fn fetch(args: FetchArgs) -> anyhow::Result<serde_json::Value> {
    let deadline = Duration::from_secs(args.deadline);
    match tokio::time::timeout(deadline, fetch_link(args)).await {
        Ok(result) => result,
        Err(_) => bail!(
            "the fetch did not finish within {}s (--deadline); what arrived is kept, \
             and a new fetch resumes from it",
            deadline.as_secs()
        ),
    }
}

/// The backend a link is fetched with, and what differs between them: where
/// the files go and what is written beside the archives.
enum Fetcher {
    /// A librqbit session writing `data` and `index` as status-go does.
    Torrent(TorrentBackend),
    /// A Codex node; the index and one JSONL file per archive are written
    /// to `dir`.
    Codex { backend: CodexBackend, dir: PathBuf },
}

impl Fetcher {
    fn backend(&self) -> &dyn Backend {
        match self {
            Fetcher::Torrent(node) => node,
            Fetcher::Codex { backend, .. } => backend,
        }
    }

    fn dir(&self, community: &CommunityId) -> PathBuf {
        match self {
            Fetcher::Torrent(node) => node.archive_dir(community).path().to_path_buf(),
            Fetcher::Codex { dir, .. } => dir.clone(),
        }
    }

    fn resolve_options(&self) -> ResolveOptions {
        match self {
            // The session's own metadata timeout (--timeout) applies.
            Fetcher::Torrent(_) => ResolveOptions::default(),
            Fetcher::Codex { .. } => ResolveOptions::with_timeout(Duration::from_secs(60)),
        }
    }

    /// Writes what goes beside a fetched archive: its messages as JSONL for
    /// Codex (BitTorrent's `data` file holds them already).
    fn keep(&self, id: &ArchiveId, archive: &Archive) -> anyhow::Result<()> {
        let Fetcher::Codex { dir, .. } = self else {
            return Ok(());
        };
        let path = dir.join(format!("{id}.jsonl"));
        let file = std::io::BufWriter::new(
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
        );
        jsonl::write_messages(file, &archive.messages)
    }

    /// After the fetch: the Codex index, as the local node now holds it.
    async fn finish(&self, link: &Link) -> anyhow::Result<()> {
        if let Fetcher::Codex { backend, dir } = self {
            let index = backend
                .client()
                .download(link.announced(), Source::Local)
                .await?;
            std::fs::write(dir.join("index"), &index)
                .with_context(|| format!("writing {}", dir.join("index").display()))?;
        }
        Ok(())
    }

    async fn stop(&self) {
        if let Fetcher::Torrent(node) = self {
            node.stop().await;
        }
    }
}

async fn fetch_link(args: FetchArgs) -> anyhow::Result<serde_json::Value> {
    let link = args.link.clone();
    let policy = args.policy()?;
    let (community, fetcher) = if link.kind() == LinkKind::CODEX {
        let url = args
            .codex
            .as_deref()
            .context("a codex: link needs --codex URL of a Codex node")?;
        let community = args
            .community
            .context("a codex: link does not name its community: add --community 0x…")?;
        let dir = args.out.join(community.to_string());
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let backend = crate::codex::backend(url)?;
        (community, Fetcher::Codex { backend, dir })
    } else {
        let magnet: Magnet = link.announced().parse()?;
        let community: CommunityId = match (&args.community, &magnet.display_name) {
            (Some(community), _) => *community,
            (None, Some(name)) => name
                .parse()
                .context("the magnet's dn= is not a community ID")?,
            (None, None) => {
                bail!("the magnet link has no dn= naming the community: add --community 0x…")
            }
        };
        (community, Fetcher::Torrent(start_torrent(&args).await?))
    };
    let store = match &args.db {
        Some(path) => Some(
            Store::open(path)
                .await
                .with_context(|| format!("opening {}", path.display()))?,
        ),
        None => None,
    };
    let result = fetch_with(&fetcher, community, &link, store.as_ref(), policy).await;
    fetcher.stop().await;
    result
}

async fn start_torrent(args: &FetchArgs) -> anyhow::Result<TorrentBackend> {
    let mut config = Config::new(&args.out);
    config.data_dir = args.out.clone();
    config.torrent_dir = args.out.join("torrents");
    config.peers = args.peers.clone();
    config.contact_trackers = !args.trackers.is_empty();
    config.trackers = args.trackers.clone();
    config.metadata_timeout = Duration::from_secs(args.timeout);
    config.stall.timeout = Duration::from_secs(args.stall_timeout.max(1));
    Ok(TorrentBackend::start(config).await?)
}

/// Fetches through `fetcher`, into `store` when there is one, and builds the
/// report.
async fn fetch_with(
    fetcher: &Fetcher,
    community: CommunityId,
    link: &Link,
    store: Option<&Store>,
    policy: DownloadPolicy,
) -> anyhow::Result<serde_json::Value> {
    let started = Instant::now();
    let kept = Mutex::new(Ok(()));
    let keep = |id: &ArchiveId, range: TimeRange, archive: &Archive| {
        eprintln!("fetched archive {id} [{}, {})", range.from, range.to);
        let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.is_ok() {
            *kept = fetcher.keep(id, archive);
        }
    };
    let (outcome, imported) = match store {
        Some(store) => {
            let tally = Mutex::new(ImportTally::default());
            let on_step = |step: Step<'_>| match step {
                Step::Fetched { id, range, archive } => keep(&id, range, archive),
                step => tally
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .count(&step),
            };
            let options = FetchIntoStore::default()
                .with_resolve(fetcher.resolve_options())
                .with_policy(policy);
            let done = fetch_into_store(
                store,
                fetcher.backend(),
                community,
                link,
                &options,
                &CancellationToken::new(),
                &on_step,
            )
            .await?;
            let outcome = done.outcome?;
            let tally = tally.into_inner().unwrap_or_else(PoisonError::into_inner);
            if let Some(error) = tally.first_failure {
                bail!(
                    "{} archive(s) could not be imported (first: {error}); \
                     a new fetch retries them",
                    done.failed
                );
            }
            (outcome, Some(tally.report()))
        }
        None => (
            fetch_selected(fetcher, community, link, policy, &keep).await?,
            None,
        ),
    };
    kept.into_inner().unwrap_or_else(PoisonError::into_inner)?;
    fetcher.finish(link).await?;
    let mut report = json!({
        "community": community.to_string(),
        "archives": outcome.fetched.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "bytes_fetched": outcome.bytes_fetched,
        "seconds": started.elapsed().as_secs_f64(),
        "dir": fetcher.dir(&community).display().to_string(),
        "policy": policy.to_string(),
    });
    if let Fetcher::Codex { .. } = fetcher {
        report["index_cid"] = json!(link.announced());
    }
    if let Some(imported) = imported {
        report["imported"] = imported;
    }
    Ok(report)
}

/// Without a store: every archive behind `link` that `policy` selects, each
/// given to `keep` as the backend hands it over.
async fn fetch_selected(
    fetcher: &Fetcher,
    community: CommunityId,
    link: &Link,
    policy: DownloadPolicy,
    keep: &(dyn Fn(&ArchiveId, TimeRange, &Archive) + Sync),
) -> anyhow::Result<FetchOutcome> {
    let backend = fetcher.backend();
    let index = backend
        .resolve(&community, link, &fetcher.resolve_options())
        .await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let ids = index.missing_selected(&Default::default(), &policy, now);
    let (tx, mut rx) = mpsc::channel(archivist::fetch::HANDOVER_CAPACITY);
    let options = FetchOptions::default();
    let fetching = backend.fetch(
        &community,
        link,
        &ids,
        &options,
        tx,
        CancellationToken::new(),
    );
    let taking = async {
        while let Some(FetchEvent::ArchiveFetched { id, range, archive }) = rx.recv().await {
            keep(&id, range, &archive);
        }
    };
    let (outcome, ()) = tokio::join!(fetching, taking);
    Ok(outcome?)
}

/// What a `--db` fetch imported: the `"imported"` object of the report.
#[derive(Debug, Default)]
struct ImportTally {
    archives: u64,
    inserted: u64,
    removed: u64,
    duplicates: u64,
    /// Messages dropped because their topic belongs to another community.
    foreign_topic_messages: u64,
    busy: Duration,
    importing_since: Option<Instant>,
    first_failure: Option<String>,
}

impl ImportTally {
    fn count(&mut self, step: &Step<'_>) {
        match step {
            Step::Importing { .. } => self.importing_since = Some(Instant::now()),
            Step::Imported { report, .. } => {
                if let Some(since) = self.importing_since.take() {
                    self.busy += since.elapsed();
                }
                self.archives += 1;
                self.inserted += report.inserted;
                self.removed += report.removed;
                self.duplicates += report.duplicates;
                self.foreign_topic_messages += report.foreign_topic_messages;
            }
            Step::Failed { id, error } => {
                self.importing_since = None;
                self.first_failure
                    .get_or_insert_with(|| format!("archive {id}: {error}"));
            }
            _ => {}
        }
    }

    fn report(&self) -> serde_json::Value {
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
