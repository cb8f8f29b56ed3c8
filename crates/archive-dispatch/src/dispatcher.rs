//! Glue between keys, rules, debounce and a transport: the owner publishes
//! announcements on its community's channel in status-go's wire format; a
//! member's listener opens what arrives and turns it into accepted
//! announcements or rejections with reasons.

use std::{
    collections::HashMap,
    fmt,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use archive_index::CommunityId;
use async_trait::async_trait;
use futures::StreamExt;
use tokio::{sync::mpsc, task::JoinHandle};

use crate::{
    announcement::{Announcement, LinkKind, MAX_WIRE_SIZE, link_kind},
    channel::Channel,
    debounce::{DEFAULT_QUIET_PERIOD, Debouncer},
    error::{Error, Result},
    identity::NodeIdentity,
    key::CommunityKey,
    request::{LinkRequest, decode_link_request, encode_link_request},
    rules::{CommunityView, Rejection, check},
    transport::{Received, Subscription, Transport},
    wire::{OsEntropy, encode_announcement, open_on_channel},
};

/// Tunables of a [`Dispatcher`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// How long a community must be quiet before its newest announcement is
    /// accepted.
    pub quiet_period: Duration,
    /// Received messages larger than this are rejected before decoding.
    pub max_message_size: usize,
    /// How many events a [`Listener`] buffers before the receive loop waits
    /// for the consumer.
    pub event_capacity: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
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
    /// A verified announcement of the link this member already has (fetched,
    /// or already waiting out the quiet period): an owner's periodic
    /// re-announcement or its answer to a link request. Informational, not a
    /// rejection; there is nothing new to act on.
    Repeated(Announcement),
    /// A message that will not be acted on, and why. `announcement` is `None`
    /// when the message could not be decoded or verified; such a message never
    /// reaches the debouncer, so it supersedes nothing.
    Rejected {
        /// The verified announcement, if it got that far.
        announcement: Option<Announcement>,
        /// The reason.
        rejection: Rejection,
    },
}

/// Publishes and receives announcements over a [`Transport`], in status-go's
/// wire format ([`crate::wire`]).
#[derive(Clone)]
pub struct Dispatcher {
    transport: Arc<dyn Transport>,
    config: Config,
    identity: Arc<NodeIdentity>,
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("config", &self.config)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher on `transport` with a new, unsaved node identity: fine for
    /// tests and one-off tools; a node that runs for long should keep its
    /// identity across restarts with [`Dispatcher::with_identity`].
    pub fn new(transport: Arc<dyn Transport>, config: Config) -> Dispatcher {
        Dispatcher::with_identity(transport, config, NodeIdentity::generate())
    }

    /// A dispatcher on `transport` that signs frames as `identity` (see
    /// [`NodeIdentity::load_or_create`]).
    pub fn with_identity(
        transport: Arc<dyn Transport>,
        config: Config,
        identity: NodeIdentity,
    ) -> Dispatcher {
        Dispatcher {
            transport,
            config,
            identity: Arc::new(identity),
        }
    }

    /// The identity frames are signed with.
    pub fn identity(&self) -> &NodeIdentity {
        &self.identity
    }

    /// Signs an announcement of `link` with the community key and publishes it
    /// on the community's `-memberUpdate` channel as status-go does (type 43
    /// for either kind; `kind` must be the kind of `link`). Returns what was
    /// announced, for the owner to record its clock.
    pub async fn announce(
        &self,
        key: &CommunityKey,
        kind: LinkKind,
        clock: u64,
        link: &str,
    ) -> Result<Announcement> {
        let actual = link_kind(link)?;
        if actual != kind {
            return Err(Error::LinkKindMismatch {
                declared: kind,
                actual,
            });
        }
        let community = key.community_id();
        let message =
            encode_announcement(key, &self.identity, link, clock, now_ns(), &mut OsEntropy)?;
        self.transport.publish_outbound(&message).await?;
        Ok(Announcement {
            community,
            kind,
            clock,
            link: link.to_owned(),
        })
    }

    /// Asks the owner of `community` for its current link: publishes a link
    /// request ([`crate::request`]) on the community's request channel. The
    /// answer, if any, is the owner's ordinary signed announcement, heard by
    /// [`Dispatcher::listen`].
    pub async fn request_link(&self, community: &CommunityId) -> Result<()> {
        let message = encode_link_request(community, &self.identity, now_ns(), &mut OsEntropy)?;
        self.transport.publish_outbound(&message).await
    }

    /// Listens for link requests for `communities` (the ones this node
    /// owns). Payloads that are not valid requests are yielded as errors, for
    /// the caller to log; they ask nothing of it.
    pub async fn listen_link_requests(
        &self,
        communities: &[CommunityId],
    ) -> Result<LinkRequestListener> {
        let by_topic: HashMap<String, CommunityId> = communities
            .iter()
            .map(|c| (Channel::link_request(c).content_topic, *c))
            .collect();
        let warm: Vec<CommunityId> = communities.to_vec();
        tokio::task::spawn_blocking(move || {
            for community in &warm {
                Channel::link_request(community).symmetric_key();
            }
        })
        .await
        .map_err(|e| Error::Transport(format!("deriving chat keys: {e}")))?;
        let topics: Vec<String> = by_topic.keys().cloned().collect();
        let messages = self.transport.subscribe(&topics).await?;
        Ok(LinkRequestListener { messages, by_topic })
    }

