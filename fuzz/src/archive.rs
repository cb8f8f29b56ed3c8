//! Properties of `archive-index`'s decoders: archives, both kinds of index, and
//! extraction of one archive from `data` through a hostile index.

use std::{
    collections::HashSet,
    io::{Cursor, Read, Seek, SeekFrom},
};

use archive_index::{Archive, ArchiveId, CodexIndex, ExtractOptions, PIECE_LENGTH, TorrentIndex};
use archive_proto::{Message as _, protobuf as pb};

use crate::heap;

/// A decoded archive re-encodes canonically: decoding that gives the same
/// archive, encoding again the same bytes, and the canonical form is never
/// longer than the input (plus the two bytes of an absent metadata field).
pub fn archive_decode(data: &[u8]) {
    let (decoded, heap) = heap::peak_during(|| Archive::decode(data));
    assert_within_decode_budget("archive", data.len(), heap);
    let Ok(archive) = decoded else {
        return;
    };
    let encoded = archive.encode();
    let again = Archive::decode(&encoded).expect("an encoded archive decodes");
    assert_eq!(
        again, archive,
        "decode → encode → decode changed the archive"
    );
    assert_eq!(again.encode(), encoded, "encoding is not deterministic");
    assert!(
        encoded.len() <= data.len() + 2,
        "canonical encoding of {} bytes grew to {}",
        data.len(),
        encoded.len()
    );
}

/// Every decoder's promise: peak heap within 8 × its input plus the fixed
/// allowance, whether it accepts the input or not.
pub(crate) fn assert_within_decode_budget(what: &str, input: usize, heap: usize) {
    let bound = 8 * input + archive_index::DECODE_HEAP_ALLOWANCE as usize;
    assert!(
        heap <= bound,
        "decoding a {what} of {input} bytes took {heap} heap bytes, over {bound}"
    );
}

/// Re-keys every entry of a wire index with the ID of its entry as this crate
/// computes it, so the fuzzer's offsets, sizes and metadata get past the
/// Keccak check and reach the shape and overlap checks. `None` if the bytes
/// are not an index at all.
fn rekeyed_torrent_index(
    data: &[u8],
) -> Option<(Vec<u8>, Vec<pb::WakuMessageArchiveIndexMetadata>)> {
    let wire = pb::WakuMessageArchiveIndex::decode(data).ok()?;
    let mut entries = Vec::new();
    let mut archives = std::collections::BTreeMap::new();
    for (_, mut entry) in wire.archives {
        // The decoder reads an absent metadata field as the default one, and
        // the ID is over the entry as re-encoded, so give it that form.
        entry.metadata.get_or_insert_with(Default::default);
        let id = ArchiveId::of_encoded_entry(&entry.encode_to_vec());
        archives.insert(id.to_string(), entry.clone());
        entries.push(entry);
    }
    let bytes = pb::WakuMessageArchiveIndex { archives }.encode_to_vec();
    Some((bytes, entries))
}

fn metadata_ok(m: Option<&pb::WakuMessageArchiveMetadata>) -> bool {
    m.is_none_or(|m| m.from <= m.to && m.content_topic.iter().all(|t| t.len() == 4))
}

/// Whether a set of entries makes a valid index, decided independently of
/// `TorrentIndex`: well-formed metadata, piece-aligned non-empty sizes,
/// `padding < size`, no overflow, no two different entries overlapping.
fn torrent_entries_valid(entries: &[pb::WakuMessageArchiveIndexMetadata]) -> bool {
    let p = PIECE_LENGTH;
    let shapes = entries.iter().all(|e| {
        metadata_ok(e.metadata.as_ref())
            && e.offset % p == 0
            && e.size > 0
            && e.size % p == 0
            && e.padding < e.size
            && e.offset.checked_add(e.size).is_some()
    });
    shapes
        && entries.iter().enumerate().all(|(i, a)| {
            entries[..i]
                .iter()
                .all(|b| a == b || a.offset + a.size <= b.offset || b.offset + b.size <= a.offset)
        })
}

