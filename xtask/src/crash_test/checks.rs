//! The crash test's invariants, checked through the `archivist` binary only
//! (`inspect`, `messages export`, a fresh `.torrent` build), so they judge
//! what a user would see on disk.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail, ensure};

use crate::bench::{
    process::{self, argv},
    remove,
    synth::{COMMUNITY, TOPICS},
};

const TIMEOUT: Duration = Duration::from_secs(60);

/// One owner archive's content.
#[derive(Debug)]
struct Archive {
    from: u64,
    to: u64,
    hashes: Vec<String>,
}

#[derive(Debug)]
pub(super) struct Checks {
    bin: PathBuf,
    work: PathBuf,
    /// Archives by ID: immutable once written, so read once.
    archives: HashMap<String, Archive>,
    /// The owner's archived ranges and the hashes each holds (sibling
    /// chunks of one partition together).
    ranges: BTreeMap<(u64, u64), HashSet<String>>,
}

impl Checks {
    pub(super) fn new(bin: PathBuf, work: PathBuf) -> Checks {
        Checks {
            bin,
            work,
            archives: HashMap::new(),
            ranges: BTreeMap::new(),
        }
    }

    fn community_dir(&self) -> PathBuf {
        self.work.join("owner").join(COMMUNITY)
    }

    fn archivist(&self, args: &[String]) -> anyhow::Result<process::Finished> {
        process::run(&self.bin, args, TIMEOUT)?.ok(&format!("archivist {}", args.join(" ")))
    }

    fn archivist_json(&self, args: &[String]) -> anyhow::Result<serde_json::Value> {
        self.archivist(args)?.json()
    }

    /// The index's entries `(id, offset + size)` (a size counts the padding),
    /// none when there is no index yet.
    fn index(&self) -> anyhow::Result<Vec<(String, u64)>> {
        let path = self.community_dir().join("index");
        if !path.exists() {
            return Ok(Vec::new());
        }
        let index = self.archivist_json(&argv!["inspect", "index", path, "--json"])?;
        index["archives"]
            .as_array()
            .context("index has no archives list")?
            .iter()
            .map(|a| {
                let field = |k: &str| a[k].as_u64().with_context(|| format!("no {k} in {a}"));
                Ok((
                    a["id"].as_str().context("no id")?.to_owned(),
                    field("offset")? + field("size")?,
                ))
            })
            .collect()
    }

    fn data_len(&self) -> u64 {
        std::fs::metadata(self.community_dir().join("data")).map_or(0, |m| m.len())
    }

    /// The index never points past the end of `data`. Returns where it ends.
    pub(super) fn index_within_data(&self) -> anyhow::Result<u64> {
        let end = self.index()?.iter().map(|(_, end)| *end).max().unwrap_or(0);
        let len = self.data_len();
        ensure!(
            end <= len,
            "the index points to byte {end} but data holds only {len} bytes"
        );
        Ok(end)
    }

    /// After a restart of the owner's command: `data` is exactly what the
    /// index describes, the `.torrent` describes the files, and every stored
    /// message is archived exactly once.
    pub(super) fn owner_after_restart(&mut self) -> anyhow::Result<()> {
        let end = self.index_within_data()?;
        let len = self.data_len();
        ensure!(
            end == len,
            "data holds {len} bytes beyond the index's {end}"
        );
        self.torrent_matches_files()?;
        self.read_new_archives()?;
        self.exactly_once()
    }

    fn torrent_matches_files(&self) -> anyhow::Result<()> {
        let dir = self.community_dir();
        let torrents = self.work.join("owner/torrents");
        let torrent = self.archivist_json(&argv![
            "inspect",
            "torrent",
            torrents.join(format!("{COMMUNITY}.torrent")),
            "--json"
        ])?;
        for (i, name) in ["data", "index"].into_iter().enumerate() {
            let said = torrent["files"][i]["length"].as_u64().unwrap_or(u64::MAX);
            let actual = std::fs::metadata(dir.join(name))?.len();
            ensure!(
                said == actual,
                "the .torrent says {name} has {said} bytes; it has {actual}"
            );
        }
        // Re-hash: a full build from scratch must give the same infohash.
        let fresh = self.work.join("check-torrent");
        remove(&fresh);
        let empty = self.work.join("empty.jsonl");
        std::fs::write(&empty, "")?;
        self.archivist(&argv![
            "create",
            "--messages",
            empty,
            "--community",
            COMMUNITY,
            "--topics",
            TOPICS[0],
            "--from",
            "1",
            "--to",
            "2",
            "--out",
            self.work.join("owner"),
            "--torrent-dir",
            fresh
        ])?;
        let rebuilt = self.archivist_json(&argv![
            "inspect",
            "torrent",
            fresh.join(format!("{COMMUNITY}.torrent")),
            "--json"
        ])?;
        remove(&fresh);
        ensure!(
            torrent["infohash"] == rebuilt["infohash"],
            "the .torrent's infohash {} is not the files' {}",
            torrent["infohash"],
            rebuilt["infohash"]
        );
        Ok(())
    }

