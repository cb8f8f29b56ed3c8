//! Glue between keys, rules, debounce and a transport: the owner publishes
//! announcements on its community's channel; a member's listener turns what
//! arrives into accepted announcements or rejections with reasons.

use std::{fmt, sync::Arc, time::Duration};

use archive_index::CommunityId;
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tokio::{sync::mpsc, task::JoinHandle};

use crate::{
    announcement::{Announcement, LinkKind, MAX_WIRE_SIZE, open_announcement, sign_announcement},
    channel::Channel,
    debounce::{DEFAULT_QUIET_PERIOD, Debouncer},
    error::Result,
    key::CommunityKey,
    rules::{CommunityView, Rejection, check},
    transport::{Received, Subscription, Transport},
};

/// Tunables of a [`Dispatcher`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispatchConfig {
    /// How long a community must be quiet before its newest announcement is
    /// accepted.
    pub quiet_period: Duration,
    /// Received messages larger than this are rejected before decoding.
    pub max_message_size: usize,
    /// How many events a [`Listener`] buffers before the receive loop waits
    /// for the consumer.
    pub event_capacity: usize,
}

impl Default for DispatchConfig {
    fn default() -> DispatchConfig {
        DispatchConfig {
            quiet_period: DEFAULT_QUIET_PERIOD,
            max_message_size: MAX_WIRE_SIZE,
            event_capacity: 64,
        }
    }
}

/// The member's state, looked up for each verified announcement: `None` when
/// the signer is not a community this node knows.
///
/// Async so an implementation can read a store off the runtime's threads.
#[async_trait]
pub trait CommunityLookup: Send + Sync {
    /// The view of `community` for links of `kind`.
    async fn view(&self, community: CommunityId, kind: LinkKind) -> Option<CommunityView>;
}

/// What a listener reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// An announcement that passed every rule and the quiet period: the caller
    /// should now record its clock and fetch the link.
    Accepted(Announcement),
    /// A message that will not be acted on, and why. `announcement` is `None`
    /// when the message could not be decoded or verified.
    Rejected {
        /// The verified announcement, if it got that far.
        announcement: Option<Announcement>,
        /// The reason.
        rejection: Rejection,
    },
}

/// Publishes and receives announcements over a [`Transport`].
#[derive(Clone)]
pub struct Dispatcher {
    transport: Arc<dyn Transport>,
    config: DispatchConfig,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher on `transport`.
    pub fn new(transport: Arc<dyn Transport>, config: DispatchConfig) -> Dispatcher {
        Dispatcher { transport, config }
    }

    /// Signs an announcement of `link` with the community key and publishes it
    /// on the community's channel for `kind` (spec c.8, h.2). Returns what was
    /// announced, for the owner to record its clock.
    pub async fn announce(
        &self,
        key: &CommunityKey,
        kind: LinkKind,
        clock: u64,
        link: &str,
    ) -> Result<Announcement> {
        let wire = sign_announcement(key, kind, clock, link)?;
        let community = key.community_id();
        let channel = Channel::for_announcement(&community, kind);
        self.transport
            .publish(&channel.content_topic, Bytes::from(wire))
            .await?;
        Ok(Announcement {
            community,
            kind,
            clock,
            link: link.to_owned(),
        })
    }

    /// Listens for announcements of `communities` on all their channels.
    ///
    /// Each message is verified and checked against `lookup` on arrival (so
    /// rejections are reported at once), debounced, and checked again when
    /// its quiet period ends, against the state of that moment.
    pub async fn listen(
        &self,
        communities: &[CommunityId],
        lookup: Arc<dyn CommunityLookup>,
    ) -> Result<Listener> {
        let topics: Vec<String> = communities
            .iter()
            .flat_map(|c| Channel::all_for(c).map(|channel| channel.content_topic))
            .collect();
        let messages = self.transport.subscribe(&topics).await?;
        let (events, receiver) = mpsc::channel(self.config.event_capacity.max(1));
        let task = tokio::spawn(receive_loop(messages, lookup, self.config.clone(), events));
        Ok(Listener {
            events: receiver,
            task,
        })
    }
}

/// The receiving side of [`Dispatcher::listen`]. Dropping it stops the loop.
#[derive(Debug)]
pub struct Listener {
    events: mpsc::Receiver<Event>,
    task: JoinHandle<()>,
}

impl Listener {
    /// The next event; `None` once the transport's stream has ended.
    pub async fn next(&mut self) -> Option<Event> {
        self.events.recv().await
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive_loop(
    mut messages: Subscription,
    lookup: Arc<dyn CommunityLookup>,
    config: DispatchConfig,
    events: mpsc::Sender<Event>,
) {
    let mut debouncer = Debouncer::new(config.quiet_period);
    loop {
        let event = tokio::select! {
            received = messages.next() => match received {
                Some(received) => on_received(received, &*lookup, &config, &mut debouncer).await,
                None => break,
            },
            due = debouncer.ready() => Some(on_quiet(due, &*lookup).await),
        };
        if let Some(event) = event
            && events.send(event).await.is_err()
        {
            break;
        }
    }
}

async fn on_received(
    received: Received,
    lookup: &dyn CommunityLookup,
    config: &DispatchConfig,
    debouncer: &mut Debouncer,
) -> Option<Event> {
    let announcement = match open_announcement(&received.payload, config.max_message_size) {
        Ok(announcement) => announcement,
        Err(error) => {
            return Some(Event::Rejected {
                announcement: None,
                rejection: Rejection::Invalid(error),
            });
        }
    };
    let view = lookup.view(announcement.community, announcement.kind).await;
    if let Err(rejection) = check(&announcement, view.as_ref()) {
        return Some(Event::Rejected {
            announcement: Some(announcement),
            rejection,
        });
    }
    debouncer
        .push(announcement)
        .map(|(dropped, rejection)| Event::Rejected {
            announcement: Some(dropped),
            rejection,
        })
}

async fn on_quiet(announcement: Announcement, lookup: &dyn CommunityLookup) -> Event {
    let view = lookup.view(announcement.community, announcement.kind).await;
    match check(&announcement, view.as_ref()) {
        Ok(()) => Event::Accepted(announcement),
        Err(rejection) => Event::Rejected {
            announcement: Some(announcement),
            rejection,
        },
    }
}
