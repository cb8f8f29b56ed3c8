//! Archive creation from the store: `archivist messages import` of the
//! synthetic community, then `archivist create --db` over all of it. Its
//! archives are the community data the later scenarios share.

use std::path::PathBuf;

use anyhow::Context;

use super::{
    Bench,
    process::argv,
    remove,
    report::{Row, Series, Side, Verdict, mb_per_s, secs},
    synth::{self, COMMUNITY, EPOCH, TOPICS, WEEK},
};

/// The owner's side after archive creation, shared by later scenarios.
#[derive(Debug)]
pub(crate) struct Owner {
    /// Everything of the owner: `work/owner`.
    pub(crate) root: PathBuf,
    /// The store right after import, before any `create` recorded an end.
    pub(crate) pristine: PathBuf,
    /// The `--out` directory; the community's files are in `out/<community>`.
    pub(crate) out: PathBuf,
    /// `[from, to)` of the archived range.
    pub(crate) range: (u64, u64),
    pub(crate) messages: u64,
    /// Encoded archive bytes, without padding.
    pub(crate) archive_bytes: u64,
    /// `data` + `index`.
    pub(crate) file_bytes: u64,
    /// `messages import` runs, for the member-import comparison.
    pub(crate) import: Series,
    /// `create --db` runs, to tell a Codex upload's local share.
    pub(crate) create: Series,
}

impl Owner {
    pub(crate) fn community_dir(&self) -> PathBuf {
        self.out.join(COMMUNITY)
    }

    /// `create` arguments selecting the owner's community and range.
    pub(crate) fn create_args(&self, db: &std::path::Path, out: &std::path::Path) -> Vec<String> {
        argv![
            "create",
            "--db",
            db,
            "--community",
            COMMUNITY,
            "--topics",
            TOPICS.join(","),
            "--from",
            self.range.0,
            "--to",
            self.range.1,
            "--out",
            out
        ]
    }
}

pub(crate) fn run(bench: &mut Bench) -> anyhow::Result<Owner> {
    const SECTION: &str = "Archive creation from the store";
    let sizes = bench.sizes.clone();
    println!("\n== archive creation: {} messages ==", sizes.messages);
    let root = bench.fresh_dir("owner")?;
    // JSONL ≈ 1.4 × content, the store ≈ 1.1 ×, archives ≈ 1 ×, one copy of
    // the store per run.
    let approx = sizes.messages * (sizes.payload.0 + sizes.payload.1) / 2;
    bench.need_disk(approx * 6, "archive creation")?;

    let jsonl = root.join("messages.jsonl");
    let written = synth::write_jsonl(
        &jsonl,
        &synth::Messages {
            seed: 1,
            count: sizes.messages,
            from: EPOCH,
            span: sizes.weeks * WEEK,
            payload: sizes.payload,
        },
    )?;
    let jsonl_bytes = std::fs::metadata(&jsonl)?.len();
    let range = (EPOCH, EPOCH + sizes.weeks * WEEK);

    let reps = sizes.reps.min(3);
    let pristine = root.join("pristine.sqlite");
    let mut import = Series::default();
    for rep in 0..reps {
        let db = root.join(format!("import-{rep}.sqlite"));
        let run = bench.archivist(&argv!["messages", "import", "--db", db, "--jsonl", jsonl])?;
        import.push(&run);
        if rep == 0 {
            std::fs::rename(&db, &pristine)?;
        } else {
            remove(&db);
        }
    }
    remove(&jsonl);

    let mut owner = Owner {
        out: root.join("out"),
        root,
        pristine,
        range,
        messages: written.messages,
        archive_bytes: 0,
        file_bytes: 0,
        import,
        create: Series::default(),
    };
    for rep in 0..reps {
        let db = owner.root.join("create.sqlite");
        std::fs::copy(&owner.pristine, &db).context("copying the store")?;
        remove(&owner.out);
        let run = bench.archivist(&owner.create_args(&db, &owner.out))?;
        owner.create.push(&run);
        let report = run.json()?;
        let archives = report["archives"].as_array().context("no archives")?;
        owner.archive_bytes = archives.iter().filter_map(|a| a["size"].as_u64()).sum();
        let archived: u64 = archives.iter().filter_map(|a| a["messages"].as_u64()).sum();
        anyhow::ensure!(
            archived == owner.messages,
            "create archived {archived} of {} messages",
            owner.messages
        );
        remove(&db);
        if rep == 0 {
            bench.report.detail(
                SECTION,
                format!(
                    "{} messages over {} weeks, payloads {}–{} bytes: {} archives, {} bytes encoded",
                    owner.messages,
                    sizes.weeks,
                    sizes.payload.0,
                    sizes.payload.1,
                    archives.len(),
                    owner.archive_bytes
                ),
            );
        }
    }
    let dir = owner.community_dir();
    owner.file_bytes =
        std::fs::metadata(dir.join("data"))?.len() + std::fs::metadata(dir.join("index"))?.len();

    let (create, import) = (&owner.create, &owner.import);
    let rate = |n: u64, s: f64| format!("{:.0} msg/s", n as f64 / s);
    bench.report.detail(
        SECTION,
        format!(
            "`archivist create --db` (stream the store into archives, write data + index): {}",
            create.spread()
        ),
    );
    bench.report.detail(
        SECTION,
        format!(
            "`archivist messages import` ({jsonl_bytes} bytes of JSONL into a fresh store): {}",
            import.spread()
        ),
    );
    bench.report.rows.push(Row {
        what: format!(
            "archive creation from the store, {} messages",
            owner.messages
        ),
        ours: Side::new(
            "`create --db`",
            format!(
                "{}, {} of archives ({})",
                rate(owner.messages, create.median()),
                mb_per_s(owner.archive_bytes, create.median()),
                secs(create.median())
            ),
            create.peak_mib(),
        ),
        reference: Side::new(
            "`messages import` of the same messages",
            format!(
                "{}, {} of JSONL ({})",
                rate(owner.messages, import.median()),
                mb_per_s(jsonl_bytes, import.median()),
                secs(import.median())
            ),
            import.peak_mib(),
        ),
        ratio: format!("{:.2}× import speed", import.median() / create.median()),
        target: "— (reported)".into(),
        verdict: Verdict::Reported,
    });
    Ok(owner)
}
