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
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
};

use archive_backend::{DynBackend, Link};
use archive_index::{CommunityId, LinkKind};
use archive_store::Store;

pub(crate) use self::listener::Member;
use crate::{event::NodeEvent, node::Inner};

/// What a member task needs from the node.
pub(crate) struct MemberContext {
    inner: Arc<Inner>,
    community: CommunityId,
    /// Networks in the order they are tried.
    order: Vec<LinkKind>,
}

impl MemberContext {
    pub(crate) fn new(
        inner: &Arc<Inner>,
        community: CommunityId,
        prefer: Option<LinkKind>,
    ) -> MemberContext {
        let mut order = inner.networks.kinds();
        if let Some(prefer) = prefer
            && let Some(at) = order.iter().position(|k| *k == prefer)
        {
            order.remove(at);
            order.insert(0, prefer);
        }
        MemberContext {
            inner: Arc::clone(inner),
            community,
            order,
        }
    }

    pub(crate) fn backend(&self, kind: &LinkKind) -> Option<&DynBackend> {
        self.inner.networks.backend(kind)
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn emit(&self, event: NodeEvent) {
        self.inner.emit(event);
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
}

pub(crate) fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}
