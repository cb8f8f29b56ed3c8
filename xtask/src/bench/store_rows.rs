//! The rows measured inside one crate rather than across whole processes:
//! member import through `Database::import_archive` against a bare rusqlite
//! insert loop into one table with the same primary key (archive-store's
//! criterion bench `member_import`), and the peak heap of decoding an archive
//! per archive byte (archive-index's counting-allocator tests); plus, as a
//! detail of archive creation, the share of `create` spent in the store and
//! the encoder (criterion bench `create`).

use std::{path::Path, process::Command};

use anyhow::{Context, ensure};

use super::{
    Bench,
    report::{Row, Side, Verdict},
};
use crate::workspace_root;

/// Messages per iteration of the criterion bench: six archives of
/// 30 000 000 / (1024 + 65) messages each (see archive-store's benches/store.rs).
const MEMBER_MESSAGES: f64 = 6.0 * (30_000_000 / (1024 + 65)) as f64;

/// Payload bytes per iteration of the `create` benches: 100 000 of 1 KiB.
const CREATE_PAYLOAD: f64 = 100_000.0 * 1024.0;

/// Issue 19's targets for member import.
const IMPORT_TARGET_MSG_S: f64 = 200_000.0;
const IMPORT_TARGET_RATIO: f64 = 0.8;
/// Issue 19's target for decoding: peak heap per archive byte.
const DECODE_TARGET_RATIO: f64 = 4.0;

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

/// Median time of one criterion benchmark, seconds.
fn criterion_median(home: &Path, group: &str, function: &str) -> anyhow::Result<f64> {
    let path = home.join(group).join(function).join("new/estimates.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let ns = json["median"]["point_estimate"]
        .as_f64()
        .with_context(|| format!("no median in {}", path.display()))?;
    Ok(ns / 1e9)
}

pub(crate) fn run(bench: &mut Bench) -> anyhow::Result<()> {
    member_import(bench)?;
    decode_heap(bench)
}

fn member_import(bench: &mut Bench) -> anyhow::Result<()> {
    const SECTION: &str = "Member import into the store";
    println!("\n== member import: store against a bare rusqlite loop (criterion) ==");
    let home = bench.fresh_dir("criterion")?;
    let status = cargo()
        .env("CRITERION_HOME", &home)
        .args([
            "bench",
            "--locked",
            "-p",
            "archive-store",
            "--bench",
            "store",
        ])
        .args(["--", "member_import|create/", "--noplot"])
        .status()?;
    ensure!(
        status.success(),
        "cargo bench -p archive-store failed: {status}"
    );
    let store = criterion_median(&home, "member_import", "store_6_archives")?;
    let bare = criterion_median(&home, "member_import", "bare_rusqlite_loop_6_archives")?;
    for (function, how) in [
        ("range_read_and_encode_100k", "one range query"),
        (
            "paged_512_read_and_encode_100k",
            "pages of 512, as `Store::messages`",
        ),
    ] {
        let seconds = criterion_median(&home, "create", function)?;
        bench.report.detail(
            "Archive creation from the store",
            format!(
                "the store's range read ({how}) feeding `DataWriter` into a sink, 100 000 \
                 messages of 1 KiB (criterion): {:.0} MB/s of payload; the rest of `create` \
                 is the writer thread's channel, the file writes and the piece hashes",
                CREATE_PAYLOAD / seconds / 1e6
            ),
        );
    }
    let (store_rate, bare_rate) = (MEMBER_MESSAGES / store, MEMBER_MESSAGES / bare);
    let ratio = store_rate / bare_rate;
    bench.report.detail(
        SECTION,
        format!(
            "criterion, 10 samples, each six one-week archives of {:.0} messages (1 KiB \
             payloads) into a fresh store; the bare loop inserts the same messages into one \
             table with `waku_messages`' columns and primary key, no secondary index, under \
             the store's pragmas, one transaction per archive",
            MEMBER_MESSAGES / 6.0
        ),
    );
    bench.report.rows.push(Row {
        what: format!("member import into the store, {MEMBER_MESSAGES:.0} messages of 1 KiB"),
        ours: Side::without_memory(
            "`Database::import_archive`",
            format!("{store_rate:.0} msg/s"),
        ),
        reference: Side::without_memory(
            "bare rusqlite insert loop",
            format!("{bare_rate:.0} msg/s"),
        ),
        ratio: format!("{ratio:.2}× the bare loop"),
        target: format!(
            "≥ {:.0} K msg/s and ≥ {IMPORT_TARGET_RATIO:.1}×",
            IMPORT_TARGET_MSG_S / 1e3
        ),
        verdict: if store_rate >= IMPORT_TARGET_MSG_S && ratio >= IMPORT_TARGET_RATIO {
            Verdict::Met
        } else {
            Verdict::Missed
        },
    });
    Ok(())
}

/// One line the memory tests print: `what: N input bytes, peak heap M bytes (R×)`.
fn heap_line(line: &str) -> Option<(String, f64)> {
    let (what, rest) = line.split_once(": ")?;
    let input: f64 = rest.split(' ').next()?.parse().ok()?;
    let peak: f64 = rest
        .split_once("peak heap ")?
        .1
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    Some((what.to_owned(), peak / input))
}

fn decode_heap(bench: &mut Bench) -> anyhow::Result<()> {
    const SECTION: &str = "Decoding an archive";
    println!("\n== decoding an archive: peak heap per archive byte ==");
    let output = cargo()
        .args(["test", "--locked", "-p", "archive-index", "--test", "it"])
        .args(["--", "--nocapture", "archive"])
        .output()?;
    ensure!(
        output.status.success(),
        "archive-index's memory tests failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let archives: Vec<(String, f64)> = stderr
        .lines()
        .filter_map(heap_line)
        .filter(|(what, _)| what.starts_with("archive") && !what.contains("index limits"))
        .collect();
    ensure!(
        !archives.is_empty(),
        "the memory tests printed no archive measurement"
    );
    for (what, ratio) in &archives {
        bench
            .report
            .detail(SECTION, format!("{what}: peak heap {ratio:.2}× its bytes"));
    }
    let worst = archives.iter().map(|(_, r)| *r).fold(0.0, f64::max);
    bench.report.rows.push(Row {
        what: "decoding an archive, peak heap / archive bytes (counting allocator)".into(),
        ours: Side::without_memory(
            "`Archive::decode`",
            format!("at most {worst:.2}× over {} archives", archives.len()),
        ),
        reference: Side::without_memory(
            "refused past",
            format!("{DECODE_TARGET_RATIO:.0}× + 64 KiB"),
        ),
        ratio: format!("{worst:.2}×"),
        target: format!("≤ {DECODE_TARGET_RATIO:.0}×"),
        verdict: if worst <= DECODE_TARGET_RATIO {
            Verdict::Met
        } else {
            Verdict::Missed
        },
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_test_lines_parse() {
        let (what, ratio) =
            heap_line("archive of 40 000 messages: 1000 input bytes, peak heap 1750 bytes (1.75×)")
                .unwrap();
        assert_eq!(what, "archive of 40 000 messages");
        assert!((ratio - 1.75).abs() < 1e-9);
        assert!(heap_line("test memory::x ... ok").is_none());
    }
}
