//! `archivist seed` and `archivist fetch`: serve and download a community's
//! archives over BitTorrent.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use archive_backend::{Backend, FetchEvent, FetchOptions, Link, LinkKind, ResolveOptions};
use archive_index::CommunityId;
use backend_torrent::{Config, Magnet, TorrentBackend};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub(crate) mod member_import;

use member_import::MemberStore;

/// Arguments of `archivist seed`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  archivist seed --data-dir ./archivedata --torrent-dir ./torrents \\\n      \
    --community 0x02… --listen 127.0.0.1:9025"
)]
pub(crate) struct SeedArgs {
    /// Where DIR/<community>/{data,index} are.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// Where DIR/<community>.torrent is.
    #[arg(long, value_name = "DIR")]
    torrent_dir: PathBuf,
    /// The community ID.
    #[arg(long)]
    community: CommunityId,
    /// Address to accept peers on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

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
}

pub(crate) async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let mut config = Config::new(&args.data_dir);
    config.data_dir = args.data_dir;
    config.torrent_dir = args.torrent_dir;
    config.listen = args.listen;
    let node = TorrentBackend::start(config).await?;
    let link = node.seed_existing(&args.community).await?;
    let listen = node.listen_addr().context("the node listens")?;
    println!(
        "{}",
        json!({ "magnet": link.to_string(), "listen": listen.to_string() })
    );
    tokio::signal::ctrl_c().await?;
    node.stop().await;
    Ok(())
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

async fn fetch_link(args: FetchArgs) -> anyhow::Result<serde_json::Value> {
    let link = args.link.clone();
    if link.kind() == LinkKind::CODEX {
        let url = args
            .codex
            .as_deref()
            .context("a codex: link needs --codex URL of a Codex node")?;
        let community = args
            .community
            .context("a codex: link does not name its community: add --community 0x…")?;
        let member = match &args.db {
            Some(path) => Some(MemberStore::open(path, community).await?),
            None => None,
        };
        return crate::codex::fetch(&link, url, community, args.out, member).await;
    }
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
    let mut member = match &args.db {
        Some(path) => Some(MemberStore::open(path, community).await?),
        None => None,
    };
    let mut config = Config::new(&args.out);
    config.data_dir = args.out.clone();
    config.torrent_dir = args.out.join("torrents");
    config.peers = args.peers;
    config.contact_trackers = !args.trackers.is_empty();
    config.trackers = args.trackers;
    config.metadata_timeout = Duration::from_secs(args.timeout);
    config.stall.timeout = Duration::from_secs(args.stall_timeout.max(1));
    let node = TorrentBackend::start(config).await?;
    let result = async {
        let started = std::time::Instant::now();
        let index = node
            .resolve(&community, &link, &ResolveOptions::default())
            .await?;
        let ids = match &member {
            Some(member) => member.pending(&index).await?,
            None => index.missing(&Default::default()),
        };
        let (tx, mut rx) = mpsc::channel(64);
        let progress = tokio::spawn(async move {
            while let Some(FetchEvent::ArchiveFetched { id, range }) = rx.recv().await {
                eprintln!("fetched archive {id} [{}, {})", range.from, range.to);
            }
        });
        let outcome = node
            .fetch(
                &community,
                &link,
                &ids,
                &FetchOptions::default(),
                tx,
                CancellationToken::new(),
            )
            .await?;
        progress.await.ok();
        if let Some(member) = &mut member {
            member.record_downloaded(&index, &outcome.fetched).await?;
            for id in &outcome.fetched {
                let archive = node.read_archive(&community, &link, id).await?;
                member.import(*id, archive).await?;
            }
        }
        let mut report = json!({
            "community": community.to_string(),
            "archives": outcome.fetched.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "bytes_fetched": outcome.bytes_fetched,
            "seconds": started.elapsed().as_secs_f64(),
            "dir": node.archive_dir(&community).path().display().to_string(),
        });
        if let Some(member) = &member {
            report["imported"] = member.report();
        }
        anyhow::Ok(report)
    }
    .await;
    node.stop().await;
    result
}
