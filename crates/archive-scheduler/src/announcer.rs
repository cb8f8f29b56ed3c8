//! [`Announcer`]: where a scheduler hands every link it starts serving, so
//! that announcing never depends on an event listener keeping up.

use std::fmt;

use archive_backend::Link;
use archive_index::CommunityId;

use crate::event::Event;

/// The owner's side of a [`Scheduler`](crate::Scheduler): handed every link
/// to announce, and shown every event, both in order on the community's task.
///
/// Events also go to [`Scheduler::subscribe`](crate::Scheduler::subscribe)rs,
/// where a listener that falls behind misses the oldest (and is told how
/// many). The announcer misses nothing: the task awaits
/// [`announce`](Announcer::announce) before it goes on, so every link is
/// handed over once, in the order the links were made.
#[async_trait::async_trait]
pub trait Announcer: Send + Sync + fmt::Debug {
    /// `link` is served and covers every archive of `community` so far (a
    /// run made it, or a task started and seeded the link it had): record it
    /// as the community's link and make it known.
    ///
    /// Returns once the link is recorded, the owner's own state from which a
    /// restart goes on; making it known may go on in the background. Only
    /// then does the scheduler unseed the link this one replaces (on Codex
    /// that deletes the old index), so a crash in between leaves a recorded
    /// link that still resolves. [`NotRecorded`] keeps the replaced link
    /// served until a later link is recorded; the announcer reports why
    /// itself.
    async fn announce(&self, community: CommunityId, link: &Link) -> Result<(), NotRecorded>;

    /// Sees `event` as it is emitted, before any subscriber, in order with
    /// the calls to [`announce`](Announcer::announce). It runs on the
    /// community's task, so it must return at once (a broadcast send, say).
    fn observe(&self, event: &Event) {
        let _ = event;
    }
}

/// An [`Announcer`]'s answer that it could not record a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the link was not recorded")]
pub struct NotRecorded;
