//! status-go's BitTorrent archive layout as synchronous code with no network:
//! `<data dir>/<community ID>/data` (archives, each zero-padded to whole
//! 100 KiB pieces, appended) and `<data dir>/<community ID>/index` (a
//! `WakuMessageArchiveIndex`), the `.torrent` over them, and magnet links.
//!
//! [`ArchiveDir`] owns those two files and keeps one invariant across crashes:
//! the index never points past the end of `data`.
//!
//! [`Metainfo`] builds the community's `.torrent` from them as status-go does
//! (same bytes, same infohash), rebuilding incrementally after an append, and
//! reads `.torrent` files back; [`Magnet`] renders and parses magnet links;
//! [`bencode`] is the codec under both.
//!
//! Every parser here works on byte slices, bounds its allocations by its input
//! and answers hostile input with an [`Error`], never a panic; the fuzz targets
//! under `fuzz/` hold it to that. Seeding and downloading live in
//! `backend-torrent`, the only crate that sees librqbit.

mod archive_dir;
pub mod bencode;
mod error;
mod folder_lock;
mod info_hash;
mod magnet;
mod metainfo;

pub use archive_dir::{AppendOutcome, ArchiveDir};
pub use error::{Error, Result};
pub use info_hash::InfoHash;
pub use magnet::{MAX_MAGNET_LEN, Magnet};
pub use metainfo::{
    BuildStats, DEFAULT_TRACKERS, FileEntry, Info, MAX_TORRENT_FILE_SIZE, Metainfo, TorrentOptions,
    default_announce_list, torrent_path,
};
