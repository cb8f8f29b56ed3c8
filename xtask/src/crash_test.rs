//! `cargo xtask crash-test [--iterations N] [--seed S]`: SIGKILL the
//! `archivist` binary at random moments while it archives, publishes and
//! imports, restart the command, and check that nothing a crash can leave
//! behind breaks the invariants.
//!
//! Each iteration is one week of a synthetic community:
//! 1. the owner's new messages go into its store;
//! 2. the owner runs `create --db --torrent-dir --codex` (archive creation,
//!    `.torrent` publishing, Codex publishing against a devnode), killed at
//!    a random moment, then restarted, which must succeed;
//! 3. a BitTorrent member (`fetch MAGNET --db`, from `archivist seed`) and a
//!    Codex member (`fetch codex:CID --db`) import, each killed and restarted.
//!
//! Checked after every kill and after every restart: the index never points
//! past `data`; each member's store holds every archived range whole or not
//! at all. After every restart also: the `.torrent` describes the files
//! exactly (same lengths, same infohash as a fresh full build); every stored
//! message is in exactly one archive and every archived message is stored;
//! both members hold exactly the owner's messages.
//!
//! Kill moments are uniform over 1.2 × the command's last uninterrupted run,
//! so they land in every phase, including after a natural exit. The RNG is
//! seeded and the seed printed: a failure is replayed with `--seed`.

mod checks;

use std::{
    collections::HashMap,
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail, ensure};

use crate::{
    bench::{
        process::{self, Server, argv},
        remove,
        synth::{self, COMMUNITY, EPOCH, Rng, TOPICS, WEEK},
    },
    workspace_root,
};

/// Longest any restarted command may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// A command the test kills.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    /// `create --db --torrent-dir --codex`.
    Owner,
    /// `fetch MAGNET --db`.
    TorrentMember,
    /// `fetch codex:CID --db`.
    CodexMember,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Owner, Kind::TorrentMember, Kind::CodexMember];

    fn name(self) -> &'static str {
        match self {
            Kind::Owner => "owner create",
            Kind::TorrentMember => "torrent member import",
            Kind::CodexMember => "codex member import",
        }
    }

    /// A first guess of how long an uninterrupted run takes, until one has
    /// been seen.
    fn first_guess(self) -> Duration {
        match self {
            Kind::Owner => Duration::from_millis(400),
            Kind::TorrentMember => Duration::from_millis(1_500),
            Kind::CodexMember => Duration::from_millis(400),
        }
    }
}

/// How the kills went, per command.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    killed: u32,
    finished_first: u32,
}

/// How a killed run ended.
enum Outcome {
    Killed,
    Finished(std::process::Output),
}

#[derive(Debug)]
struct Harness {
    bin: PathBuf,
    work: PathBuf,
    rng: Rng,
    codex_url: String,
    /// The last index CID the owner published.
    codex_cid: Option<String>,
    /// How long each kind last ran uninterrupted.
    expected: HashMap<Kind, Duration>,
    tally: HashMap<Kind, Tally>,
    checks: checks::Checks,
}

pub(crate) fn run(args: Vec<String>) -> anyhow::Result<()> {
    let mut iterations = 20u64;
    let mut seed = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> anyhow::Result<u64> {
            args.next()
                .with_context(|| format!("{name} needs a number"))?
                .parse()
                .with_context(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--iterations" => iterations = value("--iterations")?,
            "--seed" => seed = Some(value("--seed")?),
            other => bail!("unknown crash-test flag {other:?} (--iterations N, --seed S)"),
        }
    }
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    println!("crash-test: {iterations} iterations, seed {seed} (replay with --seed {seed})");

    let root = workspace_root();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&root)
        .args(["build", "--locked", "-p", "archivist-cli"])
        .status()?;
    ensure!(
        status.success(),
        "cargo build -p archivist-cli failed: {status}"
    );

    let work = root.join("target/crash-test");
    remove(&work);
    std::fs::create_dir_all(&work)?;
    let bin = root.join("target/debug/archivist");
    let node = Server::start(
        &bin,
        &argv![
            "codex-devnode",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            work.join("codex-node")
        ],
        work.join("codex-devnode.log"),
        Duration::from_secs(60),
    )?;
    let mut harness = Harness {
        codex_url: node.field("url")?,
        checks: checks::Checks::new(bin.clone(), work.clone()),
        bin,
        work: work.clone(),
        rng: Rng::new(seed),
        codex_cid: None,
        expected: HashMap::new(),
        tally: HashMap::new(),
    };
    let started = Instant::now();
    for i in 0..iterations {
        if let Err(e) = harness.iteration(i) {
            println!(
                "crash-test FAILED at iteration {i} (seed {seed}); files kept in {}",
                work.display()
            );
            return Err(e);
        }
    }
    drop(node);
    for kind in Kind::ALL {
        let t = harness.tally.get(&kind).copied().unwrap_or_default();
        println!(
            "  {}: killed {} times, finished before the kill {} times",
            kind.name(),
            t.killed,
            t.finished_first
        );
    }
    println!(
        "crash-test passed: {iterations} iterations in {:.1} s (seed {seed})",
        started.elapsed().as_secs_f64()
    );
    remove(&work);
    Ok(())
}

