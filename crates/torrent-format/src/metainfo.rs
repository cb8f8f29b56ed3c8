//! `.torrent` metainfo for a community directory, byte for byte as status-go
//! (anacrolix `BuildFromFilePath`) makes it, read back with bounded allocation,
//! and written atomically to `<torrent dir>/<community ID>.torrent` (spec c.5).
//!
//! The top level holds `announce-list`, `created by`, `creation date` and
//! `info`; Go's `omitempty` drops an empty list, an empty string and a zero
//! date, and so do we. `info` is `{files: [data, index], name, piece length,
//! pieces}` with one SHA-1 per 102400-byte piece of `data‖index`: exactly
//! `ceil(total / 102400)` of them, never the extra hash librqbit's
//! `create_torrent` appends on exact multiples.

use std::{
    collections::BTreeMap,
    fs::File,
    io::Read,
    path::{Path, PathBuf},
};

use archive_index::CommunityId;

use crate::{
    archive_dir::{create_private_dir, write_atomically},
    bencode::Enc,
    error::{Error, IoContext, Result},
    info_hash::InfoHash,
    magnet::Magnet,
};

mod build;
mod parse;

pub use build::BuildStats;

/// status-go's `defaultAnnounceList`, each tracker its own tier.
pub const DEFAULT_TRACKERS: [&str; 2] = [
    "udp://tracker.opentrackr.org:1337/announce",
    "udp://tracker.openbittorrent.com:6969/announce",
];

/// The largest `.torrent` read: 64 MiB holds the hashes of over 300 GB of
/// archives, far beyond any community.
pub const MAX_TORRENT_FILE_SIZE: u64 = 64 << 20;

/// What goes into a `.torrent` besides the files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorrentOptions {
    /// Tiers of tracker URLs.
    pub announce_list: Vec<Vec<String>>,
    /// status-go puts the owner's public key here, hex (`PubkeyToHex`).
    pub created_by: String,
    /// Unix seconds; a parameter so the same files give the same bytes.
    pub creation_date: i64,
}

impl TorrentOptions {
    /// Options with status-go's default trackers.
    pub fn new(created_by: impl Into<String>, creation_date: i64) -> TorrentOptions {
        TorrentOptions {
            announce_list: default_announce_list(),
            created_by: created_by.into(),
            creation_date,
        }
    }
}

/// status-go's two tracker tiers as an announce list.
pub fn default_announce_list() -> Vec<Vec<String>> {
    DEFAULT_TRACKERS
        .iter()
        .map(|t| vec![t.to_string()])
        .collect()
}

/// A file of a multi-file torrent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Path components below the torrent's directory, e.g. `["data"]`.
    pub path: Vec<String>,
    /// Length in bytes.
    pub length: u64,
}

/// The `info` dictionary.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Info {
    /// The directory name: the community ID.
    pub name: String,
    /// Bytes per piece; 102400 for community archives.
    pub piece_length: u64,
    /// The files in torrent order.
    pub files: Vec<FileEntry>,
    /// SHA-1 of each piece of the files' concatenation.
    pub pieces: Vec<[u8; 20]>,
}

impl Info {
    /// Sum of the file lengths.
    pub fn total_length(&self) -> u64 {
        self.files.iter().map(|f| f.length).sum()
    }

    fn encode(&self) -> Vec<u8> {
        let files = self
            .files
            .iter()
            .map(|file| {
                Enc::Dict(BTreeMap::from([
                    (&b"length"[..], Enc::UInt(file.length)),
                    (
                        &b"path"[..],
                        Enc::List(file.path.iter().map(|p| Enc::Bytes(p.as_bytes())).collect()),
                    ),
                ]))
            })
            .collect();
        let pieces = self.pieces.concat();
        Enc::Dict(BTreeMap::from([
            (&b"files"[..], Enc::List(files)),
            (&b"name"[..], Enc::Bytes(self.name.as_bytes())),
            (&b"piece length"[..], Enc::UInt(self.piece_length)),
            (&b"pieces"[..], Enc::Bytes(&pieces)),
        ]))
        .to_vec()
    }
}

/// A torrent's metainfo with the encoded `info` bytes its infohash covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metainfo {
    info: Info,
    info_bytes: Vec<u8>,
    info_hash: InfoHash,
    announce_list: Vec<Vec<String>>,
    created_by: Option<String>,
    creation_date: Option<i64>,
}

impl Metainfo {
    /// The metainfo of a community directory's `data` and `index`.
    ///
    /// With `previous` (the torrent built before the last append) the hashes of
    /// the `data` pieces it already covers are reused, so only new `data`
    /// pieces and `index` are read; the result is identical to a full build.
    /// A `previous` that does not describe a prefix of the current files is
    /// ignored and everything is hashed.
    pub fn build(
        dir: &crate::ArchiveDir,
        opts: &TorrentOptions,
        previous: Option<&Metainfo>,
    ) -> Result<Metainfo> {
        build::build(dir, opts, previous).map(|(metainfo, _)| metainfo)
    }

    /// [`Metainfo::build`], also telling how many piece hashes were reused.
    pub fn build_with_stats(
        dir: &crate::ArchiveDir,
        opts: &TorrentOptions,
        previous: Option<&Metainfo>,
    ) -> Result<(Metainfo, BuildStats)> {
        build::build(dir, opts, previous)
    }

    fn from_info(info: Info, opts: &TorrentOptions) -> Metainfo {
        let info_bytes = info.encode();
        Metainfo {
            info_hash: InfoHash::of_info_bytes(&info_bytes),
            info,
            info_bytes,
            announce_list: opts.announce_list.clone(),
            created_by: Some(opts.created_by.clone()).filter(|c| !c.is_empty()),
            creation_date: Some(opts.creation_date).filter(|d| *d != 0),
        }
    }

