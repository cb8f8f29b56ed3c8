//! The schema, its versioned migrations (`PRAGMA user_version`), the
//! `application_id` that marks our files, and the checks that run before
//! anything is written to a file.

use std::path::Path;

use rusqlite::{Connection, ErrorCode, OpenFlags};

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
    // 3: which community owns each topic, so an archive of one community
    // can never replace another's messages (a topic belongs to at most one
    // community; a message belongs to its topic's community). Owners claim
    // their configured topics, a community's archives claim unowned topics
    // they list. Older files recorded no ownership, so it is inferred, and
    // marked as such: a topic whose stored messages inside imported archive
    // ranges lie only in ranges of one community is that community's.
    // Topics seen in ranges of several communities, or in none (an owner's
    // own messages), stay unowned until claimed. An owner's configured claim
    // overrides an inferred one; an archive's claim never does.
    // And the application id, checked before any write from now on.
    "
    CREATE TABLE community_topics (
        topic BLOB PRIMARY KEY NOT NULL,
        community_id BLOB NOT NULL,
        inferred INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE INDEX community_topics_by_community ON community_topics (community_id);
    INSERT INTO community_topics (topic, community_id, inferred)
        SELECT m.topic, min(d.community_id), 1
        FROM downloaded_archives d CROSS JOIN waku_messages m
        WHERE d.imported = 1 AND m.timestamp >= d.range_from AND m.timestamp < d.range_to
        GROUP BY m.topic
        HAVING count(DISTINCT d.community_id) = 1;
    PRAGMA application_id = 1095910230;
    ",
    // 4: archive state is keyed by the network's name (`LinkKind::name`),
    // the one name every layer uses, so a backend added later keys its own
    // rows with no change here. Versions 1 to 3 wrote 'magnet' for
    // BitTorrent and 'index_cid' for Codex.
    "
    UPDATE announcements SET kind = 'torrent' WHERE kind = 'magnet';
    UPDATE announcements SET kind = 'codex' WHERE kind = 'index_cid';
    UPDATE archive_ends SET kind = 'torrent' WHERE kind = 'magnet';
    UPDATE archive_ends SET kind = 'codex' WHERE kind = 'index_cid';
    UPDATE fetched_links SET kind = 'torrent' WHERE kind = 'magnet';
    UPDATE fetched_links SET kind = 'codex' WHERE kind = 'index_cid';
    ",
    // 5: the hash-ratchet keys of encrypted communities, as `keys import`
    // stores them; a key is its (timestamp, secret) pair, since its key ID
    // hashes both.
    "
    CREATE TABLE community_keys (
        community_id BLOB NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        key BLOB NOT NULL,
        PRIMARY KEY (community_id, timestamp_ms, key)
    ) WITHOUT ROWID;
    ",
    // 6: the hash-ratchet counters of those keys (by key ID): the sequence
    // number an owner seals with next, and the highest one a member opened,
    // so a restart never starts a key's numbers over.
    "
    CREATE TABLE key_counters (
        community_id BLOB NOT NULL,
        key_id BLOB NOT NULL,
        next_seq INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        PRIMARY KEY (community_id, key_id)
    ) WITHOUT ROWID;
    ",
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// `PRAGMA application_id` of every archive-store database ("ARCV" in ASCII),
/// set by migration 3 and checked before anything is written to a file, so
/// another program's database is refused whatever its `user_version`. Not in
/// SQLite's registry of known ids (`magic.txt`).
pub const APPLICATION_ID: i32 = 0x4152_4356;

/// The tables of the versions written before [`APPLICATION_ID`] existed:
/// such a file is recognised as ours by exactly these tables.
const UNMARKED_VERSIONS: &[(i64, &[&str])] = &[
    (
        1,
        &[
            "announcements",
            "archive_ends",
            "downloaded_archives",
            "waku_messages",
        ],
    ),
    (
        2,
        &[
            "announcements",
            "archive_ends",
            "downloaded_archives",
            "fetched_links",
            "waku_messages",
        ],
    ),
];

/// Refuses files this build must not write to, returning the schema version
/// of one it may. Only reads, so a refused file keeps every byte.
pub(crate) fn check(conn: &Connection, path: &Path) -> Result<u32> {
    let opening = |e: rusqlite::Error| match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => Error::NotADatabase {
            path: path.to_owned(),
        },
        _ => Error::Open {
            path: path.to_owned(),
            source: e,
        },
    };
    let pragma = |name: &str| -> Result<i64> {
        conn.query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))
            .map_err(opening)
    };
    let application_id = pragma("application_id")?;
    let version = pragma("user_version")?;
    let foreign = |reason: String| Error::ForeignDatabase {
        path: path.to_owned(),
        reason,
    };
    if application_id == i64::from(APPLICATION_ID) {
        return u32::try_from(version)
            .ok()
            .filter(|v| *v <= SCHEMA_VERSION)
            .ok_or(Error::SchemaTooNew {
                path: path.to_owned(),
                found: version,
                supported: SCHEMA_VERSION,
            });
    }
    if application_id != 0 {
        return Err(foreign(format!(
            "application_id {application_id:#010x}, not archive-store's {APPLICATION_ID:#010x}"
        )));
    }
    let mut stmt = conn
        .prepare("SELECT type, name FROM sqlite_schema ORDER BY name")
        .map_err(opening)?;
    let entries: Vec<(String, String)> = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if version == 0 && entries.is_empty() {
        return Ok(0);
    }
    let tables: Vec<&str> = entries
        .iter()
        // ANALYZE and `PRAGMA optimize` may add sqlite_stat tables.
        .filter(|(kind, name)| kind == "table" && !name.starts_with("sqlite_"))
        .map(|(_, name)| name.as_str())
        .collect();
    match UNMARKED_VERSIONS.iter().find(|(v, _)| *v == version) {
        Some((_, expected)) if tables == *expected => Ok(version as u32),
        _ => Err(foreign(format!(
            "no application_id, user_version {version} and tables [{}], which no archive-store \
             version wrote",
            tables.join(", ")
        ))),
    }
}

/// Checks the file at `path` without writing it or creating any file beside
/// it, and returns a read-only connection to it.
///
/// Without a `-wal` file the main file holds every committed byte, and
/// `immutable=1` reads it with no locking and no `-wal`/`-shm` (a read-only
/// open of a WAL-mode file would create both). With a `-wal` file (a writer
/// is running, or crashed) the file must be read through it: a plain
/// read-only open, which at most adds the `-shm` index beside an existing
/// `-wal`.
///
/// `through_wal` forces the plain read-only open, for a file known to be ours
/// that a writer may open beside this connection.
pub(crate) fn open_checked_read_only(path: &Path, through_wal: bool) -> Result<(Connection, u32)> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let mode = if through_wal || Path::new(&wal).exists() {
        "mode=ro"
    } else {
        "immutable=1"
    };
    let uri = format!("file:{}?{mode}", uri_path(path));
    let conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    let version = check(&conn, path)?;
    Ok((conn, version))
}

/// `path` percent-encoded for an SQLite `file:` URI, where `?`, `#` and `%`
/// would otherwise be read as syntax.
fn uri_path(path: &Path) -> String {
    #[cfg(unix)]
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).to_vec();
    #[cfg(not(unix))]
    let bytes = path.to_string_lossy().into_owned().into_bytes();
    let mut out = String::with_capacity(bytes.len());
    for b in bytes {
        if b.is_ascii_alphanumeric() || b"/._-~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
