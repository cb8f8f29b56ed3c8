//! Migrating stores of earlier schema versions (2: no application id, no
//! topic owners; 3: networks keyed as 'magnet' / 'index_cid') to the
//! current one.

use std::path::Path;

use archive_store::{APPLICATION_ID, Database, LinkKind, SCHEMA_VERSION};

use crate::sample::{all, archive, archive_id, community, message, range, topic};

/// Version 2's schema, as its two migrations left it, in WAL mode as every
/// version-2 file was.
fn version_two(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    let _: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    conn.execute_batch(
        "CREATE TABLE waku_messages (sig BLOB NOT NULL, timestamp INTEGER NOT NULL, \
             topic BLOB NOT NULL, payload BLOB NOT NULL, padding BLOB NOT NULL, \
             hash BLOB PRIMARY KEY NOT NULL, third_party_id TEXT NOT NULL DEFAULT '');
         CREATE INDEX waku_messages_timestamp_topic ON waku_messages (timestamp, topic);
         CREATE TABLE announcements (community_id BLOB NOT NULL, kind TEXT NOT NULL, \
             clock INTEGER NOT NULL, link TEXT NOT NULL, PRIMARY KEY (community_id, kind)) WITHOUT ROWID;
         CREATE TABLE downloaded_archives (community_id BLOB NOT NULL, archive_id BLOB NOT NULL, \
             range_from INTEGER NOT NULL, range_to INTEGER NOT NULL, imported INTEGER NOT NULL DEFAULT 0, \
             PRIMARY KEY (community_id, archive_id)) WITHOUT ROWID;
         CREATE INDEX downloaded_archives_to_import ON downloaded_archives (community_id, imported, range_from);
         CREATE TABLE archive_ends (community_id BLOB NOT NULL, kind TEXT NOT NULL, \
             last_archive_end INTEGER NOT NULL, PRIMARY KEY (community_id, kind)) WITHOUT ROWID;
         CREATE TABLE fetched_links (community_id BLOB NOT NULL, kind TEXT NOT NULL, \
             link TEXT NOT NULL, PRIMARY KEY (community_id, kind)) WITHOUT ROWID;
         PRAGMA user_version = 2;",
    )
    .unwrap();
    conn
}

fn insert_message(conn: &rusqlite::Connection, topic_n: u8, timestamp: i64, seed: u64) {
    let m = message(topic(topic_n), timestamp as u64, seed);
    conn.execute(
        "INSERT INTO waku_messages (sig, timestamp, topic, payload, padding, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![
            m.sig,
            timestamp,
            &m.topic.0[..],
            m.payload,
            m.padding,
            m.hash
        ],
    )
    .unwrap();
}

fn imported_archive(conn: &rusqlite::Connection, community_n: u8, id: u64, from: i64, to: i64) {
    conn.execute(
        "INSERT INTO downloaded_archives VALUES (?1, ?2, ?3, ?4, 1)",
        rusqlite::params![
            community(community_n).0.to_vec(),
            archive_id(id).0.to_vec(),
            from,
            to
        ],
    )
    .unwrap();
}

