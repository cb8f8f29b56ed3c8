//! BitTorrent storage for history archives, laid out exactly as status-go lays
//! them out: `<data dir>/<community ID>/data` (archives, each zero-padded to whole
//! 100 KiB pieces, appended) and `<data dir>/<community ID>/index` (a
//! `WakuMessageArchiveIndex`), seeded and fetched through librqbit.
//!
//! The files, the `.torrent` and magnet links are `torrent-format`'s, re-exported
//! here unchanged: [`ArchiveDir`] owns `data` and `index` and keeps the index
//! from ever pointing past the end of `data`; [`Metainfo`] builds the
//! community's `.torrent` as status-go does (same bytes, same infohash),
//! incrementally after an append; [`Magnet`] renders and parses magnet links.
//! This crate adds [`TorrentBackend`], the `archive_backend::Backend` on a
//! librqbit session. A fetch moves the pieces of the archives asked for and,
//! because librqbit's streams read ahead, at most [`STREAM_LOOKAHEAD`] after
//! each ([`most_bytes_fetched`]).

mod backend;
mod config;
mod engine;
mod fetch;
mod publish;
mod stall;
mod stream;

pub use backend::{TorrentBackend, Traffic};
pub use config::Config;
pub use stall::StallPolicy;
pub use stream::{STREAM_LOOKAHEAD, most_bytes_fetched};
pub use torrent_format::{
    AppendOutcome, ArchiveDir, BuildStats, DEFAULT_TRACKERS, Error, FileEntry, Info, InfoHash,
    MAX_MAGNET_LEN, MAX_TORRENT_FILE_SIZE, Magnet, Metainfo, Result, TorrentOptions,
    default_announce_list, torrent_path,
};
