//! `archivist demo`: an owner and members in one process on 127.0.0.1, with
//! real BitTorrent, Codex devnodes and a Waku relay between them; a
//! synthetic community archived in two rounds, the second moving only the
//! new week's archive.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, bail};
use archivist::{
    Config, JoinOptions, Node, NodeEvent, OwnOptions,
    crypto::{GroupId, HrKey},
    devnode::{self, Devnode, DevnodeHandle},
    dispatch::CommunityKey,
    history_digest,
    index::{CommunityId, LinkKind, TimeRange, Topic},
    scheduler::{ManualClock, RunOutcome},
    synthetic,
};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::broadcast;

use crate::demo_table::{Row, render};

const WEEK: u64 = 7 * 86_400;
const TOPICS: [Topic; 2] = [
    Topic([0xde, 0xad, 0xbe, 0xef]),
    Topic([0x0b, 0xad, 0xf0, 0x0d]),
];
const PAYLOAD: usize = 1024;
/// The longest a member may take to fetch one round.
const ROUND_DEADLINE: Duration = Duration::from_secs(300);
/// Marks a folder as the demo's own, so only such a folder is wiped.
const MARKER: &str = ".archivist-demo";

/// Which networks the demo runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DemoBackend {
    /// BitTorrent only.
    Torrent,
    /// Codex only.
    Codex,
    /// Both: the owner publishes on both, one member fetches from each.
    Both,
}

/// Arguments of `archivist demo`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The owner stores a synthetic history of --messages messages over \
    --weeks weeks, archives it, seeds it and announces it over Waku; each member (one per \
    network) verifies the announcement, downloads every archive and imports it. A second \
    round adds one more week: only its archive travels. The table shows archives, bytes \
    moved, time and the compared histories; the exit status is 0 only if every member's \
    store equals the owner's for the archived range.\n\n\
    Examples:\n  archivist demo\n  archivist demo --backend torrent --messages 50000 --weeks 8\n  \
    archivist demo --json"
)]
pub(crate) struct DemoArgs {
    /// Messages in the first round's history.
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Weeks the first round's history spans.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=520))]
    weeks: u64,
    /// Networks to publish and fetch over.
    #[arg(long, value_enum, default_value_t = DemoBackend::Both)]
    backend: DemoBackend,
    /// Where the nodes keep their files; emptied first if the demo made it.
    #[arg(long, value_name = "DIR", default_value = "archivist-data/demo")]
    data_dir: PathBuf,
    /// Print the result as JSON (and no progress bars).
    #[arg(long)]
    json: bool,
    /// Run it as an encrypted (token-gated) community: every archive and
    /// index is sealed with the community's hash-ratchet key, which the
    /// members are given before they join (status-go sends it in 1:1 chats).
    #[arg(long)]
    encrypted: bool,
}

/// A member node and its event stream.
struct Member {
    kind: LinkKind,
    node: Node,
    events: broadcast::Receiver<NodeEvent>,
}

/// What one member's download of one round did.
struct Fetched {
    archives: usize,
    bytes: u64,
    seconds: f64,
}

pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.messages > 0, "--messages must be at least 1");
    prepare_dir(&args.data_dir)?;
    let progress = if args.json {
        MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
    } else {
        MultiProgress::new()
    };
    let kinds = match args.backend {
        DemoBackend::Torrent => vec![LinkKind::TORRENT],
        DemoBackend::Codex => vec![LinkKind::CODEX],
        DemoBackend::Both => vec![LinkKind::TORRENT, LinkKind::CODEX],
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    // The history ends a week ago, so round 2's "next week" is in the past too.
    let t0 = (now - (args.weeks + 1) * WEEK) / 3600 * 3600;
    let round1 = TimeRange {
        from: t0,
        to: t0 + args.weeks * WEEK,
    };
    let round2 = TimeRange {
        from: round1.to,
        to: round1.to + WEEK,
    };

    let step = spinner(
        &progress,
        "starting Codex devnodes, nodes and the Waku relay",
    );
    let devnodes = start_devnodes(&args.data_dir, kinds.contains(&LinkKind::CODEX)).await?;
    let key = CommunityKey::generate();
    let community = key.community_id();
    // The community's hash-ratchet key, made once and given to every node.
    let group_key = if args.encrypted {
        let now_ms = u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
        vec![HrKey::generate(GroupId::from(community), now_ms, None)?]
    } else {
        Vec::new()
    };
    let clock = Arc::new(ManualClock::new(round1.to));
    let owner_config = node_config(
        &args.data_dir,
        "owner",
        &kinds,
        devnodes.as_ref().map(|(a, _)| a.url()),
    );
    let owner = Node::builder(owner_config)
        .clock(Arc::clone(&clock) as _)
        .start()
        .await
        .context("starting the owner node")?;
    owner.import_keys(group_key.clone()).await?;
    let waku_addr = owner
        .waku()
        .and_then(|w| w.listen_addrs().first())
        .context("the owner's Waku node listens")?
        .to_string();
    let mut members = Vec::new();
    for kind in &kinds {
        let mut config = node_config(
            &args.data_dir,
            &format!("member-{}", kind.name()),
            std::slice::from_ref(kind),
            devnodes.as_ref().map(|(_, b)| b.url()),
        );
        config.torrent.peers = owner.torrent_listen_addr().into_iter().collect();
        config.waku.bootstrap = vec![waku_addr.clone()];
        let node = Node::start(config)
            .await
            .context("starting a member node")?;
        let events = node.events();
        node.import_keys(group_key.clone()).await?;
        let options = JoinOptions::default()
            .with_prefer(Some(kind.clone()))
            .with_encrypted(args.encrypted);
        node.join_with(community, options).await?;
        members.push(Member {
            kind: kind.clone(),
            node,
            events,
        });
    }
    for node in std::iter::once(&owner).chain(members.iter().map(|m| &m.node)) {
        if let Some(waku) = node.waku() {
            waku.wait_for_relay_peers(1, Duration::from_secs(30))
                .await
                .context("the nodes did not form a Waku relay mesh")?;
        }
    }
    step.finish_with_message("nodes up: owner and members on 127.0.0.1, relayed over Waku");

    let mut rows = Vec::new();
    let started = Instant::now();
    let messages = synthetic::messages(&TOPICS, round1, args.messages, PAYLOAD, 1);
    store_messages(&progress, &owner, messages, "round 1: storing messages").await?;
    let step = spinner(&progress, "round 1: archiving, seeding and announcing");
    let mut owner_events = owner.events();
    let own = OwnOptions::new(TOPICS.to_vec()).with_encrypted(args.encrypted);
    owner.add_owned_with(key.clone(), own).await?;
    let published = published_per_network(&owner, &mut owner_events).await?;
    step.finish_with_message("round 1: archives published and announced");
    let fetched = fetch_round(&progress, &mut members, &published, "round 1").await?;
    rows.extend(compare(&owner, &members, 1, round1, &published, fetched).await?);

    let week_messages = (args.messages / args.weeks as usize).max(1);
    let messages = synthetic::messages(&TOPICS, round2, week_messages, PAYLOAD, 2);
    store_messages(
        &progress,
        &owner,
        messages,
        "round 2: storing one more week",
    )
    .await?;
    clock.set(round2.to);
    let step = spinner(&progress, "round 2: archiving the new week");
    let mut published = Vec::new();
    for (name, outcome) in owner.archive_now(&community).await? {
        match outcome {
            RunOutcome::Created { archives, .. } => published.push((name, archives.len())),
            other => bail!("round 2 created nothing on {name}: {other:?}"),
        }
    }
    step.finish_with_message("round 2: new archive published and announced");
    let fetched = fetch_round(&progress, &mut members, &published, "round 2").await?;
    let history = TimeRange {
        from: round1.from,
        to: round2.to,
    };
    rows.extend(compare(&owner, &members, 2, history, &published, fetched).await?);
    let seconds = started.elapsed().as_secs_f64();

    for member in members {
        member.node.stop().await;
    }
    owner.stop().await;
    if let Some((a, b)) = devnodes {
        let _ = b.shutdown().await;
        let _ = a.shutdown().await;
    }
    let _ = progress.clear();
    report(&rows, community, seconds, args.json)
}

