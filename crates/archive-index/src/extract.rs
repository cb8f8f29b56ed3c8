//! Reading one archive back out of `data`, trusting nothing the index says.

use std::io::{Read, Seek, SeekFrom};

use crate::{
    envelope::{BlobKind, Envelope, open_blob},
    error::{Error, Result},
    ids::ArchiveId,
    message::Archive,
    torrent_index::TorrentIndex,
};

/// Limits for [`extract_archive`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtractOptions {
    /// The most bytes one archive may occupy in memory. An entry claiming more
    /// is rejected before anything is read.
    pub max_archive_bytes: u64,
}

impl Default for ExtractOptions {
    fn default() -> ExtractOptions {
        ExtractOptions {
            max_archive_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Reads archive `id` from `data`, a stream of `data_len` bytes.
///
/// The index was validated when it was decoded (alignment, `padding < size`, no
/// overlaps); here the entry is also checked against the real length of `data`
/// and the memory cap before a buffer is allocated, and the decoded archive's
/// metadata must equal the entry's.
pub fn extract_archive<R: Read + Seek>(
    data: &mut R,
    data_len: u64,
    index: &TorrentIndex,
    id: &ArchiveId,
    options: ExtractOptions,
) -> Result<Archive> {
    extract_sealed_archive(data, data_len, index, id, options, None)
}

/// As [`extract_archive`], opening the archive with `envelope` first (an
/// encrypted community's; `None` reads plain archives).
pub fn extract_sealed_archive<R: Read + Seek>(
    data: &mut R,
    data_len: u64,
    index: &TorrentIndex,
    id: &ArchiveId,
    options: ExtractOptions,
    envelope: Option<&dyn Envelope>,
) -> Result<Archive> {
    let entry = index.get(id).ok_or(Error::UnknownArchive(*id))?;
    entry.check_readable(id, data_len, options.max_archive_bytes)?;
    let bad = |reason: String| Error::BadEntry { id: *id, reason };
    let raw_len = entry.raw_len();
    data.seek(SeekFrom::Start(entry.offset))?;
    // Grow with the bytes that really arrive rather than trusting `data_len`.
    let mut bytes = Vec::with_capacity(raw_len.min(1 << 20) as usize);
    data.take(raw_len).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != raw_len {
        return Err(bad(format!(
            "data ended after {} of {raw_len} archive bytes",
            bytes.len()
        )));
    }
    let archive = decode_sealed_archive(envelope, bytes)?;
    if archive.metadata != entry.metadata {
        return Err(bad(
            "the archive's metadata differs from its index entry".into()
        ));
    }
    Ok(archive)
}

/// Decodes one archive's bytes as published: opened with `envelope` (an
/// encrypted community's), then decoded within the default limits.
pub fn decode_sealed_archive(envelope: Option<&dyn Envelope>, bytes: Vec<u8>) -> Result<Archive> {
    Archive::decode(&open_blob(envelope, BlobKind::Archive, bytes)?)
}
