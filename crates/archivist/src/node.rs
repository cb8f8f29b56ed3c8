//! [`Node`]: the store, the storage networks, the announcement transport and
//! the archive schedulers of one Archivist, and the communities it owns and
//! has joined.

use std::{
    collections::HashMap,
    fmt,
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
};

use archive_backend::{DynBackend, Link};
use archive_dispatch::{CommunityKey, Dispatcher};
use archive_index::{CommunityId, DownloadPolicy, LinkKind, Topic};
use archive_scheduler::{CommunityArchive, RunOutcome, Scheduler};
use archive_store::Store;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::{
    config::Config,
    encryption::Keyrings,
    error::{Error, Result},
    event::{EventSender, NodeEvent},
    member::{JoinOptions, Member, MemberContext},
    networks::Networks,
    owner::{self, OwnOptions, OwnerContext},
    status::{CommunityStatus, NetworkStatus},
};

/// How long `status` waits for an index to count archives.
const STATUS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Events a listener may fall behind by before it misses some.
const EVENT_CAPACITY: usize = 1024;

mod builder;

pub use builder::NodeBuilder;

/// One enabled storage network: its backend, and the scheduler archiving
/// the owned communities on it.
struct Network {
    kind: LinkKind,
    backend: DynBackend,
    scheduler: Scheduler,
}

/// What the node's handles share. The owner's and the member's sides get
/// their own narrow contexts ([`OwnerContext`], [`MemberContext`]) instead.
struct Inner {
    config: Config,
    store: Store,
    /// The engines behind the backends, to stop them and say where they
    /// listen.
    engines: Networks,
    /// The enabled networks: the configured ones in
    /// [`Config::enabled_kinds`] order, then those the program added.
    networks: Vec<Network>,
    dispatcher: Dispatcher,
    /// The owner's side, with the communities this node owns.
    owner: OwnerContext,
    members: Mutex<HashMap<CommunityId, Member>>,
    /// Encrypted communities' keyrings, owned and joined.
    keyrings: Arc<Keyrings>,
    events: EventSender,
    shutdown: CancellationToken,
}

impl Inner {
    fn lock_members(&self) -> std::sync::MutexGuard<'_, HashMap<CommunityId, Member>> {
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn backend(&self, kind: &LinkKind) -> Option<&DynBackend> {
        self.networks
            .iter()
            .find(|n| n.kind == *kind)
            .map(|n| &n.backend)
    }

    /// The enabled networks' names, in the order they were started.
    fn kinds(&self) -> Vec<LinkKind> {
        self.networks.iter().map(|n| n.kind.clone()).collect()
    }

    /// What a member of `community` uses, its networks ordered with
    /// `prefer` first.
    fn member_context(
        &self,
        community: CommunityId,
        prefer: Option<LinkKind>,
        policy: DownloadPolicy,
        encrypted: Option<crate::encryption::Encrypted>,
    ) -> MemberContext {
        let mut networks: Vec<_> = self
            .networks
            .iter()
            .map(|n| (n.kind.clone(), Arc::clone(&n.backend)))
            .collect();
        if let Some(at) = networks
            .iter()
            .position(|(kind, _)| Some(kind) == prefer.as_ref())
        {
            let preferred = networks.remove(at);
            networks.insert(0, preferred);
        }
        MemberContext {
            community,
            networks,
            store: self.store.clone(),
            dispatcher: self.dispatcher.clone(),
            events: self.events.clone(),
            shutdown: self.shutdown.clone(),
            owned: self.owner.owned.clone(),
            request_link_on_join: self.config.request_link_on_join,
            import: self.config.import.clone(),
            policy,
            encrypted,
        }
    }
}

impl Drop for Inner {
    /// The last handle is gone: whatever the owner's and member's tasks
    /// still run ends with it (they hold no handle to the node).
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// An Archivist node.
///
/// It owns communities (archives their messages on every enabled network
/// and announces the links, signed with the community key) and joins
/// communities (verifies announcements, fetches the archives it misses,
/// imports them and keeps serving them). Cheap to clone; every clone is the
/// same node.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("data_dir", &self.inner.config.data_dir)
            .field("networks", &self.inner.kinds())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A builder for a node on `config`.
    pub fn builder(config: Config) -> NodeBuilder {
        NodeBuilder::new(config, EventSender::new(EVENT_CAPACITY))
    }