    /// Parses a `.torrent`. Rejects malformed bencode, missing or mistyped
    /// keys, unsafe names and paths, and piece hashes that do not cover the
    /// files exactly, before allocating anything proportional to the claims.
    pub fn from_bytes(bytes: &[u8]) -> Result<Metainfo> {
        parse::parse(bytes)
    }

    /// The `.torrent` file's bytes. A parsed torrent keeps its `info` bytes
    /// as found, so its infohash survives even keys this crate does not know.
    pub fn to_bytes(&self) -> Vec<u8> {
        let tiers: Vec<Enc<'_>> = self
            .announce_list
            .iter()
            .map(|tier| Enc::List(tier.iter().map(|t| Enc::Bytes(t.as_bytes())).collect()))
            .collect();
        let mut top = BTreeMap::new();
        if !tiers.is_empty() {
            top.insert(&b"announce-list"[..], Enc::List(tiers));
        }
        if let Some(created_by) = &self.created_by {
            top.insert(&b"created by"[..], Enc::Bytes(created_by.as_bytes()));
        }
        if let Some(date) = self.creation_date {
            top.insert(&b"creation date"[..], Enc::Int(date));
        }
        top.insert(&b"info"[..], Enc::Raw(&self.info_bytes));
        Enc::Dict(top).to_vec()
    }

    /// Reads a `.torrent` file of at most [`MAX_TORRENT_FILE_SIZE`] bytes.
    pub fn read(path: &Path) -> Result<Metainfo> {
        let file = File::open(path).at(path)?;
        let len = file.metadata().at(path)?.len();
        if len > MAX_TORRENT_FILE_SIZE {
            return Err(Error::TorrentTooLarge {
                len,
                max: MAX_TORRENT_FILE_SIZE,
            });
        }
        let mut bytes = Vec::with_capacity(len as usize);
        // The file may grow after the length check; the cap holds regardless.
        file.take(MAX_TORRENT_FILE_SIZE + 1)
            .read_to_end(&mut bytes)
            .at(path)?;
        Metainfo::from_bytes(&bytes)
    }

    /// The community's `.torrent` under `torrent_dir`, `None` if there is none.
    pub fn load(torrent_dir: &Path, community: &CommunityId) -> Result<Option<Metainfo>> {
        let path = torrent_path(torrent_dir, community);
        match Metainfo::read(&path) {
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(None)
            }
            other => other.map(Some),
        }
    }

    /// Writes `<torrent_dir>/<community ID>.torrent` atomically, creating
    /// `torrent_dir` (owner-only, as status-go) if needed. The name must be a
    /// community ID, which also keeps the file inside `torrent_dir`.
    pub fn write(&self, torrent_dir: &Path) -> Result<PathBuf> {
        let community = self.community()?;
        create_private_dir(torrent_dir).at(torrent_dir)?;
        let path = torrent_path(torrent_dir, &community);
        write_atomically(&path, &self.to_bytes())?;
        Ok(path)
    }

    /// The community the torrent is named after.
    pub fn community(&self) -> Result<CommunityId> {
        self.info.name.parse().map_err(|_| Error::InvalidTorrent {
            field: "name",
            reason: "is not a community ID",
        })
    }

    /// Checks that the torrent is named after `community`, the one being
    /// fetched: a torrent of another community must not fill its folder.
    pub fn check_community(&self, community: &CommunityId) -> Result<()> {
        check_name("torrent name", &self.info.name, community)
    }

    /// The magnet link status-go announces for this torrent (spec c.6):
    /// trackers in announce-list order, each once. An empty URL names no
    /// tracker and is left out: `tr=` would make the link unparseable.
    pub fn magnet(&self) -> Magnet {
        let mut trackers: Vec<String> = Vec::new();
        for tracker in self.announce_list.iter().flatten() {
            if !tracker.is_empty() && !trackers.contains(tracker) {
                trackers.push(tracker.clone());
            }
        }
        Magnet {
            info_hash: self.info_hash,
            display_name: Some(self.info.name.clone()).filter(|n| !n.is_empty()),
            trackers,
            peers: Vec::new(),
        }
    }

    /// The `info` dictionary.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// The encoded `info` dictionary, as hashed.
    pub fn info_bytes(&self) -> &[u8] {
        &self.info_bytes
    }

    /// SHA-1 of [`Metainfo::info_bytes`].
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// Tracker tiers.
    pub fn announce_list(&self) -> &[Vec<String>] {
        &self.announce_list
    }

    /// `created by`, if present.
    pub fn created_by(&self) -> Option<&str> {
        self.created_by.as_deref()
    }

    /// `creation date` in Unix seconds, if present.
    pub fn creation_date(&self) -> Option<i64> {
        self.creation_date
    }
}

/// `<torrent_dir>/<community ID>.torrent`.
pub fn torrent_path(torrent_dir: &Path, community: &CommunityId) -> PathBuf {
    torrent_dir.join(format!("{community}.torrent"))
}

#[cfg(test)]
mod tests;

/// Checks that `name` (a torrent's `name` or a magnet's `dn`) is `community`.
pub(crate) fn check_name(what: &'static str, name: &str, community: &CommunityId) -> Result<()> {
    match name.parse::<CommunityId>() {
        Ok(named) if named == *community => Ok(()),
        _ => Err(Error::WrongCommunity {
            what,
            found: name.chars().take(80).collect(),
            expected: *community,
        }),
    }
}
