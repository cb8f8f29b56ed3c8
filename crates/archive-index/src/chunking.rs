//! What every archive writer shares: checking that messages belong to the open
//! partition, and status-go's 30 MB chunking (spec c.3.1).

use std::collections::BTreeSet;

use crate::{
    error::{Error, Result},
    ids::Topic,
    message::{Message, TimeRange},
};

/// A message left out of every archive because it alone exceeds the chunk size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DroppedMessage {
    /// The message hash.
    pub hash: Vec<u8>,
    /// Its timestamp, seconds.
    pub timestamp: u64,
    /// Its topic.
    pub topic: Topic,
    /// Payload plus signature length, the size chunking counts.
    pub size: u64,
}

/// What to do with the next message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    /// It is larger than a whole chunk: leave it out and report it.
    Drop,
    /// Add it to the open archive.
    Append,
    /// Close the open archive, if any, and start a new one with it.
    StartNew,
}

/// Validates the message stream of one run and decides where each message goes.
#[derive(Debug)]
pub(crate) struct Chunker {
    topics: BTreeSet<Topic>,
    max_chunk: u64,
    partition: Option<TimeRange>,
    /// Order key of the last accepted message of the open partition.
    last: Option<(u64, Vec<u8>)>,
    /// Bytes counted in the open chunk; `None` when no chunk is open.
    chunk: Option<u64>,
}

impl Chunker {
    pub(crate) fn new(topics: &[Topic], max_chunk: u64) -> Chunker {
        Chunker {
            topics: topics.iter().copied().collect(),
            max_chunk,
            partition: None,
            last: None,
            chunk: None,
        }
    }

    pub(crate) fn begin_partition(&mut self, range: TimeRange) -> Result<()> {
        if self.partition.is_some() {
            return Err(Error::PartitionState("a partition is already open"));
        }
        self.partition = Some(range);
        self.last = None;
        self.chunk = None;
        Ok(())
    }

    pub(crate) fn end_partition(&mut self) -> Result<TimeRange> {
        self.chunk = None;
        self.partition
            .take()
            .ok_or(Error::PartitionState("no partition is open"))
    }

    pub(crate) fn partition(&self) -> Option<TimeRange> {
        self.partition
    }

    /// Checks `message` against the open partition, the topics and the order,
    /// then places it.
    pub(crate) fn place(&mut self, message: &Message) -> Result<Placement> {
        let range = self
            .partition
            .ok_or(Error::PartitionState("push needs an open partition"))?;
        if !range.contains(message.timestamp) {
            return Err(Error::OutsidePartition {
                hash: message.hash_hex(),
                timestamp: message.timestamp,
                from: range.from,
                to: range.to,
            });
        }
        if !self.topics.contains(&message.topic) {
            return Err(Error::TopicNotAllowed {
                hash: message.hash_hex(),
                topic: message.topic.to_string(),
            });
        }
        if let Some((ts, hash)) = &self.last
            && (*ts, hash.as_slice()) >= message.order_key()
        {
            return Err(Error::OutOfOrder {
                hash: message.hash_hex(),
                timestamp: message.timestamp,
            });
        }
        // Reusing the previous key's buffer saves an allocation per message.
        match &mut self.last {
            Some((ts, hash)) => {
                *ts = message.timestamp;
                hash.clear();
                hash.extend_from_slice(&message.hash);
            }
            None => self.last = Some((message.timestamp, message.hash.clone())),
        }

        let size = message.chunk_size();
        if size > self.max_chunk {
            return Ok(Placement::Drop);
        }
        Ok(match self.chunk {
            Some(used) if used + size <= self.max_chunk => {
                self.chunk = Some(used + size);
                Placement::Append
            }
            _ => {
                self.chunk = Some(size);
                Placement::StartNew
            }
        })
    }
}
