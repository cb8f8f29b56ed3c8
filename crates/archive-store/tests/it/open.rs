//! Opening files: creation, reopening, migration, and refusing bad input
//! without changing a byte of it.

use std::{fs, path::Path};

use archive_store::{APPLICATION_ID, Database, Error, LinkKind, SCHEMA_VERSION};

use crate::sample::{all, message, topic};

pub(crate) fn sidecars_absent(path: &Path) {
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        assert!(!Path::new(&name).exists(), "{suffix} file was created");
    }
}

#[test]
fn creates_migrates_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let mut db = Database::open(&path).unwrap();
        assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
        db.insert_messages(&[message(topic(1), 10, 1)]).unwrap();
    }
    let db = Database::open(&path).unwrap();
    assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(all(&db, &[topic(1)]), vec![message(topic(1), 10, 1)]);
    let mode: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        (
            "text.db",
            b"this is not a database, just some text\n".repeat(200),
        ),
        ("short.db", b"SQLite format 2\0 nope".to_vec()),
    ] {
        let path = dir.path().join(name);
        fs::write(&path, &bytes).unwrap();
        let err = Database::open(&path).unwrap_err();
        assert!(
            matches!(&err, Error::NotADatabase { path: p } if p == &path),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains("not an SQLite database"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), bytes, "{name} was modified");
        sidecars_absent(&path);
    }
}

#[test]
fn a_newer_schema_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    drop(Database::open(&path).unwrap());
    {
        // What a future Archivist would leave: a rollback-journal file (so
        // every byte is in the main file) with a higher user_version.
        let conn = rusqlite::Connection::open(&path).unwrap();
        let _: String = conn
            .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
            .unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1))
            .unwrap();
    }
    let before = fs::read(&path).unwrap();

    let err = Database::open(&path).unwrap_err();
    match &err {
        Error::SchemaTooNew {
            found, supported, ..
        } => {
            assert_eq!(*found, i64::from(SCHEMA_VERSION + 1));
            assert_eq!(*supported, SCHEMA_VERSION);
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert!(err.to_string().contains("schema version"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), before, "the file was modified");
    sidecars_absent(&path);
}

#[test]
fn another_programs_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE waku_messages (hash TEXT PRIMARY KEY)")
        .unwrap();
    let before = fs::read(&path).unwrap();
    let err = Database::open(&path).unwrap_err();
    assert!(matches!(err, Error::ForeignDatabase { .. }), "{err:?}");
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn a_missing_directory_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/store.db");
    let err = Database::open(&path).unwrap_err();
    // The writer lock beside the file is the first thing created.
    assert!(matches!(err, Error::LockFile { .. }), "{err:?}");
    assert!(err.to_string().contains("no/such/dir/store.db"), "{err}");
    let err = Database::open_read_only(&path).unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err:?}");
}

/// No lock file either: nothing is created beside a refused file.
fn nothing_beside(path: &Path) {
    sidecars_absent(path);
    let mut lock = path.as_os_str().to_owned();
    lock.push(".lock");
    assert!(!Path::new(&lock).exists(), "a lock file was created");
}

/// Another program's database that happens to carry `user_version` 1 or 2
/// (archive-store's first versions) was switched to WAL, and so changed and
/// given `-wal`/`-shm` files, before its tables gave it away.
#[test]
fn a_foreign_database_with_user_version_1_or_2_is_refused_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    for version in [1, 2] {
        for journal in ["DELETE", "WAL"] {
            let path = dir.path().join(format!("other-{version}-{journal}.db"));
            {
                let conn = rusqlite::Connection::open(&path).unwrap();
                let _: String = conn
                    .query_row(&format!("PRAGMA journal_mode = {journal}"), [], |r| {
                        r.get(0)
                    })
                    .unwrap();
                conn.execute_batch(&format!(
                    "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
                     INSERT INTO notes (body) VALUES ('keep me');
                     PRAGMA user_version = {version};"
                ))
                .unwrap();
            }
            let before = fs::read(&path).unwrap();
            // Byte 19 is the read version: 2 means WAL mode.
            assert_eq!(before[19], if journal == "WAL" { 2 } else { 1 });
            nothing_beside(&path);

            let err = Database::open(&path).unwrap_err();
            assert!(matches!(err, Error::ForeignDatabase { .. }), "{err:?}");
            assert!(err.to_string().contains("another program"), "{err}");
            let err = Database::open_read_only(&path).unwrap_err();
            assert!(matches!(err, Error::ForeignDatabase { .. }), "{err:?}");

            assert_eq!(fs::read(&path).unwrap(), before, "{path:?} was modified");
            nothing_beside(&path);
        }
    }
}

