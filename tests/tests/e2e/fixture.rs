//! The world the end-to-end tests run in: a temporary directory, Codex
//! devnodes, a shared folder for the directory-share backend, an
//! announcement hub, an owner with a settable clock, members,
//! and waiting for events with a deadline.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use archivist::{
    Config, HistoryDigest, JoinOptions, Node, NodeBuilder, NodeEvent,
    devnode::{self, Devnode, DevnodeHandle},
    dispatch::{CommunityKey, MemoryHub},
    history_digest,
    index::{CommunityId, LinkKind, TimeRange, Topic},
    scheduler::{ManualClock, RunOutcome},
};
use tokio::sync::broadcast;

pub(crate) const WEEK: u64 = 7 * 86_400;
/// A Monday in the past; the synthetic history starts here.
pub(crate) const T0: u64 = 1_700_438_400;
pub(crate) const TOPICS: [Topic; 2] = [
    Topic([0xde, 0xad, 0xbe, 0xef]),
    Topic([0x0b, 0xad, 0xf0, 0x0d]),
];
/// Messages per synthetic week, and their payload size.
pub(crate) const PER_WEEK: usize = 150;
pub(crate) const PAYLOAD: usize = 1024;
/// How long any one awaited event may take.
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

/// Which networks a test runs on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Networks {
    Torrent,
    Codex,
    Both,
    /// The directory-share backend, added to the nodes as a program would
    /// add its own backend (`NodeBuilder::backend`), with no network
    /// configured.
    DirShare,
}

impl Networks {
    fn kinds(self) -> (bool, bool) {
        match self {
            Networks::Torrent => (true, false),
            Networks::Codex => (false, true),
            Networks::Both => (true, true),
            Networks::DirShare => (false, false),
        }
    }
}

/// Everything the nodes of one test share.
pub(crate) struct World {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) hub: MemoryHub,
    pub(crate) networks: Networks,
    /// The owner's Codex node, and the members' (peered with the owner's).
    pub(crate) codex: Option<(DevnodeHandle, DevnodeHandle)>,
}

impl World {
    pub(crate) async fn new(networks: Networks) -> World {
        World::with_member_codex_delay(networks, Duration::ZERO).await
    }

    /// A world whose member-side Codex node answers every request after
    /// `delay`, so a download takes long enough to interrupt.
    pub(crate) async fn with_member_codex_delay(networks: Networks, delay: Duration) -> World {
        let dir = tempfile::tempdir().unwrap();
        let codex = if networks.kinds().1 {
            let owner = Devnode::spawn(devnode::Config::new(dir.path().join("codex-owner")))
                .await
                .unwrap();
            let mut config = devnode::Config::new(dir.path().join("codex-member"));
            config.peers = vec![owner.url()];
            config.faults.delay = delay;
            let member = Devnode::spawn(config).await.unwrap();
            Some((owner, member))
        } else {
            None
        };
        World {
            dir,
            hub: MemoryHub::new(256),
            networks,
            codex,
        }
    }

    /// A node configuration under `name`, on this world's networks, with a
    /// short quiet period so tests do not wait status-go's 20 s.
    pub(crate) fn config(&self, name: &str, codex_url: Option<String>) -> Config {
        let (torrent, codex) = self.networks.kinds();
        let mut config = Config::default();
        config.data_dir = self.dir.path().join(name);
        config.quiet_period = Duration::from_millis(300);
        config.waku.enabled = false;
        config.torrent.enabled = torrent;
        config.torrent.metadata_timeout = Duration::from_secs(10);
        config.codex.enabled = codex;
        if let Some(url) = codex_url {
            config.codex.url = url;
        }
        config
    }

    /// A builder for a node on `config`, on this world's announcement hub
    /// and, for [`Networks::DirShare`], with the directory-share backend
    /// (its own folder in the node's data directory).
    pub(crate) fn builder(&self, config: Config) -> NodeBuilder {
        let own = config.data_dir.join("dirshare");
        let builder = Node::builder(config).transport(Arc::new(self.hub.attach()));
        match self.networks {
            Networks::DirShare => builder.backend(Arc::new(
                backend_dirshare::DirShareBackend::new(self.path("dirshare-shared"), own),
            )),
            _ => builder,
        }
    }

    pub(crate) async fn owner(&self) -> Owner {
        self.owner_with(|_| {}).await
    }

    /// The owner, on the configuration `edit` leaves.
    pub(crate) async fn owner_with(&self, edit: impl FnOnce(&mut Config)) -> Owner {
        let mut config = self.config("owner", self.codex.as_ref().map(|(o, _)| o.url()));
        edit(&mut config);
        let clock = Arc::new(ManualClock::new(T0));
        let node = self
            .builder(config)
            .clock(Arc::clone(&clock) as _)
            .start()
            .await
            .unwrap();
        Owner {
            node,
            key: CommunityKey::from_bytes(&[7; 32]).unwrap(),
            clock,
            weeks: 0,
        }
    }

    /// The configuration of a member called `name` that finds the owner's
    /// BitTorrent engine at `owner`.
    pub(crate) fn member_config(&self, name: &str, owner: Option<SocketAddr>) -> Config {
        let mut config = self.config(name, self.codex.as_ref().map(|(_, m)| m.url()));
        config.torrent.peers = owner.into_iter().collect();
        config
    }

