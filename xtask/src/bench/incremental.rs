//! The `.torrent` after one new archive, at three history sizes: the
//! incremental rebuild `archivist create --db --torrent-dir` does against a
//! full rebuild of the same files. Also the owner's peak memory while it
//! archives the largest history from its store.
//!
//! Each history is imported into a store in two-week JSONL chunks and
//! archived by one `create --db --torrent-dir` (measured: that is the owner
//! archiving the whole history). Then, per run, a new week of about 1 MiB is
//! imported and archived (the incremental side: append one archive, rehash
//! only the new pieces and `index`), and the `.torrent` is built again from
//! scratch into an empty directory (the full side). Both must give the same
//! infohash.

use std::path::Path;

use anyhow::{Context, ensure};

use super::{
    Bench,
    process::argv,
    remove,
    report::{Row, Series, Side, Verdict, mib, secs},
    synth::{self, COMMUNITY, EPOCH, TOPICS, WEEK},
    torrent_creation::torrent_only_args,
};

/// Weeks of history; imported two at a time.
const WEEKS: u64 = 26;
/// Large messages keep the message count (and so the import time) low; the
/// `.torrent` only sees bytes.
const PAYLOAD: (u64, u64) = (12_000, 20_000);
const MESSAGE_BYTES: u64 = (PAYLOAD.0 + PAYLOAD.1) / 2 + 65 + 60;
/// The new week: 64 messages ≈ 1 MiB, one archive.
const NEW_WEEK_MESSAGES: u64 = 64;
/// Owners must archive the largest history under this.
const MEMORY_TARGET_MIB: f64 = 200.0;
/// The incremental rebuild must cost at most this share of a full one at the
/// largest history.
const INCREMENTAL_TARGET: f64 = 0.02;