/// Empties the demo's folder, refusing one the demo did not make.
fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)?.next().is_none();
        if !empty && !dir.join(MARKER).exists() {
            bail!(
                "{} exists and was not made by `archivist demo`; pick another --data-dir",
                dir.display()
            );
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join(MARKER),
        b"made by archivist demo; emptied by its next run\n",
    )?;
    Ok(())
}

async fn start_devnodes(
    dir: &Path,
    codex: bool,
) -> anyhow::Result<Option<(DevnodeHandle, DevnodeHandle)>> {
    if !codex {
        return Ok(None);
    }
    let owner = Devnode::spawn(devnode::Config::new(dir.join("codex-owner"))).await?;
    let mut config = devnode::Config::new(dir.join("codex-members"));
    config.peers = vec![owner.url()];
    let members = Devnode::spawn(config).await?;
    Ok(Some((owner, members)))
}

fn node_config(root: &Path, name: &str, kinds: &[LinkKind], codex_url: Option<String>) -> Config {
    let mut config = Config::default();
    config.data_dir = root.join(name);
    config.torrent.enabled = kinds.contains(&LinkKind::TORRENT);
    config.codex.enabled = kinds.contains(&LinkKind::CODEX);
    if let Some(url) = codex_url {
        config.codex.url = url;
    }
    config.waku.listen = vec!["/ip4/127.0.0.1/tcp/0".to_owned()];
    config.waku.ingest = false;
    // status-go waits 20 s for a newer announcement; the demo's owner sends one.
    config.quiet_period = Duration::from_secs(1);
    config
}

