//! Hashing a community directory into pieces, reusing the hashes of the
//! `data` prefix an earlier torrent already covers.
//!
//! `data` only ever grows by whole pieces (every archive is padded to a
//! multiple of the piece length), so piece `k` of the old torrent is piece
//! `k` of the new one for every `k` below the old `data` length. Only the new
//! `data` pieces and `index` (rewritten on every append) are read, so the cost
//! follows the new bytes, not the history.

use std::{
    fs::File,
    io::{ErrorKind, Read, Seek, SeekFrom},
    path::Path,
};

use archive_index::PIECE_LENGTH;
use sha1::{Digest, Sha1};

use crate::{
    ArchiveDir,
    error::{Error, IoContext, Result},
};

use super::{FileEntry, Info, Metainfo, TorrentOptions};

/// How a build went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuildStats {
    /// Piece hashes taken from the previous torrent.
    pub reused_pieces: usize,
    /// Pieces read and hashed.
    pub hashed_pieces: usize,
}

pub(super) fn build(
    dir: &ArchiveDir,
    opts: &TorrentOptions,
    previous: Option<&Metainfo>,
) -> Result<(Metainfo, BuildStats)> {
    let name = dir
        .path()
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::DirName {
            path: dir.path().to_path_buf(),
        })?
        .to_owned();
    let (data_path, index_path) = (dir.data_path(), dir.index_path());
    // Lengths come from the open handles: `index` is replaced by rename, and
    // the handle keeps the version whose length we recorded.
    let mut data = File::open(&data_path).at(&data_path)?;
    let data_len = data.metadata().at(&data_path)?.len();
    let mut index = File::open(&index_path).at(&index_path)?;
    let index_len = index.metadata().at(&index_path)?.len();

    let reused = match previous {
        Some(previous) => reusable_pieces(previous, &name, data_len, &mut data, &data_path)?,
        None => 0,
    };
    let total = data_len + index_len;
    let mut hasher = PieceHasher::new(total.div_ceil(PIECE_LENGTH) as usize);
    if let Some(previous) = previous {
        hasher
            .pieces
            .extend_from_slice(&previous.info.pieces[..reused]);
    }
    let start = reused as u64 * PIECE_LENGTH;
    data.seek(SeekFrom::Start(start)).at(&data_path)?;
    hasher.feed(&mut data, data_len - start, &data_path)?;
    hasher.feed(&mut index, index_len, &index_path)?;
    let pieces = hasher.finish();
    let stats = BuildStats {
        reused_pieces: reused,
        hashed_pieces: pieces.len() - reused,
    };

    // anacrolix sorts files by path; "data" < "index".
    let info = Info {
        name,
        piece_length: PIECE_LENGTH,
        files: vec![
            FileEntry {
                path: vec!["data".into()],
                length: data_len,
            },
            FileEntry {
                path: vec!["index".into()],
                length: index_len,
            },
        ],
        pieces,
    };
    Ok((Metainfo::from_info(info, opts), stats))
}

/// How many leading piece hashes of `previous` still describe `data`: all of
/// its `data` pieces when it is a torrent of this directory whose `data` ended
/// on a piece boundary no later than the current end, otherwise none.
///
/// The last of those pieces is re-hashed as a spot check: it costs one piece
/// and catches a `data` file that was rebuilt rather than appended to.
fn reusable_pieces(
    previous: &Metainfo,
    name: &str,
    data_len: u64,
    data: &mut File,
    data_path: &Path,
) -> Result<usize> {
    let info = &previous.info;
    let [old_data, old_index] = info.files.as_slice() else {
        return Ok(0);
    };
    let layout_matches = info.name == name
        && info.piece_length == PIECE_LENGTH
        && old_data.path == ["data"]
        && old_index.path == ["index"]
        && old_data.length % PIECE_LENGTH == 0
        && old_data.length <= data_len;
    if !layout_matches {
        return Ok(0);
    }
    let count = (old_data.length / PIECE_LENGTH) as usize;
    let Some(last) = count.checked_sub(1) else {
        return Ok(0);
    };
    if info.pieces.len() < count {
        return Ok(0);
    }
    data.seek(SeekFrom::Start(last as u64 * PIECE_LENGTH))
        .at(data_path)?;
    let mut check = PieceHasher::new(1);
    check.feed(data, PIECE_LENGTH, data_path)?;
    Ok(if check.finish()[0] == info.pieces[last] {
        count
    } else {
        0
    })
}

/// SHA-1 over a stream cut into pieces, fed from files one piece-sized read
/// at a time; a piece may span the end of one file and the start of the next.
struct PieceHasher {
    buf: Box<[u8]>,
    filled: usize,
    pieces: Vec<[u8; 20]>,
}

impl PieceHasher {
    fn new(expected_pieces: usize) -> PieceHasher {
        PieceHasher {
            buf: vec![0; PIECE_LENGTH as usize].into_boxed_slice(),
            filled: 0,
            pieces: Vec::with_capacity(expected_pieces),
        }
    }

    /// Hashes the next `len` bytes of `reader`; fails if it ends sooner (the
    /// file shrank while we read it).
    fn feed(&mut self, reader: &mut impl Read, mut len: u64, path: &Path) -> Result<()> {
        while len > 0 {
            let room = self.buf.len() - self.filled;
            let want = room.min(usize::try_from(len).unwrap_or(usize::MAX));
            let n = match reader.read(&mut self.buf[self.filled..self.filled + want]) {
                Ok(0) => {
                    return Err(Error::Io {
                        path: path.to_path_buf(),
                        source: ErrorKind::UnexpectedEof.into(),
                    });
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(Error::Io {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            };
            self.filled += n;
            len -= n as u64;
            if self.filled == self.buf.len() {
                self.push();
            }
        }
        Ok(())
    }

    fn push(&mut self) {
        self.pieces
            .push(Sha1::digest(&self.buf[..self.filled]).into());
        self.filled = 0;
    }

    /// The hashes, the last covering a short final piece if there is one.
    fn finish(mut self) -> Vec<[u8; 20]> {
        if self.filled > 0 {
            self.push();
        }
        self.pieces
    }
}
