//! `archivist status`: what a node's store says about each configured
//! community, completed with the live state a running `archivist run` keeps
//! beside it, so an owner and a member can be compared line by line.

use std::path::{Path, PathBuf};

use anyhow::Context;
use archivist::{CommunityStatus, dispatch::CommunityKey, index::CommunityId, store::Store};
use serde_json::{Value, json};

use crate::{
    config_check, human_time,
    live_status::{LiveCommunity, LiveStatus, link_text},
};

/// Arguments of `archivist status`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Reads the node's store (a running node may keep using it; a read-only \
    file is fine) and, while `archivist run` runs, the live state it keeps in \
    <data_dir>/node-status.json, and asks its HTTP API (found through <data_dir>/api.json) \
    what it seeds and downloads now. For each configured community: its role, the links per \
    network and whether each is heard and seeded, the archives (count, time span, bytes), \
    the imported time ranges, download progress and the last event.\n\nExamples:\n  \
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

pub(crate) async fn status(args: StatusArgs) -> anyhow::Result<()> {
    let config = config_check::load(args.config.as_deref())?;
    let path = config.store_path();
    anyhow::ensure!(
        path.exists(),
        "no store at {}: the node has not run yet (or `data_dir` in the configuration points \
         elsewhere)",
        path.display()
    );
    // Only reads, so it works beside a running node (which holds the writer
    // lock) and on a read-only file.
    let store = Store::open_read_only(&path)
        .await
        .with_context(|| format!("the store {}", path.display()))?;
    let mut communities: Vec<(CommunityId, &str)> = Vec::new();
    for (i, owned) in config.owned.iter().enumerate() {
        let key = CommunityKey::read_file(&owned.key_file).with_context(|| {
            format!(
                "config key `owned[{i}].key_file`: the key file {}",
                owned.key_file.display()
            )
        })?;
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
    let live = LiveStatus::read(&config.data_dir).map(|mut live| {
        // A node that is gone serves nothing, whatever it last wrote.
        if !is_running(&live) {
            for community in live.communities.values_mut() {
                for network in community.networks.values_mut() {
                    network.seeding = false;
                }
            }
        }
        live
    });
    // A running node's API knows more than its files: what it seeds now,
    // each download's bytes; asked when its address file says it is up.
    let api = match archivist_api::Client::discover(&config.data_dir) {
        Some(client) => match client.get("/api/v1/node").await {
            Ok(_) => Some(client),
            Err(e) => {
                tracing::debug!("no running node's API: {e}");
                None
            }
        },
        None => None,
    };
    let mut all = Vec::new();
    for (community, role) in communities {
        let status = CommunityStatus::read(&store, community, &config.enabled_kinds()).await?;
        let archives = archives_here(&config.torrent_dir(), &community, &status);
        let live_community = live
            .as_ref()
            .and_then(|l| l.communities.get(&community.to_string()));
        let mut json = community_json(role, &status, archives, live_community);
        if let Some(client) = &api
            && let Ok(running) = client
                .get(&format!("/api/v1/communities/{community}"))
                .await
        {
            overlay_api(&mut json, &running);
        }
        all.push(json);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    print_node(live.as_ref());
    if let Some(client) = &api {
        println!("api: {} (dashboard at {}/)", client.url(), client.url());
    }
    if all.is_empty() {
        println!("no communities configured (add [[owned]] or [[joined]] to the configuration)");
    }
    for community in &all {
        print_community(community);
    }
    Ok(())
}

/// The archives this node holds: from its torrent index when it has one
/// (owner and torrent member alike: count, span, bytes), else from the
/// archives it downloaded (no byte count).
fn archives_here(torrent_dir: &Path, community: &CommunityId, status: &CommunityStatus) -> Value {
    let index_path = torrent_dir
        .join("archivedata")
        .join(community.to_string())
        .join("index");
    if let Ok(bytes) = std::fs::read(&index_path)
        && let Ok(index) = archivist::index::TorrentIndex::decode(&bytes)
        && !index.is_empty()
    {
        let entries: Vec<_> = index.iter().map(|(_, e)| e).collect();
        let from = entries.iter().map(|e| e.metadata.range.from).min();
        let to = entries.iter().map(|e| e.metadata.range.to).max();
        return span_json(
            entries.len(),
            from,
            to,
            Some(entries.iter().map(|e| e.size).sum()),
        );
    }
    let from = status.imported_ranges.first().map(|r| r.from);
    let to = status.imported_ranges.last().map(|r| r.to);
    span_json(status.downloaded.len(), from, to, None)
}

fn span_json(count: usize, from: Option<u64>, to: Option<u64>, bytes: Option<u64>) -> Value {
    json!({
        "count": count,
        "from": from,
        "to": to,
        "from_utc": from.map(human_time::utc),
        "to_utc": to.map(human_time::utc),
        "bytes": bytes,
    })
}

fn community_json(
    role: &str,
    status: &CommunityStatus,
    archives: Value,
    live: Option<&LiveCommunity>,
) -> Value {
    let mut v = status.to_json();
    v["role"] = json!(role);
    v["archives"] = archives;
    if let Some(networks) = v["networks"].as_array_mut() {
        for network in networks {
            if let Some(end) = network["last_archive_end"].as_u64() {
                network["last_archive_end_utc"] = json!(human_time::utc(end));
            }
            let name = network["network"].as_str().unwrap_or_default().to_owned();
            let live_network = live.and_then(|l| l.networks.get(&name));
            network["link"] = json!(
                live_network
                    .and_then(|n| n.link.clone())
                    .or_else(|| network["fetched_link"].as_str().map(str::to_owned))
                    .or_else(|| network["announced_link"].as_str().map(str::to_owned))
                    .map(|l| link_text(&name, &l))
            );
            // Only the running node knows these; null when it does not run.
            network["heard"] = json!(live_network.map(|n| n.heard));
            network["seeding"] = json!(live_network.map(|n| n.seeding));
        }
    }
    v["imported_ranges"] = json!(
        status
            .imported_ranges
            .iter()
            .map(|r| json!({
                "from": r.from,
                "to": r.to,
                "from_utc": human_time::utc(r.from),
                "to_utc": human_time::utc(r.to),
            }))
            .collect::<Vec<_>>()
    );
    v["download"] = json!(live.and_then(|l| l.download.as_ref()));
    v["last_event"] = json!(live.and_then(|l| l.last_event.as_ref()).map(|e| json!({
        "type": e.name,
        "at": e.at,
        "time": human_time::utc(e.at),
    })));
    v
}

/// Lays what the running node's API says over `v`: what each network
/// seeds, and the download with its byte count (`"live": "api"`).
fn overlay_api(v: &mut Value, running: &Value) {
    v["live"] = json!("api");
    if let Some(networks) = v["networks"].as_array_mut() {
        for network in networks {
            let name = network["network"].clone();
            if let Some(now) = running["networks"]
                .as_array()
                .and_then(|ns| ns.iter().find(|n| n["network"] == name))
            {
                network["seeding"] = now["seeding"].clone();
                network["archiving"] = now["archiving"].clone();
            }
        }
    }
    if let Some(download) = running["download"].as_object() {
        v["download"] = json!({
            "network": download["network"],
            "missing": download["archives_total"],
            "downloaded": download["archives_downloaded"],
            "imported": download["archives_imported"],
            "state": download["state"],
            "bytes_done": download["bytes_done"],
        });
    }
}

/// Whether the `archivist run` that wrote `live` still runs: it has not
/// stopped cleanly, and (where `/proc` tells) its process exists.
fn is_running(live: &LiveStatus) -> bool {
    let proc = Path::new("/proc");
    live.stopped.is_none() && (!proc.is_dir() || proc.join(live.pid.to_string()).exists())
}

fn print_node(live: Option<&LiveStatus>) {
    match live {
        Some(live) if is_running(live) => println!(
            "node: running (pid {}), live state as of {}",
            live.pid,
            human_time::utc(live.updated)
        ),
        Some(live) => match live.stopped {
            Some(at) => println!(
                "node: stopped at {}; links below are the last known",
                human_time::utc(at)
            ),
            None => println!(
                "node: not running (pid {} ended without a clean stop; last state at {})",
                live.pid,
                human_time::utc(live.updated)
            ),
        },
        None => println!("node: no live state (not started with `archivist run` yet)"),
    }
}

fn print_community(v: &Value) {
    let text = |v: &Value| v.as_str().map_or_else(|| "-".to_owned(), str::to_owned);
    let yes_no = |v: &Value| match v.as_bool() {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    println!("{} ({})", text(&v["community"]), text(&v["role"]));
    for n in v["networks"].as_array().into_iter().flatten() {
        println!("  {:<8} link: {}", text(&n["network"]), text(&n["link"]));
        println!(
            "  {:<8} heard: {}  seeding: {}  last archive end: {}",
            "",
            yes_no(&n["heard"]),
            yes_no(&n["seeding"]),
            text(&n["last_archive_end_utc"]),
        );
    }
    let archives = &v["archives"];
    let bytes = archives["bytes"]
        .as_u64()
        .map_or_else(String::new, |b| format!(", {b} bytes"));
    println!(
        "  archives: {} ({} to {}{bytes})",
        archives["count"],
        text(&archives["from_utc"]),
        text(&archives["to_utc"]),
    );
    if v["role"] == "owner" {
        print_live(v);
        return;
    }
    let ranges: Vec<String> = v["imported_ranges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| format!("{} to {}", text(&r["from_utc"]), text(&r["to_utc"])))
        .collect();
    println!(
        "  imported: {} archive(s){}",
        v["imported"].as_array().map_or(0, Vec::len),
        if ranges.is_empty() {
            String::new()
        } else {
            format!(", covering {}", ranges.join("; "))
        }
    );
    print_live(v);
}

/// The download in progress and the last event, known while the node runs.
fn print_live(v: &Value) {
    let text = |v: &Value| v.as_str().map_or_else(|| "-".to_owned(), str::to_owned);
    if let Some(download) = v["download"].as_object() {
        let bytes = download
            .get("bytes_done")
            .and_then(Value::as_u64)
            .map_or_else(String::new, |b| format!(", {b} bytes"));
        println!(
            "  download over {}: {} of {} fetched, {} imported ({}{bytes})",
            text(&download["network"]),
            download["downloaded"],
            download["missing"],
            download["imported"],
            text(&download["state"]),
        );
    }
    if let Some(event) = v["last_event"].as_object() {
        println!(
            "  last event: {} at {}",
            text(&event["type"]),
            text(&event["time"])
        );
    }
}
