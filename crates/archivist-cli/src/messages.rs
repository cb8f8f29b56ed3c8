//! `archivist messages`: move messages between JSONL files and a message store.

use std::{
    fs::File,
    io::{BufReader, BufWriter, Write},
    path::PathBuf,
};

use anyhow::Context;
use archive_index::{CommunityId, Message, TimeRange, Topic};
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
            let report = import(&mut store, &messages)?;
            if let Some(late) = &report.late {
                eprintln!("archivist: warning: {late}");
            }
            println!("{}", report.to_json());
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

/// What an import did to the store.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ImportReport {
    /// Lines read.
    pub(crate) lines: usize,
    /// Distinct messages the store did not hold.
    pub(crate) new: usize,
    /// Distinct messages it held already (replaced by the file's copy).
    pub(crate) already_present: usize,
    /// Messages no archive will hold, if any.
    pub(crate) late: Option<LateMessages>,
}

impl ImportReport {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "imported": self.lines,
            "new": self.new,
            "already_present": self.already_present,
            "late": self.late.as_ref().map(|l| json!({
                "community": l.community.to_string(),
                "messages": l.messages,
                "from": l.from,
                "to": l.to,
                "archive_end": l.archive_end,
            })),
        })
    }
}

/// Messages stored for a community whose archives already cover their time:
/// archiving only appends after the last archive end, so without a rebuild
/// of that range no archive (and no member) will ever hold them.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LateMessages {
    /// The community whose topic they are on (the first found, if several).
    pub(crate) community: CommunityId,
    /// How many.
    pub(crate) messages: usize,
    /// The oldest one's timestamp.
    pub(crate) from: u64,
    /// The newest one's timestamp.
    pub(crate) to: u64,
    /// The community's latest archive end.
    pub(crate) archive_end: u64,
}

impl std::fmt::Display for LateMessages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} message(s) from {} to {} fall before community {}'s last archive end ({}): \
             they are stored, but no archive will hold them, so members will not get them",
            self.messages,
            crate::human_time::utc(self.from),
            crate::human_time::utc(self.to),
            self.community,
            crate::human_time::utc(self.archive_end),
        )
    }
}

/// Stores `messages` (all or nothing) and reports what was new, what was
/// there already, and what fell into already archived time.
pub(crate) fn import(store: &mut Database, messages: &[Message]) -> anyhow::Result<ImportReport> {
    let distinct = messages
        .iter()
        .map(|m| m.hash.as_slice())
        .collect::<std::collections::HashSet<_>>()
        .len();
    let already_present = store.count_stored(messages)?;
    let late = late_messages(store, messages)?;
    store.insert_messages(messages)?;
    Ok(ImportReport {
        lines: messages.len(),
        new: distinct - already_present,
        already_present,
        late,
    })
}

fn late_messages(store: &Database, messages: &[Message]) -> anyhow::Result<Option<LateMessages>> {
    let mut ends: std::collections::HashMap<Topic, Option<(CommunityId, u64)>> =
        std::collections::HashMap::new();
    let mut late: Option<LateMessages> = None;
    for m in messages {
        let end = match ends.get(&m.topic) {
            Some(end) => *end,
            None => {
                let end = match store.topic_owner(&m.topic)? {
                    Some(community) => store
                        .latest_archive_end(&community)?
                        .map(|end| (community, end)),
                    None => None,
                };
                ends.insert(m.topic, end);
                end
            }
        };
        let Some((community, archive_end)) = end else {
            continue;
        };
        if m.timestamp >= archive_end {
            continue;
        }
        match &mut late {
            Some(l) if l.community == community => {
                l.messages += 1;
                l.from = l.from.min(m.timestamp);
                l.to = l.to.max(m.timestamp);
            }
            Some(_) => {}
            None => {
                late = Some(LateMessages {
                    community,
                    messages: 1,
                    from: m.timestamp,
                    to: m.timestamp,
                    archive_end,
                });
            }
        }
    }
    Ok(late)
}
