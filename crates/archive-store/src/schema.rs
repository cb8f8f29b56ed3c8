//! The schema, its versioned migrations (`PRAGMA user_version`) and the checks
//! that run before anything is written to a file.

use std::path::Path;

use rusqlite::{Connection, ErrorCode};

use crate::error::{Error, Result};

/// Migration `i` takes the schema from version `i` to `i + 1`. Append only:
/// a released migration is never edited, since databases already ran it.
const MIGRATIONS: &[&str] = &[
    // 1: status-go's `waku_messages` with raw bytes instead of hex text for
    // topic and hash, and archive state split so that no write can reset a
    // neighbouring field (spec f.3: status-go's `ON CONFLICT REPLACE` row
    // lost the magnet clock when the archive end was saved).
    "
    CREATE TABLE waku_messages (
        sig BLOB NOT NULL,
        timestamp INTEGER NOT NULL,
        topic BLOB NOT NULL,
        payload BLOB NOT NULL,
        padding BLOB NOT NULL,
        hash BLOB PRIMARY KEY NOT NULL,
        third_party_id TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX waku_messages_timestamp_topic ON waku_messages (timestamp, topic);

    CREATE TABLE archive_ends (
        community_id BLOB PRIMARY KEY NOT NULL,
        last_archive_end INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE announcements (
        community_id BLOB NOT NULL,
        kind TEXT NOT NULL,
        clock INTEGER NOT NULL,
        link TEXT NOT NULL,
        PRIMARY KEY (community_id, kind)
    ) WITHOUT ROWID;

    CREATE TABLE downloaded_archives (
        community_id BLOB NOT NULL,
        archive_id BLOB NOT NULL,
        range_from INTEGER NOT NULL,
        range_to INTEGER NOT NULL,
        imported INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (community_id, archive_id)
    ) WITHOUT ROWID;
    CREATE INDEX downloaded_archives_to_import
        ON downloaded_archives (community_id, imported, range_from);
    ",
    // 2: the archive end per link kind, so an owner publishing over BitTorrent
    // and Codex at once keeps one end per network and a failure on one never
    // makes the other skip or repeat a range (ends written by version 1 were
    // torrent runs: status-go's only network); and the last link a member
    // fetched completely, so an announcement that was accepted but never
    // fetched is still acted on when it is repeated.
    "
    CREATE TABLE archive_ends_by_kind (
        community_id BLOB NOT NULL,
        kind TEXT NOT NULL,
        last_archive_end INTEGER NOT NULL,
        PRIMARY KEY (community_id, kind)
    ) WITHOUT ROWID;
    INSERT INTO archive_ends_by_kind (community_id, kind, last_archive_end)
        SELECT community_id, 'magnet', last_archive_end FROM archive_ends;
    DROP TABLE archive_ends;
    ALTER TABLE archive_ends_by_kind RENAME TO archive_ends;

    CREATE TABLE fetched_links (
        community_id BLOB NOT NULL,
        kind TEXT NOT NULL,
        link TEXT NOT NULL,
        PRIMARY KEY (community_id, kind)
    ) WITHOUT ROWID;
    ",
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Refuses files this build must not write to. Only reads, so a refused file
/// keeps every byte.
pub(crate) fn check(conn: &Connection, path: &Path) -> Result<u32> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => Error::NotADatabase {
                path: path.to_owned(),
            },
            _ => Error::Open {
                path: path.to_owned(),
                source: e,
            },
        })?;
    let known = u32::try_from(version).ok().filter(|v| *v <= SCHEMA_VERSION);
    let Some(version) = known else {
        return Err(Error::SchemaTooNew {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    };
    if version == 0 {
        let tables: i64 =
            conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))?;
        if tables > 0 {
            return Err(Error::ForeignDatabase {
                path: path.to_owned(),
            });
        }
    }
    Ok(version)
}

/// Runs the migrations after `from`, each in its own transaction together
/// with its `user_version` bump, so a crash leaves a consistent version.
pub(crate) fn migrate(conn: &mut Connection, from: u32) -> Result<()> {
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))?;
        tx.commit()?;
    }
    Ok(())
}
