//! Upload to and download from an `archivist codex-devnode`: `archivist
//! create --codex` and `archivist fetch codex:` against curl on the same node.
//!
//! The sides do not do the same work and the report says so: `create
//! --codex` also encodes the archives from the store (and writes the
//! BitTorrent `data` alongside), and `fetch codex:` verifies every dataset
//! against its tree root and writes each archive out as JSONL; curl moves the
//! `data` file's bytes as one dataset and does nothing else.

use std::time::Duration;

use anyhow::Context;

use super::{
    Bench,
    archive_creation::Owner,
    process::{Server, argv},
    remove,
    report::{Row, Series, Throughput, secs},
    synth::COMMUNITY,
};

pub(crate) fn run(bench: &mut Bench, owner: &Owner) -> anyhow::Result<()> {
    const SECTION: &str = "Codex devnode";
    println!("\n== Codex devnode upload and download ==");
    bench.need_disk(owner.file_bytes * 5, "the Codex scenario")?;
    let data = owner.community_dir().join("data");
    let data_bytes = std::fs::metadata(&data)?.len();
    let mut sides: [Series; 4] = Default::default();
    for _ in 0..bench.sizes.reps.min(3) {
        let node_dir = bench.fresh_dir("codex-node")?;
        let node = Server::start(
            &bench.bin,
            &argv![
                "codex-devnode",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                node_dir
            ],
            bench.work.join("codex-devnode.log"),
            Duration::from_secs(60),
        )?;
        let url = node.field("url")?;
        let api = node.field("api_url")?;

        let db = bench.work.join("codex-owner.sqlite");
        std::fs::copy(&owner.pristine, &db).context("copying the store")?;
        let out = bench.fresh_dir("codex-owner")?;
        let mut create = owner.create_args(&db, &out);
        create.extend(argv!["--codex", url]);
        let run = bench.archivist(&create)?;
        let cid = run.json()?["index_cid"]
            .as_str()
            .context("create --codex printed no index_cid")?
            .to_owned();
        sides[0].push(&run);
        remove(&db);
        remove(&out);

        let run = bench.curl(&argv![
            "-sS",
            "--fail",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/octet-stream",
            "-T",
            data,
            format!("{api}/data")
        ])?;
        let data_cid = run.stdout_text().trim().to_owned();
        sides[1].push(&run);

        let member = bench.fresh_dir("codex-member")?;
        let run = bench.archivist(&argv![
            "fetch",
            format!("codex:{cid}"),
            "--codex",
            url,
            "--community",
            COMMUNITY,
            "--out",
            member
        ])?;
        let fetched = run.json()?["archives"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(fetched > 0, "fetch codex: fetched no archive");
        sides[2].push(&run);
        remove(&member);

        let file = bench.work.join("curl-download");
        sides[3].push(&bench.curl(&argv![
            "-sS",
            "--fail",
            "-o",
            file,
            format!("{api}/data/{data_cid}/network/stream")
        ])?);
        anyhow::ensure!(
            std::fs::metadata(&file)?.len() == data_bytes,
            "curl downloaded a different length"
        );
        remove(&file);
        drop(node);
        remove(&node_dir);
    }
    let [ours_up, curl_up, ours_down, curl_down] = &sides;
    bench.report.notes.push(
        "The Codex rows compare unequal work: `create --codex` encodes every archive from the \
         store (and writes `data`) before uploading it, and `fetch codex:` downloads each archive \
         verified against its tree root, decodes it once (handed over by `fetch`) and writes its \
         messages as JSONL; curl moves the bytes of one file."
            .into(),
    );
    let up_bytes = owner.archive_bytes;
    let local = owner.create.median();
    bench.report.detail(
        SECTION,
        format!(
            "`archivist create --db --codex` ({} messages → {up_bytes} bytes of archives, each its own dataset, then the index): {}; \
             the same `create` without `--codex` takes {}, so the Codex share is about {}",
            owner.messages,
            ours_up.spread(),
            secs(local),
            secs((ours_up.median() - local).max(0.0))
        ),
    );
    bench.report.detail(
        SECTION,
        format!(
            "curl `POST /data` of `data` ({data_bytes} bytes, one dataset): {}",
            curl_up.spread()
        ),
    );
    bench.report.detail(
        SECTION,
        format!(
            "`archivist fetch codex:` (the {up_bytes} bytes of archives and the index, each verified against its tree root, written out as JSONL): {}",
            ours_down.spread()
        ),
    );
    bench.report.detail(
        SECTION,
        format!(
            "curl `GET /data/{{cid}}/network/stream` of that dataset: {}",
            curl_down.spread()
        ),
    );
    for (what, ours, curl, ours_bytes, curl_bytes, who) in [
        (
            "Codex devnode upload",
            ours_up,
            curl_up,
            up_bytes,
            data_bytes,
            "`create --codex` (encode + upload)",
        ),
        (
            "Codex devnode download",
            ours_down,
            curl_down,
            up_bytes,
            data_bytes,
            "`fetch codex:` (download + verify + JSONL)",
        ),
    ] {
        bench.report.rows.push(Row::throughput(
            what,
            Throughput {
                who,
                bytes: ours_bytes,
                runs: ours,
            },
            Throughput {
                who: "curl",
                bytes: curl_bytes,
                runs: curl,
            },
            "curl",
            None,
        ));
    }
    Ok(())
}
