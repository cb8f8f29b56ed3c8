//! `archivist run`: a node from a configuration file, its events printed
//! with notes that say what it waits for, and its live state kept for
//! `archivist status`.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use archivist::{CommunityStatus, Config, Node, store::Store};
use archivist_api::ApiServer;
use serde_json::json;

use crate::{config_check, human_time, live_status::LiveStatus, narration::Narrator};

/// Arguments of `archivist run`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Runs until SIGINT (Ctrl-C) or SIGTERM, then stops gracefully: \
    downloads are cancelled, a run in progress completes and is recorded, links are \
    unseeded.\n\nKeys of the file can be overridden from the environment: \
    ARCHIVIST_DATA_DIR, ARCHIVIST_TORRENT__LISTEN, ARCHIVIST_CODEX__URL, …\n\n\
    Serves the HTTP API, /metrics and a dashboard on [api] listen (127.0.0.1, a free \
    port by default), written to <data_dir>/api.json; POSTs need the token in \
    <data_dir>/api-token.\n\n\
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

pub(crate) async fn run(args: RunArgs) -> anyhow::Result<()> {
    let config = config_check::load(args.config.as_deref())?;
    config_check::check_before_start(&config)?;
    let before = joined_before_start(&config).await;
    let silence = (config.quiet_period * 2).max(Duration::from_secs(60));
    let mut narrator = Narrator::new(&config, silence);
    let notes = narrator.start_notes(&config, &before);
    let data_dir = config.data_dir.clone();
    // Subscribed before the node starts: its configured communities begin
    // archiving inside `start`, and a first run's events must not be missed.
    let builder = Node::builder(config.clone());
    let mut events = builder.events();
    let api_events = builder.events();
    let node = builder.start().await?;
    // The API counts downloads and metrics from the node's first event.
    let api = if config.api.enabled {
        match ApiServer::start(node.clone(), api_events, config.api.listen).await {
            Ok(api) => Some(api),
            Err(e) => {
                node.stop().await;
                return Err(e).context("config key `api.listen`: starting the HTTP API");
            }
        }
    } else {
        drop(api_events);
        None
    };
    let (owned, joined) = node.communities();
    let started = json!({
        "type": "archivist.started",
        "event": {
            "torrent": node.torrent_listen_addr().map(|a| a.to_string()),
            "waku": node.waku().map(|w| w.listen_addrs().iter().map(ToString::to_string).collect::<Vec<_>>()),
            "owned": owned.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "joined": joined.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "api": api.as_ref().map(ApiServer::url),
        }
    });
    print_event(&started, args.json);
    for note in &notes {
        print_event(note, args.json);
    }
    let mut live = LiveFile {
        status: LiveStatus::new(
            owned
                .iter()
                .map(|c| (c.to_string(), "owner"))
                .chain(joined.iter().map(|c| (c.to_string(), "member"))),
        ),
        data_dir,
        failed: false,
    };
    live.save();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    let mut ticks = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            _ = ticks.tick() => {
                for warning in narrator.tick() {
                    print_event(&warning, args.json);
                }
            }
            // A lag arrives as `archivist.eventsMissed` with its count, and
            // is printed like any event: nothing is dropped without a word.
            event = archivist::next_event(&mut events) => match event {
                Some(event) => {
                    let envelope = event.to_json();
                    live.status.record(&envelope, human_time::now_secs());
                    live.save();
                    if let Some(said) = narrator.on_event(envelope) {
                        print_event(&said, args.json);
                    }
                }
                None => break,
            },
        }
    }
    tracing::info!("stopping");
    // The address file goes first, so `status` no longer asks a node that
    // is stopping.
    if let Some(api) = api {
        api.stop().await;
    }
    node.stop().await;
    // What the stop interrupted (`archivist.downloadStopped`) is said too.
    while let Some(event) = archivist::try_next_event(&mut events) {
        let envelope = event.to_json();
        live.status.record(&envelope, human_time::now_secs());
        if let Some(said) = narrator.on_event(envelope) {
            print_event(&said, args.json);
        }
    }
    live.status.stopped = Some(human_time::now_secs());
    live.save();
    print_event(
        &json!({ "type": "archivist.stopped", "event": {} }),
        args.json,
    );
    Ok(())
}

/// The live status file and whether writing it failed (said once).
struct LiveFile {
    status: LiveStatus,
    data_dir: std::path::PathBuf,
    failed: bool,
}

impl LiveFile {
    fn save(&mut self) {
        if let Err(e) = self.status.write(&self.data_dir)
            && !std::mem::replace(&mut self.failed, true)
        {
            tracing::warn!(
                "writing {}: {e}; `archivist status` will not show live state",
                LiveStatus::path(&self.data_dir).display()
            );
        }
    }
}

/// What the store says about each joined community before the node takes
/// it, so a restart can say what it resumes; empty for a new store.
async fn joined_before_start(config: &Config) -> Vec<CommunityStatus> {
    let path = config.store_path();
    if !path.exists() {
        return Vec::new();
    }
    let Ok(store) = Store::open_read_only(&path).await else {
        return Vec::new();
    };
    let mut before = Vec::new();
    for joined in &config.joined {
        if let Ok(status) =
            CommunityStatus::read(&store, joined.community, &config.enabled_kinds()).await
        {
            before.push(status);
        }
    }
    before
}

/// Prints one event: a JSON line, or for people the time, the name, and
/// the note or the fields.
fn print_event(event: &serde_json::Value, as_json: bool) {
    if as_json {
        println!("{event}");
        return;
    }
    let name = event["type"].as_str().unwrap_or("?");
    let time = human_time::now();
    if let Some(note) = event["event"]["note"].as_str() {
        println!("{time} {name} {note}");
        return;
    }
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
    println!("{time} {name} {fields}");
}