/// What every decoded torrent index satisfies.
fn check_torrent_index(index: &TorrentIndex) {
    let encoded = index.encode();
    let again = TorrentIndex::decode(&encoded).expect("an encoded index decodes");
    assert_eq!(&again, index, "decode → encode → decode changed the index");
    assert_eq!(again.encode(), encoded, "encoding is not deterministic");

    let mut end = 0;
    for (id, entry) in index.by_offset() {
        assert_eq!(entry.id(), id, "an entry is filed under another ID");
        assert!(entry.offset >= end, "entries overlap or are out of order");
        assert!(entry.offset % PIECE_LENGTH == 0 && entry.size % PIECE_LENGTH == 0);
        assert!(entry.size > 0 && entry.padding < entry.size);
        end = entry.end();
    }
    assert_eq!(index.data_len(), end);
    assert!(index.check_data_len(end).is_ok());
    if end > 0 {
        assert!(index.check_data_len(end - 1).is_err());
    }
    let missing = index.missing(&HashSet::new());
    assert_eq!(
        missing.len(),
        index.len(),
        "missing() lost or repeated archives"
    );
    let froms: Vec<u64> = missing
        .iter()
        .map(|id| index.get(id).expect("listed").metadata.range.from)
        .collect();
    assert!(froms.is_sorted(), "missing() is not oldest first");
}

/// The bytes as they are (rarely a valid index: the keys are Keccak hashes),
/// then re-keyed: the decoder must accept exactly the entry sets an
/// independent check calls valid, and what it accepts round-trips.
pub fn torrent_index_decode(data: &[u8]) {
    let (decoded, heap) = heap::peak_during(|| TorrentIndex::decode(data));
    assert_within_decode_budget("index", data.len(), heap);
    if let Ok(index) = decoded {
        check_torrent_index(&index);
    }
    let Some((rekeyed, entries)) = rekeyed_torrent_index(data) else {
        return;
    };
    let decoded = TorrentIndex::decode(&rekeyed);
    assert_eq!(
        decoded.is_ok(),
        torrent_entries_valid(&entries),
        "the decoder and the independent check disagree: {decoded:?}"
    );
    if let Ok(index) = decoded {
        check_torrent_index(&index);
    }
}

/// As [`torrent_index_decode`] for the Codex index, whose entries must name a
/// CID instead of a place in `data`.
pub fn codex_index_decode(data: &[u8]) {
    let (decoded, heap) = heap::peak_during(|| CodexIndex::decode(data));
    assert_within_decode_budget("Codex index", data.len(), heap);
    if let Ok(index) = decoded {
        check_codex_index(&index);
    }
    let Ok(wire) = pb::CodexWakuMessageArchiveIndex::decode(data) else {
        return;
    };
    let mut valid = true;
    let mut archives = std::collections::BTreeMap::new();
    for (_, mut entry) in wire.archives {
        entry.metadata.get_or_insert_with(Default::default);
        valid &= metadata_ok(entry.metadata.as_ref()) && !entry.cid.is_empty();
        let id = ArchiveId::of_encoded_entry(&entry.encode_to_vec());
        archives.insert(id.to_string(), entry);
    }
    let rekeyed = pb::CodexWakuMessageArchiveIndex { archives }.encode_to_vec();
    let decoded = CodexIndex::decode(&rekeyed);
    assert_eq!(
        decoded.is_ok(),
        valid,
        "the decoder and the independent check disagree: {decoded:?}"
    );
    if let Ok(index) = decoded {
        check_codex_index(&index);
    }
}

fn check_codex_index(index: &CodexIndex) {
    let encoded = index.encode();
    let again = CodexIndex::decode(&encoded).expect("an encoded index decodes");
    assert_eq!(&again, index, "decode → encode → decode changed the index");
    assert_eq!(again.encode(), encoded, "encoding is not deterministic");
    for (id, entry) in index.iter() {
        assert_eq!(&entry.id(), id, "an entry is filed under another ID");
        assert!(!entry.cid.is_empty());
    }
    let mut merged = CodexIndex::new();
    merged.merge(index);
    merged.merge(index);
    assert_eq!(
        &merged, index,
        "merging an index into nothing, twice, changed it"
    );
}

