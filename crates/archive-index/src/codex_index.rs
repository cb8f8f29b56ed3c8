//! The Codex-style index: `CodexWakuMessageArchiveIndex`, mapping archive IDs to
//! the CID of each archive's own dataset (spec h.2, h.4).

use std::collections::{BTreeMap, HashSet};

use archive_proto::protobuf as pb;
use prost::Message as _;

use crate::{
    error::{Error, Result},
    ids::ArchiveId,
    limits::{DecodeLimits, MetadataBuilder},
    message::ArchiveMetadata,
    missing::missing,
    torrent_index::{count_map_entries, walk_map_entry},
    wire::{Field, Fields, bytes_len, put_bytes, put_uint, put_varint, uint_len},
};

const WHAT: &str = "Codex index";
const ENTRY: &str = "Codex index entry";

/// An upper bound on the heap one entry takes in a [`CodexIndex`], with
/// B-tree nodes as little as half full (its CID is counted with the input).
const ENTRY_HEAP: u64 = 3 * std::mem::size_of::<(ArchiveId, CodexEntry)>() as u64;

/// One archive stored as its own Codex dataset.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CodexEntry {
    /// Always 0 in the Codex prototype; kept so foreign entries re-encode unchanged.
    pub version: u32,
    /// What the archive covers.
    pub metadata: ArchiveMetadata,
    /// The CID of the archive's dataset.
    pub cid: String,
}

impl CodexEntry {
    /// The wire form.
    pub fn to_proto(&self) -> pb::CodexWakuMessageArchiveIndexMetadata {
        pb::CodexWakuMessageArchiveIndexMetadata {
            version: self.version,
            metadata: Some(self.metadata.to_proto()),
            cid: self.cid.clone(),
        }
    }

    /// The archive ID: `Keccak-256(proto.Marshal(entry))`.
    pub fn id(&self) -> ArchiveId {
        ArchiveId::of_encoded_entry(&self.encode())
    }

    /// `proto.Marshal(entry)`, written directly as prost would.
    fn encode(&self) -> Vec<u8> {
        let metadata_len = self.metadata.wire_len();
        let cid_len = if self.cid.is_empty() {
            0
        } else {
            bytes_len(self.cid.len())
        };
        let mut out =
            Vec::with_capacity(uint_len(self.version.into()) + bytes_len(metadata_len) + cid_len);
        put_uint(&mut out, 1, self.version.into());
        out.push((2 << 3) | 2);
        put_varint(&mut out, metadata_len as u64);
        self.metadata.put(&mut out);
        if !self.cid.is_empty() {
            put_bytes(&mut out, 3, self.cid.as_bytes());
        }
        out
    }
}

/// A Codex-style index: archive ID → entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodexIndex {
    entries: BTreeMap<ArchiveId, CodexEntry>,
}

impl CodexIndex {
    /// An empty index.
    pub fn new() -> CodexIndex {
        CodexIndex::default()
    }

    /// Decodes an index, checking that every key is the ID of its entry and every
    /// entry names a CID.
    pub fn decode(bytes: &[u8]) -> Result<CodexIndex> {
        CodexIndex::decode_with(bytes, &DecodeLimits::default())
    }

