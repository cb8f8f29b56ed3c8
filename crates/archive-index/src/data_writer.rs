//! Writing torrent-style archives: encoded, zero-padded to whole pieces and
//! appended to a `data` stream, with one index entry each.

use std::{io::Write, sync::Arc};

use crate::{
    chunking::{Chunker, DroppedMessage, Placement},
    encode::{
        MAX_ARCHIVE_SIZE, encode_message_field, encode_metadata_field, padded_size, write_zeros,
    },
    envelope::{BlobKind, Envelope, seal_blob},
    error::Result,
    ids::{ArchiveId, Topic},
    message::{ArchiveMetadata, Message, TimeRange},
    torrent_index::IndexEntry,
};

/// One archive the writer produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenArchive {
    /// Its ID.
    pub id: ArchiveId,
    /// Its index entry.
    pub entry: IndexEntry,
    /// How many messages it holds.
    pub message_count: usize,
}

/// What a run wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// The new archives, in `data` order.
    pub archives: Vec<WrittenArchive>,
    /// Messages too large for any archive.
    pub dropped: Vec<DroppedMessage>,
    /// Bytes appended to `data`, padding included.
    pub bytes_written: u64,
}

#[derive(Debug)]
struct OpenArchive {
    offset: u64,
    raw_len: u64,
    message_count: usize,
}

/// Appends archives to `data` one message at a time, holding at most one encoded
/// message in memory.
///
/// The caller opens each partition with [`begin_partition`](Self::begin_partition),
/// pushes that partition's messages in strictly increasing (timestamp, hash)
/// order, all on the run's topics, then calls
/// [`finish_partition`](Self::finish_partition). A partition without messages
/// makes no archive. [`finish`](Self::finish) flushes and returns the report;
/// the caller then adds the entries to the index.
///
/// With an [`Envelope`] ([`with_envelope`](Self::with_envelope)) each
/// archive is gathered in memory (at most one, ≤ 30 MB of payload), sealed
/// when it closes, and padded and hashed as the sealed bytes, as status-go
/// does for encrypted communities.
#[derive(Debug)]
pub struct DataWriter<W: Write> {
    out: W,
    envelope: Option<Arc<dyn Envelope>>,
    /// The open archive's plain bytes, when it is to be sealed.
    unsealed: Vec<u8>,
    topics: Vec<Topic>,
    chunker: Chunker,
    next_offset: u64,
    open: Option<OpenArchive>,
    report: WriteReport,
    scratch: Vec<u8>,
}

impl<W: Write> DataWriter<W> {
    /// A writer appending at `start_offset` (the current length of `data`) for a
    /// run over `topics`.
    pub fn new(out: W, start_offset: u64, topics: Vec<Topic>) -> DataWriter<W> {
        DataWriter::with_max_archive_size(out, start_offset, topics, MAX_ARCHIVE_SIZE)
    }

    /// As [`new`](Self::new) with another chunk size than status-go's 30 MB.
    pub fn with_max_archive_size(
        out: W,
        start_offset: u64,
        topics: Vec<Topic>,
        max_archive_size: u64,
    ) -> DataWriter<W> {
        DataWriter {
            out,
            envelope: None,
            unsealed: Vec::new(),
            chunker: Chunker::new(&topics, max_archive_size),
            topics,
            next_offset: start_offset,
            open: None,
            report: WriteReport::default(),
            scratch: Vec::new(),
        }
    }

    /// The same writer, sealing every archive with `envelope` (none: plain).
    pub fn with_envelope(mut self, envelope: Option<Arc<dyn Envelope>>) -> DataWriter<W> {
        self.envelope = envelope;
        self
    }

    /// Opens the partition `range`.
    pub fn begin_partition(&mut self, range: TimeRange) -> Result<()> {
        self.chunker.begin_partition(range)
    }

    /// Adds one message of the open partition.
    pub fn push(&mut self, message: &Message) -> Result<()> {
        match self.chunker.place(message)? {
            Placement::Drop => {
                self.report.dropped.push(DroppedMessage {
                    hash: message.hash.clone(),
                    timestamp: message.timestamp,
                    topic: message.topic,
                    size: message.chunk_size(),
                });
                return Ok(());
            }
            Placement::StartNew => {
                self.close_archive()?;
                self.open_archive()?;
            }
            Placement::Append => {}
        }
        self.scratch.clear();
        encode_message_field(message, &mut self.scratch);
        self.emit_scratch()?;
        let open = self
            .open
            .as_mut()
            .expect("an archive is open after placement");
        open.raw_len += self.scratch.len() as u64;
        open.message_count += 1;
        Ok(())
    }

    /// Closes the open partition and its last archive.
    pub fn finish_partition(&mut self) -> Result<()> {
        self.close_archive()?;
        self.chunker.end_partition()?;
        Ok(())
    }

    /// Flushes and returns the stream and what was written. A partition still
    /// open is finished first.
    pub fn finish(mut self) -> Result<(W, WriteReport)> {
        if self.chunker.partition().is_some() {
            self.finish_partition()?;
        }
        self.out.flush()?;
        Ok((self.out, self.report))
    }

    fn metadata(&self) -> ArchiveMetadata {
        let range = self
            .chunker
            .partition()
            .expect("called with a partition open");
        ArchiveMetadata::new(range, self.topics.clone())
    }

    fn open_archive(&mut self) -> Result<()> {
        self.scratch.clear();
        encode_metadata_field(&self.metadata(), &mut self.scratch);
        self.emit_scratch()?;
        self.open = Some(OpenArchive {
            offset: self.next_offset,
            raw_len: self.scratch.len() as u64,
            message_count: 0,
        });
        Ok(())
    }

    /// Appends the scratch bytes to the open archive: to `data` when plain,
    /// to the bytes awaiting the seal otherwise.
    fn emit_scratch(&mut self) -> Result<()> {
        if self.envelope.is_some() {
            self.unsealed.extend_from_slice(&self.scratch);
        } else {
            self.out.write_all(&self.scratch)?;
        }
        Ok(())
    }

    fn close_archive(&mut self) -> Result<()> {
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        if self.envelope.is_some() {
            let plain = std::mem::take(&mut self.unsealed);
            let sealed = seal_blob(self.envelope.as_deref(), BlobKind::Archive, plain)?;
            self.out.write_all(&sealed)?;
            open.raw_len = sealed.len() as u64;
        }
        let (size, padding) = padded_size(open.raw_len);
        write_zeros(&mut self.out, padding)?;
        let entry = IndexEntry {
            version: 0,
            metadata: self.metadata(),
            offset: open.offset,
            size,
            padding,
        };
        self.next_offset += size;
        self.report.bytes_written += size;
        self.report.archives.push(WrittenArchive {
            id: entry.id(),
            entry,
            message_count: open.message_count,
        });
        Ok(())
    }
}