#[test]
fn another_application_id_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marked.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(&format!(
            "PRAGMA application_id = 305419896;
             CREATE TABLE waku_messages (hash BLOB PRIMARY KEY);
             PRAGMA user_version = {SCHEMA_VERSION};"
        ))
        .unwrap();
    let before = fs::read(&path).unwrap();
    let err = Database::open(&path).unwrap_err();
    assert!(matches!(err, Error::ForeignDatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("0x12345678"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), before);
    nothing_beside(&path);
}

#[test]
fn our_databases_carry_the_application_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ours.db");
    drop(Database::open(&path).unwrap());
    let id: i32 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(id, APPLICATION_ID);
    let id: i32 = rusqlite::Connection::open_in_memory()
        .unwrap()
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(id, 0, "SQLite's default, so the check means something");
}

#[test]
fn values_past_i64_are_refused_without_a_partial_write() {
    let mut db = Database::open_in_memory().unwrap();
    let batch = [message(topic(1), 1, 1), message(topic(1), u64::MAX, 2)];
    let err = db.insert_messages(&batch).unwrap_err();
    assert!(
        matches!(
            err,
            Error::OutOfRange {
                what: "timestamp",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(db.message_count().unwrap(), 0);
}

/// A version-1 file (one archive end per community) keeps its end as the
/// BitTorrent end after the migration, and the Codex end starts empty.
#[test]
fn version_one_archive_end_becomes_the_torrent_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    let c = crate::sample::community(3);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        // Version 1's archive state, as its migration created it.
        conn.execute_batch(
            "CREATE TABLE waku_messages (sig BLOB NOT NULL, timestamp INTEGER NOT NULL, \
                 topic BLOB NOT NULL, payload BLOB NOT NULL, padding BLOB NOT NULL, \
                 hash BLOB PRIMARY KEY NOT NULL, third_party_id TEXT NOT NULL DEFAULT '');
             CREATE INDEX waku_messages_timestamp_topic ON waku_messages (timestamp, topic);
             CREATE TABLE archive_ends (community_id BLOB PRIMARY KEY NOT NULL, \
                 last_archive_end INTEGER NOT NULL) WITHOUT ROWID;
             CREATE TABLE announcements (community_id BLOB NOT NULL, kind TEXT NOT NULL, \
                 clock INTEGER NOT NULL, link TEXT NOT NULL, PRIMARY KEY (community_id, kind)) WITHOUT ROWID;
             CREATE TABLE downloaded_archives (community_id BLOB NOT NULL, archive_id BLOB NOT NULL, \
                 range_from INTEGER NOT NULL, range_to INTEGER NOT NULL, imported INTEGER NOT NULL DEFAULT 0, \
                 PRIMARY KEY (community_id, archive_id)) WITHOUT ROWID;
             CREATE INDEX downloaded_archives_to_import ON downloaded_archives (community_id, imported, range_from);
             PRAGMA user_version = 1;",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO archive_ends VALUES (?1, 604800)",
            [c.0.to_vec()],
        )
        .unwrap();
    }
    let mut db = Database::open(&path).unwrap();
    assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
    let id: i32 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(id, APPLICATION_ID);
    assert_eq!(
        db.last_archive_end(&c, &LinkKind::TORRENT).unwrap(),
        Some(604_800)
    );
    assert_eq!(db.last_archive_end(&c, &LinkKind::CODEX).unwrap(), None);
    db.set_last_archive_end(&c, &LinkKind::CODEX, 7).unwrap();
    assert_eq!(
        db.last_archive_end(&c, &LinkKind::TORRENT).unwrap(),
        Some(604_800)
    );
    assert_eq!(db.fetched_link(&c, &LinkKind::TORRENT).unwrap(), None);
}
