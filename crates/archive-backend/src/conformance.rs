//! The conformance kit: the behaviour every [`Backend`](crate::Backend) must
//! show, as async checks a backend runs from its own tests.
//!
//! A backend's test crate implements [`Harness`] (how to make a fresh node
//! that can reach the other nodes of the same harness) and makes one test per
//! check with one macro call:
//!
//! ```ignore
//! archive_backend::conformance_tests!(MyHarness::new().await);
//! ```
//!
//! The expression is evaluated afresh in every generated test (each a
//! `#[tokio::test]` on a two-thread runtime, so the crate needs tokio with
//! `macros` and `rt-multi-thread`), and [`Harness::shutdown`] runs after the
//! check. Each check uses its own community, returns a [`Failure`] naming the
//! rule that broke, and is also callable on its own, as the functions
//! re-exported here.

mod fetching;
mod fixture;
mod publishing;
mod sealing;

use std::{fmt, sync::Arc, time::Duration};

use archive_index::CommunityId;

pub use self::{
    fetching::{
        bytes_fetched_counts_the_network, cancelled_fetch_marks_nothing_partial,
        corrupt_stored_bytes_are_never_handed_over, fetch_hands_over_in_the_order_asked,
        fetch_stops_when_cancelled_midway, unknown_archive_ids_are_refused,
    },
    publishing::{
        empty_range_publishes_nothing, failed_source_leaves_nothing, missing_is_a_set_difference,
        only_new_archives_are_missing, publish_resolve_fetch_round_trip, same_messages_same_ids,
        unseed_makes_the_link_unavailable,
    },
    sealing::sealed_archives_open_and_wait_for_their_key,
};
use crate::backend::DynBackend;

/// Makes nodes of one backend that can reach each other.
#[async_trait::async_trait]
pub trait Harness: Send + Sync {
    /// A fresh node with empty local storage.
    async fn node(&self) -> DynBackend;

    /// How long a member may wait for an unseeded link (or for archives only
    /// corrupt copies of exist) before giving up.
    fn unavailable_timeout(&self) -> Duration {
        Duration::from_secs(3)
    }

    /// Makes the bytes `node` stores of `community`'s archives corrupt, as a
    /// failing disk or a lying node would, and says whether it could. A
    /// harness that cannot leaves
    /// [`corrupt_stored_bytes_are_never_handed_over`] nothing to check.
    async fn corrupt_stored_archives(&self, node: &DynBackend, community: &CommunityId) -> bool {
        let _ = (node, community);
        false
    }

    /// Stops whatever the harness started; run after every check.
    async fn shutdown(&self) {}
}

/// A broken rule: which check, and what the backend did instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The check that failed.
    pub check: &'static str,
    /// The backend under test.
    pub backend: &'static str,
    /// What went wrong.
    pub reason: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} backend fails conformance check {}: {}",
            self.backend, self.check, self.reason
        )
    }
}

impl std::error::Error for Failure {}

/// What a check returns.
pub type CheckResult = Result<(), Failure>;

/// One `#[tokio::test]` per conformance check, each on a fresh harness made
/// by the given expression (evaluated in an async context, so it may
/// `.await`); see [the module docs](crate::conformance).
#[macro_export]
macro_rules! conformance_tests {
    ($harness:expr) => {
        $crate::conformance_tests!(@each $harness;
            publish_resolve_fetch_round_trip,
            only_new_archives_are_missing,
            missing_is_a_set_difference,
            unseed_makes_the_link_unavailable,
            same_messages_same_ids,
            empty_range_publishes_nothing,
            failed_source_leaves_nothing,
            cancelled_fetch_marks_nothing_partial,
            fetch_stops_when_cancelled_midway,
            fetch_hands_over_in_the_order_asked,
            bytes_fetched_counts_the_network,
            unknown_archive_ids_are_refused,
            corrupt_stored_bytes_are_never_handed_over,
            sealed_archives_open_and_wait_for_their_key,
        );
    };
    (@each $harness:expr; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let harness = $harness;
                let result = $crate::conformance::$check(&harness).await;
                $crate::conformance::Harness::shutdown(&harness).await;
                if let Err(failure) = result {
                    panic!("{failure}");
                }
            }
        )*
    };
}

/// A harness over [`crate::memory::MemoryBackend`]s on one network.
#[derive(Debug, Default)]
pub struct MemoryHarness {
    network: Arc<crate::memory::MemoryNetwork>,
    nodes: std::sync::Mutex<Vec<Arc<crate::memory::MemoryBackend>>>,
}

#[async_trait::async_trait]
impl Harness for MemoryHarness {
    async fn node(&self) -> DynBackend {
        let node = Arc::new(crate::memory::MemoryBackend::new(&self.network));
        self.nodes.lock().expect("harness lock").push(node.clone());
        node
    }

    async fn corrupt_stored_archives(&self, node: &DynBackend, community: &CommunityId) -> bool {
        let nodes = self.nodes.lock().expect("harness lock");
        let Some(ours) = nodes.iter().find(|n| same_node(n, node)) else {
            return false;
        };
        ours.corrupt_stored_archives(community);
        true
    }
}

/// Whether `ours` (as the harness keeps it) is `node` (as the kit got it).
pub fn same_node<T: crate::Backend + 'static>(ours: &Arc<T>, node: &DynBackend) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(ours), Arc::as_ptr(node))
}
