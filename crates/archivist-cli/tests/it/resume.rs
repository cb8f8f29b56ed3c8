//! `create --db` killed part-way (found by `cargo xtask crash-test`): running
//! the same range again must finish the job, archiving nothing twice. The
//! crash states are made here by restoring copies of the store and the
//! `.torrent` as they were at the moment of the kill.

use std::path::PathBuf;

use super::*;

const WEEK: u64 = 7 * DAY;

struct Owner {
    _tmp: tempfile::TempDir,
    db: PathBuf,
    out: PathBuf,
    torrents: PathBuf,
}

impl Owner {
    /// A store holding three weeks of messages, nothing archived yet.
    fn new() -> Owner {
        let tmp = tempfile::tempdir().unwrap();
        let jsonl = tmp.path().join("m.jsonl");
        let lines: Vec<_> = (0..21u64)
            .map(|i| line(D1 + i * DAY + 60, &format!("0x{i:02x}"), TOPIC))
            .collect();
        write_jsonl(&jsonl, &lines);
        let db = tmp.path().join("owner.sqlite");
        archivist_json(&[
            "messages",
            "import",
            "--db",
            db.to_str().unwrap(),
            "--jsonl",
            jsonl.to_str().unwrap(),
        ]);
        Owner {
            db,
            out: tmp.path().join("out"),
            torrents: tmp.path().join("torrents"),
            _tmp: tmp,
        }
    }

    fn args(&self, from: u64, to: u64, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "create",
            "--db",
            self.db.to_str().unwrap(),
            "--community",
            COMMUNITY,
            "--topics",
            TOPIC,
            "--from",
            &from.to_string(),
            "--to",
            &to.to_string(),
            "--out",
            self.out.to_str().unwrap(),
            "--torrent-dir",
            self.torrents.to_str().unwrap(),
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    }

    fn create(&self, from: u64, to: u64, extra: &[&str]) -> serde_json::Value {
        let args = self.args(from, to, extra);
        archivist_json(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn torrent(&self) -> PathBuf {
        self.torrents.join(format!("{COMMUNITY}.torrent"))
    }

    /// Every archived message hash, archive by archive.
    fn archived_hashes(&self) -> Vec<String> {
        let dir = self.out.join(COMMUNITY);
        let index = archivist_json(&[
            "inspect",
            "index",
            dir.join("index").to_str().unwrap(),
            "--json",
        ]);
        let mut hashes = Vec::new();
        for archive in index["archives"].as_array().unwrap() {
            let archive = archivist_json(&[
                "inspect",
                "archive",
                dir.to_str().unwrap(),
                "--id",
                archive["id"].as_str().unwrap(),
                "--json",
            ]);
            for m in archive["messages"].as_array().unwrap() {
                hashes.push(m["hash"].as_str().unwrap().to_string());
            }
        }
        hashes
    }

    /// Copies of the store and the `.torrent` as they are now.
    fn snapshot(&self) -> (Vec<u8>, Vec<u8>) {
        (
            std::fs::read(&self.db).unwrap(),
            std::fs::read(self.torrent()).unwrap(),
        )
    }

    fn restore_store(&self, bytes: &[u8]) {
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.db.display()));
        }
        std::fs::write(&self.db, bytes).unwrap();
    }
}

#[test]
fn a_create_killed_after_appending_finishes_on_rerun_without_archiving_twice() {
    let owner = Owner::new();
    owner.create(D1, D1 + WEEK, &[]);
    let (store, torrent) = owner.snapshot();
    let done = owner.create(D1 + WEEK, D1 + 2 * WEEK, &[]);
    assert_eq!(done["archives"].as_array().unwrap().len(), 1);

    // Killed after the index was replaced, before the end was recorded and
    // the .torrent rewritten: the re-run appends nothing and fixes the .torrent.
    owner.restore_store(&store);
    std::fs::write(owner.torrent(), &torrent).unwrap();
    let rerun = owner.create(D1 + WEEK, D1 + 2 * WEEK, &[]);
    assert_eq!(rerun["archives"].as_array().unwrap().len(), 0, "{rerun}");
    assert_eq!(rerun["magnet"], done["magnet"]);
    let hashes = owner.archived_hashes();
    assert_eq!(hashes.len(), 14, "each message of both weeks exactly once");

    // Killed after everything but the report: the re-run is a no-op too.
    let again = owner.create(D1 + WEEK, D1 + 2 * WEEK, &[]);
    assert_eq!(again["archives"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(again["magnet"], done["magnet"]);
    assert_eq!(owner.archived_hashes(), hashes);

    // A range straddling the recorded end would archive a week twice.
    let args = owner.args(D1 + WEEK, D1 + 3 * WEEK, &[]);
    let straddling = archivist(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!straddling.status.success());
    assert!(String::from_utf8_lossy(&straddling.stderr).contains("archived up to"));

    // The next week still follows on.
    let next = owner.create(D1 + 2 * WEEK, D1 + 3 * WEEK, &[]);
    assert_eq!(next["archives"].as_array().unwrap().len(), 1);
    assert_eq!(owner.archived_hashes().len(), 21);
}

#[test]
fn a_create_killed_while_publishing_to_codex_publishes_on_rerun() {
    let owner = Owner::new();
    let node_dir = tempfile::tempdir().unwrap();
    let (_node, started) = start_archivist(&[
        "codex-devnode",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        node_dir.path().to_str().unwrap(),
    ]);
    let url = started["url"].as_str().unwrap().to_string();
    let first = owner.create(D1, D1 + WEEK, &["--codex", &url]);
    let first_cid = first["index_cid"].as_str().unwrap().to_string();
    let (store, _) = owner.snapshot();
    let second = owner.create(
        D1 + WEEK,
        D1 + 2 * WEEK,
        &["--codex", &url, "--previous-index", &first_cid],
    );

    // Killed during the Codex upload (the end not recorded yet), and killed
    // after recording it: both re-runs publish the same index.
    owner.restore_store(&store);
    for _ in 0..2 {
        let rerun = owner.create(
            D1 + WEEK,
            D1 + 2 * WEEK,
            &["--codex", &url, "--previous-index", &first_cid],
        );
        assert_eq!(rerun["index_cid"], second["index_cid"], "{rerun}");
        assert_eq!(rerun["archives"].as_array().unwrap().len(), 0);
    }
    assert_eq!(owner.archived_hashes().len(), 14);
}
