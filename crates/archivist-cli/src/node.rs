//! `archivist run` and `archivist status`: a node from a configuration file,
//! and what its store says.

use std::path::PathBuf;

use anyhow::Context;
use archivist::{
    CommunityStatus, Config, Node, dispatch::CommunityKey, index::CommunityId, store::Store,
};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

/// Arguments of `archivist run`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Runs until SIGINT (Ctrl-C) or SIGTERM, then stops gracefully: \
    downloads are cancelled, a run in progress completes and is recorded, links are \
    unseeded.\n\nKeys of the file can be overridden from the environment: \
    ARCHIVIST_DATA_DIR, ARCHIVIST_TORRENT__LISTEN, ARCHIVIST_CODEX__URL, …\n\n\
    Examples:\n  archivist run --config examples/owner.toml\n  \
    archivist run --config examples/member.toml --json\n  \
    archivist run                      # embedded defaults, data under ./archivist-data"
)]
pub(crate) struct RunArgs {
    /// The node's TOML configuration; embedded defaults when absent.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print events as JSON lines (status-go's signal envelope).
    #[arg(long)]
    json: bool,
}

/// Arguments of `archivist status`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Reads the node's store (a running node may keep using it) and \
    shows each configured community: archive ends, announced and fetched links, \
    downloaded and imported archives.\n\nExamples:\n  \
    archivist status --config examples/owner.toml\n  \
    archivist status --config examples/member.toml --json"
)]
pub(crate) struct StatusArgs {
    /// The node's TOML configuration; embedded defaults when absent.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Only this community (otherwise every owned and joined one).
    #[arg(long)]
    community: Option<CommunityId>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(args: RunArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref())?;
    let node = Node::start(config).await?;
    let mut events = node.events();
    let (owned, joined) = node.communities();
    let started = json!({
        "type": "archivist.started",
        "event": {
            "torrent": node.torrent_listen_addr().map(|a| a.to_string()),
            "waku": node.waku().map(|w| w.listen_addrs().iter().map(ToString::to_string).collect::<Vec<_>>()),
            "owned": owned.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "joined": joined.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }
    });
    print_event(&started, args.json);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            event = events.recv() => match event {
                Ok(event) => print_event(&event.to_json(), args.json),
                Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "events missed"),
                Err(RecvError::Closed) => break,
            },
        }
    }
    tracing::info!("stopping");
    node.stop().await;
    // What the stop interrupted (`archivist.downloadStopped`) is said too.
    while let Ok(event) = events.try_recv() {
        print_event(&event.to_json(), args.json);
    }
    print_event(
        &json!({ "type": "archivist.stopped", "event": {} }),
        args.json,
    );
    Ok(())
}

fn print_event(event: &serde_json::Value, as_json: bool) {
    if as_json {
        println!("{event}");
        return;
    }
    let name = event["type"].as_str().unwrap_or("?");
    let fields = event["event"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    println!("{name} {fields}");
}

pub(crate) async fn status(args: StatusArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref())?;
    let path = config.store_path();
    anyhow::ensure!(
        path.exists(),
        "no store at {}: the node has not run yet",
        path.display()
    );
    // Only reads, so it works beside a running node (which holds the writer
    // lock) and on a read-only file.
    let store = Store::open_read_only(&path).await?;
    let mut communities: Vec<(CommunityId, &str)> = Vec::new();
    for owned in &config.owned {
        let key = CommunityKey::read_file(&owned.key_file)
            .with_context(|| format!("community key {}", owned.key_file.display()))?;
        communities.push((key.community_id(), "owner"));
    }
    for joined in &config.joined {
        communities.push((joined.community, "member"));
    }
    if let Some(only) = args.community {
        communities.retain(|(c, _)| *c == only);
        if communities.is_empty() {
            communities.push((only, "unknown"));
        }
    }
    let mut all = Vec::new();
    for (community, role) in communities {
        let status = CommunityStatus::read(&store, community, &config.enabled_kinds()).await?;
        all.push((role, status));
    }
    if args.json {
        let value: Vec<_> = all
            .iter()
            .map(|(role, s)| {
                let mut v = s.to_json();
                v["role"] = json!(role);
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    if all.is_empty() {
        println!("no communities configured (add [[owned]] or [[joined]] to the configuration)");
    }
    for (role, s) in all {
        println!("{} ({role})", s.community);
        for n in &s.networks {
            println!(
                "  {:<8} last archive end: {:<12} announced: {}",
                n.kind.name(),
                n.last_archive_end
                    .map_or_else(|| "-".to_owned(), |e| e.to_string()),
                n.announced_link.as_deref().unwrap_or("-"),
            );
            if role != "owner" {
                println!(
                    "  {:<8} fetched:          {}",
                    "",
                    n.fetched_link.as_deref().unwrap_or("-")
                );
            }
        }
        println!(
            "  archives downloaded: {}, imported: {}",
            s.downloaded.len(),
            s.imported.len()
        );
    }
    Ok(())
}
