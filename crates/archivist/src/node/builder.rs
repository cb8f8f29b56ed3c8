//! [`NodeBuilder`]: what a node is built from, and `start`, where every
//! layer is wired together in order (identity, store, networks, transport,
//! dispatcher, schedulers, then the configured communities).

use std::{
    fmt,
    sync::{Arc, Mutex},
};

use archive_backend::DynBackend;
use archive_dispatch::{CommunityKey, Dispatcher, NODE_IDENTITY_FILE, NodeIdentity, Transport};
use archive_index::LinkKind;
use archive_scheduler::{Clock, Scheduler, TokioClock};
use archive_store::Store;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{Inner, Network, Node};
use crate::{
    config::Config,
    encryption::{Keyrings, keys_inbox, watch_inbox},
    error::{Error, Result},
    event::{EventSender, NodeEvent},
    member::JoinOptions,
    networks::Networks,
    owner::{OwnOptions, OwnedCommunities, OwnerContext},
};

/// Sets up a [`Node`]: its configuration plus what cannot come from a file.
pub struct NodeBuilder {
    config: Config,
    transport: Option<Arc<dyn Transport>>,
    clock: Option<Arc<dyn Clock>>,
    backends: Vec<DynBackend>,
    events: EventSender,
}

impl fmt::Debug for NodeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeBuilder")
            .field("config", &self.config)
            .field("transport", &self.transport.is_some())
            .field("clock", &self.clock)
            .field("backends", &self.backends)
            .finish()
    }
}

impl NodeBuilder {
    pub(super) fn new(config: Config, events: EventSender) -> NodeBuilder {
        NodeBuilder {
            config,
            transport: None,
            clock: None,
            backends: Vec::new(),
            events,
        }
    }

