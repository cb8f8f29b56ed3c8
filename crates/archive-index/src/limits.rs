//! How much heap a decoder may spend on its input, and the metadata decoder
//! every bounded decoder shares.

use crate::{
    error::{Error, Result},
    ids::Topic,
    message::{ArchiveMetadata, TimeRange},
    wire::{Field, Fields},
};

/// Heap any decoder may use whatever its input, so that tiny inputs are not
/// held to a ratio their fixed costs cannot meet.
pub const DECODE_HEAP_ALLOWANCE: u64 = 64 * 1024;

/// Limits on the memory one decode may use.
///
/// Every decoder in this crate keeps its peak heap within
/// `max_heap_per_input_byte × input + DECODE_HEAP_ALLOWANCE`, capped at
/// `max_heap_bytes`; an input that would need more is refused with
/// [`Error::TooLarge`] before the memory is allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Heap bytes allowed per input byte.
    pub max_heap_per_input_byte: u64,
    /// An absolute cap, whatever the input's size.
    pub max_heap_bytes: u64,
}

impl Default for DecodeLimits {
    fn default() -> DecodeLimits {
        DecodeLimits {
            max_heap_per_input_byte: 8,
            max_heap_bytes: 1 << 30,
        }
    }
}

impl DecodeLimits {
    /// The default limits of [`Archive::decode`](crate::Archive::decode):
    /// [`Default`]'s 8 heap bytes per input byte, the same cap. The limit
    /// only refuses hostile density; it is not a target. An honest archive
    /// needs far less (measured by archive-index's counting-allocator tests:
    /// 1.1 × for 1 KiB messages, 2.1 × for the densest real ones). A 4 ×
    /// limit was tried and refused archives of small messages that our own
    /// ingestion and tests write (a signature-less, empty-payload Waku
    /// message decodes to about 4 × its encoding), so an honest archive
    /// could never be imported.
    pub fn for_archives() -> DecodeLimits {
        DecodeLimits::default()
    }

    /// The heap budget for an input of `len` bytes.
    pub fn budget(&self, len: usize) -> u64 {
        (len as u64)
            .saturating_mul(self.max_heap_per_input_byte)
            .saturating_add(DECODE_HEAP_ALLOWANCE)
            .min(self.max_heap_bytes)
    }

    /// Refuses `needed` bytes when they exceed the budget for `len` input bytes.
    pub(crate) fn check(&self, what: &'static str, len: usize, needed: u64) -> Result<()> {
        let limit = self.budget(len);
        if needed > limit {
            return Err(Error::TooLarge {
                what,
                input: len as u64,
                needed,
                limit,
            });
        }
        Ok(())
    }
}

/// Builds [`ArchiveMetadata`] from one or more occurrences of an embedded
/// `WakuMessageArchiveMetadata` (protobuf merges repeated ones), checking each
/// topic as it arrives, so no topic is ever held in a larger form.
#[derive(Default)]
pub(crate) struct MetadataBuilder {
    version: u32,
    from: u64,
    to: u64,
    topics: Vec<Topic>,
}

impl MetadataBuilder {
    pub(crate) fn merge(&mut self, what: &'static str, bytes: &[u8]) -> Result<()> {
        let mut fields = Fields::new(what, bytes);
        while let Some((number, field)) = fields.next_field()? {
            match (number, field) {
                (1, Field::Varint(v)) => self.version = v as u32,
                (2, Field::Varint(v)) => self.from = v,
                (3, Field::Varint(v)) => self.to = v,
                (4, Field::Bytes(t)) => {
                    let topic = Topic::from_slice(t).ok_or_else(|| Error::Malformed {
                        what,
                        reason: format!("content topic has {} bytes, expected 4", t.len()),
                    })?;
                    self.topics.push(topic);
                }
                (1..=4, _) => return Err(fields.wrong_type("of the metadata")),
                _ => {}
            }
        }
        Ok(())
    }

    pub(crate) fn finish(mut self, what: &'static str) -> Result<ArchiveMetadata> {
        if self.from > self.to {
            return Err(Error::Malformed {
                what,
                reason: format!("time range [{}, {}) is reversed", self.from, self.to),
            });
        }
        self.topics.shrink_to_fit();
        Ok(ArchiveMetadata {
            version: self.version,
            range: TimeRange {
                from: self.from,
                to: self.to,
            },
            topics: self.topics,
        })
    }
}
