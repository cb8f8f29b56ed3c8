//! `archivist create`: append a community's archives for `[from, to)` to its
//! `data` and `index` files, as status-go's archive run does.

use std::{
    fs::File,
    io::BufReader,
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::{Context, bail, ensure};
use archive_backend::{Link, LinkKind, MessageList};
use archive_crypto::{CommunityEnvelope, GroupId, InstallationId, Keyring};
use archive_index::{
    ArchiveRun, CommunityId, DataWriter, TimeRange, Topic, WriteReport, partitions,
    write_sealed_archives,
};
use archive_scheduler::StoreSource;
use archive_store::{Database, Store};
use backend_torrent::{AppendOutcome, ArchiveDir, Metainfo, TorrentOptions};
use serde_json::json;

use crate::jsonl;

/// Arguments of `archivist create`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    archivist create --messages week.jsonl --community 0x02…(66 hex) --topics 0xdeadbeef \\\n      \
    --from 1577836800 --to 1578441600 --out ./archivedata\n  \
    archivist create --db messages.sqlite --community 0x02… --topics 0xdeadbeef \\\n      \
    --from 1577836800 --to 1578441600 --out ./archivedata\n\n\
    Prints {\"archives\":[{\"id\",\"from\",\"to\",\"offset\",\"size\",\"padding\",\"messages\"}…],\"dropped\":[…]}.")]
pub(crate) struct CreateArgs {
    /// Messages to archive, one JSON object per line.
    #[arg(
        long,
        value_name = "FILE.jsonl",
        required_unless_present = "db",
        conflicts_with = "db"
    )]
    messages: Option<PathBuf>,
    /// Archive from a message store instead, and record the archive end there.
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// The community ID: its compressed public key, 0x + 66 hex.
    #[arg(long)]
    community: CommunityId,
    /// The community's chat topics, 0x + 8 hex each, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    topics: Vec<Topic>,
    /// Start of the range, Unix seconds (inclusive).
    #[arg(long)]
    from: u64,
    /// End of the range, Unix seconds (exclusive).
    #[arg(long)]
    to: u64,
    /// Partition length: a number with s, m, h, d or w (7d, 12h, 3600s).
    #[arg(long, default_value = "7d", value_parser = parse_interval)]
    interval: u64,
    /// Data directory; files go to DIR/<community>/{data,index}.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Also write DIR/<community>.torrent (status-go's layout) and print the
    /// magnet link; unchanged pieces are not hashed again.
    #[arg(long, value_name = "DIR")]
    torrent_dir: Option<PathBuf>,
    /// `created by` in the .torrent: the owner's public key in hex.
    #[arg(long, default_value = "", requires = "torrent_dir")]
    created_by: String,
    /// Also upload the archives to the Codex node at URL (each its own
    /// dataset, then the index) and print the index CID.
    #[arg(long, value_name = "URL")]
    codex: Option<String>,
    /// The index CID announced last time: the new Codex index extends it.
    #[arg(long, value_name = "CID", requires = "codex")]
    previous_index: Option<String>,
    /// An encrypted community: seal every archive and the index with the
    /// newest of the community's keys in this key file (`archivist keys
    /// new` writes one). With --db the sequence numbers continue from the
    /// store's counters.
    #[arg(long, value_name = "FILE")]
    keys: Option<PathBuf>,
}