/// Topic owners are inferred from imported archive ranges: topic 1 lies only
/// in community 1's ranges, topic 2 only in community 2's, topic 3 in both
/// (ambiguous, left unowned) and topic 4 in none (an owner's own messages).
/// Inferred owners protect the history at once, yet an owner's configuration
/// overrides them.
#[test]
fn a_version_two_store_is_marked_and_gets_inferred_topic_owners() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.db");
    {
        let conn = version_two(&path);
        imported_archive(&conn, 1, 1, 0, 100);
        imported_archive(&conn, 2, 2, 100, 200);
        insert_message(&conn, 1, 10, 1);
        insert_message(&conn, 1, 20, 2);
        insert_message(&conn, 2, 150, 3);
        insert_message(&conn, 3, 50, 4);
        insert_message(&conn, 3, 150, 5);
        insert_message(&conn, 4, 500, 6);
        // Not imported: says nothing about ownership.
        conn.execute(
            "INSERT INTO downloaded_archives VALUES (?1, ?2, 500, 600, 0)",
            rusqlite::params![community(3).0.to_vec(), archive_id(3).0.to_vec()],
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
    assert_eq!(db.message_count().unwrap(), 6);
    assert_eq!(db.topic_owner(&topic(1)).unwrap(), Some(community(1)));
    assert_eq!(db.topic_owner(&topic(2)).unwrap(), Some(community(2)));
    assert_eq!(db.topic_owner(&topic(3)).unwrap(), None);
    assert_eq!(db.topic_owner(&topic(4)).unwrap(), None);
    assert!(
        db.downloaded_archive(&community(1), &archive_id(1))
            .unwrap()
            .unwrap()
            .imported
    );

    // Community 1's history is safe from community 2's archives at once.
    let attack = archive(range(0, 100), &[topic(1)], vec![message(topic(1), 5, 9)]);
    let report = db
        .import_archive(&community(2), &archive_id(9), &attack)
        .unwrap();
    assert_eq!((report.removed, report.foreign_topic_messages), (0, 1));
    assert_eq!(all(&db, &[topic(1)]).len(), 2);

    // An owner configuring topic 2 takes it over from the inference.
    db.claim_topics(&community(5), &[topic(2)]).unwrap();
    assert_eq!(db.topic_owner(&topic(2)).unwrap(), Some(community(5)));
    drop(db);

    // Reopening migrates nothing again.
    let db = Database::open(&path).unwrap();
    assert_eq!(db.topic_owner(&topic(2)).unwrap(), Some(community(5)));
}

/// Version 3 kept each network's state under `'magnet'` and `'index_cid'`;
/// from version 4 it is under the network's name, so the clocks, links and
/// archive ends of both networks survive the migration, and a third
/// network's rows sit beside them.
#[test]
fn a_version_three_store_keys_its_state_by_network_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.db");
    let c = community(1);
    {
        let conn = version_two(&path);
        drop(conn);
        // Migrations 3 on top of version 2, as a version-3 build left it
        // (without the tables of later versions).
        let db = Database::open(&path).unwrap();
        drop(db);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 3; DELETE FROM announcements; DROP TABLE community_keys; \
             DROP TABLE key_counters;",
        )
        .unwrap();
        for (table, columns, values) in [
            (
                "announcements",
                "kind, clock, link",
                "'magnet', 5, 'magnet:?xt=m'",
            ),
            (
                "announcements",
                "kind, clock, link",
                "'index_cid', 6, 'zCid'",
            ),
            ("archive_ends", "kind, last_archive_end", "'magnet', 100"),
            ("archive_ends", "kind, last_archive_end", "'index_cid', 200"),
            ("fetched_links", "kind, link", "'magnet', 'magnet:?xt=f'"),
            ("fetched_links", "kind, link", "'index_cid', 'zFetched'"),
        ] {
            conn.execute(
                &format!("INSERT INTO {table} (community_id, {columns}) VALUES (?1, {values})"),
                [c.0.to_vec()],
            )
            .unwrap();
        }
    }
    let mut db = Database::open(&path).unwrap();
    assert_eq!(db.schema_version().unwrap(), SCHEMA_VERSION);
    let (torrent, codex) = (LinkKind::TORRENT, LinkKind::CODEX);
    let announced = |db: &Database, kind| {
        db.announcement(&c, kind)
            .unwrap()
            .map(|a| (a.clock, a.link))
    };
    assert_eq!(
        announced(&db, &torrent),
        Some((5, "magnet:?xt=m".to_owned()))
    );
    assert_eq!(announced(&db, &codex), Some((6, "zCid".to_owned())));
    assert_eq!(db.last_archive_end(&c, &torrent).unwrap(), Some(100));
    assert_eq!(db.last_archive_end(&c, &codex).unwrap(), Some(200));
    assert_eq!(
        db.fetched_link(&c, &torrent).unwrap().as_deref(),
        Some("magnet:?xt=f")
    );
    assert_eq!(
        db.fetched_link(&c, &codex).unwrap().as_deref(),
        Some("zFetched")
    );

    let dir_kind = LinkKind::new("dir").unwrap();
    assert_eq!(announced(&db, &dir_kind), None);
    db.record_announcement(&c, &dir_kind, 7, "dir:x").unwrap();
    assert_eq!(announced(&db, &dir_kind), Some((7, "dir:x".to_owned())));
    assert_eq!(
        announced(&db, &torrent),
        Some((5, "magnet:?xt=m".to_owned()))
    );
}
