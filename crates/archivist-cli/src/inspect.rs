//! `archivist inspect`: show what an index or an archive holds.

use std::{
    io::{BufWriter, Write},
    path::PathBuf,
};

use anyhow::Context;
use archive_index::{ArchiveId, IndexEntry};
use serde_json::json;

use crate::{jsonl, keyed_read::KeyedReader, keys::load_keyring};

/// What to inspect.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum InspectCommand {
    /// List the archives of an `index` file, in `data` order.
    #[command(
        after_help = "Examples:\n  archivist inspect index ./archivedata/0x02…/index --json\n  \
        archivist inspect index ./archivedata/0x02…/index --keys community-keys.json"
    )]
    Index {
        /// The index file.
        file: PathBuf,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// A key file to decrypt an encrypted community's index with.
        #[arg(long, value_name = "FILE")]
        keys: Option<PathBuf>,
    },
    /// Show a .torrent: infohash, name, piece length, files, piece count, magnet.
    #[command(after_help = "Example:\n  archivist inspect torrent ./torrents/0x02….torrent --json")]
    Torrent {
        /// The .torrent file.
        file: PathBuf,
        /// Print one JSON object instead.
        #[arg(long)]
        json: bool,
    },
    /// Show one archive: its metadata, then its messages as JSONL.
    #[command(
        after_help = "Examples:\n  archivist inspect archive ./archivedata/0x02… --id 0x5f…\n  \
        archivist inspect archive ./archivedata/0x02… --id 0x5f… --keys community-keys.json"
    )]
    Archive {
        /// The community directory holding `data` and `index`.
        dir: PathBuf,
        /// The archive ID, 0x + 64 hex.
        #[arg(long)]
        id: ArchiveId,
        /// Print one JSON object (metadata and messages) instead.
        #[arg(long)]
        json: bool,
        /// A key file to decrypt an encrypted community's index and archive with.
        #[arg(long, value_name = "FILE")]
        keys: Option<PathBuf>,
    },
}

pub(crate) fn run(command: InspectCommand) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match command {
        InspectCommand::Index { file, json, keys } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let dir = file.parent().unwrap_or(&file);
            let index = KeyedReader::new(load_keyring(keys.as_deref())?, dir)
                .decode_index(&bytes)
                .with_context(|| format!("decoding {}", file.display()))?;
            if json {
                let archives: Vec<_> = index
                    .by_offset()
                    .map(|(id, e)| entry_json(&id, e))
                    .collect();
                serde_json::to_writer_pretty(&mut out, &json!({ "archives": archives }))?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{} archives, {} bytes of data",
                    index.len(),
                    index.data_len()
                )?;
                writeln!(
                    out,
                    "{:<68} {:>11} {:>11} {:>12} {:>10} {:>8}",
                    "id", "from", "to", "offset", "size", "padding"
                )?;
                for (id, e) in index.by_offset() {
                    let r = e.metadata.range;
                    writeln!(
                        out,
                        "{id} {:>11} {:>11} {:>12} {:>10} {:>8}",
                        r.from, r.to, e.offset, e.size, e.padding
                    )?;
                }
            }
        }
        InspectCommand::Torrent { file, json } => {
            crate::inspect_torrent::run(&file, json, &mut out)?
        }
        InspectCommand::Archive {
            dir,
            id,
            json,
            keys,
        } => {
            let mut reader = KeyedReader::new(load_keyring(keys.as_deref())?, &dir);
            let (mut data, len, index) = reader.open_dir(&dir)?;
            let archive = reader.extract(&mut data, len, &index, &id)?;
            let entry = index.get(&id).expect("the reader found it");
            if json {
                let mut value = entry_json(&id, entry);
                value["messages"] = archive.messages.iter().map(jsonl::to_json).collect();
                serde_json::to_writer_pretty(&mut out, &value)?;
                writeln!(out)?;
            } else {
                let r = entry.metadata.range;
                writeln!(out, "id: {id}")?;
                writeln!(out, "range: [{}, {})", r.from, r.to)?;
                let topics: Vec<_> = entry
                    .metadata
                    .topics
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                writeln!(out, "topics: {}", topics.join(","))?;
                writeln!(
                    out,
                    "offset: {}  size: {}  padding: {}",
                    entry.offset, entry.size, entry.padding
                )?;
                writeln!(out, "messages: {}", archive.messages.len())?;
                jsonl::write_messages(&mut out, &archive.messages)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn entry_json(id: &ArchiveId, e: &IndexEntry) -> serde_json::Value {
    json!({
        "id": id.to_string(),
        "from": e.metadata.range.from,
        "to": e.metadata.range.to,
        "topics": e.metadata.topics.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "offset": e.offset,
        "size": e.size,
        "padding": e.padding,
    })
}