pub(crate) fn run(args: CreateArgs) -> anyhow::Result<serde_json::Value> {
    ensure!(
        args.from < args.to,
        "--from ({}) must be before --to ({})",
        args.from,
        args.to
    );
    let run = ArchiveRun {
        range: TimeRange {
            from: args.from,
            to: args.to,
        },
        interval: args.interval,
        topics: args.topics,
    };
    let envelope = match &args.keys {
        Some(file) => Some(sealing(file, &args.community, args.db.as_deref())?),
        None => None,
    };
    let shared = envelope
        .clone()
        .map(|e| Arc::new(e) as Arc<dyn archive_index::Envelope>);
    let dir = ArchiveDir::new(&args.out, &args.community).with_envelope(shared.clone());
    let outcome = match (&args.messages, &args.db) {
        (Some(path), _) => from_jsonl(path, &run, &dir)?,
        (None, Some(db)) => from_store(db, &args.community, &run, &dir)?,
        (None, None) => bail!("give --messages FILE.jsonl or --db FILE"),
    };
    let mut report = report_json(&outcome);
    if let Some(torrent_dir) = &args.torrent_dir {
        let magnet = write_torrent(&dir, torrent_dir, &args.created_by)?;
        report["magnet"] = magnet.into();
    }
    if let Some(url) = &args.codex {
        let previous = args
            .previous_index
            .as_deref()
            .map(|cid| Link::from_announced(LinkKind::CODEX, cid))
            .transpose()?;
        let published = crate::runtime()?.block_on(async {
            match (&args.messages, &args.db) {
                (Some(path), _) => {
                    let file =
                        File::open(path).with_context(|| format!("opening {}", path.display()))?;
                    let source = MessageList::new(jsonl::read_messages(
                        BufReader::new(file),
                        &path.display().to_string(),
                    )?);
                    crate::codex::publish(url, args.community, &run, previous, &source, shared)
                        .await
                }
                (None, Some(db)) => {
                    let source = StoreSource::new(Store::open(db.clone()).await?);
                    crate::codex::publish(url, args.community, &run, previous, &source, shared)
                        .await
                }
                (None, None) => bail!("give --messages FILE.jsonl or --db FILE"),
            }
        })?;
        report["index_cid"] = published.link.map(|l| l.announced().to_string()).into();
        report["codex_archives"] = published
            .archives
            .iter()
            .map(|a| a.id.to_string())
            .collect();
    }
    if let Some(db) = &args.db {
        // Only now that everything is published: a run killed before this
        // point is re-run whole (see `from_store`), and one killed after it
        // has nothing left to do.
        if let Some(envelope) = &envelope {
            save_counters(db, &args.community, envelope)?;
        }
        record_end(db, &args.community, &run.topics, run.range.to)?;
    }
    Ok(report)
}

/// The envelope sealing `community`'s blobs with its keys from `file`, its
/// counters restored from the store at `db` when given.
fn sealing(
    file: &Path,
    community: &CommunityId,
    db: Option<&Path>,
) -> anyhow::Result<CommunityEnvelope> {
    let bytes = crate::keys::read_bounded(file)?;
    let group = GroupId::from(*community);
    let keys: Keyring = archive_crypto::parse_key_file(&bytes)
        .with_context(|| format!("--keys {}", file.display()))?
        .into_iter()
        .filter(|k| k.group == group)
        .collect();
    ensure!(
        !keys.is_empty(),
        "--keys {}: no key of community {community}",
        file.display()
    );
    let envelope = CommunityEnvelope::new(group, keys, InstallationId::random()?);
    if let Some(db) = db {
        let db = Database::open(db).with_context(|| format!("opening {}", db.display()))?;
        archivist::restore_counters(&envelope, &db.key_counters(community)?);
    }
    Ok(envelope)
}

/// Saves the envelope's counters, so the next run seals under new numbers.
fn save_counters(
    db: &Path,
    community: &CommunityId,
    envelope: &CommunityEnvelope,
) -> anyhow::Result<()> {
    let mut db = Database::open(db).with_context(|| format!("opening {}", db.display()))?;
    db.save_key_counters(community, &archivist::stored_counters(envelope))?;
    Ok(())
}

/// Writes the community's `.torrent` over its current files, reusing the piece
/// hashes of the previous one, and returns the magnet link.
fn write_torrent(
    dir: &ArchiveDir,
    torrent_dir: &Path,
    created_by: &str,
) -> anyhow::Result<Option<String>> {
    if !dir.index_path().exists() {
        return Ok(None);
    }
    let community: CommunityId = dir
        .path()
        .file_name()
        .and_then(|n| n.to_str())
        .context("the archive directory is named by its community")?
        .parse()?;
    let previous = Metainfo::load(torrent_dir, &community)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let metainfo = Metainfo::build(
        dir,
        &TorrentOptions::new(created_by, now),
        previous.as_ref(),
    )?;
    metainfo.write(torrent_dir)?;
    Ok(Some(metainfo.magnet().to_string()))
}

fn from_jsonl(path: &Path, run: &ArchiveRun, dir: &ArchiveDir) -> anyhow::Result<AppendOutcome> {
    // Read and validate all input before touching any file.
    let source = path.display().to_string();
    let file = File::open(path).with_context(|| format!("opening {source}"))?;
    let messages = jsonl::read_messages(BufReader::new(file), &source)?;
    let envelope = dir.shared_envelope();
    dir.append(|out, start| -> anyhow::Result<WriteReport> {
        Ok(write_sealed_archives(out, start, run, messages, envelope)?.1)
    })
}

