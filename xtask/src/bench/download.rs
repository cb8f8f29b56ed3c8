//! A loopback BitTorrent download of the community data from one `archivist
//! seed`: `archivist fetch` against a libtorrent leecher, then member import
//! (`archivist fetch --db`) of what was fetched.

use std::{io::Read, path::Path, time::Duration};

use anyhow::{Context, ensure};

use super::{
    Bench,
    archive_creation::Owner,
    process::{Server, argv},
    remove,
    report::{Row, Series, Side, Throughput, Verdict, secs},
    synth::COMMUNITY,
};

pub(crate) fn run(bench: &mut Bench, owner: &Owner) -> anyhow::Result<()> {
    const SECTION: &str = "Loopback BitTorrent download";
    println!(
        "\n== download of {} bytes over loopback ==",
        owner.file_bytes
    );
    bench.need_disk(owner.file_bytes * 3, "the download scenario")?;
    let seeder = Server::start(
        &bench.bin,
        &argv![
            "seed",
            "--data-dir",
            owner.out,
            "--torrent-dir",
            owner.root.join("torrents"),
            "--community",
            COMMUNITY,
            "--listen",
            "127.0.0.1:0"
        ],
        bench.work.join("seed.log"),
        Duration::from_secs(600),
    )?;
    let magnet = seeder.field("magnet")?;
    let peer = seeder.field("listen")?;
    warm(&owner.community_dir().join("data"))?;

    let member = bench.work.join("member");
    let (mut ours, mut lt) = (Series::default(), Series::default());
    for rep in 0..bench.sizes.reps {
        remove(&member);
        let run = bench.archivist(&argv![
            "fetch",
            magnet,
            "--out",
            member,
            "--peer",
            peer,
            "--timeout",
            "120"
        ])?;
        same_files(owner, &member.join(COMMUNITY))?;
        ours.push(&run);

        let lt_dir = bench.fresh_dir(&format!("libtorrent-{rep}"))?;
        lt.push(&bench.libtorrent(&argv!["download", magnet, lt_dir, peer, "1200"])?);
        same_files(owner, &lt_dir.join(COMMUNITY))?;
        remove(&lt_dir);
    }
    let bytes = owner.file_bytes;
    bench.report.detail(
        SECTION,
        format!(
            "{bytes} bytes from one `archivist seed`; `archivist fetch --peer` into an empty directory: {}",
            ours.spread()
        ),
    );
    bench.report.detail(
        SECTION,
        format!(
            "libtorrent leecher (magnet link, same peer): {}",
            lt.spread()
        ),
    );
    bench.report.rows.push(Row::throughput(
        "BitTorrent download over loopback",
        Throughput {
            who: "`archivist fetch`",
            bytes,
            runs: &ours,
        },
        Throughput {
            who: "libtorrent leecher",
            bytes,
            runs: &lt,
        },
        "libtorrent",
        Some(0.9),
    ));

    bench.report.notes.push(
        "`archivist fetch` joins the torrent with only `index` selected; wanting every archive, \
         it then selects `data` too, so librqbit queues every missing piece as libtorrent does, \
         and reads each archive through a librqbit stream that hands out only verified pieces."
            .into(),
    );
    member_import(bench, owner, &magnet, &peer, &member)?;
    drop(seeder);
    remove(&member);
    Ok(())
}

/// `archivist fetch --db` with every archive already on disk: the fetch
/// completes at once and the process imports all of them into a fresh store.
fn member_import(
    bench: &mut Bench,
    owner: &Owner,
    magnet: &str,
    peer: &str,
    member: &Path,
) -> anyhow::Result<()> {
    const SECTION: &str = "Member import";
    println!("\n== member import of {} messages ==", owner.messages);
    let (mut whole, mut import_seconds) = (Series::default(), Vec::new());
    for rep in 0..bench.sizes.reps.min(3) {
        let db = bench.work.join(format!("member-{rep}.sqlite"));
        let run = bench.archivist(&argv![
            "fetch",
            magnet,
            "--out",
            member,
            "--peer",
            peer,
            "--timeout",
            "120",
            "--db",
            db
        ])?;
        let report = run.json()?;
        let imported = report["imported"]["messages"].as_u64().unwrap_or(0);
        ensure!(
            imported == owner.messages,
            "fetch --db imported {imported} of {} messages: {report}",
            owner.messages
        );
        import_seconds.push(report["imported"]["seconds"].as_f64().unwrap_or(f64::NAN));
        whole.push(&run);
        remove(&db);
    }
    let import = super::report::median(&import_seconds);
    let reference = &owner.import;
    let rate = |s: f64| owner.messages as f64 / s;
    bench.report.detail(
        SECTION,
        format!(
            "`archivist fetch --db` with the archives already fetched, into a fresh store: whole process {}, \
             of which importing (decode + `import_archive` per archive) median {}",
            whole.spread(),
            secs(import)
        ),
    );
    bench.report.rows.push(Row {
        what: format!("member import, {} messages", owner.messages),
        ours: Side::new(
            "`fetch --db` (archives → store)",
            format!(
                "{:.0} msg/s importing ({}); {:.0} msg/s whole process ({})",
                rate(import),
                secs(import),
                rate(whole.median()),
                secs(whole.median())
            ),
            whole.peak_mib(),
        ),
        reference: Side::new(
            "`messages import` (JSONL → store)",
            format!(
                "{:.0} msg/s ({})",
                rate(reference.median()),
                secs(reference.median())
            ),
            reference.peak_mib(),
        ),
        ratio: format!("{:.2}× (importing)", reference.median() / import),
        target: "— (reported)".into(),
        verdict: Verdict::Reported,
    });
    Ok(())
}

/// Reads `path` once so every run finds it in the page cache.
fn warm(path: &Path) -> anyhow::Result<()> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    while file.read(&mut buf)? > 0 {}
    Ok(())
}

/// The downloaded `data` and `index` have the owner's lengths (piece hashes
/// were checked by the downloader).
fn same_files(owner: &Owner, got: &Path) -> anyhow::Result<()> {
    for name in ["data", "index"] {
        let want = std::fs::metadata(owner.community_dir().join(name))?.len();
        let have = std::fs::metadata(got.join(name))
            .with_context(|| format!("{} was not downloaded", got.join(name).display()))?
            .len();
        ensure!(want == have, "{name}: downloaded {have} bytes of {want}");
    }
    Ok(())
}
