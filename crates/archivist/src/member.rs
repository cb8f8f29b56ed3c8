//! The member's side of one joined community: announcement → debounce →
//! cancel the running download → resolve → missing (a set difference) →
//! fetch → import → keep seeding, falling back to the other network when the
//! owner announced both and the preferred one fails.
//!
//! `listener.rs` hears announcements and decides which link to act on;
//! `download.rs` runs one download at a time through
//! [`fetch_into_store`](crate::fetch::fetch_into_store), the path
//! `archivist fetch --db` takes too.

mod download;
mod listener;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Mutex, PoisonError},
};

use archive_backend::{DynBackend, Link};
use archive_dispatch::Dispatcher;
use archive_index::{CommunityId, DownloadPolicy, LinkKind};
use archive_store::Store;
use tokio_util::sync::CancellationToken;

pub(crate) use self::listener::Member;
use crate::{
    config::ImportConfig,
    encryption::Encrypted,
    event::{EventSender, NodeEvent},
    owner::OwnedCommunities,
};

/// How a node joins a community ([`Node::join_with`](crate::Node::join_with)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JoinOptions {
    /// Which network to fetch from first when the owner announces both.
    pub prefer: Option<LinkKind>,
    /// Which archives to download (spec 61); every one by default.
    pub download: DownloadPolicy,
    /// Whether the community is encrypted: its blobs are opened with the
    /// keys in the store, and archives whose key is missing wait for it.
    pub encrypted: bool,
}

impl JoinOptions {
    /// The same, preferring `prefer`.
    pub fn with_prefer(mut self, prefer: Option<LinkKind>) -> JoinOptions {
        self.prefer = prefer;
        self
    }

    /// The same, encrypted or not.
    pub fn with_encrypted(mut self, encrypted: bool) -> JoinOptions {
        self.encrypted = encrypted;
        self
    }

    /// The same, downloading what `download` selects.
    pub fn with_download(mut self, download: DownloadPolicy) -> JoinOptions {
        self.download = download;
        self
    }
}

/// What a member task uses of the node, and nothing more.
pub(crate) struct MemberContext {
    pub(crate) community: CommunityId,
    /// The enabled networks' backends, in the order they are tried.
    pub(crate) networks: Vec<(LinkKind, DynBackend)>,
    pub(crate) store: Store,
    pub(crate) dispatcher: Dispatcher,
    pub(crate) events: EventSender,
    /// The node's shutdown; the member's task stops with it.
    pub(crate) shutdown: CancellationToken,
    /// Announcements of a community this node owns are refused.
    pub(crate) owned: OwnedCommunities,
    pub(crate) request_link_on_join: bool,
    pub(crate) import: ImportConfig,
    /// Which archives this member downloads.
    pub(crate) policy: DownloadPolicy,
    /// Its envelope, when the community is encrypted.
    pub(crate) encrypted: Option<Encrypted>,
}

impl MemberContext {
    /// The networks' kinds, in the order they are tried.
    pub(crate) fn order(&self) -> Vec<LinkKind> {
        self.networks.iter().map(|(kind, _)| kind.clone()).collect()
    }

    pub(crate) fn backend(&self, kind: &LinkKind) -> Option<&DynBackend> {
        self.networks
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, backend)| backend)
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn emit(&self, event: NodeEvent) {
        self.events.emit(event);
    }
}

/// State shared by a member's task and its downloads.
#[derive(Default)]
pub(crate) struct Shared {
    /// The newest accepted link per kind.
    pub(crate) links: BTreeMap<LinkKind, Link>,
    /// Kinds whose link this node serves.
    pub(crate) seeding: Vec<LinkKind>,
    /// The kind the running download uses.
    pub(crate) downloading: Option<LinkKind>,
    /// The last download left archives (or the index) waiting for a key:
    /// the owner repeating its link starts nothing until keys arrive.
    pub(crate) awaiting_key: bool,
    /// Key IDs already reported missing, so each is said once.
    pub(crate) reported_keys: BTreeSet<String>,
}

pub(crate) fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}
