//! Per-community periodic history-archive tasks for a community owner.
//!
//! [`Scheduler`] runs one task per community it is given. When a community is
//! scheduled it picks one of status-go's three start cases (spec d.1) from the
//! store's last archive end, falling back to the oldest stored message:
//!
//! 1. nothing stored yet → the first run comes after one interval;
//! 2. the last end is younger than the interval → the previous link is seeded
//!    at once and the first run comes when that interval completes;
//! 3. older → a catch-up run archives `[last end, now)` at once, one archive
//!    per non-empty interval, then runs continue every interval.
//!
//! A run publishes through an [`archive_backend::Backend`], reading the
//! messages from the store through [`StoreSource`], and records the new end
//! in the store only after the backend succeeded, so a failed run is redone
//! over the same range and no message is archived twice or skipped. Errors a
//! retry can help with are retried with bounded exponential backoff
//! ([`RetryPolicy`]); others are reported and the next tick starts over from
//! the same recorded end.
//!
//! Every link a task starts serving is handed to the caller's [`Announcer`]
//! and awaited: announcing is a command on its own path, never an event a
//! slow listener could miss. Once the announcer has recorded the new link,
//! the task unseeds the link it replaces; this is the one place a replaced
//! link is unseeded. Progress is reported as [`Event`]s named after
//! status-go's signals (spec e), shown to the announcer in order and sent on
//! a broadcast channel, so a slow listener never stalls archiving.
//! Time comes from an injectable [`Clock`]; all waiting is tokio time, so
//! tests under a paused runtime simulate months in milliseconds.

mod announcer;
mod clock;
mod config;
mod error;
mod event;
mod scheduler;
mod source;
mod task;

pub use announcer::{Announcer, NotRecorded};
pub use archive_backend::RetryPolicy;
pub use clock::{Clock, ManualClock, TokioClock};
pub use config::{CommunityArchive, Config};
pub use error::{Error, Result};
pub use event::{Event, RunOutcome};
pub use scheduler::{Scheduler, StartCase};
pub use source::StoreSource;
