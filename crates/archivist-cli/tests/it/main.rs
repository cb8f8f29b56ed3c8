//! End-to-end tests of the `archivist` binary.

mod codex;
mod create;
mod keygen;
mod store;
mod torrent;

use std::{
    path::Path,
    process::{Command, Output},
};

/// 2020-01-01 00:00:00 UTC, status-go's `D(1)`.
pub(crate) const D1: u64 = 1_577_836_800;
pub(crate) const DAY: u64 = 86_400;
pub(crate) const COMMUNITY: &str =
    "0x02aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub(crate) const TOPIC: &str = "0xdeadbeef";

/// Runs `archivist` with `args` and returns its output.
pub(crate) fn archivist(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_archivist"))
        .args(args)
        .output()
        .expect("the archivist binary runs")
}

/// Runs `archivist`, requires success and parses stdout as JSON.
pub(crate) fn archivist_json(args: &[&str]) -> serde_json::Value {
    let out = archivist(args);
    assert!(
        out.status.success(),
        "archivist {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// One JSONL message line.
pub(crate) fn line(timestamp: u64, hash: &str, topic: &str) -> String {
    format!(
        r#"{{"timestamp":{timestamp},"topic":"{topic}","hash":"{hash}","payload":"AQ==","sig":"AQ==","padding":"AQ=="}}"#
    )
}

pub(crate) fn write_jsonl(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}
