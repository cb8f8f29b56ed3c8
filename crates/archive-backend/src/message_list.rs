//! A [`MessageSource`] over messages held in memory.

use archive_index::{Message, TimeRange, Topic};
use futures::stream::{self, BoxStream, StreamExt};

use crate::{backend::MessageSource, error::Result};

/// Messages held in memory, served in (timestamp, hash) order, the later of
/// two messages with one hash winning (as the store's `INSERT OR REPLACE`).
#[derive(Clone, Debug, Default)]
pub struct MessageList {
    sorted: Vec<Message>,
}

impl MessageList {
    /// A source over `messages`.
    pub fn new(messages: Vec<Message>) -> MessageList {
        let mut latest = std::collections::HashMap::with_capacity(messages.len());
        for m in messages {
            latest.insert(m.hash.clone(), m);
        }
        let mut sorted: Vec<Message> = latest.into_values().collect();
        sorted.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        MessageList { sorted }
    }

    /// Adds messages (as a store insert would).
    pub fn extend(&mut self, messages: Vec<Message>) {
        let mut all = std::mem::take(&mut self.sorted);
        all.extend(messages);
        *self = MessageList::new(all);
    }
}

impl MessageSource for MessageList {
    fn messages(&self, topics: &[Topic], range: TimeRange) -> BoxStream<'_, Result<Message>> {
        let topics = topics.to_vec();
        stream::iter(
            self.sorted
                .iter()
                .filter(move |m| range.contains(m.timestamp) && topics.contains(&m.topic))
                .cloned()
                .map(Ok),
        )
        .boxed()
    }
}
