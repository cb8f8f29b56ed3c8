//! `archivist messages`: move messages between JSONL files and a message store.

use std::{
    fs::File,
    io::{BufReader, BufWriter, Write},
    path::{Path, PathBuf},
};

use anyhow::Context;
use archive_index::{Message, TimeRange, Topic};
use archive_store::{Database, InsertReport, LateMessages};
use serde_json::json;

use crate::{human_time, jsonl};

/// What to do with messages.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum MessagesCommand {
    /// Store the messages of a JSONL file (all or nothing; same hash → replaced),
    /// streamed: memory stays flat whatever the file's size.
    #[command(
        after_help = "Example:\n  archivist messages import --db messages.sqlite --jsonl week.jsonl"
    )]
    Import {
        /// The message store; created if missing.
        #[arg(long, value_name = "FILE")]
        db: PathBuf,
        /// Messages, one JSON object per line.
        #[arg(long, value_name = "FILE")]
        jsonl: PathBuf,
    },
    /// Print stored messages as JSONL, in (timestamp, hash) order.
    #[command(
        after_help = "Example:\n  archivist messages export --db messages.sqlite --topics 0xdeadbeef --from 1577836800"
    )]
    Export {
        /// The message store.
        #[arg(long, value_name = "FILE")]
        db: PathBuf,
        /// Only these topics (0x + 8 hex, comma-separated); all when absent.
        #[arg(long, value_delimiter = ',')]
        topics: Vec<Topic>,
        /// From this Unix second, inclusive.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Up to this Unix second, exclusive.
        #[arg(long, default_value_t = u64::MAX)]
        to: u64,
    },
}

