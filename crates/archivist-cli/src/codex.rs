//! `archivist codex-devnode`, and the Codex halves of `create` and `fetch`.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use archive_backend::{
    Backend, FetchEvent, FetchOptions, Link, MessageSource, PublishOptions, PublishOutcome,
    PublishRequest, ResolveOptions,
};
use archive_index::{ArchiveRun, CommunityId};
use backend_codex::{ClientConfig, CodexBackend, CodexClient};
use codex_devnode::Devnode;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{jsonl, torrent::member_import::MemberStore};

/// Arguments of `archivist codex-devnode`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Serves the Codex / Logos Storage REST API (both /api/storage/v1 and\n\
    /api/codex/v1) with byte-identical CIDs, for tests, demos and development.\n\n\
    Example:\n  archivist codex-devnode --listen 127.0.0.1:8080 --data-dir ./codex-a\n  \
    archivist codex-devnode --listen 127.0.0.1:8081 --data-dir ./codex-b --peer http://127.0.0.1:8080"
)]
pub(crate) struct DevnodeArgs {
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where blocks are stored.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// API prefix to serve (repeatable); both generations when absent.
    #[arg(long = "prefix")]
    prefixes: Vec<String>,
    /// A peer devnode to fetch missing data from (repeatable).
    #[arg(long = "peer", value_name = "URL")]
    peers: Vec<String>,
}

pub(crate) async fn devnode(args: DevnodeArgs) -> anyhow::Result<()> {
    let mut config = codex_devnode::Config::new(args.data_dir);
    config.listen = args.listen;
    if !args.prefixes.is_empty() {
        config.prefixes = args.prefixes;
    }
    config.peers = args.peers;
    let node = Devnode::spawn(config)
        .await
        .with_context(|| format!("starting a devnode on --listen {}", args.listen))?;
    println!(
        "{}",
        json!({ "url": node.url(), "api_url": node.api_url() })
    );
    tokio::signal::ctrl_c().await?;
    node.shutdown().await?;
    Ok(())
}

fn backend(url: &str) -> anyhow::Result<CodexBackend> {
    let client =
        CodexClient::new(ClientConfig::new(url)).with_context(|| format!("Codex node at {url}"))?;
    Ok(CodexBackend::new(client))
}

/// Publishes the archives of `run` to the Codex node at `url`, extending the
/// index behind `previous`.
pub(crate) async fn publish(
    url: &str,
    community: CommunityId,
    run: &ArchiveRun,
    previous: Option<Link>,
    messages: &dyn MessageSource,
) -> anyhow::Result<PublishOutcome> {
    let request = PublishRequest {
        community,
        topics: run.topics.clone(),
        range: run.range,
        interval: run.interval,
        previous,
        messages,
    };
    Ok(backend(url)?
        .publish(request, &PublishOptions::default())
        .await?)
}

/// Fetches every archive behind a `codex:` link through the node at `url` and
/// writes `DIR/<community>/index` and one JSONL file per archive; with a
/// `member` store, only the archives not imported there yet, which are then
/// imported.
pub(crate) async fn fetch(
    link: &Link,
    url: &str,
    community: CommunityId,
    out: PathBuf,
    mut member: Option<MemberStore>,
) -> anyhow::Result<serde_json::Value> {
    let node = backend(url)?;
    let started = std::time::Instant::now();
    let index = node
        .resolve(
            &community,
            link,
            &ResolveOptions::with_timeout(Duration::from_secs(60)),
        )
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
            link,
            &ids,
            &FetchOptions::default(),
            tx,
            CancellationToken::new(),
        )
        .await?;
    progress.await.ok();
    let dir = out.join(community.to_string());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let index_bytes = node
        .client()
        .download(link.announced(), backend_codex::Source::Local)
        .await?;
    std::fs::write(dir.join("index"), &index_bytes)?;
    if let Some(member) = &member {
        member.record_downloaded(&index, &outcome.fetched).await?;
    }
    for id in &outcome.fetched {
        let archive = node.read_archive(&community, link, id).await?;
        let path = dir.join(format!("{id}.jsonl"));
        let file = std::io::BufWriter::new(std::fs::File::create(&path)?);
        jsonl::write_messages(file, &archive.messages)?;
        if let Some(member) = &mut member {
            member.import(*id, archive).await?;
        }
    }
    let mut report = json!({
        "community": community.to_string(),
        "index_cid": link.announced(),
        "archives": outcome.fetched.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "bytes_fetched": outcome.bytes_fetched,
        "seconds": started.elapsed().as_secs_f64(),
        "dir": dir.display().to_string(),
    });
    if let Some(member) = &member {
        report["imported"] = member.report();
    }
    Ok(report)
}
