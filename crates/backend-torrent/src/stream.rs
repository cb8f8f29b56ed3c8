//! Reading `data` through librqbit's verified stream, in engine-free terms:
//! where archives lie among the torrent's pieces, what keeps librqbit
//! requesting ahead of the reader, and reading one archive with its checks.

use std::io::SeekFrom;

use archive_backend::{Error, ErrorKind, Result};
use archive_index::{
    Archive, ArchiveId, Envelope, ExtractOptions, IndexEntry, PIECE_LENGTH, TorrentIndex,
    decode_sealed_archive,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt};

use crate::engine::NAME;

/// Where `data` lies among the torrent's pieces.
pub(crate) struct DataLayout {
    /// Of `data`'s first byte in the torrent (0: it is the first file).
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) piece_len: u64,
}

impl DataLayout {
    /// The torrent's pieces holding `entry`'s bytes of `data`.
    pub(crate) fn pieces(&self, entry: &IndexEntry) -> std::ops::Range<u64> {
        let at = |pos: u64| self.offset + pos.min(self.len);
        at(entry.offset) / self.piece_len..at(entry.end()).div_ceil(self.piece_len)
    }

    /// Where `piece` starts in `data`.
    pub(crate) fn position(&self, piece: u64) -> u64 {
        (piece * self.piece_len).max(self.offset) - self.offset
    }

    /// How many of `piece`'s bytes belong to `data`.
    pub(crate) fn piece_bytes(&self, piece: u64) -> u64 {
        let start = (piece * self.piece_len).max(self.offset);
        let end = ((piece + 1) * self.piece_len).min(self.offset + self.len);
        end.saturating_sub(start)
    }
}

/// How far past its position a librqbit 9.1 stream requests pieces
/// (`PER_STREAM_BUF_DEFAULT`, not configurable), whether or not the file they
/// belong to is selected: the one way bytes nobody asked for can move.
pub const STREAM_LOOKAHEAD: u64 = 32 * 1024 * 1024;

/// The most bytes of `data` a fetch of `wanted` from a torrent of `index`
/// moves, for a member holding none of them: the pieces of each wanted
/// archive and of the [`STREAM_LOOKAHEAD`] after it, which a stream
/// positioned in the archive queues, cut at the end of `data`. The pieces
/// behind the last archive of `data` are exact; a wanted archive followed by
/// unwanted ones brings up to 32 MiB of them along. librqbit 9.1 selects
/// only whole files and its streams' lookahead is fixed, so a tighter bound
/// needs a patched engine.
pub fn most_bytes_fetched(index: &TorrentIndex, wanted: &[ArchiveId]) -> u64 {
    let layout = DataLayout {
        offset: 0,
        len: index.data_len(),
        piece_len: PIECE_LENGTH,
    };
    let mut pieces: Vec<u64> = wanted
        .iter()
        .filter_map(|id| index.get(id))
        .flat_map(|e| {
            let start = e.offset.min(layout.len) / layout.piece_len;
            let end = e
                .end()
                .saturating_add(STREAM_LOOKAHEAD)
                .min(layout.len)
                .div_ceil(layout.piece_len);
            start..end
        })
        .collect();
    pieces.sort_unstable();
    pieces.dedup();
    pieces.iter().map(|&p| layout.piece_bytes(p)).sum()
}

/// What keeps librqbit downloading ahead of the reader during a fetch.
pub(crate) enum Prefetch {
    /// librqbit has all of `data` or downloads all of it already.
    Nothing,
    /// `data` is selected now; `previous` is the selection before.
    Selected { previous: Vec<usize> },
    /// [`pace`] walks the wanted pieces, which start at `positions` of `data`.
    Pace { positions: Vec<u64> },
}

/// Reads one byte of each piece at `positions` of `data`, in order, through
/// `stream`. A stream waits for the piece at its position and prioritises the
/// 32 MiB after it, so this one stays at the first wanted piece still
/// missing and keeps what follows it requested, whatever the reader does.
pub(crate) async fn pace(mut stream: impl AsyncRead + AsyncSeek + Unpin, positions: Vec<u64>) {
    let mut byte = [0u8; 1];
    for at in positions {
        // A failing stream fails the reader too, which reports it.
        if stream.seek(SeekFrom::Start(at)).await.is_err() || stream.read(&mut byte).await.is_err()
        {
            return;
        }
    }
}

/// Reads archive `id` at `entry` through librqbit's stream, which fetches its
/// pieces first and hands out only hash-verified bytes, and checks it decodes
/// to what the index says.
pub(crate) async fn read_verified(
    stream: &mut (impl tokio::io::AsyncRead + tokio::io::AsyncSeek + Unpin),
    id: &ArchiveId,
    entry: &IndexEntry,
    envelope: Option<&dyn Envelope>,
) -> Result<Archive> {
    // The index was checked against `data`'s length; the cap bounds what one
    // archive may take in memory, as for every other reader.
    entry
        .check_readable(id, u64::MAX, ExtractOptions::default().max_archive_bytes)
        .map_err(|e| {
            Error::new(ErrorKind::Corrupt, NAME, format!("archive {id}")).with_source(e)
        })?;
    let mut bytes = vec![0u8; entry.raw_len() as usize];
    let read = async {
        stream.seek(SeekFrom::Start(entry.offset)).await?;
        stream.read_exact(&mut bytes).await.map(drop)
    };
    read.await.map_err(|e| {
        Error::new(
            ErrorKind::Unavailable,
            NAME,
            format!("fetching archive {id}"),
        )
        .with_source(e)
    })?;
    let archive = decode_sealed_archive(envelope, bytes)
        .map_err(|e| Error::undecodable(NAME, format!("archive {id}"), e))?;
    if archive.metadata != entry.metadata {
        return Err(Error::new(
            ErrorKind::Corrupt,
            NAME,
            format!("archive {id} does not match its index entry"),
        ));
    }
    Ok(archive)
}

#[cfg(test)]
mod tests {
    use archive_index::{ArchiveMetadata, TimeRange};

    use super::*;

    fn entry(offset: u64, size: u64) -> IndexEntry {
        IndexEntry {
            version: 0,
            metadata: ArchiveMetadata::new(TimeRange { from: 0, to: 1 }, vec![]),
            offset,
            size,
            padding: 0,
        }
    }

    #[test]
    fn data_layout_maps_entries_to_the_torrents_pieces() {
        // status-go's layout: `data` first, whole pieces of 10 bytes.
        let first = DataLayout {
            offset: 0,
            len: 40,
            piece_len: 10,
        };
        assert_eq!(first.pieces(&entry(10, 20)), 1..3);
        assert_eq!(first.position(2), 20);
        assert_eq!(first.piece_bytes(3), 10);
        // An entry past the end of `data` is cut at it.
        assert_eq!(first.pieces(&entry(30, 30)), 3..4);
        assert_eq!(first.piece_bytes(4), 0);

        // A file starting mid-piece shares its first and last pieces.
        let shifted = DataLayout {
            offset: 5,
            len: 20,
            piece_len: 10,
        };
        assert_eq!(shifted.pieces(&entry(0, 20)), 0..3);
        assert_eq!(shifted.position(0), 0);
        assert_eq!(shifted.position(1), 5);
        let bytes: Vec<_> = (0..3).map(|p| shifted.piece_bytes(p)).collect();
        assert_eq!(bytes, [5, 10, 5]);
    }
}