pub(crate) fn run(command: MessagesCommand) -> anyhow::Result<()> {
    match command {
        MessagesCommand::Import { db, jsonl: path } => import(&db, &path)?,
        MessagesCommand::Export {
            db,
            topics,
            from,
            to,
        } => {
            // A typo must not look like an empty history.
            anyhow::ensure!(
                db.is_file(),
                "--db {}: no message store there (check the path; `archivist messages import` \
                 creates one)",
                db.display()
            );
            // Only reads: no writer lock, nothing written, works on a
            // read-only file and beside a running node.
            let db =
                Database::open_read_only(&db).with_context(|| format!("--db {}", db.display()))?;
            let topics = if topics.is_empty() {
                db.topics()?
            } else {
                topics
            };
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            db.for_each_message(&topics, TimeRange { from, to }, |m| -> anyhow::Result<()> {
                serde_json::to_writer(&mut out, &jsonl::to_json(&m))?;
                Ok(out.write_all(b"\n")?)
            })?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Messages stored per batch, and the JSONL bytes that also end a batch:
/// what the import holds in memory at once, whatever the file's size.
///
/// Measured with `/usr/bin/time -v` on 1 000 000 messages (1 KiB payloads,
/// a 1.6 GB file; release build, 2 cores shared at load 5): peak RSS
/// 53.6 MiB into a fresh store in 27.6 s, 53.2 MiB re-importing them all
/// (35.5 s). Reading the whole file first, it peaked at 1.26 GiB.
const BATCH_MESSAGES: usize = 4096;
const BATCH_BYTES: usize = 8 << 20;

/// `messages import`: streams the file into the store in batches inside one
/// transaction. The first batch is read before the store is opened, so a
/// file that is wrong from the start creates nothing; a bad line further on
/// rolls every batch back, and a store this import created is removed
/// again. Either way the error names the line.
fn import(db: &Path, path: &Path) -> anyhow::Result<()> {
    let source = path.display().to_string();
    let file = File::open(path).with_context(|| format!("--jsonl {source}"))?;
    let mut lines = jsonl::MessageReader::new(BufReader::with_capacity(1 << 20, file), &source);
    let mut batch = Vec::new();
    let more = next_batch(&mut lines, &mut batch)?;
    let created = Created::before_open(db);
    let outcome = (|| {
        created.make_folder()?;
        let mut store = Database::open(db).with_context(|| format!("--db {}", db.display()))?;
        let mut intake = store.intake()?;
        let mut imported = batch.len();
        intake.insert(&batch)?;
        let mut more = more;
        while more {
            more = next_batch(&mut lines, &mut batch)?;
            imported += batch.len();
            intake.insert(&batch)?;
        }
        Ok::<_, anyhow::Error>((imported, intake.commit()?))
    })();
    let (imported, report) = match outcome {
        Ok(done) => done,
        Err(e) => {
            created.remove();
            return Err(e);
        }
    };
    if let Some(late) = &report.late {
        eprintln!("archivist: warning: {}", late_warning(late));
    }
    println!("{}", report_json(imported, &report));
    Ok(())
}

/// Fills `batch` (emptied first) up to [`BATCH_MESSAGES`] or
/// [`BATCH_BYTES`]; whether the input may hold more.
fn next_batch(
    lines: &mut jsonl::MessageReader<impl std::io::BufRead>,
    batch: &mut Vec<Message>,
) -> anyhow::Result<bool> {
    batch.clear();
    let mut bytes = 0;
    while batch.len() < BATCH_MESSAGES && bytes < BATCH_BYTES {
        match lines.next() {
            Some(message) => {
                batch.push(message?);
                bytes += lines.line_len();
            }
            None => return Ok(false),
        }
    }
    Ok(true)
}

/// What an import may create: the store's folder and the store's files,
/// removed again when it fails, so a failed import leaves no store behind
/// where there was none.
struct Created {
    db: PathBuf,
    /// The folder, when it did not exist.
    folder: Option<PathBuf>,
    /// The store and its lock file did not exist.
    store: bool,
    lock: bool,
}

impl Created {
    fn before_open(db: &Path) -> Created {
        let with = |suffix: &str| {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        Created {
            db: db.to_owned(),
            folder: db
                .parent()
                .filter(|p| !p.as_os_str().is_empty() && !p.exists())
                .map(Path::to_owned),
            store: !db.exists(),
            lock: !with(".lock").exists(),
        }
    }

    fn make_folder(&self) -> anyhow::Result<()> {
        if let Some(folder) = &self.folder {
            std::fs::create_dir_all(folder).with_context(|| {
                format!(
                    "--db {}: creating its folder {}",
                    self.db.display(),
                    folder.display()
                )
            })?;
        }
        Ok(())
    }

    /// Best effort: what cannot be removed stays, an empty store at worst.
    fn remove(&self) {
        let mut suffixes = Vec::new();
        if self.store {
            suffixes.extend(["", "-wal", "-shm", "-journal"]);
        }
        if self.lock {
            suffixes.push(".lock");
        }
        for suffix in suffixes {
            let mut name = self.db.as_os_str().to_owned();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
        if let Some(folder) = &self.folder {
            let _ = std::fs::remove_dir(folder);
        }
    }
}

/// The import report: `imported` (lines), `new`, `already_present`, and
/// `late` (messages no archive will hold) or null.
fn report_json(lines: usize, report: &InsertReport) -> serde_json::Value {
    json!({
        "imported": lines,
        "new": report.new,
        "already_present": report.already_present,
        "late": report.late.as_ref().map(|l| json!({
            "community": l.community.to_string(),
            "messages": l.messages,
            "from": l.from,
            "to": l.to,
            "archive_end": l.archive_end,
        })),
    })
}

/// The warning for messages an import stored in already archived time.
fn late_warning(late: &LateMessages) -> String {
    format!(
        "{} message(s) from {} to {} fall before community {}'s last archive end ({}): they are \
         stored, but archiving only appends after that end, so no archive (and no member) will \
         hold them",
        late.messages,
        human_time::utc(late.from),
        human_time::utc(late.to),
        late.community,
        human_time::utc(late.archive_end),
    )
}
