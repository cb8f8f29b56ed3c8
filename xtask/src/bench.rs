//! `cargo xtask bench [--quick] [--only-scale] [--communities N]`: the
//! release `archivist` against reference tools, side by side in one run,
//! and one node owning many communities (`scale`), written to
//! `target/bench-report.md`.
//!
//! Each comparison drives whole processes (see `process`), except the rows of
//! `store_rows`, measured inside one crate by its criterion bench or its
//! counting allocator; all run on deterministic
//! synthetic data (see `synth`) under `target/bench/`, which is deleted as
//! soon as a scenario is done with it. The full run needs about 20 GiB of
//! free disk and half an hour; `--quick` shrinks every size for a smoke run.
//! It is never part of CI or of `cargo test`: wall-clock numbers are not
//! assertions.

mod archive_creation;
mod codex;
mod download;
mod incremental;
mod machine;
pub(crate) mod process;
mod report;
mod scale;
mod store_rows;
pub(crate) mod synth;
mod torrent_creation;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, ensure};

use self::{
    machine::Machine,
    process::{Finished, MemoryProbe},
    report::Report,
};
use crate::workspace_root;

/// How big everything is.
#[derive(Clone, Debug)]
pub(crate) struct Sizes {
    pub(crate) mode: &'static str,
    /// Messages of the archive-creation scenario; its archives are the
    /// "1 GiB community data" of the torrent, download and Codex scenarios.
    pub(crate) messages: u64,
    /// Weeks they spread over.
    pub(crate) weeks: u64,
    /// Payload lengths of those messages.
    pub(crate) payload: (u64, u64),
    /// History sizes of the incremental-rebuild scenario.
    pub(crate) histories: [u64; 3],
    /// Runs per side of each comparison.
    pub(crate) reps: usize,
    /// Free disk required before starting.
    pub(crate) disk: u64,
    /// Owned communities of the scale scenario.
    pub(crate) communities: u64,
}

impl Sizes {
    fn full() -> Sizes {
        Sizes {
            mode: "full",
            messages: 1_000_000,
            weeks: 26,
            // ≈ 950 bytes of payload + 65 of signature + framing ≈ 1.07 KB per
            // message: a million of them make about 1 GiB of archives.
            payload: (450, 1_450),
            histories: [100 << 20, 1 << 30, 4 << 30],
            reps: 5,
            disk: 20 << 30,
            communities: 200,
        }
    }

    fn quick() -> Sizes {
        Sizes {
            mode: "quick",
            messages: 20_000,
            weeks: 4,
            payload: (450, 1_450),
            histories: [4 << 20, 16 << 20, 64 << 20],
            reps: 3,
            disk: 2 << 30,
            communities: 20,
        }
    }
}

/// What every scenario needs.
#[derive(Debug)]
pub(crate) struct Bench {
    /// The release `archivist`.
    pub(crate) bin: PathBuf,
    /// `target/bench`.
    pub(crate) work: PathBuf,
    pub(crate) probe: MemoryProbe,
    pub(crate) sizes: Sizes,
    pub(crate) report: Report,
    /// The libtorrent side's script, written under `work`.
    pub(crate) libtorrent: PathBuf,
}

/// Longest any single measured process may take.
pub(crate) const STEP_TIMEOUT: Duration = Duration::from_secs(3_600);

impl Bench {
    /// Runs `archivist args`, measured; fails unless it succeeds.
    pub(crate) fn archivist(&self, args: &[String]) -> anyhow::Result<Finished> {
        process::measure(self.probe, &self.work, &self.bin, args, STEP_TIMEOUT)?
            .ok(&format!("archivist {}", args.join(" ")))
    }

    /// Runs `archivist args` with its memory sampled from `/proc`, which also
    /// tells anonymous memory from file pages mapped in; fails unless it
    /// succeeds.
    pub(crate) fn archivist_sampled(&self, args: &[String]) -> anyhow::Result<Finished> {
        process::measure(
            MemoryProbe::Sampling,
            &self.work,
            &self.bin,
            args,
            STEP_TIMEOUT,
        )?
        .ok(&format!("archivist {}", args.join(" ")))
    }

