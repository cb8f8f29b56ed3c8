//! The crate's one error type.

use std::path::PathBuf;

use archive_index::{CommunityId, Topic};

/// Everything that can go wrong while opening or using a store.
///
/// Opening errors ([`NotADatabase`](Error::NotADatabase),
/// [`SchemaTooNew`](Error::SchemaTooNew), [`ForeignDatabase`](Error::ForeignDatabase))
/// are raised before anything is written, so the file is left as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file exists but is not an SQLite database.
    #[error("{} is not an SQLite database", path.display())]
    NotADatabase {
        /// The file that was given.
        path: PathBuf,
    },
    /// The database was written by a newer Archivist whose schema this build
    /// does not know.
    #[error(
        "{} has schema version {found}; this build knows versions up to {supported} and will not touch it",
        path.display()
    )]
    SchemaTooNew {
        /// The file that was given.
        path: PathBuf,
        /// Its `PRAGMA user_version`.
        found: i64,
        /// The newest version this build can migrate to.
        supported: u32,
    },
    /// The file is an SQLite database of some other program: another
    /// `application_id`, or none and tables that are not an earlier
    /// archive-store schema.
    #[error("{} is an SQLite database of another program ({reason})", path.display())]
    ForeignDatabase {
        /// The file that was given.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },
    /// Another process (or another handle in this one) has the store open
    /// for writing; one writer per store.
    #[error("{} is open for writing by another process ({holder}); stop it, or use a read-only command", path.display())]
    Locked {
        /// The database file.
        path: PathBuf,
        /// What the holder wrote into the lock file: its pid and command line.
        holder: String,
    },
    /// The writer lock file beside the database could not be created or locked.
    #[error("cannot take the writer lock {}: {source}", path.display())]
    LockFile {
        /// The lock file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A topic is claimed for a community while another community of this
    /// store owns it already.
    #[error("topic {topic} belongs to community {owner} in this store, not to {community}")]
    TopicOfAnotherCommunity {
        /// The contested topic.
        topic: Topic,
        /// The community that owns it.
        owner: CommunityId,
        /// The community that claimed it.
        community: CommunityId,
    },
    /// SQLite could not open the file at all (missing directory, permissions…).
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The file that was given.
        path: PathBuf,
        /// SQLite's reason.
        #[source]
        source: rusqlite::Error,
    },
    /// A number does not fit SQLite's signed 64-bit integers.
    #[error("{what} {value} is too large to store (the limit is 2^63 - 1)")]
    OutOfRange {
        /// Which value: "timestamp", "clock", "archive end", "time range".
        what: &'static str,
        /// The value that was given.
        value: u64,
    },
    /// A stored row does not decode into the domain type it should.
    #[error("corrupt {what} in the store: {reason}")]
    Corrupt {
        /// Which kind of row.
        what: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// SQLite reported an error.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The blocking task that ran a [`Store`](crate::Store) call panicked or
    /// was cancelled by a runtime shutdown.
    #[error("store task failed: {0}")]
    Task(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