fn spinner(progress: &MultiProgress, message: &'static str) -> ProgressBar {
    let bar = progress.add(ProgressBar::new_spinner());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("static template"),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn counter(progress: &MultiProgress, total: u64, message: String) -> ProgressBar {
    let bar = progress.add(ProgressBar::new(total));
    bar.set_style(
        ProgressStyle::with_template("  {msg:<34} [{bar:30}] {pos}/{len} ({elapsed})")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}

async fn store_messages(
    progress: &MultiProgress,
    owner: &Node,
    messages: Vec<archivist::index::Message>,
    label: &str,
) -> anyhow::Result<()> {
    let bar = counter(progress, messages.len() as u64, label.to_owned());
    let mut messages = messages.into_iter().peekable();
    while messages.peek().is_some() {
        let batch: Vec<_> = messages.by_ref().take(5_000).collect();
        let n = batch.len() as u64;
        owner.store().insert_messages(batch).await?;
        bar.inc(n);
    }
    bar.finish();
    Ok(())
}

/// How many archives the owner's catch-up run created on each network,
/// counted from its events until every network's link is announced.
async fn published_per_network(
    owner: &Node,
    events: &mut broadcast::Receiver<NodeEvent>,
) -> anyhow::Result<Vec<(&'static str, usize)>> {
    let kinds = owner.config().enabled_kinds();
    let mut published: Vec<(&'static str, usize)> = Vec::new();
    let mut announced = Vec::new();
    let wait = async {
        while announced.len() < kinds.len() {
            match events.recv().await {
                Ok(NodeEvent::Archive {
                    backend,
                    event: archivist::scheduler::Event::HistoryArchivesCreated { archives, .. },
                }) => published.push((backend, archives.len())),
                Ok(NodeEvent::Archive {
                    backend,
                    event:
                        archivist::scheduler::Event::PublishFailed {
                            error,
                            will_retry: false,
                            ..
                        },
                }) => bail!("publishing on {backend} failed: {error}"),
                Ok(NodeEvent::Announced { kind, .. }) => announced.push(kind),
                Ok(NodeEvent::AnnounceFailed { error, .. }) => bail!("announcing failed: {error}"),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => bail!("the owner stopped"),
            }
        }
        Ok(())
    };
    tokio::time::timeout(ROUND_DEADLINE, wait)
        .await
        .context("the owner did not publish and announce in time")??;
    Ok(published)
}

/// Waits until every member finished the round's download.
async fn fetch_round(
    progress: &MultiProgress,
    members: &mut [Member],
    published: &[(&'static str, usize)],
    round: &str,
) -> anyhow::Result<Vec<Fetched>> {
    let mut results = Vec::new();
    let started = Instant::now();
    for member in members.iter_mut() {
        let name = member.kind.name();
        let expected = published
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, c)| *c);
        let bar = counter(
            progress,
            expected as u64,
            format!("{round}: member fetches over {name}"),
        );
        let wait = async {
            loop {
                match member.events.recv().await {
                    Ok(NodeEvent::HistoryArchiveImported { .. }) => bar.inc(1),
                    Ok(NodeEvent::DownloadingHistoryArchivesStarted { missing, .. }) => {
                        bar.set_length(missing as u64);
                    }
                    Ok(NodeEvent::DownloadingHistoryArchivesFinished {
                        fetched,
                        bytes_fetched,
                        ..
                    }) => {
                        return Ok(Fetched {
                            archives: fetched,
                            bytes: bytes_fetched,
                            seconds: started.elapsed().as_secs_f64(),
                        });
                    }
                    Ok(NodeEvent::DownloadFailed { error, .. }) => {
                        bar.println(format!(
                            "  {name}: download failed, retried on the next announcement: {error}"
                        ));
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => bail!("the member stopped"),
                }
            }
        };
        let fetched = tokio::time::timeout(ROUND_DEADLINE, wait)
            .await
            .with_context(|| {
                format!("{round}: the {name} member did not finish within {ROUND_DEADLINE:?}")
            })??;
        bar.finish();
        results.push(fetched);
    }
    Ok(results)
}

/// One table row per member: what moved, and whether its history equals the
/// owner's over `range`.
async fn compare(
    owner: &Node,
    members: &[Member],
    round: u32,
    range: TimeRange,
    published: &[(&'static str, usize)],
    fetched: Vec<Fetched>,
) -> anyhow::Result<Vec<Row>> {
    let ours = history_digest(owner.store(), &TOPICS, range).await?;
    let mut rows = Vec::new();
    for (member, fetched) in members.iter().zip(fetched) {
        let theirs = history_digest(member.node.store(), &TOPICS, range).await?;
        let name = member.kind.name();
        let created = published
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, c)| *c);
        rows.push(Row {
            round,
            network: name.to_owned(),
            archives_published: created,
            archives_fetched: fetched.archives,
            bytes_moved: fetched.bytes,
            seconds: fetched.seconds,
            owner_messages: ours.messages,
            member_messages: theirs.messages,
            equal: ours == theirs,
        });
    }
    Ok(rows)
}

fn report(rows: &[Row], community: CommunityId, seconds: f64, as_json: bool) -> anyhow::Result<()> {
    let equal = rows.iter().all(|r| r.equal);
    let only_new = rows
        .iter()
        .filter(|r| r.round == 2)
        .all(|r| r.archives_fetched == r.archives_published);
    if as_json {
        let value = serde_json::json!({
            "community": community.to_string(),
            "rounds": rows.iter().map(Row::to_json).collect::<Vec<_>>(),
            "seconds": seconds,
            "histories_equal": equal,
            "second_round_only_new": only_new,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("community {community}");
        print!("{}", render(rows));
        println!(
            "{} in {seconds:.1} s; round 2 moved only the new archive: {}",
            if equal {
                "every member's history equals the owner's"
            } else {
                "HISTORIES DIFFER"
            },
            if only_new { "yes" } else { "NO" }
        );
    }
    if !equal {
        bail!("a member's store differs from the owner's");
    }
    if !only_new {
        bail!("the second round moved more than the new archive");
    }
    Ok(())
}