    /// Starts a node on `config` with its own Waku node and the system clock.
    pub async fn start(config: Config) -> Result<Node> {
        Node::builder(config).start().await
    }

    /// The configuration the node runs on.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The key this node signs its frames with and its installation ID,
    /// kept in `<data_dir>/node-identity.key` across restarts.
    pub fn identity(&self) -> &archive_dispatch::NodeIdentity {
        self.inner.dispatcher.identity()
    }

    /// The node's store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Every event from now on. A listener that falls more than 1024 events
    /// behind misses the oldest (and is told so by the receiver).
    pub fn events(&self) -> broadcast::Receiver<NodeEvent> {
        self.inner.events.subscribe()
    }

    /// Where the BitTorrent engine accepts peers, if enabled.
    pub fn torrent_listen_addr(&self) -> Option<SocketAddr> {
        self.inner.engines.torrent_listen_addr()
    }

    /// Bytes fetched over BitTorrent for `community` since the node started.
    pub fn torrent_fetched_bytes(&self, community: &CommunityId) -> u64 {
        self.inner.engines.torrent_fetched_bytes(community)
    }

    /// BitTorrent's traffic for `community` since its torrent started on
    /// this node: bytes fetched, bytes served to peers, peers connected now
    /// (all zero without a BitTorrent engine or an active torrent).
    pub fn torrent_traffic(&self, community: &CommunityId) -> (u64, u64, u32) {
        self.inner.engines.torrent_traffic(community)
    }

    /// The node's Waku relay node, when it runs one.
    #[cfg(feature = "waku")]
    pub fn waku(&self) -> Option<&transport_waku::WakuNode> {
        self.inner.engines.waku.as_deref()
    }

    /// Takes ownership of a community: its archive tasks start on every
    /// network (if `archiving`), its last links are seeded and announced
    /// again, and with Waku ingestion on, messages relayed on `topics` are
    /// stored. `topics` become the community's in the store; a topic another
    /// community owns there fails with
    /// [`archive_store::Error::TopicOfAnotherCommunity`].
    pub async fn add_owned(
        &self,
        key: CommunityKey,
        topics: Vec<Topic>,
        archiving: bool,
    ) -> Result<()> {
        self.add_owned_with(key, OwnOptions::new(topics).with_archiving(archiving))
            .await
    }

    /// [`Node::add_owned`] with `options`, which also say whether the
    /// community is encrypted: then every archive and index is sealed with
    /// its newest hash-ratchet key (one is made and stored when there is
    /// none; `archivist keys export` gives it to members).
    pub async fn add_owned_with(&self, key: CommunityKey, options: OwnOptions) -> Result<()> {
        let OwnOptions {
            topics,
            archiving,
            encrypted,
        } = options;
        let community = key.community_id();
        if self.inner.owner.owned.contains(&community) {
            return Err(Error::AlreadyAdded(community));
        }
        // The configured topics are this community's before any archive
        // arrives, so no other community's archive can claim them.
        self.inner
            .store
            .claim_topics(community, topics.clone())
            .await?;
        let encrypted = if encrypted {
            Some(
                self.inner
                    .keyrings
                    .open_for_owner(&self.inner.store, community)
                    .await?,
            )
        } else {
            None
        };
        let owned = owner::Owned::start(&self.inner.owner, key, topics, encrypted).await?;
        self.inner.owner.owned.lock().insert(community, owned);
        if archiving {
            self.set_archiving(&community, true).await?;
        }
        Ok(())
    }

    /// Starts or stops archiving an owned community. Stopping waits for a
    /// run in progress and stops seeding its torrent; what it published on
    /// Codex stays there.
    pub async fn set_archiving(&self, community: &CommunityId, on: bool) -> Result<()> {
        let (topics, envelope) = self
            .inner
            .owner
            .owned
            .lock()
            .get(community)
            .map(|o| (o.topics.clone(), o.encrypted.as_ref().map(|e| e.shared())))
            .ok_or(Error::NotOwned(*community))?;
        for Network { scheduler, .. } in &self.inner.networks {
            if on && !scheduler.is_scheduled(community) {
                let archive = CommunityArchive::new(*community, topics.clone())
                    .with_envelope(envelope.clone());
                scheduler.schedule(archive).await?;
            } else if !on {
                scheduler.stop(community).await;
            }
        }
        Ok(())
    }

