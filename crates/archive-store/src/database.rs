//! [`Database`]: the synchronous store, one SQLite connection.

mod import;
mod intake;
mod keys;
mod messages;
mod state;
mod topics;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::{
    error::Result,
    lock::{self, WriterLock},
    schema,
};

pub use archive_index::LinkKind;
pub use import::ImportReport;
pub use intake::{InsertReport, Intake, LateMessages};
pub use keys::{KeysImported, StoredCounters, StoredKey};
pub use messages::MessageKey;
pub use state::{Announcement, DownloadedArchive};

/// The message store and archive state, synchronous, over one SQLite connection.
///
/// For CLIs, tests and benchmarks; async code uses [`Store`](crate::Store),
/// which runs these same methods off the runtime's worker threads. Writes take
/// `&mut self` and each runs in one transaction; reads take `&self` and each
/// sees one consistent snapshot.
#[derive(Debug)]
pub struct Database {
    conn: Connection,
    /// Held while this handle may write a file (`None` in memory and read-only).
    writer: Option<WriterLock>,
    /// The file, `None` in memory.
    path: Option<PathBuf>,
}

/// Prepared statements are keyed by SQL text; range queries have one text per
/// topic count, so leave room for a few of those besides the fixed ones.
const STATEMENT_CACHE: usize = 64;

impl Database {
    /// Opens (creating if missing) the database at `path` for writing and
    /// migrates it to [`SCHEMA_VERSION`](crate::SCHEMA_VERSION).
    ///
    /// A file that is not an SQLite database, belongs to another program
    /// (another [`APPLICATION_ID`](crate::APPLICATION_ID), or none and tables
    /// of no earlier archive-store schema) or has a newer schema is refused
    /// before anything is written to it or created beside it. Then the writer
    /// lock `<path>.lock` is taken: while this handle lives, any other open
    /// for writing, in this process or another, fails at once with
    /// [`Error::Locked`](crate::Error::Locked) naming the holder.
    pub fn open(path: impl AsRef<Path>) -> Result<Database> {
        let path = path.as_ref();
        if path.exists() {
            schema::open_checked_read_only(path, false)?;
        }
        let writer = lock::acquire(path)?;
        let mut conn = Connection::open(path).map_err(|source| crate::Error::Open {
            path: path.to_owned(),
            source,
        })?;
        // Again under the lock, in case the file changed since the check.
        let version = schema::check(&conn, path)?;
        // WAL lets readers run beside the writer, and with it NORMAL syncs
        // only at checkpoints while a crash still loses no committed
        // transaction short of a power cut.
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        conn.execute_batch("PRAGMA synchronous = NORMAL")?;
        schema::migrate(&mut conn, version)?;
        Database::configure(conn, Some(writer), Some(path))
    }

    /// Opens the existing database at `path` for reading only: no writer
    /// lock, no journal-mode change, no migration, nothing created (not even
    /// `-wal`/`-shm` unless a writer's `-wal` is already there), so it works on
    /// a read-only file in a read-only directory and beside a running writer.
    ///
    /// The same files are refused as by [`open`](Self::open). A file of an
    /// older schema version is read as it is; writes through this handle fail.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Database> {
        let path = path.as_ref();
        let (conn, _version) = schema::open_checked_read_only(path, false)?;
        Database::configure(conn, None, Some(path))
    }

    /// Gives up writing: the writer lock is released, so another process
    /// or handle can open the store for writing, and this handle goes on
    /// reading the file (through the WAL, so it sees what the next writer
    /// commits). Writes through it fail from now on. Does nothing to a
    /// read-only or in-memory database.
    ///
    /// For a node that has stopped while handles to its store live on.
    pub fn release_writer(&mut self) -> Result<()> {
        let (Some(_), Some(path)) = (&self.writer, &self.path) else {
            return Ok(());
        };
        let (conn, _version) = schema::open_checked_read_only(path, true)?;
        let old = std::mem::replace(&mut self.conn, Database::tune(conn)?);
        drop(old);
        self.writer = None;
        Ok(())
    }

    /// A fresh database that lives in memory only (tests, dry runs).
    pub fn open_in_memory() -> Result<Database> {
        let mut conn = Connection::open_in_memory()?;
        schema::migrate(&mut conn, 0)?;
        Database::configure(conn, None, None)
    }

    fn configure(
        conn: Connection,
        writer: Option<WriterLock>,
        path: Option<&Path>,
    ) -> Result<Database> {
        Ok(Database {
            conn: Database::tune(conn)?,
            writer,
            path: path.map(Path::to_owned),
        })
    }

    fn tune(conn: Connection) -> Result<Connection> {
        // Range reads and imports walk tens of MB; without a larger page cache
        // and memory-mapped reads every page is re-read through read(2)
        // (measured: the bulk of range-read time), and the hash index's random
        // inserts miss the default 2 MB cache. Both count toward the owner's
        // resident memory (target < 200 MiB): 32 MiB of cache and a 64 MiB map
        // keep range reads at ~670 K msg/s (256 + 64 MiB gave ~760 K, at
        // 343 MiB peak RSS).
        conn.execute_batch(
            "PRAGMA cache_size = -32768; PRAGMA mmap_size = 67108864; PRAGMA temp_store = MEMORY;",
        )?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32> {
        let version: u32 = self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))?;
        Ok(version)
    }
}
