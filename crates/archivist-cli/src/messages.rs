//! `archivist messages`: move messages between JSONL files and a message store.

use std::{
    fs::File,
    io::{BufReader, BufWriter, Write},
    path::PathBuf,
};

use anyhow::Context;
use archive_index::{TimeRange, Topic};
use archive_store::{Database, InsertReport, LateMessages};
use serde_json::json;

use crate::{human_time, jsonl};

/// What to do with messages.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum MessagesCommand {
    /// Store the messages of a JSONL file (all or nothing; same hash → replaced).
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
        MessagesCommand::Import { db, jsonl: path } => {
            let source = path.display().to_string();
            let file = File::open(&path).with_context(|| format!("--jsonl {source}"))?;
            // The whole file is validated before the store is opened.
            let messages = jsonl::read_messages(BufReader::new(file), &source)?;
            if let Some(folder) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(folder).with_context(|| {
                    format!(
                        "--db {}: creating its folder {}",
                        db.display(),
                        folder.display()
                    )
                })?;
            }
            let mut store =
                Database::open(&db).with_context(|| format!("--db {}", db.display()))?;
            let report = store.insert_messages_reported(&messages)?;
            if let Some(late) = &report.late {
                eprintln!("archivist: warning: {}", late_warning(late));
            }
            println!("{}", report_json(messages.len(), &report));
        }
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
