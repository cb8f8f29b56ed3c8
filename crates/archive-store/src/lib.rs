//! The embedded message store and archive state of Archivist, on SQLite.
//!
//! - [`Database`] is the synchronous core over one connection: status-go's
//!   `waku_messages` (batch insert with `INSERT OR REPLACE`, range reads in
//!   (timestamp, hash) order that stream rather than load), the archive state
//!   of each community (last archive end, last announcement per [`LinkKind`],
//!   downloaded and imported archives) and the canonical import of an archive
//!   ([`Database::import_archive`]).
//! - [`Store`] is the async, `Clone` handle for tokio code; it runs the same
//!   calls on blocking threads and streams range reads in bounded pages.
//!
//! Files are marked with `PRAGMA application_id` [`APPLICATION_ID`], opened in
//! WAL mode with `synchronous = NORMAL` and migrated by `PRAGMA user_version`.
//! A file that is not an SQLite database, belongs to another program or has a
//! newer schema is refused before any write, with no file created beside it.
//! One handle at a time may write a store (an advisory lock on `<db>.lock`);
//! [`Database::open_read_only`] takes no lock and writes nothing.
//!
//! Every message belongs to the community that owns its topic (a topic has at
//! most one owner in a store): an owner claims its configured topics
//! ([`Database::claim_topics`]) and an imported archive claims the unowned
//! topics it lists. An archive's messages on another community's topics are
//! dropped and counted, never stored, and its range replacement never
//! touches them.

mod columns;
mod database;
mod error;
mod lock;
mod schema;
mod store;

pub use database::{
    Announcement, Database, DownloadedArchive, ImportReport, InsertReport, Intake, KeysImported,
    LateMessages, LinkKind, MessageKey, StoredCounters, StoredKey,
};
pub use error::{Error, Result};
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};
pub use store::Store;