    /// As [`Self::decode`], one map entry at a time, refusing with
    /// [`Error::TooLarge`] an index that would need more memory than `limits`
    /// allow for its size.
    pub fn decode_with(bytes: &[u8], limits: &DecodeLimits) -> Result<CodexIndex> {
        let entries = count_map_entries(WHAT, bytes)?;
        limits.check(
            WHAT,
            bytes.len(),
            entries.saturating_mul(ENTRY_HEAP) + 2 * bytes.len() as u64,
        )?;
        let mut index = CodexIndex::new();
        let mut fields = Fields::new(WHAT, bytes);
        while let Some((_, field)) = fields.next_field()? {
            let Field::Bytes(map_entry) = field else {
                continue;
            };
            let (mut version, mut cid) = (0u32, &[][..]);
            let mut metadata = MetadataBuilder::default();
            let key = walk_map_entry(WHAT, map_entry, |value| {
                let mut fields = Fields::new(ENTRY, value);
                while let Some((number, field)) = fields.next_field()? {
                    match (number, field) {
                        (1, Field::Varint(v)) => version = v as u32,
                        (2, Field::Bytes(b)) => metadata.merge(ENTRY, b)?,
                        (3, Field::Bytes(b)) => cid = b,
                        (1..=3, _) => return Err(fields.wrong_type("of an index entry")),
                        _ => {}
                    }
                }
                Ok(())
            })?;
            let cid = std::str::from_utf8(cid).map_err(|_| Error::Malformed {
                what: ENTRY,
                reason: "cid is not UTF-8".into(),
            })?;
            let entry = CodexEntry {
                version,
                metadata: metadata.finish(ENTRY)?,
                cid: cid.to_owned(),
            };
            if entry.cid.is_empty() {
                return Err(Error::BadEntry {
                    id: key,
                    reason: "has no CID".into(),
                });
            }
            let expected = entry.id();
            if expected != key {
                return Err(Error::IdMismatch { key, expected });
            }
            index.entries.insert(key, entry);
        }
        Ok(index)
    }

    /// Encodes the index with sorted keys.
    pub fn encode(&self) -> Vec<u8> {
        pb::CodexWakuMessageArchiveIndex {
            archives: self
                .entries
                .iter()
                .map(|(id, e)| (id.to_string(), e.to_proto()))
                .collect(),
        }
        .encode_to_vec()
    }

    /// Adds an entry under its ID and returns the ID.
    pub fn insert(&mut self, entry: CodexEntry) -> ArchiveId {
        let id = entry.id();
        self.entries.insert(id, entry);
        id
    }

    /// Adds every entry of `other` (an older index, say).
    pub fn merge(&mut self, other: &CodexIndex) {
        for (id, e) in &other.entries {
            self.entries.entry(*id).or_insert_with(|| e.clone());
        }
    }

    /// The entry of `id`.
    pub fn get(&self, id: &ArchiveId) -> Option<&CodexEntry> {
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
    pub fn iter(&self) -> impl Iterator<Item = (&ArchiveId, &CodexEntry)> {
        self.entries.iter()
    }

    /// The archives not in `downloaded`, oldest `from` first (a set difference).
    pub fn missing(&self, downloaded: &HashSet<ArchiveId>) -> Vec<ArchiveId> {
        missing(
            self.entries.iter().map(|(id, e)| (*id, &e.metadata)),
            downloaded,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ids::Topic, message::TimeRange};

    fn entry(from: u64, cid: &str) -> CodexEntry {
        CodexEntry {
            version: 0,
            metadata: ArchiveMetadata::new(
                TimeRange {
                    from,
                    to: from + 10,
                },
                vec![Topic([1, 2, 3, 4])],
            ),
            cid: cid.into(),
        }
    }

    #[test]
    fn round_trips_and_missing_is_a_set_difference() {
        let mut index = CodexIndex::new();
        let old = index.insert(entry(100, "zDvOld"));
        let new = index.insert(entry(200, "zDvNew"));
        let decoded = CodexIndex::decode(&index.encode()).unwrap();
        assert_eq!(decoded, index);

        // Same count, different IDs: the unknown one is still missing (spec h.6).
        let stranger = entry(300, "zDvOther").id();
        let downloaded = HashSet::from([old, stranger]);
        assert_eq!(index.missing(&downloaded), vec![new]);
        assert_eq!(index.missing(&HashSet::new()), vec![old, new]);
    }

    #[test]
    fn rejects_a_key_that_is_not_the_entry_hash() {
        let mut wire = pb::CodexWakuMessageArchiveIndex::default();
        wire.archives
            .insert(format!("0x{}", "00".repeat(32)), entry(1, "zDv").to_proto());
        let err = CodexIndex::decode(&wire.encode_to_vec()).unwrap_err();
        assert!(matches!(err, Error::IdMismatch { .. }), "{err}");
    }
}