impl Harness {
    fn iteration(&mut self, i: u64) -> anyhow::Result<()> {
        let week = EPOCH + i * WEEK;
        self.add_week(i, week)?;

        let mut notes = Vec::new();
        let owner = self.owner_args(week);
        let (outcome, after) = self.kill_at_random(Kind::Owner, &owner)?;
        notes.push(self.describe(Kind::Owner, &outcome, after));
        // Before the restart: what the crash left must already be sound.
        self.checks.index_within_data()?;
        let report = match outcome {
            Outcome::Finished(out) if out.status.success() => serde_json::from_slice(&out.stdout)?,
            _ => self.complete(Kind::Owner, &owner)?,
        };
        let cid = report["index_cid"]
            .as_str()
            .context("the owner's create printed no index_cid")?;
        self.codex_cid = Some(cid.to_owned());
        self.checks.owner_after_restart()?;

        let seeder = Server::start(
            &self.bin,
            &argv![
                "seed",
                "--data-dir",
                self.work.join("owner"),
                "--torrent-dir",
                self.work.join("owner/torrents"),
                "--community",
                COMMUNITY,
                "--listen",
                "127.0.0.1:0"
            ],
            self.work.join("seed.log"),
            Duration::from_secs(60),
        )?;
        let fetch = argv![
            "fetch",
            seeder.field("magnet")?,
            "--out",
            self.work.join("member-torrent"),
            "--peer",
            seeder.field("listen")?,
            "--timeout",
            "30",
            "--db",
            self.work.join("member-torrent.sqlite")
        ];
        for (kind, args) in [
            (Kind::TorrentMember, fetch),
            (
                Kind::CodexMember,
                argv![
                    "fetch",
                    format!("codex:{cid}"),
                    "--codex",
                    self.codex_url,
                    "--community",
                    COMMUNITY,
                    "--out",
                    self.work.join("member-codex"),
                    "--db",
                    self.work.join("member-codex.sqlite")
                ],
            ),
        ] {
            let db = self.work.join(match kind {
                Kind::TorrentMember => "member-torrent.sqlite",
                _ => "member-codex.sqlite",
            });
            let (outcome, after) = self.kill_at_random(kind, &args)?;
            notes.push(self.describe(kind, &outcome, after));
            self.checks
                .member_ranges_whole(&db, false)
                .with_context(|| format!("after killing the {}", kind.name()))?;
            if !matches!(&outcome, Outcome::Finished(out) if out.status.success()) {
                self.complete(kind, &args)?;
            }
            self.checks
                .member_ranges_whole(&db, true)
                .with_context(|| format!("after restarting the {}", kind.name()))?;
        }
        drop(seeder);
        println!("iteration {i}: {}", notes.join("; "));
        Ok(())
    }

    /// The owner's messages of one week: a random number of random sizes.
    fn add_week(&mut self, i: u64, week: u64) -> anyhow::Result<()> {
        let jsonl = self.work.join("week.jsonl");
        synth::write_jsonl(
            &jsonl,
            &synth::Messages {
                seed: self.rng.next_u64(),
                count: self.rng.between(20, 400),
                from: week,
                span: WEEK,
                payload: (1, self.rng.between(100, 3_000)),
            },
        )?;
        let out = process::run(
            &self.bin,
            &argv![
                "messages",
                "import",
                "--db",
                self.work.join("owner.sqlite"),
                "--jsonl",
                jsonl
            ],
            RUN_TIMEOUT,
        )?;
        out.ok(&format!("messages import of week {i}"))?;
        Ok(())
    }

    fn owner_args(&self, week: u64) -> Vec<String> {
        let mut args = argv![
            "create",
            "--db",
            self.work.join("owner.sqlite"),
            "--community",
            COMMUNITY,
            "--topics",
            TOPICS.join(","),
            "--from",
            week,
            "--to",
            week + WEEK,
            "--out",
            self.work.join("owner"),
            "--torrent-dir",
            self.work.join("owner/torrents"),
            "--codex",
            self.codex_url
        ];
        if let Some(cid) = &self.codex_cid {
            args.extend(argv!["--previous-index", cid]);
        }
        args
    }

    /// Starts `archivist args` and SIGKILLs it after a random delay, unless
    /// it exits first.
    fn kill_at_random(
        &mut self,
        kind: Kind,
        args: &[String],
    ) -> anyhow::Result<(Outcome, Duration)> {
        let expected = self
            .expected
            .get(&kind)
            .copied()
            .unwrap_or_else(|| kind.first_guess());
        let ceiling = (expected.as_micros() as u64 * 6 / 5).max(1);
        let delay = Duration::from_micros(self.rng.between(0, ceiling));
        let mut child = Command::new(&self.bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let started = Instant::now();
        let tally = self.tally.entry(kind).or_default();
        loop {
            if child.try_wait()?.is_some() {
                tally.finished_first += 1;
                let output = child.wait_with_output()?;
                if output.status.success() {
                    self.expected.insert(kind, started.elapsed());
                }
                return Ok((Outcome::Finished(output), started.elapsed()));
            }
            if started.elapsed() >= delay {
                child.kill()?;
                child.wait()?;
                tally.killed += 1;
                return Ok((Outcome::Killed, started.elapsed()));
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    /// The restart after a kill: runs `args` to the end; it must succeed.
    fn complete(&mut self, kind: Kind, args: &[String]) -> anyhow::Result<serde_json::Value> {
        let run = process::run(&self.bin, args, RUN_TIMEOUT)?;
        if !run.status.success() {
            bail!(
                "the restarted {} failed: {}",
                kind.name(),
                run.stderr_text().trim()
            );
        }
        self.expected.insert(kind, run.wall);
        run.json()
    }

    fn describe(&self, kind: Kind, outcome: &Outcome, after: Duration) -> String {
        match outcome {
            Outcome::Killed => format!("{} killed at {} ms", kind.name(), after.as_millis()),
            Outcome::Finished(out) if out.status.success() => {
                format!("{} finished first ({} ms)", kind.name(), after.as_millis())
            }
            Outcome::Finished(out) => format!(
                "{} failed by itself ({})",
                kind.name(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        }
    }
}