    /// Carries announcements over `transport` (an in-memory hub, say)
    /// instead of a Waku node of the node's own.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> NodeBuilder {
        self.transport = Some(transport);
        self
    }

    /// Adds a storage network of the embedding program's own, beside the
    /// configured ones: the node archives owned communities on it, announces
    /// its links, and fetches from it, under the name its
    /// [`link_kind`](archive_backend::Backend::link_kind) gives (the name
    /// `joined.prefer` and the events and status use). Two backends of one
    /// name fail [`start`](NodeBuilder::start).
    pub fn backend(mut self, backend: DynBackend) -> NodeBuilder {
        self.backends.push(backend);
        self
    }

    /// Every event of the node about to start, from its first on. The
    /// configured communities start archiving and resuming inside
    /// [`start`](NodeBuilder::start), so a listener taken afterwards with
    /// [`Node::events`] can miss their first events (a fast first archive
    /// run's `historyArchivesSeeding`, say); a listener taken here cannot.
    pub fn events(&self) -> broadcast::Receiver<NodeEvent> {
        self.events.subscribe()
    }

    /// Reads archive time from `clock` instead of the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> NodeBuilder {
        self.clock = Some(clock);
        self
    }

    /// Opens the store, starts the networks and the transport, and adds the
    /// configured communities: owned ones re-seed their last link and
    /// announce it again (spec d.1), joined ones resume what a previous run
    /// left unfinished.
    pub async fn start(self) -> Result<Node> {
        let config = self.config;
        std::fs::create_dir_all(&config.data_dir).map_err(|source| Error::Io {
            path: config.data_dir.clone(),
            source,
        })?;
        // Every frame this node sends is signed with it; a signer that
        // changed on each start would look like a new device to status-go.
        let identity_path = config.data_dir.join(NODE_IDENTITY_FILE);
        let identity =
            NodeIdentity::load_or_create(&identity_path).map_err(|source| Error::NodeIdentity {
                path: identity_path.clone(),
                source,
            })?;
        let store = Store::open(config.store_path()).await?;
        let keyrings = Arc::new(Keyrings::new(identity.installation_id())?);
        let mut engines = Networks::start(&config, self.backends).await?;
        // A preferred network must be one this node runs; the file cannot
        // know which backends the program adds, so it is checked here.
        for (i, joined) in config.joined.iter().enumerate() {
            if let Some(prefer) = &joined.prefer
                && engines.backend(prefer).is_none()
            {
                let enabled: Vec<_> = engines.kinds().iter().map(ToString::to_string).collect();
                return Err(Error::Config(crate::ConfigError::Invalid {
                    key: format!("joined[{i}].prefer"),
                    message: format!(
                        "the network \"{prefer}\" is not enabled (enabled: {})",
                        enabled.join(", ")
                    ),
                }));
            }
        }
        let transport = match self.transport {
            Some(transport) => transport,
            None if config.waku.enabled => engines.start_waku(&config).await?,
            None => {
                return Err(Error::Config(crate::ConfigError::Invalid {
                    key: "waku.enabled".to_owned(),
                    message: "a node needs a transport for announcements: enable waku, or \
                              hand one to NodeBuilder::transport"
                        .to_owned(),
                }));
            }
        };
        let dispatcher = Dispatcher::with_identity(
            transport,
            archive_dispatch::Config {
                quiet_period: config.quiet_period,
                ..archive_dispatch::Config::default()
            },
            identity,
        );
        let clock = self.clock.unwrap_or_else(|| Arc::new(TokioClock::system()));
        let events = self.events;
        let shutdown = CancellationToken::new();
        let owner = OwnerContext {
            store: store.clone(),
            dispatcher: dispatcher.clone(),
            events: events.clone(),
            shutdown: shutdown.clone(),
            owned: OwnedCommunities::default(),
            kinds: engines.kinds(),
            reannounce_interval: config.reannounce_interval,
            link_reply_interval: config.link_reply_interval,
            failures: Default::default(),
            keyrings: Arc::clone(&keyrings),
            #[cfg(feature = "waku")]
            ingest_from: engines.waku.clone().filter(|_| config.waku.ingest),
        };
        let mut networks = Vec::new();
        for (kind, backend) in std::mem::take(&mut engines.started) {
            let scheduler = Scheduler::new(
                store.clone(),
                Arc::clone(&backend),
                Arc::clone(&clock),
                archive_scheduler::Config::default()
                    .with_interval(config.archive_interval)
                    // A Codex unseed deletes the index from the node: pausing
                    // archiving keeps what is published, and only a replaced
                    // link or leaving the community deletes. A torrent stops
                    // being seeded, as status-go does.
                    .with_unseed_on_stop(kind == LinkKind::TORRENT),
                Arc::new(owner.announcer(backend.name())),
            )?;
            networks.push(Network {
                kind,
                backend,
                scheduler,
            });
        }
        let node = Node {
            inner: Arc::new(Inner {
                config,
                store,
                engines,
                networks,
                dispatcher,
                owner,
                members: Mutex::default(),
                keyrings,
                events,
                shutdown,
            }),
        };
        for owned in node.inner.config.owned.clone() {
            let key = CommunityKey::read_file(&owned.key_file).map_err(|source| Error::Key {
                path: owned.key_file.clone(),
                source,
            })?;
            let options = OwnOptions::new(owned.topics)
                .with_archiving(owned.archiving)
                .with_encrypted(owned.encrypted);
            node.add_owned_with(key, options).await?;
        }
        for joined in node.inner.config.joined.clone() {
            let options = JoinOptions::default()
                .with_prefer(joined.prefer)
                .with_download(joined.download)
                .with_encrypted(joined.encrypted);
            node.join_with(joined.community, options).await?;
        }
        // Key files handed to the running node (`archivist keys import`
        // while the node holds the store); the task holds no node handle.
        let (store, keyrings) = (node.inner.store.clone(), Arc::clone(&node.inner.keyrings));
        tokio::spawn(watch_inbox(
            keys_inbox(&node.inner.config.data_dir),
            node.inner.shutdown.clone(),
            move |keys| {
                let (store, keyrings) = (store.clone(), Arc::clone(&keyrings));
                Box::pin(async move { keyrings.import(&store, keys).await.map(drop) })
            },
        ));
        Ok(node)
    }
}
