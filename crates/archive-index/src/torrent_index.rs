//! The torrent-style index: `WakuMessageArchiveIndex`, mapping archive IDs to
//! their place in the `data` file.

use std::collections::{BTreeMap, HashSet};

use archive_proto::protobuf as pb;
use prost::Message as _;

use crate::{
    encode::PIECE_LENGTH,
    error::{Error, Result},
    ids::ArchiveId,
    message::ArchiveMetadata,
    missing::missing_oldest_first,
};

/// Where one archive lives in `data`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IndexEntry {
    /// Always 0 in status-go; kept so foreign entries re-encode unchanged.
    pub version: u32,
    /// What the archive covers.
    pub metadata: ArchiveMetadata,
    /// Byte offset in `data`, a multiple of the piece length.
    pub offset: u64,
    /// Padded size, a multiple of the piece length.
    pub size: u64,
    /// Zero bytes after the encoded archive; always less than `size`.
    pub padding: u64,
}

impl IndexEntry {
    /// The wire form.
    pub fn to_proto(&self) -> pb::WakuMessageArchiveIndexMetadata {
        pb::WakuMessageArchiveIndexMetadata {
            version: self.version,
            metadata: Some(self.metadata.to_proto()),
            offset: self.offset,
            size: self.size,
            padding: self.padding,
        }
    }

    /// The archive ID: `Keccak-256(proto.Marshal(entry))`, as status-go.
    pub fn id(&self) -> ArchiveId {
        ArchiveId::of_encoded_entry(&self.to_proto().encode_to_vec())
    }

    /// Length of the encoded archive, without padding.
    pub fn raw_len(&self) -> u64 {
        self.size - self.padding
    }

    /// One past the last byte of the archive in `data`.
    pub fn end(&self) -> u64 {
        self.offset + self.size
    }

    /// Checks what a single entry must satisfy: piece alignment, a non-empty size,
    /// `padding < size`, and no arithmetic overflow.
    fn check_shape(&self, id: ArchiveId) -> Result<()> {
        let bad = |reason: String| Error::BadEntry { id, reason };
        if !self.offset.is_multiple_of(PIECE_LENGTH) {
            return Err(bad(format!(
                "offset {} is not a multiple of the piece length {PIECE_LENGTH}",
                self.offset
            )));
        }
        if self.size == 0 || !self.size.is_multiple_of(PIECE_LENGTH) {
            return Err(bad(format!(
                "size {} is not a positive multiple of the piece length {PIECE_LENGTH}",
                self.size
            )));
        }
        if self.padding >= self.size {
            return Err(bad(format!(
                "padding {} is not less than size {}",
                self.padding, self.size
            )));
        }
        if self.offset.checked_add(self.size).is_none() {
            return Err(bad("offset + size overflows".into()));
        }
        Ok(())
    }

    fn from_proto(id: ArchiveId, m: pb::WakuMessageArchiveIndexMetadata) -> Result<IndexEntry> {
        let entry = IndexEntry {
            version: m.version,
            metadata: ArchiveMetadata::from_proto("index entry", m.metadata)?,
            offset: m.offset,
            size: m.size,
            padding: m.padding,
        };
        entry.check_shape(id)?;
        Ok(entry)
    }
}

/// A torrent-style index: archive ID → entry. Entries never overlap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TorrentIndex {
    entries: BTreeMap<ArchiveId, IndexEntry>,
    /// Offset → ID, for overlap checks in O(log n): a hostile index with many
    /// entries must not cost quadratic time.
    offsets: BTreeMap<u64, ArchiveId>,
}

impl TorrentIndex {
    /// An empty index.
    pub fn new() -> TorrentIndex {
        TorrentIndex::default()
    }

    /// Decodes and validates an index file: every key is the ID of its entry, every
    /// entry is piece-aligned with `padding < size`, and no two entries overlap.
    pub fn decode(bytes: &[u8]) -> Result<TorrentIndex> {
        let wire = pb::WakuMessageArchiveIndex::decode(bytes).map_err(|source| Error::Decode {
            what: "index",
            source,
        })?;
        let mut index = TorrentIndex::new();
        for (key, entry) in wire.archives {
            let key: ArchiveId = key.parse()?;
            let entry = IndexEntry::from_proto(key, entry)?;
            let expected = entry.id();
            if expected != key {
                return Err(Error::IdMismatch { key, expected });
            }
            index.insert(entry)?;
        }
        Ok(index)
    }

    /// Encodes the index. Keys are sorted, so equal indexes give equal bytes.
    pub fn encode(&self) -> Vec<u8> {
        pb::WakuMessageArchiveIndex {
            archives: self
                .entries
                .iter()
                .map(|(id, e)| (id.to_string(), e.to_proto()))
                .collect(),
        }
        .encode_to_vec()
    }

    /// Adds an entry under its ID, rejecting a malformed entry or one that
    /// overlaps an existing archive. Adding an identical entry again is a no-op.
    pub fn insert(&mut self, entry: IndexEntry) -> Result<ArchiveId> {
        let id = entry.id();
        entry.check_shape(id)?;
        if self.entries.contains_key(&id) {
            return Ok(id);
        }
        // Entries are disjoint and non-empty, so only the nearest neighbour on
        // each side can overlap.
        let before = self.offsets.range(..=entry.offset).next_back();
        let after = self.offsets.range(entry.offset..).next();
        let overlapping = [before, after].into_iter().flatten().find(|(_, other)| {
            let e = &self.entries[*other];
            entry.offset < e.end() && e.offset < entry.end()
        });
        if let Some((_, other)) = overlapping {
            return Err(Error::BadEntry {
                id,
                reason: format!(
                    "bytes [{}, {}) overlap archive {other}",
                    entry.offset,
                    entry.end()
                ),
            });
        }
        self.offsets.insert(entry.offset, id);
        self.entries.insert(id, entry);
        Ok(id)
    }

    /// Where the next archive goes: the end of the last archive. For every index
    /// status-go or this crate writes this equals the sum of the sizes, and it is
    /// the length `data` must have.
    pub fn data_len(&self) -> u64 {
        self.offsets
            .values()
            .next_back()
            .map_or(0, |id| self.entries[id].end())
    }

    /// Checks that every archive lies inside a `data` file of `data_len` bytes.
    pub fn check_data_len(&self, data_len: u64) -> Result<()> {
        match self.entries.iter().find(|(_, e)| e.end() > data_len) {
            Some((id, e)) => Err(Error::BadEntry {
                id: *id,
                reason: format!(
                    "ends at byte {} but data has only {data_len} bytes",
                    e.end()
                ),
            }),
            None => Ok(()),
        }
    }

    /// The entry of `id`.
    pub fn get(&self, id: &ArchiveId) -> Option<&IndexEntry> {
        self.entries.get(id)
    }

    /// Number of archives.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the index has no archive.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All entries, by ID.
    pub fn iter(&self) -> impl Iterator<Item = (&ArchiveId, &IndexEntry)> {
        self.entries.iter()
    }

    /// All entries in `data` order.
    pub fn by_offset(&self) -> impl Iterator<Item = (ArchiveId, &IndexEntry)> {
        self.offsets.values().map(|id| (*id, &self.entries[id]))
    }

    /// The archives not in `downloaded`, oldest `from` first. A set difference:
    /// an equal count of different IDs still yields the unknown ones.
    pub fn missing(&self, downloaded: &HashSet<ArchiveId>) -> Vec<ArchiveId> {
        missing_oldest_first(
            self.entries.iter().map(|(id, e)| (*id, &e.metadata)),
            downloaded,
        )
    }
}

#[cfg(test)]
mod tests;
