//! `archivist messages`: move messages between JSONL files and a message store.

use std::{
    fs::File,
    io::{BufReader, BufWriter, Write},
    path::PathBuf,
};

use anyhow::Context;
use archive_index::{TimeRange, Topic};
use archive_store::Database;
use serde_json::json;

use crate::jsonl;

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
            let file = File::open(&path).with_context(|| format!("opening {source}"))?;
            // The whole file is validated before the store is opened.
            let messages = jsonl::read_messages(BufReader::new(file), &source)?;
            let mut db =
                Database::open(&db).with_context(|| format!("opening {}", db.display()))?;
            db.insert_messages(&messages)?;
            println!("{}", json!({ "imported": messages.len() }));
        }
        MessagesCommand::Export {
            db,
            topics,
            from,
            to,
        } => {
            // Only reads: no writer lock, nothing written, works on a
            // read-only file and beside a running node.
            let db = Database::open_read_only(&db)
                .with_context(|| format!("opening {}", db.display()))?;
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