/// Counts the bytes read through it, to hold extraction to its cap.
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Counted<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// Live heap extraction may use per byte it read: the bytes themselves, then
/// what decoding may take (`DecodeLimits`' default, 8 per input byte).
pub const HEAP_PER_BYTE_READ: usize = 9;
/// And regardless of input: the read buffer's first reservation (at most
/// 1 MiB, `extract_archive`'s own bound) and small change.
pub const HEAP_FIXED: usize = (1 << 20) + (64 << 10);

/// Input: `[flags][index length: u16 LE][index][data]`. The index is re-keyed
/// (see [`torrent_index_decode`]) so hostile entries reach extraction. Flags:
/// bits 0–3 pick the cap (256 B · 2^n), bit 4 claims `data` is as long as its
/// last whole piece (archive padding need not be in the input), bits 5–7 claim
/// that many more pieces than there are.
///
/// For every entry: nothing is read for an entry past the end or over the cap,
/// never more than the cap is read, heap stays within a constant factor of
/// the bytes read, and extraction succeeds exactly when the entry's bytes are
/// present and decode to an archive with the entry's metadata.
pub fn extract_archive(data: &[u8]) {
    let [flags, len_lo, len_hi, rest @ ..] = data else {
        return;
    };
    let index_len = usize::from(u16::from_le_bytes([*len_lo, *len_hi]));
    let Some((index_bytes, data)) = rest.split_at_checked(index_len) else {
        return;
    };
    let Some((rekeyed, _)) = rekeyed_torrent_index(index_bytes) else {
        return;
    };
    let Ok(index) = TorrentIndex::decode(&rekeyed) else {
        return;
    };
    let cap = 256u64 << (flags & 0x0f);
    let mut data_len = data.len() as u64;
    if flags & 0x10 != 0 {
        data_len = data_len.next_multiple_of(PIECE_LENGTH);
    }
    data_len += u64::from(flags >> 5) * PIECE_LENGTH;
    let options = ExtractOptions {
        max_archive_bytes: cap,
    };

    for (id, entry) in index.by_offset() {
        let mut reader = Counted {
            inner: Cursor::new(data),
            read: 0,
        };
        let (result, heap) = heap::peak_during(|| {
            archive_index::extract_archive(&mut reader, data_len, &index, &id, options)
        });
        let raw_len = entry.raw_len();
        assert!(
            reader.read <= cap,
            "read {} bytes over a cap of {cap}",
            reader.read
        );
        assert!(reader.read <= raw_len, "read past the archive");
        if entry.end() > data_len || raw_len > cap {
            assert!(
                result.is_err(),
                "accepted an entry past the end or over the cap"
            );
            assert_eq!(reader.read, 0, "read an entry it had to refuse unread");
        }
        let bound = HEAP_PER_BYTE_READ * reader.read as usize + HEAP_FIXED;
        assert!(
            heap <= bound,
            "{heap} heap bytes for {} bytes read",
            reader.read
        );

        // The same decision, made independently.
        let expected = (entry.end() <= data_len && raw_len <= cap)
            .then(|| {
                let start = usize::try_from(entry.offset).ok()?;
                let end = start.checked_add(usize::try_from(raw_len).ok()?)?;
                data.get(start..end)
            })
            .flatten()
            .and_then(|bytes| Archive::decode(bytes).ok())
            .filter(|archive| archive.metadata == entry.metadata);
        match (&result, &expected) {
            (Ok(got), Some(want)) => assert_eq!(got, want),
            (Err(_), None) => {}
            _ => panic!("extract_archive gave {result:?}, an independent reading {expected:?}"),
        }
    }
}
