//! `.torrent` creation over the community's data: ours against libtorrent's
//! `create_torrent` + `set_piece_hashes`, on the same files.
//!
//! Ours is `archivist create` with no messages and a fresh `--torrent-dir`:
//! it appends nothing and builds the `.torrent` of the existing `data` and
//! `index` from scratch, the whole work of a full build.

use std::path::Path;

use super::{
    Bench,
    archive_creation::Owner,
    process::argv,
    remove,
    report::{Row, Series, Throughput},
    synth::{COMMUNITY, TOPICS},
};

/// status-go's piece length, which libtorrent 2.0 refuses.
const OURS_PIECE: u64 = 102_400;
/// The nearest power of two, which libtorrent accepts.
const LIBTORRENT_PIECE: u64 = 131_072;

/// `archivist create` that writes no archive, only the `.torrent` of what
/// `out` holds, into `torrent_dir`.
pub(crate) fn torrent_only_args(empty_jsonl: &Path, out: &Path, torrent_dir: &Path) -> Vec<String> {
    argv![
        "create",
        "--messages",
        empty_jsonl,
        "--community",
        COMMUNITY,
        "--topics",
        TOPICS[0],
        "--from",
        "1",
        "--to",
        "2",
        "--out",
        out,
        "--torrent-dir",
        torrent_dir
    ]
}

pub(crate) fn run(bench: &mut Bench, owner: &Owner) -> anyhow::Result<()> {
    const SECTION: &str = "`.torrent` creation";
    println!("\n== .torrent creation over {} bytes ==", owner.file_bytes);
    let empty = owner.root.join("empty.jsonl");
    std::fs::write(&empty, "")?;
    let lt_out = owner.root.join("libtorrent.torrent");
    let ours_dir = owner.root.join("torrents");
    let lt_args = argv!["create", owner.out, COMMUNITY, lt_out, LIBTORRENT_PIECE];
    // One untimed run each: both then read `data` from the page cache.
    bench.archivist(&torrent_only_args(&empty, &owner.out, &ours_dir))?;
    bench.libtorrent(&lt_args)?;

    let (mut ours, mut lt) = (Series::default(), Series::default());
    for _ in 0..bench.sizes.reps {
        remove(&ours_dir);
        ours.push(&bench.archivist(&torrent_only_args(&empty, &owner.out, &ours_dir))?);
        remove(&lt_out);
        lt.push(&bench.libtorrent(&lt_args)?);
    }
    let bytes = owner.file_bytes;
    bench.report.detail(
        SECTION,
        format!(
            "{bytes} bytes (`data` + `index`); ours at {OURS_PIECE}-byte pieces: {}",
            ours.spread()
        ),
    );
    bench.report.detail(
        SECTION,
        format!(
            "libtorrent `create_torrent(v1_only)` + `set_piece_hashes` at {LIBTORRENT_PIECE}-byte pieces: {}",
            lt.spread()
        ),
    );
    bench.report.rows.push(Row::throughput(
        "`.torrent` creation",
        Throughput {
            who: "`archivist create` (full build, 102400-byte pieces)",
            bytes,
            runs: &ours,
        },
        Throughput {
            who: "libtorrent (131072-byte pieces)",
            bytes,
            runs: &lt,
        },
        "libtorrent",
        Some(1.0),
    ));
    bench.report.notes.push(format!(
        "libtorrent 2.0 refuses status-go's {OURS_PIECE}-byte pieces (`invalid piece size`: \
         it wants a power of two), so its side builds the same files at {LIBTORRENT_PIECE}-byte \
         pieces: 22% fewer SHA-1 calls of 28% longer input, the same bytes hashed. It is asked \
         for a v1-only torrent, as ours is."
    ));
    bench.report.notes.push(
        "libtorrent 2.0 reads and writes files through mmap, so its peak RSS counts the file \
         pages it touched (about the whole data set); they are page cache, not heap."
            .into(),
    );
    remove(&lt_out);
    Ok(())
}