pub(crate) fn run(bench: &mut Bench) -> anyhow::Result<()> {
    const SECTION: &str = "Incremental `.torrent` rebuild";
    let histories = bench.sizes.histories;
    let largest = histories[2];
    let mut flat = Vec::new();
    for (n, &size) in histories.iter().enumerate() {
        println!("\n== incremental rebuild at a {} history ==", mib(size));
        bench.need_disk(size * 4, "the incremental scenario")?;
        let dir = bench.fresh_dir("history")?;
        let store = dir.join("store.sqlite");
        let out = dir.join("out");
        let torrents = dir.join("torrents");
        let empty = dir.join("empty.jsonl");
        std::fs::write(&empty, "")?;

        let count = size / MESSAGE_BYTES;
        let chunks = WEEKS / 2;
        for chunk in 0..chunks {
            let jsonl = dir.join("chunk.jsonl");
            synth::write_jsonl(
                &jsonl,
                &synth::Messages {
                    seed: 1_000 * (n as u64 + 1) + chunk,
                    count: count / chunks,
                    from: EPOCH + chunk * 2 * WEEK,
                    span: 2 * WEEK,
                    payload: PAYLOAD,
                },
            )?;
            bench.archivist(&argv![
                "messages", "import", "--db", store, "--jsonl", jsonl
            ])?;
            remove(&jsonl);
        }
        // Sampled from /proc rather than by GNU time: the same peak, plus
        // how much of it is the store's pages mapped in (SQLite's mmap).
        let archive_all = bench.archivist_sampled(&create_args(
            &store,
            &out,
            &torrents,
            EPOCH,
            EPOCH + WEEKS * WEEK,
        ))?;
        let data_len = std::fs::metadata(out.join(COMMUNITY).join("data"))?.len();
        bench.report.detail(
            SECTION,
            format!(
                "{} history: {} messages, `data` {} bytes; archiving all of it from the store with \
                 `create --db --torrent-dir` took {} at {:.1} MiB peak RSS, of which at most \
                 {:.1} MiB anonymous (the rest: file pages mapped in, i.e. SQLite's mmap of the store)",
                mib(size),
                count / chunks * chunks,
                data_len,
                secs(archive_all.wall.as_secs_f64()),
                archive_all.peak_kib as f64 / 1024.0,
                archive_all.peak_anon_kib as f64 / 1024.0
            ),
        );

        let (mut incremental, mut full) = (Series::default(), Series::default());
        for rep in 0..bench.sizes.reps as u64 {
            let week = EPOCH + (WEEKS + rep) * WEEK;
            let jsonl = dir.join("week.jsonl");
            synth::write_jsonl(
                &jsonl,
                &synth::Messages {
                    seed: 9_000 + rep,
                    count: NEW_WEEK_MESSAGES,
                    from: week,
                    span: WEEK,
                    payload: PAYLOAD,
                },
            )?;
            bench.archivist(&argv![
                "messages", "import", "--db", store, "--jsonl", jsonl
            ])?;
            let run = bench.archivist(&create_args(&store, &out, &torrents, week, week + WEEK))?;
            let archives = run.json()?["archives"].as_array().map_or(0, Vec::len);
            ensure!(
                archives == 1,
                "the new week made {archives} archives, not 1"
            );
            incremental.push(&run);

            let full_dir = dir.join("full");
            remove(&full_dir);
            full.push(&bench.archivist(&torrent_only_args(&empty, &out, &full_dir))?);
            let (a, b) = (infohash(bench, &torrents)?, infohash(bench, &full_dir)?);
            ensure!(a == b, "incremental and full builds differ: {a} vs {b}");
            remove(&full_dir);
        }
        let share = incremental.median() / full.median();
        flat.push((size, incremental.median()));
        bench.report.detail(
            SECTION,
            format!(
                "{} history: one new week (`create --db --torrent-dir`) {}; full rebuild {}",
                mib(size),
                incremental.spread(),
                full.spread()
            ),
        );
        let is_largest = size == largest;
        bench.report.rows.push(Row {
            what: format!("`.torrent` after one new archive, {} history", mib(size)),
            ours: Side::new(
                "incremental (`create --db` of one week)",
                secs(incremental.median()),
                incremental.peak_mib(),
            ),
            reference: Side::new("full rebuild", secs(full.median()), full.peak_mib()),
            ratio: format!("{:.2}% of full", share * 100.0),
            target: if is_largest {
                format!(
                    "≤ {:.0}% of full at the largest history; flat",
                    INCREMENTAL_TARGET * 100.0
                )
            } else {
                "flat across sizes".into()
            },
            verdict: if !is_largest {
                Verdict::Reported
            } else if share <= INCREMENTAL_TARGET {
                Verdict::Met
            } else {
                Verdict::Missed
            },
        });
        if is_largest {
            let peak = [archive_all.peak_kib]
                .into_iter()
                .chain(incremental.peaks_kib.iter().copied())
                .chain(full.peaks_kib.iter().copied())
                .max()
                .unwrap_or(0) as f64
                / 1024.0;
            let anon = archive_all.peak_anon_kib as f64 / 1024.0;
            bench.report.notes.push(format!(
                "The owner's peak RSS stops growing with the history once SQLite's caches are \
                 full (compare the archiving runs above): at {} of history, of its {peak:.1} MiB, {anon:.1} MiB are anonymous (mostly \
                 SQLite's page cache, which archive-store sizes with `cache_size`); the rest are \
                 the store's file pages mapped by SQLite (`mmap_size` in archive-store), which \
                 RSS counts although the kernel may drop them at any time.",
                mib(size)
            ));
            bench.report.rows.push(Row {
                what: format!("owner peak memory archiving a {} history", mib(size)),
                ours: Side::new(
                    "`create --db --torrent-dir` (whole history, then each new week)",
                    format!("{peak:.1} MiB peak RSS ({anon:.1} MiB anonymous)"),
                    peak,
                ),
                reference: Side::without_memory("target", format!("{MEMORY_TARGET_MIB:.0} MiB")),
                ratio: format!("{:.2}× the target", peak / MEMORY_TARGET_MIB),
                target: format!("< {MEMORY_TARGET_MIB:.0} MiB"),
                verdict: if peak < MEMORY_TARGET_MIB {
                    Verdict::Met
                } else {
                    Verdict::Missed
                },
            });
        }
        remove(&dir);
    }
    let times: Vec<String> = flat
        .iter()
        .map(|(size, s)| format!("{}: {}", mib(*size), secs(*s)))
        .collect();
    bench.report.detail(
        SECTION,
        format!(
            "incremental cost by history size (should stay flat): {}",
            times.join(", ")
        ),
    );
    Ok(())
}

fn create_args(store: &Path, out: &Path, torrents: &Path, from: u64, to: u64) -> Vec<String> {
    argv![
        "create",
        "--db",
        store,
        "--community",
        COMMUNITY,
        "--topics",
        TOPICS.join(","),
        "--from",
        from,
        "--to",
        to,
        "--out",
        out,
        "--torrent-dir",
        torrents
    ]
}

fn infohash(bench: &Bench, torrents: &Path) -> anyhow::Result<String> {
    let file = torrents.join(format!("{COMMUNITY}.torrent"));
    let run = super::process::run(
        &bench.bin,
        &argv!["inspect", "torrent", file, "--json"],
        std::time::Duration::from_secs(60),
    )?
    .ok("archivist inspect torrent")?;
    run.json()?["infohash"]
        .as_str()
        .map(str::to_owned)
        .context("no infohash")
}