    /// Starts a member from `config` that has joined `community`.
    pub(crate) async fn member(
        &self,
        config: Config,
        community: CommunityId,
        prefer: Option<LinkKind>,
    ) -> Member {
        self.member_with(
            config,
            community,
            JoinOptions::default().with_prefer(prefer),
        )
        .await
    }

    /// Starts a member from `config` that has joined `community` with
    /// `options`.
    pub(crate) async fn member_with(
        &self,
        config: Config,
        community: CommunityId,
        options: JoinOptions,
    ) -> Member {
        let node = self.builder(config).start().await.unwrap();
        let events = node.events();
        node.join_with(community, options).await.unwrap();
        Member { node, events }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// The owner node and its community.
pub(crate) struct Owner {
    pub(crate) node: Node,
    pub(crate) key: CommunityKey,
    pub(crate) clock: Arc<ManualClock>,
    /// Synthetic weeks stored so far.
    pub(crate) weeks: u64,
}

impl Owner {
    pub(crate) fn community(&self) -> CommunityId {
        self.key.community_id()
    }

    /// Stores `weeks` more weeks of messages and moves the clock to their end.
    pub(crate) async fn write_weeks(&mut self, weeks: u64) {
        for _ in 0..weeks {
            let from = T0 + self.weeks * WEEK;
            let messages = archivist::synthetic::messages(
                &TOPICS,
                TimeRange {
                    from,
                    to: from + WEEK,
                },
                PER_WEEK,
                PAYLOAD,
                self.weeks,
            );
            self.node.store().insert_messages(messages).await.unwrap();
            self.weeks += 1;
        }
        self.clock.set(T0 + self.weeks * WEEK);
    }

    /// Takes ownership of the community: the catch-up run archives every
    /// stored week and announces the links.
    pub(crate) async fn start_archiving(&self) {
        self.node
            .add_owned(self.key.clone(), TOPICS.to_vec(), true)
            .await
            .unwrap();
    }

    /// One more week: its messages are stored and archived at once; returns
    /// how many archives each network created.
    pub(crate) async fn archive_next_week(&mut self) -> Vec<usize> {
        self.write_weeks(1).await;
        let outcomes = self.node.archive_now(&self.community()).await.unwrap();
        outcomes
            .into_iter()
            .map(|(_, outcome)| match outcome {
                RunOutcome::Created { archives, .. } => archives.len(),
                other => panic!("a week of messages was not archived: {other:?}"),
            })
            .collect()
    }

    /// Everything archived so far.
    pub(crate) fn archived_range(&self) -> TimeRange {
        TimeRange {
            from: T0,
            to: T0 + self.weeks * WEEK,
        }
    }
}

/// A member node and its event stream (subscribed before it joined).
pub(crate) struct Member {
    pub(crate) node: Node,
    pub(crate) events: broadcast::Receiver<NodeEvent>,
}

impl Member {
    /// Waits for the event `pick` returns something for, failing after
    /// [`DEADLINE`]; every event seen on the way is kept in `seen`.
    pub(crate) async fn wait_for<T>(
        &mut self,
        seen: &mut Vec<NodeEvent>,
        mut pick: impl FnMut(&NodeEvent) -> Option<T>,
    ) -> T {
        wait_for(&mut self.events, seen, &mut pick).await
    }

    /// Waits until a download of `community` finished; returns it.
    pub(crate) async fn finished(&mut self) -> (usize, u64, &'static str, Vec<NodeEvent>) {
        let mut seen = Vec::new();
        let found = self
            .wait_for(&mut seen, |e| match e {
                NodeEvent::DownloadingHistoryArchivesFinished {
                    fetched,
                    bytes_fetched,
                    backend,
                    ..
                } => Some((*fetched, *bytes_fetched, *backend)),
                _ => None,
            })
            .await;
        (found.0, found.1, found.2, seen)
    }
}

pub(crate) async fn wait_for<T>(
    events: &mut broadcast::Receiver<NodeEvent>,
    seen: &mut Vec<NodeEvent>,
    pick: &mut impl FnMut(&NodeEvent) -> Option<T>,
) -> T {
    let result = tokio::time::timeout(DEADLINE, async {
        loop {
            let event = events.recv().await.expect("the node's events ended");
            let picked = pick(&event);
            seen.push(event);
            if let Some(picked) = picked {
                return picked;
            }
        }
    })
    .await;
    match result {
        Ok(found) => found,
        Err(_) => panic!("timed out; events so far: {seen:#?}"),
    }
}

/// The owner's and the member's history over the archived range are the
/// same, and not empty.
pub(crate) async fn assert_same_history(owner: &Owner, member: &Node) -> HistoryDigest {
    let range = owner.archived_range();
    let ours = history_digest(owner.node.store(), &TOPICS, range)
        .await
        .unwrap();
    let theirs = history_digest(member.store(), &TOPICS, range)
        .await
        .unwrap();
    assert_eq!(ours.messages, owner.weeks * PER_WEEK as u64);
    assert_eq!(
        ours, theirs,
        "the member's history differs from the owner's"
    );
    ours
}
