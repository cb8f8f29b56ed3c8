//! `archivist inspect torrent`: what a `.torrent` file says.

use std::{io::Write, path::Path};

use backend_torrent::Metainfo;
use serde_json::json;

pub(crate) fn run(file: &Path, as_json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let metainfo = Metainfo::read(file)?;
    let info = metainfo.info();
    let files: Vec<_> = info
        .files
        .iter()
        .map(|f| json!({ "path": f.path.join("/"), "length": f.length }))
        .collect();
    let value = json!({
        "infohash": metainfo.info_hash().to_string(),
        "name": info.name,
        "piece_length": info.piece_length,
        "pieces": info.pieces.len(),
        "files": files,
        "total_length": info.total_length(),
        "created_by": metainfo.created_by(),
        "magnet": metainfo.magnet().to_string(),
    });
    if as_json {
        serde_json::to_writer_pretty(&mut *out, &value)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "infohash:     {}",
            value["infohash"].as_str().unwrap_or_default()
        )?;
        writeln!(out, "name:         {}", info.name)?;
        writeln!(out, "piece length: {}", info.piece_length)?;
        writeln!(out, "pieces:       {}", info.pieces.len())?;
        for f in &info.files {
            writeln!(
                out,
                "file:         {} ({} bytes)",
                f.path.join("/"),
                f.length
            )?;
        }
        writeln!(
            out,
            "magnet:       {}",
            value["magnet"].as_str().unwrap_or_default()
        )?;
    }
    Ok(())
}
