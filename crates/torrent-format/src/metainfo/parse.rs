//! Reading a `.torrent` back, checking every claim against the input before
//! allocating anything sized by it.

use crate::{
    bencode::{self, Dict, Value},
    error::{Error, Result},
    info_hash::InfoHash,
};

use super::{FileEntry, Info, MAX_TORRENT_FILE_SIZE, Metainfo};

/// Larger pieces than this appear in no real torrent; a huge value would only
/// serve to make `ceil(total / piece length)` match a tiny `pieces` string.
const MAX_PIECE_LENGTH: i64 = 1 << 30;

fn invalid(field: &'static str, reason: &'static str) -> Error {
    Error::InvalidTorrent { field, reason }
}

pub(super) fn parse(bytes: &[u8]) -> Result<Metainfo> {
    if bytes.len() as u64 > MAX_TORRENT_FILE_SIZE {
        return Err(Error::TorrentTooLarge {
            len: bytes.len() as u64,
            max: MAX_TORRENT_FILE_SIZE,
        });
    }
    // Half the decoder's usual budget: the strings, file entries and piece
    // hashes copied out of the tree below take at most as much again.
    let budget = bytes
        .len()
        .saturating_mul(bencode::HEAP_PER_INPUT_BYTE / 2)
        .saturating_add(bencode::HEAP_ALLOWANCE);
    let Value::Dict(top) = bencode::decode_within(bytes, budget)? else {
        return Err(invalid("torrent", "is not a dictionary"));
    };
    let (Some(Value::Dict(info_dict)), Some(info_bytes)) = (top.get("info"), top.raw("info"))
    else {
        return Err(invalid("info", "is missing or not a dictionary"));
    };
    let info = parse_info(info_dict)?;
    let announce_list = match top.get("announce-list") {
        None => Vec::new(),
        Some(value) => announce_list(value)?,
    };
    let created_by = match top.get("created by") {
        None => None,
        Some(value) => Some(string(value, "created by")?),
    };
    // anacrolix ignores a mistyped creation date rather than failing.
    let creation_date = match top.get("creation date") {
        Some(Value::Int(n)) => Some(*n),
        _ => None,
    };
    Ok(Metainfo {
        info,
        info_hash: InfoHash::of_info_bytes(info_bytes),
        info_bytes: info_bytes.to_vec(),
        announce_list,
        created_by,
        creation_date,
    })
}

fn parse_info(dict: &Dict<'_>) -> Result<Info> {
    let name = match dict.get("name") {
        Some(value) => string(value, "name")?,
        None => return Err(invalid("name", "is missing")),
    };
    if !is_safe_component(&name) {
        return Err(invalid("name", "is not a safe directory name"));
    }
    let piece_length = match dict.get("piece length") {
        Some(Value::Int(n)) if (1..=MAX_PIECE_LENGTH).contains(n) => *n as u64,
        Some(Value::Int(_)) => return Err(invalid("piece length", "is out of range")),
        Some(_) => return Err(invalid("piece length", "is not an integer")),
        None => return Err(invalid("piece length", "is missing")),
    };
    let files = match dict.get("files") {
        Some(Value::List(items)) => items.iter().map(file).collect::<Result<Vec<_>>>()?,
        Some(_) => return Err(invalid("files", "is not a list")),
        None if dict.get("length").is_some() => {
            return Err(invalid(
                "files",
                "is missing: a single-file torrent is no community archive",
            ));
        }
        None => return Err(invalid("files", "is missing")),
    };
    if files.is_empty() {
        return Err(invalid("files", "is empty"));
    }
    // Two entries for one path would make one file stand for two byte ranges.
    let mut paths: Vec<&[String]> = files.iter().map(|f| f.path.as_slice()).collect();
    paths.sort_unstable();
    if paths.windows(2).any(|w| w[0] == w[1]) {
        return Err(invalid("files", "lists the same path twice"));
    }
    let total_length = files
        .iter()
        .try_fold(0u64, |sum, f| sum.checked_add(f.length))
        .ok_or_else(|| invalid("files", "lengths overflow"))?;
    let pieces = match dict.get("pieces") {
        Some(Value::Bytes(b)) => *b,
        Some(_) => return Err(invalid("pieces", "is not a byte string")),
        None => return Err(invalid("pieces", "is missing")),
    };
    if pieces.len() % 20 != 0 {
        return Err(invalid("pieces", "is not a whole number of SHA-1 hashes"));
    }
    let expected = total_length.div_ceil(piece_length);
    let actual = (pieces.len() / 20) as u64;
    if expected != actual {
        return Err(Error::PieceCountMismatch {
            expected,
            actual,
            total_length,
            piece_length,
        });
    }
    let pieces = pieces
        .chunks_exact(20)
        .map(|c| c.try_into().expect("chunks of 20"))
        .collect();
    Ok(Info {
        name,
        piece_length,
        files,
        pieces,
    })
}

fn file(value: &Value<'_>) -> Result<FileEntry> {
    let Value::Dict(dict) = value else {
        return Err(invalid("files", "has an entry that is not a dictionary"));
    };
    let length = match dict.get("length") {
        Some(Value::Int(n)) if *n >= 0 => *n as u64,
        Some(Value::Int(_)) => return Err(invalid("length", "is negative")),
        Some(_) => return Err(invalid("length", "is not an integer")),
        None => return Err(invalid("length", "is missing")),
    };
    let path = match dict.get("path") {
        Some(Value::List(parts)) if !parts.is_empty() => parts
            .iter()
            .map(|part| string(part, "path"))
            .collect::<Result<Vec<_>>>()?,
        Some(Value::List(_)) => return Err(invalid("path", "is empty")),
        Some(_) => return Err(invalid("path", "is not a list")),
        None => return Err(invalid("path", "is missing")),
    };
    if !path.iter().all(|p| is_safe_component(p)) {
        return Err(invalid("path", "has a component that escapes the torrent"));
    }
    Ok(FileEntry { path, length })
}

fn string(value: &Value<'_>, field: &'static str) -> Result<String> {
    match value {
        Value::Bytes(b) => std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| invalid(field, "is not UTF-8")),
        _ => Err(invalid(field, "is not a string")),
    }
}

fn announce_list(value: &Value<'_>) -> Result<Vec<Vec<String>>> {
    let Value::List(tiers) = value else {
        return Err(invalid("announce-list", "is not a list"));
    };
    tiers
        .iter()
        .map(|tier| match tier {
            Value::List(urls) => urls
                .iter()
                .map(|url| string(url, "announce-list"))
                .collect(),
            _ => Err(invalid("announce-list", "has a tier that is not a list")),
        })
        .collect()
}

/// Names and path components become file names when the torrent is
/// downloaded; anything that could step outside the download directory is
/// refused.
fn is_safe_component(part: &str) -> bool {
    !part.is_empty() && part != "." && part != ".." && !part.contains(['/', '\\', '\0'])
}