    /// Runs the libtorrent side, measured; fails unless it succeeds.
    pub(crate) fn libtorrent(&self, args: &[String]) -> anyhow::Result<Finished> {
        let mut full = vec![self.libtorrent.display().to_string()];
        full.extend_from_slice(args);
        process::measure(
            self.probe,
            &self.work,
            "/usr/bin/python3",
            &full,
            STEP_TIMEOUT,
        )?
        .ok(&format!("libtorrent {}", args.join(" ")))
    }

    /// Runs curl, measured; fails unless it succeeds.
    pub(crate) fn curl(&self, args: &[String]) -> anyhow::Result<Finished> {
        process::measure(self.probe, &self.work, "curl", args, STEP_TIMEOUT)?
            .ok(&format!("curl {}", args.join(" ")))
    }

    /// A fresh empty directory `work/name`.
    pub(crate) fn fresh_dir(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = self.work.join(name);
        remove(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir)
    }

    /// Fails early, before writing gigabytes, when the disk is too full.
    pub(crate) fn need_disk(&self, bytes: u64, what: &str) -> anyhow::Result<()> {
        let free = machine::free_bytes(&self.work)?;
        ensure!(
            free > bytes + (1 << 30),
            "{what} needs {} free under {} (plus 1 GiB to spare); {} are free",
            report::mib(bytes),
            self.work.display(),
            report::mib(free)
        );
        Ok(())
    }
}

/// Removes a file or directory tree if it exists.
pub(crate) fn remove(path: &Path) {
    if path.is_dir() {
        let _ = std::fs::remove_dir_all(path);
    } else {
        let _ = std::fs::remove_file(path);
    }
}

pub(crate) fn run(args: Vec<String>) -> anyhow::Result<()> {
    let mut sizes = Sizes::full();
    let mut only_scale = false;
    let mut communities = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => sizes = Sizes::quick(),
            // The scale scenario alone, e.g. at a size of one's choosing.
            "--only-scale" => only_scale = true,
            "--communities" => {
                let n = args.next().context("--communities needs a number")?;
                communities = Some(n.parse().with_context(|| format!("--communities {n}"))?);
            }
            other => anyhow::bail!(
                "unknown bench flag {other:?} (--quick, --only-scale, --communities N)"
            ),
        }
    }
    if let Some(n) = communities {
        sizes.communities = n;
    }
    let root = workspace_root();
    let work = root.join("target/bench");
    remove(&work);
    std::fs::create_dir_all(&work)?;

    println!("building the release archivist");
    let status =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&root)
            .args(["build", "--release", "--locked", "-p", "archivist-cli"])
            .status()?;
    ensure!(status.success(), "cargo build --release failed: {status}");

    let libtorrent = work.join("libtorrent_side.py");
    std::fs::write(&libtorrent, include_str!("bench/libtorrent_side.py"))?;
    let machine = Machine::probe();
    ensure!(
        only_scale || machine.libtorrent != "not installed",
        "the bench compares against Debian's python3-libtorrent: run `cargo xtask test` once \
         (it installs it) or `apt-get install python3-libtorrent`"
    );
    let mut bench = Bench {
        // Where `cargo build` put it: CARGO_TARGET_DIR when set.
        bin: std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| root.join("target"), PathBuf::from)
            .join("release/archivist"),
        work,
        probe: MemoryProbe::detect(),
        sizes,
        report: Report::default(),
        libtorrent,
    };
    bench.need_disk(bench.sizes.disk, "the bench")?;
    println!(
        "bench ({} mode) on {}, {} cores, {}",
        bench.sizes.mode, machine.cpu, machine.cores, machine.ram
    );

    if !only_scale {
        let owner = archive_creation::run(&mut bench)?;
        torrent_creation::run(&mut bench, &owner)?;
        download::run(&mut bench, &owner)?;
        codex::run(&mut bench, &owner)?;
        remove(&owner.root);
        incremental::run(&mut bench)?;
        store_rows::run(&mut bench)?;
    }
    scale::run(&mut bench)?;

    let markdown = bench
        .report
        .render(&machine, bench.sizes.mode, bench.probe.describe());
    let out = root.join("target/bench-report.md");
    std::fs::write(&out, &markdown)?;
    remove(&bench.work);
    println!("\n{markdown}\nwrote {}", out.display());
    Ok(())
}
