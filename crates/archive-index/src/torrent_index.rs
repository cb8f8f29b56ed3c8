//! The torrent-style index: `WakuMessageArchiveIndex`, mapping archive IDs to
//! their place in the `data` file.

use std::collections::{BTreeMap, HashSet};

use archive_proto::protobuf as pb;
use prost::Message as _;

use crate::{
    encode::PIECE_LENGTH,
    error::{Error, Result},
    ids::ArchiveId,
    limits::{DecodeLimits, MetadataBuilder},
    message::ArchiveMetadata,
    missing::missing,
    wire::{Field, Fields, bytes_len, put_uint, put_varint, uint_len},
};

const WHAT: &str = "index";

/// An upper bound on the heap one entry takes in a [`TorrentIndex`]: its
/// place in both maps, with B-tree nodes as little as half full.
const ENTRY_HEAP: u64 = 3
    * (std::mem::size_of::<(ArchiveId, IndexEntry)>() + std::mem::size_of::<(u64, ArchiveId)>())
        as u64;

/// Counts the entries of an index's map (field 1), checking wire types.
pub(crate) fn count_map_entries(what: &'static str, bytes: &[u8]) -> Result<u64> {
    let mut count = 0;
    let mut fields = Fields::new(what, bytes);
    while let Some((number, field)) = fields.next_field()? {
        match (number, field) {
            (1, Field::Bytes(_)) => count += 1,
            (1, _) => return Err(fields.wrong_type("archives")),
            _ => {}
        }
    }
    Ok(count)
}

/// Walks one map entry, handing each occurrence of its value to `value`,
/// and returns its key parsed as an archive ID.
pub(crate) fn walk_map_entry<'a>(
    what: &'static str,
    map_entry: &'a [u8],
    mut value: impl FnMut(&'a [u8]) -> Result<()>,
) -> Result<ArchiveId> {
    let mut fields = Fields::new(what, map_entry);
    let mut key: &[u8] = &[];
    while let Some((number, field)) = fields.next_field()? {
        match (number, field) {
            (1, Field::Bytes(b)) => key = b,
            (2, Field::Bytes(b)) => value(b)?,
            (1 | 2, _) => return Err(fields.wrong_type("of a map entry")),
            _ => {}
        }
    }
    let key = std::str::from_utf8(key).map_err(|_| Error::Malformed {
        what,
        reason: "a key is not UTF-8".into(),
    })?;
    key.parse()
}

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
        ArchiveId::of_encoded_entry(&self.encode())
    }

    /// `proto.Marshal(entry)`, written directly: going through
    /// [`Self::to_proto`] costs 28 bytes per 4-byte topic.
    fn encode(&self) -> Vec<u8> {
        let metadata_len = self.metadata.wire_len();
        let mut out = Vec::with_capacity(
            uint_len(self.version.into())
                + bytes_len(metadata_len)
                + uint_len(self.offset)
                + uint_len(self.size)
                + uint_len(self.padding),
        );
        put_uint(&mut out, 1, self.version.into());
        out.push((2 << 3) | 2);
        put_varint(&mut out, metadata_len as u64);
        self.metadata.put(&mut out);
        put_uint(&mut out, 3, self.offset);
        put_uint(&mut out, 4, self.size);
        put_uint(&mut out, 5, self.padding);
        out
    }

    /// Checks that the archive can be read from a `data` file of `data_len`
    /// bytes into at most `max_archive_bytes` of memory, before anything is
    /// allocated for it.
    pub fn check_readable(
        &self,
        id: &ArchiveId,
        data_len: u64,
        max_archive_bytes: u64,
    ) -> Result<()> {
        let bad = |reason: String| Error::BadEntry { id: *id, reason };
        if self.end() > data_len {
            return Err(bad(format!(
                "ends at byte {} but data has only {data_len} bytes",
                self.end()
            )));
        }
        let raw_len = self.raw_len();
        if raw_len > max_archive_bytes {
            return Err(bad(format!(
                "archive of {raw_len} bytes exceeds the {max_archive_bytes} byte limit"
            )));
        }
        Ok(())
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
}

/// An index entry's value as it is read; protobuf merges repeated occurrences.
#[derive(Default)]
struct EntryBuilder {
    version: u32,
    metadata: MetadataBuilder,
    offset: u64,
    size: u64,
    padding: u64,
}

impl EntryBuilder {
    fn merge(&mut self, value: &[u8]) -> Result<()> {
        const WHAT: &str = "index entry";
        let mut fields = Fields::new(WHAT, value);
        while let Some((number, field)) = fields.next_field()? {
            match (number, field) {
                (1, Field::Varint(v)) => self.version = v as u32,
                (2, Field::Bytes(b)) => self.metadata.merge(WHAT, b)?,
                (3, Field::Varint(v)) => self.offset = v,
                (4, Field::Varint(v)) => self.size = v,
                (5, Field::Varint(v)) => self.padding = v,
                (1..=5, _) => return Err(fields.wrong_type("of an index entry")),
                _ => {}
            }
        }
        Ok(())
    }

    /// The entry, its shape checked.
    fn finish(self, id: ArchiveId) -> Result<IndexEntry> {
        let entry = IndexEntry {
            version: self.version,
            metadata: self.metadata.finish("index entry")?,
            offset: self.offset,
            size: self.size,
            padding: self.padding,
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
        TorrentIndex::decode_with(bytes, &DecodeLimits::default())
    }

    /// As [`Self::decode`], one map entry at a time (never a tree of prost
    /// structs), refusing with [`Error::TooLarge`] an index whose entries
    /// would need more memory than `limits` allow for its size.
    pub fn decode_with(bytes: &[u8], limits: &DecodeLimits) -> Result<TorrentIndex> {
        let entries = count_map_entries(WHAT, bytes)?;
        limits.check(
            WHAT,
            bytes.len(),
            entries.saturating_mul(ENTRY_HEAP) + 2 * bytes.len() as u64,
        )?;
        let mut index = TorrentIndex::new();
        let mut fields = Fields::new(WHAT, bytes);
        while let Some((_, field)) = fields.next_field()? {
            let Field::Bytes(map_entry) = field else {
                continue;
            };
            let mut builder = EntryBuilder::default();
            let key = walk_map_entry(WHAT, map_entry, |value| builder.merge(value))?;
            let entry = builder.finish(key)?;
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
        missing(
            self.entries.iter().map(|(id, e)| (*id, &e.metadata)),
            downloaded,
        )
    }
}

#[cfg(test)]
mod tests;