    /// Listens for announcements of `communities` on all their channels
    /// (`-memberUpdate` and the legacy `-magnetlinks`).
    ///
    /// Each message is opened with its channel's key and verified, then
    /// checked against `lookup` for the community that signed it, on arrival
    /// (so rejections are reported at once); only then is it debounced, and
    /// checked again when its quiet period ends, against the state of that
    /// moment.
    pub async fn listen(
        &self,
        communities: &[CommunityId],
        lookup: Arc<dyn CommunityLookup>,
    ) -> Result<Listener> {
        let channels: HashMap<String, Channel> = communities
            .iter()
            .flat_map(Channel::all_for)
            .map(|channel| (channel.content_topic.clone(), channel))
            .collect();
        // Derive the chat keys now (65356 PBKDF2 rounds each, then cached)
        // rather than on the first message.
        let warm: Vec<Channel> = channels.values().cloned().collect();
        tokio::task::spawn_blocking(move || {
            for channel in &warm {
                channel.symmetric_key();
            }
        })
        .await
        .map_err(|e| Error::Transport(format!("deriving chat keys: {e}")))?;
        let topics: Vec<String> = channels.keys().cloned().collect();
        let messages = self.transport.subscribe(&topics).await?;
        let (events, receiver) = mpsc::channel(self.config.event_capacity.max(1));
        let task = tokio::spawn(receive_loop(
            messages,
            channels,
            lookup,
            self.config.clone(),
            events,
        ));
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

/// The receiving side of [`Dispatcher::listen_link_requests`].
pub struct LinkRequestListener {
    messages: Subscription,
    by_topic: HashMap<String, CommunityId>,
}

impl fmt::Debug for LinkRequestListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkRequestListener")
            .field("communities", &self.by_topic.len())
            .finish_non_exhaustive()
    }
}

impl LinkRequestListener {
    /// The next received request, or why a message on a request channel is
    /// not one; `None` once the transport's stream has ended.
    pub async fn next(&mut self) -> Option<Result<LinkRequest>> {
        let received = self.messages.next().await?;
        Some(match self.by_topic.get(&received.content_topic) {
            Some(community) => {
                decode_link_request(community, &received.content_topic, &received.payload)
            }
            None => Err(Error::UnknownContentTopic {
                content_topic: received.content_topic,
            }),
        })
    }
}

/// Unix time in nanoseconds, the Waku timestamp unit.
fn now_ns() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX)
}

async fn receive_loop(
    mut messages: Subscription,
    channels: HashMap<String, Channel>,
    lookup: Arc<dyn CommunityLookup>,
    config: Config,
    events: mpsc::Sender<Event>,
) {
    let mut debouncer = Debouncer::new(config.quiet_period);
    loop {
        let event = tokio::select! {
            received = messages.next() => match received {
                Some(received) => {
                    on_received(received, &channels, &*lookup, &config, &mut debouncer).await
                }
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
    channels: &HashMap<String, Channel>,
    lookup: &dyn CommunityLookup,
    config: &Config,
    debouncer: &mut Debouncer,
) -> Option<Event> {
    let opened = match channels.get(&received.content_topic) {
        Some(channel) => open_on_channel(channel, &received.payload, config.max_message_size),
        None => Err(Error::UnknownContentTopic {
            content_topic: received.content_topic,
        }),
    };
    let announcement = match opened {
        Ok(verified) => verified.announcement(),
        Err(error) => {
            return Some(Event::Rejected {
                announcement: None,
                rejection: Rejection::Invalid(error),
            });
        }
    };
    let view = lookup
        .view(announcement.community, announcement.kind.clone())
        .await;
    if let Err(rejection) = check(&announcement, view.as_ref()) {
        return Some(rejected(announcement, rejection));
    }
    debouncer
        .push(announcement)
        .map(|(dropped, rejection)| rejected(dropped, rejection))
}

/// A refusal, except that the link already known is no refusal: a repeat is
/// what owners send on purpose (periodically, and to answer requests).
fn rejected(announcement: Announcement, rejection: Rejection) -> Event {
    match rejection {
        Rejection::AlreadySeen { .. } => Event::Repeated(announcement),
        rejection => Event::Rejected {
            announcement: Some(announcement),
            rejection,
        },
    }
}

async fn on_quiet(announcement: Announcement, lookup: &dyn CommunityLookup) -> Event {
    let view = lookup
        .view(announcement.community, announcement.kind.clone())
        .await;
    match check(&announcement, view.as_ref()) {
        Ok(()) => Event::Accepted(announcement),
        Err(rejection) => rejected(announcement, rejection),
    }
}
