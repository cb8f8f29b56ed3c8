//! Walking a publish request partition by partition, so every backend builds
//! archives from the same sequence of events.

use std::future::Future;

use archive_index::{Message, TimeRange, partitions};
use futures::StreamExt;

use crate::{
    backend::PublishRequest,
    error::{Error, ErrorKind, Result},
};

/// One step of a publish: a partition opens, one of its messages, it closes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartitionItem {
    /// A partition with at least one message begins.
    Begin(TimeRange),
    /// The next message of the open partition, in (timestamp, hash) order.
    Message(Message),
    /// The open partition ends.
    End(TimeRange),
}

/// Hands `sink` every partition of `request` that has messages: `Begin`, its
/// messages, `End`. Partitions without messages produce nothing, so no empty
/// archive can be built. The first error, from the source or the sink, stops
/// the walk.
pub async fn feed_partitions<F, Fut>(request: &PublishRequest<'_>, mut sink: F) -> Result<()>
where
    F: FnMut(PartitionItem) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let parts = partitions(request.range, request.interval).map_err(|e| {
        Error::new(
            ErrorKind::InvalidInput,
            "publish",
            "bad archive range or interval",
        )
        .with_source(e)
    })?;
    for part in parts {
        let mut messages = request.messages.messages(&request.topics, part);
        let mut open = false;
        while let Some(message) = messages.next().await {
            let message = message?;
            if !open {
                sink(PartitionItem::Begin(part)).await?;
                open = true;
            }
            sink(PartitionItem::Message(message)).await?;
        }
        if open {
            sink(PartitionItem::End(part)).await?;
        }
    }
    Ok(())
}
