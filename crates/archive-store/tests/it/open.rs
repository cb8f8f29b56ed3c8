//! Opening files: creation, reopening, migration, and refusing bad input
//! without changing a byte of it.

use std::{fs, path::Path};

use archive_store::{Database, Error, LinkKind, SCHEMA_VERSION};

use crate::sample::{all, message, topic};

fn sidecars_absent(path: &Path) {
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
fn a_missing_directory_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Database::open(dir.path().join("no/such/dir/store.db")).unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err:?}");
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
    assert_eq!(
        db.last_archive_end(&c, LinkKind::Magnet).unwrap(),
        Some(604_800)
    );
    assert_eq!(db.last_archive_end(&c, LinkKind::IndexCid).unwrap(), None);
    db.set_last_archive_end(&c, LinkKind::IndexCid, 7).unwrap();
    assert_eq!(
        db.last_archive_end(&c, LinkKind::Magnet).unwrap(),
        Some(604_800)
    );
    assert_eq!(db.fetched_link(&c, LinkKind::Magnet).unwrap(), None);
}