    /// Archives an owned community now on every network, without waiting
    /// for its next tick, and says what each run did.
    pub async fn archive_now(
        &self,
        community: &CommunityId,
    ) -> Result<Vec<(&'static str, RunOutcome)>> {
        if !self.inner.owner.owned.contains(community) {
            return Err(Error::NotOwned(*community));
        }
        let mut outcomes = Vec::new();
        for Network {
            backend, scheduler, ..
        } in &self.inner.networks
        {
            outcomes.push((backend.name(), scheduler.archive_now(community).await?));
        }
        Ok(outcomes)
    }

    /// Joins a community: its announcements are verified and acted on, and
    /// whatever a previous run left unfinished (downloaded but not imported
    /// archives, an unfinished download) is resumed. `prefer` picks the
    /// network tried first when the owner announces both. Every archive is
    /// downloaded; [`Node::join_with`] chooses.
    pub async fn join(&self, community: CommunityId, prefer: Option<LinkKind>) -> Result<()> {
        self.join_with(community, JoinOptions::default().with_prefer(prefer))
            .await
    }

    /// [`Node::join`] with `options`: which network first, and which
    /// archives to download. Leaving and joining again with a wider policy
    /// fetches only what is still missing.
    pub async fn join_with(&self, community: CommunityId, options: JoinOptions) -> Result<()> {
        if self.inner.lock_members().contains_key(&community) {
            return Err(Error::AlreadyAdded(community));
        }
        let encrypted = if options.encrypted {
            Some(
                self.inner
                    .keyrings
                    .open(&self.inner.store, community)
                    .await?,
            )
        } else {
            None
        };
        let context =
            self.inner
                .member_context(community, options.prefer, options.download, encrypted);
        let member = Member::start(context).await?;
        self.inner.lock_members().insert(community, member);
        Ok(())
    }

    /// Stores hash-ratchet keys (a key file's, grouped by community) and
    /// puts them to use at once: an owner seals its next archive with the
    /// newest (a rekey), and a member's archives that waited for one of
    /// them are imported now, without a restart. Importing a key again
    /// adds nothing.
    pub async fn import_keys(
        &self,
        keys: Vec<archive_crypto::HrKey>,
    ) -> Result<Vec<(CommunityId, archive_store::KeysImported)>> {
        self.inner.keyrings.import(&self.inner.store, keys).await
    }

    /// Leaves a community: its archive tasks and downloads stop and this node
    /// no longer serves its archives. Stored messages and files stay.
    pub async fn leave(&self, community: &CommunityId) -> Result<()> {
        let member = self.inner.lock_members().remove(community);
        let owned = self.inner.owner.owned.lock().remove(community);
        if member.is_none() && owned.is_none() {
            return Err(Error::Unknown(*community));
        }
        if let Some(member) = member {
            member.stop().await;
        }
        if owned.is_some() {
            for Network { scheduler, .. } in &self.inner.networks {
                scheduler.stop(community).await;
            }
        }
        // Whatever the role, nothing of the community is served any more.
        for Network { kind, backend, .. } in &self.inner.networks {
            if let Some(link) = self.last_link(community, kind.clone()).await? {
                let _ = backend.unseed(community, &link).await;
            }
        }
        Ok(())
    }

    /// The communities this node owns and has joined.
    pub fn communities(&self) -> (Vec<CommunityId>, Vec<CommunityId>) {
        let mut owned: Vec<_> = self.inner.owner.owned.lock().keys().copied().collect();
        let mut joined: Vec<_> = self.inner.lock_members().keys().copied().collect();
        owned.sort();
        joined.sort();
        (owned, joined)
    }