/// Streams each partition out of the store into `data`, one message in memory
/// at a time. The caller records the archive end once everything is
/// published, so the next run starts there.
///
/// A run can be killed anywhere, so running the same range again must finish
/// the job without archiving anything twice: a range up to the recorded end is
/// archived already and appends nothing, and partitions the index already
/// holds (appended by a run killed before it recorded the end) are skipped.
/// Only a range that straddles the recorded end is refused.
fn from_store(
    path: &Path,
    community: &CommunityId,
    run: &ArchiveRun,
    dir: &ArchiveDir,
) -> anyhow::Result<AppendOutcome> {
    let db = Database::open(path).with_context(|| format!("opening {}", path.display()))?;
    // `data` and `index` are the torrent layout: its end is the magnet end.
    let recorded = db.last_archive_end(community, &LinkKind::TORRENT)?;
    if let Some(end) = recorded {
        ensure!(
            run.range.from >= end || run.range.to <= end,
            "{community} is archived up to {end}; --from {} would archive messages twice",
            run.range.from
        );
    }
    let written = dir
        .load_index()?
        .by_offset()
        .map(|(_, entry)| entry.metadata.range.to)
        .max();
    let start = [Some(run.range.from), recorded, written]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(run.range.from);
    let parts: Vec<TimeRange> = if start < run.range.to {
        partitions(
            TimeRange {
                from: start,
                to: run.range.to,
            },
            run.interval,
        )?
        .collect()
    } else {
        Vec::new()
    };
    append_partitions(&db, &run.topics, parts, dir)
}

/// Appends one archive per partition of `parts` that holds messages on
/// `topics`, streamed out of the store one message at a time.
pub(crate) fn append_partitions(
    db: &Database,
    topics: &[Topic],
    parts: Vec<TimeRange>,
    dir: &ArchiveDir,
) -> anyhow::Result<AppendOutcome> {
    let outcome = dir.append(|out, start| -> anyhow::Result<WriteReport> {
        let mut writer =
            DataWriter::new(out, start, topics.to_vec()).with_envelope(dir.shared_envelope());
        for part in parts {
            let mut open = false;
            db.for_each_message(topics, part, |message| -> anyhow::Result<()> {
                if !open {
                    writer.begin_partition(part)?;
                    open = true;
                }
                Ok(writer.push(&message)?)
            })?;
            if open {
                writer.finish_partition()?;
            }
        }
        Ok(writer.finish()?.1)
    })?;
    Ok(outcome)
}

/// Records `end` as the archive end in the store at `path`, never moving it
/// back (re-running an archived range must not reopen what follows it), and
/// claims `topics` for `community` as an owner's node does, so a later
/// import knows whose archived time a message falls in.
fn record_end(
    path: &Path,
    community: &CommunityId,
    topics: &[Topic],
    end: u64,
) -> anyhow::Result<()> {
    let mut db = Database::open(path).with_context(|| format!("opening {}", path.display()))?;
    db.claim_topics(community, topics)?;
    if db
        .last_archive_end(community, &LinkKind::TORRENT)?
        .is_none_or(|recorded| recorded < end)
    {
        db.set_last_archive_end(community, &LinkKind::TORRENT, end)?;
    }
    Ok(())
}

/// The `create` report: the new archives and the dropped messages.
pub(crate) fn report_json(outcome: &AppendOutcome) -> serde_json::Value {
    let WriteReport {
        archives, dropped, ..
    } = &outcome.report;
    json!({
        "archives": archives.iter().map(|a| json!({
            "id": a.id.to_string(),
            "from": a.entry.metadata.range.from,
            "to": a.entry.metadata.range.to,
            "offset": a.entry.offset,
            "size": a.entry.size,
            "padding": a.entry.padding,
            "messages": a.message_count,
        })).collect::<Vec<_>>(),
        "dropped": dropped.iter().map(|d| json!({
            "hash": format!("0x{}", hex::encode(&d.hash)),
            "timestamp": d.timestamp,
            "topic": d.topic.to_string(),
            "size": d.size,
        })).collect::<Vec<_>>(),
    })
}

/// Parses `7d`, `12h`, `90m`, `3600s`, `2w` or a bare number of seconds.
pub(crate) fn parse_interval(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 7d, 12h or 3600s"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}: use s, m, h, d or w"
            ));
        }
    };
    match n.checked_mul(scale) {
        Some(0) => Err("the interval must be at least one second".into()),
        Some(seconds) => Ok(seconds),
        None => Err(format!("{text:?} is too long")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_interval;

    #[test]
    fn intervals_parse() {
        assert_eq!(parse_interval("7d"), Ok(604_800));
        assert_eq!(parse_interval("90m"), Ok(5_400));
        assert_eq!(parse_interval("3600"), Ok(3_600));
        assert!(parse_interval("0d").is_err());
        assert!(parse_interval("7y").is_err());
        assert!(parse_interval("d").is_err());
    }
}
