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
//! Files are opened in WAL mode with `synchronous = NORMAL` and migrated by
//! `PRAGMA user_version`. A file that is not an SQLite database, belongs to
//! another program or has a newer schema is refused before any write.

mod columns;
mod database;
mod error;
mod schema;
mod store;

pub use database::{Announcement, Database, DownloadedArchive, ImportReport, LinkKind, MessageKey};
pub use error::{Error, Result};
pub use schema::SCHEMA_VERSION;
pub use store::Store;