    fn read_new_archives(&mut self) -> anyhow::Result<()> {
        for (id, _) in self.index()? {
            if self.archives.contains_key(&id) {
                continue;
            }
            let archive = self.archivist_json(&argv![
                "inspect",
                "archive",
                self.community_dir(),
                "--id",
                id,
                "--json"
            ])?;
            let (from, to) = (
                archive["from"].as_u64().context("no from")?,
                archive["to"].as_u64().context("no to")?,
            );
            let mut hashes = Vec::new();
            for m in archive["messages"].as_array().context("no messages")? {
                let ts = m["timestamp"].as_u64().context("no timestamp")?;
                ensure!(
                    (from..to).contains(&ts),
                    "archive {id} [{from}, {to}) holds a message at {ts}"
                );
                hashes.push(m["hash"].as_str().context("no hash")?.to_owned());
            }
            self.ranges
                .entry((from, to))
                .or_default()
                .extend(hashes.iter().cloned());
            self.archives.insert(id, Archive { from, to, hashes });
        }
        Ok(())
    }

    fn exactly_once(&self) -> anyhow::Result<()> {
        let mut seen: HashMap<&str, Vec<(u64, u64)>> = HashMap::new();
        for archive in self.archives.values() {
            for hash in &archive.hashes {
                seen.entry(hash)
                    .or_default()
                    .push((archive.from, archive.to));
            }
        }
        if let Some((hash, ranges)) = seen.iter().find(|(_, r)| r.len() > 1) {
            bail!(
                "message {hash} is archived {} times: {ranges:?}",
                ranges.len()
            );
        }
        let stored = self.export(&self.work.join("owner.sqlite"))?;
        let missing: Vec<_> = stored
            .iter()
            .filter(|(_, h)| !seen.contains_key(h.as_str()))
            .collect();
        ensure!(
            missing.is_empty(),
            "{} stored messages are in no archive, e.g. {:?}",
            missing.len(),
            missing.first()
        );
        let stored: HashSet<&str> = stored.iter().map(|(_, h)| h.as_str()).collect();
        let extra = seen.keys().filter(|h| !stored.contains(*h)).count();
        ensure!(extra == 0, "{extra} archived messages are not in the store");
        Ok(())
    }

    /// `(timestamp, hash)` of every message in the store at `db`.
    fn export(&self, db: &Path) -> anyhow::Result<Vec<(u64, String)>> {
        let out = self.archivist(&argv!["messages", "export", "--db", db])?;
        out.stdout_text()
            .lines()
            .map(|line| {
                let m: serde_json::Value = serde_json::from_str(line)?;
                Ok((
                    m["timestamp"].as_u64().context("no timestamp")?,
                    m["hash"].as_str().context("no hash")?.to_owned(),
                ))
            })
            .collect()
    }

    /// A member's store holds each of the owner's archived ranges whole or
    /// not at all, and nothing else; with `complete`, every range whole.
    pub(super) fn member_ranges_whole(&self, db: &Path, complete: bool) -> anyhow::Result<()> {
        if !db.exists() {
            ensure!(!complete, "{} was never created", db.display());
            return Ok(());
        }
        let mut got: BTreeMap<(u64, u64), HashSet<String>> = BTreeMap::new();
        for (ts, hash) in self.export(db)? {
            let range = self
                .ranges
                .keys()
                .find(|(from, to)| (*from..*to).contains(&ts))
                .with_context(|| format!("member message {hash} at {ts} is in no owner archive"))?;
            got.entry(*range).or_default().insert(hash);
        }
        for (range, want) in &self.ranges {
            let have = got.get(range).map_or(0, HashSet::len);
            let whole = got.get(range).is_some_and(|h| h == want);
            if have > 0 && !whole {
                bail!(
                    "{}: range [{}, {}) is partly imported: {have} messages of {}",
                    db.display(),
                    range.0,
                    range.1,
                    want.len()
                );
            }
            if complete && !whole {
                bail!(
                    "{}: range [{}, {}) is missing after a complete fetch ({have} of {})",
                    db.display(),
                    range.0,
                    range.1,
                    want.len()
                );
            }
        }
        Ok(())
    }
}
