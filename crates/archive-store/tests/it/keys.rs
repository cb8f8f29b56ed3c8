//! Encrypted communities' keys: stored per community, imported idempotently,
//! and a table that stores migrated from version 4 gain empty.

use archive_store::{Database, Error, KeysImported, SCHEMA_VERSION, StoredCounters, StoredKey};

use crate::sample::community;

fn key(timestamp_ms: u64, byte: u8) -> StoredKey {
    StoredKey {
        timestamp_ms,
        key: [byte; 32],
    }
}

#[test]
fn keys_are_stored_per_community_and_importing_again_adds_nothing() {
    let mut db = Database::open_in_memory().unwrap();
    let keys = [key(2_000, 2), key(1_000, 1)];
    let first = db.import_keys(&community(1), &keys).unwrap();
    assert_eq!(
        first,
        KeysImported {
            new: 2,
            already_present: 0
        }
    );
    let again = db
        .import_keys(&community(1), &[key(1_000, 1), key(3_000, 3)])
        .unwrap();
    assert_eq!(
        again,
        KeysImported {
            new: 1,
            already_present: 1
        }
    );
    assert_eq!(
        db.community_keys(&community(1)).unwrap(),
        vec![key(1_000, 1), key(2_000, 2), key(3_000, 3)],
        "oldest first"
    );
    assert!(db.community_keys(&community(2)).unwrap().is_empty());

    // The same secret under another timestamp is another key (another key ID).
    let other_time = db.import_keys(&community(1), &[key(4_000, 1)]).unwrap();
    assert_eq!(other_time.new, 1);
}

#[test]
fn key_counters_only_move_forward_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let counters = |next_seq, last_seen| StoredCounters {
        key_id: [7; 32],
        next_seq,
        last_seen,
    };
    {
        let mut db = Database::open(&path).unwrap();
        db.save_key_counters(&community(1), &[counters(5, 2)])
            .unwrap();
        // Stale counters (another task's older snapshot) change nothing.
        db.save_key_counters(&community(1), &[counters(3, 4)])
            .unwrap();
    }
    let db = Database::open(&path).unwrap();
    assert_eq!(
        db.key_counters(&community(1)).unwrap(),
        vec![counters(5, 4)]
    );
    assert!(db.key_counters(&community(2)).unwrap().is_empty());
}

#[test]
fn a_key_timestamp_past_sqlite_integers_is_refused_and_nothing_is_stored() {
    let mut db = Database::open_in_memory().unwrap();
    let refused = db.import_keys(&community(1), &[key(1_000, 1), key(u64::MAX, 2)]);
    assert!(
        matches!(refused, Err(Error::OutOfRange { .. })),
        "{refused:?}"
    );
    assert!(db.community_keys(&community(1)).unwrap().is_empty());
}

#[test]
fn a_version_four_store_gains_an_empty_key_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v4.db");
    {
        let mut db = Database::open(&path).unwrap();
        db.import_keys(&community(1), &[key(1_000, 1)]).unwrap();
    }
    // Back to version 4 as it was: no key table.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE community_keys; DROP TABLE key_counters; PRAGMA user_version = 4;",
    )
    .unwrap();
    drop(conn);
    let mut db = Database::open(&path).unwrap();
    assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
    assert!(db.community_keys(&community(1)).unwrap().is_empty());
    assert_eq!(
        db.import_keys(&community(1), &[key(1_000, 1)]).unwrap().new,
        1
    );
}
