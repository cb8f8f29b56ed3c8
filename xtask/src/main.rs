//! `cargo xtask`: code generation and the workspace's test entry point.
//!
//! Kept dependency-light on purpose: it is built before anything else runs.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a CLI reports on stdout/stderr"
)]

mod bench;
mod codegen;
mod crash_test;
mod fuzz;
mod test_suite;

use std::path::PathBuf;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  codegen [--check]   regenerate crates/archive-proto/src/generated from proto/*.proto;
                      with --check, fail if the checked-in files are stale
  test [-p CRATE]... [ARGS...]
                      install what the interop tests need, then run the whole test suite,
                      or with -p only those crates' tests as CI runs them (ARGS go to
                      `cargo test`)
  bench [--quick] [--only-scale] [--communities N]
                      time the release archivist against libtorrent, curl and full rebuilds,
                      and one node owning N communities (200; --quick 20); writes
                      target/bench-report.md (never part of CI)
  crash-test [--iterations N] [--seed S]
                      SIGKILL archivist at random while it archives, publishes and imports,
                      restart it and check the on-disk invariants
  fuzz [--seconds S] [TARGET]
                      run the cargo-fuzz targets in fuzz/ (or one) for S seconds each on the
                      stable toolchain; fails if any crashes
";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("codegen") => {
            let check = match args.next().as_deref() {
                None => false,
                Some("--check") => true,
                Some(other) => anyhow::bail!("unknown codegen flag {other:?}\n\n{USAGE}"),
            };
            codegen::run(check)
        }
        Some("test") => test_suite::run(args.collect()),
        Some("bench") => bench::run(args.collect()),
        Some("crash-test") => crash_test::run(args.collect()),
        Some("fuzz") => fuzz::run(args.collect()),
        Some("-h" | "--help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => anyhow::bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

/// The workspace root: xtask lives one level below it.
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}
