//! `archivist verify DIR`: a community's `data`, `index` and `.torrent`
//! agree and every archive decodes.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use archive_index::ArchiveId;
use backend_torrent::{ArchiveDir, Metainfo, TorrentOptions};
use serde_json::json;

use crate::{keyed_read::KeyedReader, keys::load_keyring};

/// Arguments of `archivist verify`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "DIR is a community's archive folder (it holds `data` and `index`, \
    named by the community ID). The .torrent is looked for as \
    DIR/../../torrents/<community>.torrent unless --torrent names it.\n\n\
    Checks: the index decodes and every entry lies inside `data` without overlap; every \
    archive decodes (decrypted with --keys FILE if the community is encrypted), matches its \
    entry's metadata and ID; the .torrent lists `data` and \
    `index` with their lengths and every piece hash matches the files.\n\n\
    Examples:\n  archivist verify archivist-data/owner/torrent/archivedata/0x02…\n  \
    archivist verify ./archivedata/0x02… --torrent ./torrents/0x02….torrent --json\n  \
    archivist verify ./archivedata/0x02… --keys community-keys.json"
)]
pub(crate) struct VerifyArgs {
    /// The community's archive folder.
    dir: PathBuf,
    /// The .torrent to check against the files.
    #[arg(long, value_name = "FILE")]
    torrent: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// A key file to decrypt an encrypted community's index and archives with.
    #[arg(long, value_name = "FILE")]
    keys: Option<PathBuf>,
}

pub(crate) fn run(args: &VerifyArgs) -> anyhow::Result<()> {
    let reader = KeyedReader::new(load_keyring(args.keys.as_deref())?, &args.dir);
    let report = verify(&args.dir, args.torrent.as_deref(), reader)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "ok: {} archives, {} messages, data {} bytes, index {} bytes, torrent {}",
            report["archives"],
            report["messages"],
            report["data_bytes"],
            report["index_bytes"],
            report["infohash"]
                .as_str()
                .unwrap_or("not checked (no .torrent found)")
        );
    }
    Ok(())
}

fn verify(
    dir: &Path,
    torrent: Option<&Path>,
    mut reader: KeyedReader,
) -> anyhow::Result<serde_json::Value> {
    let archive_dir = ArchiveDir::at(dir.to_owned());
    // Decoding checks every ID against its entry; opening checks every entry
    // lies inside `data` and none overlap.
    let (mut data, data_len, index) = reader.open_dir(dir).with_context(|| {
        format!(
            "{} does not hold a consistent data/index pair",
            dir.display()
        )
    })?;
    let mut messages = 0;
    let ids: Vec<ArchiveId> = index.by_offset().map(|(id, _)| id).collect();
    for id in &ids {
        let archive = reader
            .extract(&mut data, data_len, &index, id)
            .with_context(|| format!("archive {id}"))?;
        messages += archive.messages.len();
    }
    let index_len = std::fs::metadata(archive_dir.index_path())?.len();

    let community = dir
        .file_name()
        .and_then(|n| n.to_str())
        .context("DIR is named by its community ID")?;
    let torrent = match torrent {
        Some(path) => Some(path.to_owned()),
        None => {
            let guess = dir
                .parent()
                .and_then(Path::parent)
                .map(|root| root.join("torrents").join(format!("{community}.torrent")));
            guess.filter(|p| p.exists())
        }
    };
    let infohash = match &torrent {
        None => None,
        Some(path) => {
            let metainfo =
                Metainfo::read(path).with_context(|| format!("reading {}", path.display()))?;
            let files: Vec<(String, u64)> = metainfo
                .info()
                .files
                .iter()
                .map(|f| (f.path.join("/"), f.length))
                .collect();
            let expected = vec![
                ("data".to_owned(), data_len),
                ("index".to_owned(), index_len),
            ];
            ensure!(
                files == expected,
                "{} lists {files:?}, the folder holds {expected:?}",
                path.display()
            );
            // Re-hashing the files gives the same info dictionary only if
            // every piece hash matches.
            let rebuilt = Metainfo::build(&archive_dir, &TorrentOptions::new("", 0), None)?;
            if rebuilt.info_hash() != metainfo.info_hash() {
                bail!(
                    "{}: piece hashes do not match the files (infohash {} on disk vs {} in the .torrent)",
                    path.display(),
                    rebuilt.info_hash(),
                    metainfo.info_hash()
                );
            }
            Some(metainfo.info_hash().to_string())
        }
    };
    Ok(json!({
        "dir": dir.display().to_string(),
        "archives": ids.len(),
        "messages": messages,
        "data_bytes": data_len,
        "index_bytes": index_len,
        "torrent": torrent.map(|p| p.display().to_string()),
        "infohash": infohash,
    }))
}
