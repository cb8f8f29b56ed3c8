//! One node owning many communities (issue 19's scale scenario): the
//! release `archivist run` started on a store holding a few weeks of
//! messages for each of `communities` owned communities, each archived on
//! its own torrent. Measured from outside, through `/proc`: start-up time,
//! the time until every community is archived and seeded (one archive round
//! over all of them), resident memory, threads, idle CPU, and how the event
//! stream held up (no peer takes the announcements, so every community
//! fails to announce and must be said so without flooding the output).
//! Not measured yet: Codex indexes (it needs a devnode per run) and members
//! joined over Waku.

use std::{
    io::{BufRead, BufReader, BufWriter, Write},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, bail};

use super::{
    Bench,
    process::argv,
    report::{Row, Side, Verdict, secs},
    synth::{Rng, WEEK, base64},
};

const SECTION: &str = "Scale: one node, many owned communities";

/// Messages per community, over three weeks before now: three archives each.
const MESSAGES: u64 = 60;
/// How long the node is watched doing nothing once every community is seeded.
const IDLE: Duration = Duration::from_secs(20);
/// The longest the start and the archive round may take before the run fails.
const ROUND_TIMEOUT: Duration = Duration::from_secs(600);

/// Kills the node if the scenario ends early.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let n = bench.sizes.communities;
    println!("scale: {n} owned communities on one node");
    let dir = bench.fresh_dir("scale")?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut config = String::from(
        "data_dir = \"data\"\n[torrent]\nlisten = \"127.0.0.1:0\"\n\
         [codex]\nenabled = false\n[waku]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n",
    );
    let jsonl = dir.join("messages.jsonl");
    let mut out = BufWriter::new(std::fs::File::create(&jsonl)?);
    let mut rng = Rng::new(19);
    for i in 0..n {
        let key = dir.join(format!("c{i}.key"));
        bench.archivist(&argv!["keygen", "--out", key])?;
        let topic = format!("0x{:08x}", 0x1000_0000 + i);
        config.push_str(&format!(
            "[[owned]]\nkey_file = \"c{i}.key\"\ntopics = [\"{topic}\"]\n"
        ));
        write_messages(&mut out, &mut rng, &topic, now - 3 * WEEK, 3 * WEEK - 60)?;
    }
    out.flush()?;
    drop(out);
    let db = dir.join("data/store.sqlite");
    bench.archivist(&argv!["messages", "import", "--db", db, "--jsonl", jsonl])?;
    let config_path = dir.join("owner.toml");
    std::fs::write(&config_path, config)?;

    let started = Instant::now();
    let mut child = Command::new(&bench.bin)
        .args(argv!["run", "--json", "--config", config_path])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("run.log"))?)
        .spawn()
        .context("starting archivist run")?;
    let stdout = child.stdout.take().context("piped")?;
    let node = Node(child);
    let pid = node.0.id();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });

    let mut counts = Counts::default();
    let mut up = None;
    let mut round = None;
    while round.is_none() {
        let left = ROUND_TIMEOUT.saturating_sub(started.elapsed());
        let Ok((at, line)) = lines.recv_timeout(left) else {
            bail!(
                "{n} communities: after {ROUND_TIMEOUT:?} {} seeded ({counts:?}); see {}",
                counts.seeding,
                dir.join("run.log").display()
            );
        };
        let event: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("archivist run printed {line:?}"))?;
        let name = event["type"].as_str().unwrap_or_default();
        if name == "archivist.started" {
            up = Some(at - started);
        }
        counts.add(name);
        if counts.seeding >= n {
            round = Some(at - started);
        }
    }
    let round = round.unwrap_or_default();
    let up = up.context("no archivist.started line")?;

    // Settled: what is left is the announcer's retries and the reannouncing.
    std::thread::sleep(Duration::from_secs(3));
    let busy_before = cpu_ticks(pid)?;
    let idle_from = Instant::now();
    std::thread::sleep(IDLE);
    let busy = cpu_ticks(pid)? - busy_before;
    let idle_cpu = busy as f64 / ticks_per_second()? / idle_from.elapsed().as_secs_f64() * 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let (rss_kib, peak_kib, threads) = (field("VmRSS:"), field("VmHWM:"), field("Threads:"));
    while let Ok((_, line)) = lines.try_recv() {
        if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) {
            counts.add(event["type"].as_str().unwrap_or_default());
        }
    }
    let stopping = Instant::now();
    let term = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    anyhow::ensure!(term.success(), "kill -TERM {pid}: {term}");
    let mut node = node;
    let stop = loop {
        if node.0.try_wait()?.is_some() {
            break stopping.elapsed();
        }
        if stopping.elapsed() > Duration::from_secs(60) {
            bail!("archivist run did not stop within 60 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };

    let report = &mut bench.report;
    let rss_mib = rss_kib as f64 / 1024.0;
    let mut row = |what: &str, value: String, target: &str, met: Option<bool>| {
        report.rows.push(Row {
            what: format!("{n} owned communities on one node: {what}"),
            ours: Side::without_memory("`archivist run`", value),
            reference: Side::without_memory("—", "—"),
            ratio: "—".into(),
            target: target.into(),
            verdict: match met {
                Some(true) => Verdict::Met,
                Some(false) => Verdict::Missed,
                None => Verdict::Reported,
            },
        });
    };
    row(
        "start-up",
        secs(up.as_secs_f64()),
        "≤ 5 s",
        Some(up <= Duration::from_secs(5)),
    );
    row(
        "resident memory after the round",
        format!(
            "{rss_mib:.1} MiB (peak {:.1} MiB)",
            peak_kib as f64 / 1024.0
        ),
        "≤ 300 MiB",
        Some(rss_mib <= 300.0),
    );
    row(
        "idle CPU",
        format!("{idle_cpu:.2} % of one core over {IDLE:?}"),
        "≤ 2 %",
        Some(idle_cpu <= 2.0),
    );
    row(
        "threads",
        format!("{threads}"),
        "no thread per community",
        Some(threads < n),
    );
    row(
        "one archive round over all (start to the last seeding event)",
        secs(round.as_secs_f64()),
        "— (reported)",
        None,
    );
    bench.report.detail(
        SECTION,
        format!(
            "{n} communities × {MESSAGES} messages over 3 weeks, torrent only, Waku with no \
             peer; stopped {} after SIGTERM",
            secs(stop.as_secs_f64())
        ),
    );
    bench.report.detail(
        SECTION,
        format!(
            "events printed: {} historyArchivesSeeding, {} historyArchivesCreated, {} \
             announceFailed, {} eventsMissed ({} events in all)",
            counts.seeding, counts.created, counts.announce_failed, counts.missed, counts.all
        ),
    );
    Ok(())
}

/// The events `run --json` printed, by kind.
#[derive(Debug, Default)]
struct Counts {
    seeding: u64,
    created: u64,
    announce_failed: u64,
    missed: u64,
    all: u64,
}

impl Counts {
    fn add(&mut self, name: &str) {
        self.all += 1;
        match name {
            "community.historyArchivesSeeding" => self.seeding += 1,
            "community.historyArchivesCreated" => self.created += 1,
            "archivist.announceFailed" => self.announce_failed += 1,
            "archivist.eventsMissed" => self.missed += 1,
            _ => {}
        }
    }
}

/// [`MESSAGES`] messages on `topic` spread over `[from, from + span)`.
fn write_messages(
    out: &mut impl Write,
    rng: &mut Rng,
    topic: &str,
    from: u64,
    span: u64,
) -> anyhow::Result<()> {
    let mut bytes = [0u8; 512];
    for i in 0..MESSAGES {
        rng.fill(&mut bytes);
        let mut payload = String::new();
        base64(&bytes[32..], &mut payload);
        let hash: String = bytes[..32].iter().map(|b| format!("{b:02x}")).collect();
        writeln!(
            out,
            "{{\"timestamp\":{},\"topic\":\"{topic}\",\"hash\":\"0x{hash}\",\"payload\":\"{payload}\"}}",
            from + i * span / MESSAGES
        )?;
    }
    Ok(())
}

/// User plus system CPU time of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after it are plain.
    let after = stat.rsplit_once(')').context("/proc stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15, the 12th and 13th after ')'.
    let get = |i: usize| -> anyhow::Result<u64> {
        Ok(fields.get(i).context("/proc stat field")?.parse()?)
    };
    Ok(get(11)? + get(12)?)
}

fn ticks_per_second() -> anyhow::Result<f64> {
    let out = Command::new("getconf").arg("CLK_TCK").output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}