    /// What the node knows about `community`.
    pub async fn status(&self, community: &CommunityId) -> Result<CommunityStatus> {
        let owned = self.inner.owner.owned.contains(community);
        let member = self
            .inner
            .lock_members()
            .get(community)
            .map(|m| (m.seeding(), m.downloading()));
        if !owned && member.is_none() {
            return Err(Error::Unknown(*community));
        }
        let mut status =
            CommunityStatus::read(&self.inner.store, *community, &self.inner.kinds()).await?;
        status.owned = owned;
        status.joined = member.is_some();
        status.downloading = member.as_ref().is_some_and(|(_, d)| *d);
        for network in &mut status.networks {
            network.archiving = owned
                && self
                    .inner
                    .networks
                    .iter()
                    .any(|n| n.kind == network.kind && n.scheduler.is_scheduled(community));
            network.seeding = network_seeding(network, owned, member.as_ref().map(|(s, _)| s));
            if let Some(index) = self.current_index(community, network).await {
                let archives: Vec<_> = index
                    .archives
                    .iter()
                    .map(|(id, m)| (*id, m.range))
                    .collect();
                network.set_index(&archives, &status.downloaded);
            }
        }
        Ok(status)
    }

    /// The index of the network's current link, read through the node's own
    /// backend (local files or the local Codex node), if quick.
    async fn current_index(
        &self,
        community: &CommunityId,
        network: &NetworkStatus,
    ) -> Option<archive_backend::RemoteIndex> {
        let link = network
            .fetched_link
            .as_deref()
            .or(network.announced_link.as_deref())
            .and_then(|l| Link::from_announced(network.kind.clone(), l).ok())?;
        let backend = self.inner.backend(&network.kind)?;
        let options = archive_backend::ResolveOptions::with_timeout(STATUS_TIMEOUT);
        let index =
            tokio::time::timeout(STATUS_TIMEOUT, backend.resolve(community, &link, &options))
                .await
                .ok()?
                .ok()?;
        Some(index)
    }

    /// The archives behind `community`'s current link on `kind`, read
    /// through the node's own backend as [`Node::status`] reads them;
    /// `None` when there is no link or its index could not be read quickly.
    pub async fn current_archives(
        &self,
        community: &CommunityId,
        kind: &LinkKind,
    ) -> Result<Option<Vec<(archive_index::ArchiveId, archive_index::TimeRange)>>> {
        let status =
            CommunityStatus::read(&self.inner.store, *community, std::slice::from_ref(kind))
                .await?;
        let Some(network) = status.networks.first() else {
            return Ok(None);
        };
        Ok(self.current_index(community, network).await.map(|index| {
            index
                .archives
                .iter()
                .map(|(id, m)| (*id, m.range))
                .collect()
        }))
    }

    /// The last link of `kind` this node announced or fetched.
    async fn last_link(&self, community: &CommunityId, kind: LinkKind) -> Result<Option<Link>> {
        let store = &self.inner.store;
        let announced = store.announcement(*community, &kind).await?.map(|a| a.link);
        let fetched = store.fetched_link(*community, &kind).await?;
        Ok(fetched
            .or(announced)
            .and_then(|l| Link::from_announced(kind, &l).ok()))
    }

    /// Stops everything gracefully: downloads are cancelled, runs in progress
    /// complete and are recorded, engines stop. Nothing is unpublished: a
    /// Codex node keeps every index, and a restarted node seeds its links
    /// again.
    pub async fn stop(self) {
        let members: Vec<Member> = self.inner.lock_members().drain().map(|(_, m)| m).collect();
        for member in members {
            member.stop().await;
        }
        // Each run in progress completes and announces its link first.
        for Network { scheduler, .. } in &self.inner.networks {
            scheduler.stop_all().await;
        }
        self.inner.shutdown.cancel();
        self.inner.owner.owned.lock().clear();
        self.inner.engines.stop().await;
        // Handles to a stopped node may live on: they keep reading, but the
        // store's writer lock is freed for a node restarted on these files.
        if let Err(error) = self.inner.store.release_writer().await {
            tracing::warn!(%error, "could not release the store's writer lock");
        }
    }
}

fn network_seeding(network: &NetworkStatus, owned: bool, member: Option<&Vec<LinkKind>>) -> bool {
    (owned && network.archiving && network.announced_link.is_some())
        || member.is_some_and(|kinds| kinds.contains(&network.kind))
}
