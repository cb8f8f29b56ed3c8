//! BitTorrent storage for history archives, laid out exactly as status-go lays
//! them out: `<data dir>/<community ID>/data` (archives, each zero-padded to whole
//! 100 KiB pieces, appended) and `<data dir>/<community ID>/index` (a
//! `WakuMessageArchiveIndex`).
//!
//! [`ArchiveDir`] owns those two files and keeps one invariant across crashes:
//! the index never points past the end of `data`.
//!
//! [`Metainfo`] builds the community's `.torrent` from them as status-go does
//! (same bytes, same infohash), rebuilding incrementally after an append, and
//! reads `.torrent` files back; [`Magnet`] renders and parses magnet links.

mod archive_dir;
mod backend;
mod bencode;
mod config;
mod engine;
mod error;
mod info_hash;
mod magnet;
mod metainfo;

pub use archive_dir::{AppendOutcome, ArchiveDir};
pub use backend::TorrentBackend;
pub use config::Config;
pub use error::{Error, Result};
pub use info_hash::InfoHash;
pub use magnet::{MAX_MAGNET_LEN, Magnet};
pub use metainfo::{
    BuildStats, DEFAULT_TRACKERS, FileEntry, Info, MAX_TORRENT_FILE_SIZE, Metainfo, TorrentOptions,
    default_announce_list, torrent_path,
};
