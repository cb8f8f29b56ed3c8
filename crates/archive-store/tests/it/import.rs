//! Canonical import: replacement of the archive's range and topics, isolation
//! of everything else, hash dedup, idempotence and sibling chunks.

use archive_index::Message;
use archive_store::{Database, Error};

use crate::sample::{all, archive, archive_id, community, message, range, sorted, topic};

/// Range [100, 200) on topics 1 and 2, with neighbours on every side.
fn seeded() -> (Database, Vec<Message>) {
    let mut db = Database::open_in_memory().unwrap();
    let untouched = vec![
        message(topic(1), 99, 1),  // just before the range
        message(topic(1), 200, 2), // at its exclusive end
        message(topic(3), 150, 3), // inside it, on another topic
    ];
    let replaced = vec![message(topic(1), 100, 4), message(topic(2), 199, 5)];
    db.insert_messages(&untouched).unwrap();
    db.insert_messages(&replaced).unwrap();
    (db, untouched)
}

#[test]
fn import_replaces_only_its_range_and_topics() {
    let (mut db, untouched) = seeded();
    let c = community(1);
    let id = archive_id(1);
    let incoming = vec![message(topic(2), 120, 10), message(topic(1), 150, 11)];
    let a = archive(range(100, 200), &[topic(1), topic(2)], incoming.clone());

    let report = db.import_archive(&c, &id, &a).unwrap();
    assert_eq!((report.removed, report.inserted), (2, 2));
    assert!(!report.merged_with_sibling);

    let topics = [topic(1), topic(2), topic(3)];
    let expected = sorted(untouched.into_iter().chain(incoming).collect());
    assert_eq!(all(&db, &topics), expected);

    let record = db.downloaded_archive(&c, &id).unwrap().unwrap();
    assert_eq!(record.range, range(100, 200));
    assert!(record.imported);
    assert!(db.archives_to_import(&c).unwrap().is_empty());
}

#[test]
fn import_is_idempotent() {
    let (mut db, _) = seeded();
    let c = community(1);
    let id = archive_id(1);
    let a = archive(
        range(100, 200),
        &[topic(1), topic(2)],
        vec![message(topic(2), 120, 10), message(topic(1), 150, 11)],
    );
    db.import_archive(&c, &id, &a).unwrap();
    let topics = [topic(1), topic(2), topic(3)];
    let after_first = all(&db, &topics);
    let state_first = db.downloaded_archive(&c, &id).unwrap();

    let report = db.import_archive(&c, &id, &a).unwrap();
    assert_eq!((report.removed, report.inserted), (2, 2));
    assert_eq!(all(&db, &topics), after_first);
    assert_eq!(db.downloaded_archive(&c, &id).unwrap(), state_first);
    assert_eq!(db.message_count().unwrap(), after_first.len() as u64);
}

#[test]
fn import_dedupes_by_hash_and_never_moves_outside_rows() {
    let (mut db, untouched) = seeded();
    let mut first = message(topic(1), 110, 20);
    first.payload = b"first copy".to_vec();
    let last = message(topic(1), 111, 20);
    // Same hash as the stored message at 99, which lies outside the range.
    let collides_outside = message(topic(1), 120, 1);
    let off_topic = message(topic(9), 130, 21);
    let out_of_range = message(topic(1), 250, 22);
    let a = archive(
        range(100, 200),
        &[topic(1), topic(2)],
        vec![
            first,
            last.clone(),
            collides_outside,
            off_topic,
            out_of_range,
        ],
    );

    let report = db
        .import_archive(&community(1), &archive_id(1), &a)
        .unwrap();
    assert_eq!(report.inserted, 1);
    assert_eq!(report.duplicates, 2);
    assert_eq!(report.outside, 2);

    let expected = sorted(untouched.into_iter().chain([last]).collect());
    assert_eq!(
        all(&db, &[topic(1), topic(2), topic(3), topic(9)]),
        expected
    );
}

#[test]
fn sibling_chunks_of_one_partition_accumulate() {
    let mut db = Database::open_in_memory().unwrap();
    let c = community(1);
    let topics = [topic(1)];
    db.insert_messages(&[message(topic(1), 5, 1)]).unwrap();
    let chunk_a = archive(
        range(0, 10),
        &topics,
        vec![message(topic(1), 1, 2), message(topic(1), 2, 3)],
    );
    let chunk_b = archive(range(0, 10), &topics, vec![message(topic(1), 7, 4)]);

    let ra = db.import_archive(&c, &archive_id(1), &chunk_a).unwrap();
    assert!(!ra.merged_with_sibling);
    assert_eq!(ra.removed, 1);
    let rb = db.import_archive(&c, &archive_id(2), &chunk_b).unwrap();
    assert!(rb.merged_with_sibling);
    assert_eq!(rb.removed, 0);
    let both = sorted(
        chunk_a
            .messages
            .iter()
            .chain(&chunk_b.messages)
            .cloned()
            .collect(),
    );
    assert_eq!(all(&db, &topics), both);

    // Re-importing either chunk keeps both.
    db.import_archive(&c, &archive_id(1), &chunk_a).unwrap();
    assert_eq!(all(&db, &topics), both);

    // Another community's archives of the same range are no siblings: on
    // its own topic it replaces the range (topic 1 is not its to touch).
    db.insert_messages(&[message(topic(2), 3, 6)]).unwrap();
    let other = archive(range(0, 10), &[topic(2)], vec![message(topic(2), 9, 5)]);
    let ro = db
        .import_archive(&community(2), &archive_id(3), &other)
        .unwrap();
    assert!(!ro.merged_with_sibling);
    assert_eq!(ro.removed, 1);
    assert_eq!(all(&db, &[topic(2)]), other.messages);
    assert_eq!(all(&db, &topics), both);
}

#[test]
fn insert_or_replace_keeps_the_later_copy() {
    let mut db = Database::open_in_memory().unwrap();
    let early = message(topic(1), 10, 1);
    let mut moved = message(topic(2), 20, 1);
    moved.payload = b"edited".to_vec();
    db.insert_messages(&[early]).unwrap();
    db.insert_messages(&[
        message(topic(1), 11, 2),
        moved.clone(),
        message(topic(3), 5, 2),
    ])
    .unwrap();
    assert_eq!(
        all(&db, &[topic(1), topic(2), topic(3)]),
        vec![message(topic(3), 5, 2), moved]
    );
    assert_eq!(
        db.oldest_timestamp(&[topic(1), topic(2)]).unwrap(),
        Some(20)
    );
    assert_eq!(
        db.newest_timestamp(&[topic(2), topic(3)]).unwrap(),
        Some(20)
    );
    assert_eq!(db.oldest_timestamp(&[topic(1)]).unwrap(), None);
    assert_eq!(db.oldest_timestamp(&[]).unwrap(), None);
}

/// The attack of issue 13 item 2: community A's archive lists B's topic and
/// covers B's range. Before topics had owners it replaced B's messages
/// (`"removed": 500`) while B's archives stayed marked imported, so they
/// never came back.
#[test]
fn an_archive_cannot_replace_another_communitys_messages() {
    let mut db = Database::open_in_memory().unwrap();
    let (a, b) = (community(1), community(2));
    let b_messages: Vec<Message> = (0..500).map(|i| message(topic(2), 100 + i, i)).collect();
    let b_archive = archive(range(100, 700), &[topic(2)], b_messages.clone());
    let report = db.import_archive(&b, &archive_id(20), &b_archive).unwrap();
    assert_eq!((report.inserted, report.foreign_topic_messages), (500, 0));
    assert_eq!(db.topic_owner(&topic(2)).unwrap(), Some(b));

    let a_own = message(topic(1), 150, 1_000);
    let forged: Vec<Message> = (0..7)
        .map(|i| message(topic(2), 200 + i, 2_000 + i))
        .collect();
    let mut messages = vec![a_own.clone()];
    messages.extend(forged);
    let attack = archive(range(0, 1_000), &[topic(1), topic(2)], messages);
    let report = db.import_archive(&a, &archive_id(10), &attack).unwrap();

    assert_eq!(report.removed, 0);
    assert_eq!(report.inserted, 1);
    assert_eq!(report.foreign_topic_messages, 7);
    assert_eq!(report.foreign_topics, vec![topic(2)]);
    assert_eq!(all(&db, &[topic(2)]), sorted(b_messages));
    assert_eq!(all(&db, &[topic(1)]), vec![a_own]);
    let b_record = db.downloaded_archive(&b, &archive_id(20)).unwrap().unwrap();
    assert!(b_record.imported);
    assert!(db.archives_to_import(&b).unwrap().is_empty());
    assert_eq!(db.community_topics(&a).unwrap(), vec![topic(1)]);
    assert_eq!(db.community_topics(&b).unwrap(), vec![topic(2)]);
}

/// An owner's configured topics are its own before any archive arrives, so
/// the first archive to list them cannot take them.
#[test]
fn configured_topics_cannot_be_claimed_by_another_communitys_archive() {
    let mut db = Database::open_in_memory().unwrap();
    let (owner, other) = (community(1), community(2));
    db.claim_topics(&owner, &[topic(1)]).unwrap();
    db.claim_topics(&owner, &[topic(1)]).unwrap();
    db.insert_messages(&[message(topic(1), 5, 1)]).unwrap();
    let a = archive(range(0, 10), &[topic(1)], vec![message(topic(1), 6, 2)]);
    let report = db.import_archive(&other, &archive_id(1), &a).unwrap();
    assert_eq!((report.removed, report.inserted), (0, 0));
    assert_eq!(report.foreign_topic_messages, 1);
    assert_eq!(all(&db, &[topic(1)]), vec![message(topic(1), 5, 1)]);

    let err = db.claim_topics(&other, &[topic(3), topic(1)]).unwrap_err();
    match &err {
        Error::TopicOfAnotherCommunity {
            topic: t,
            owner: o,
            community: c,
        } => assert_eq!((*t, *o, *c), (topic(1), owner, other)),
        e => panic!("expected TopicOfAnotherCommunity, got {e:?}"),
    }
    assert!(err.to_string().contains(&topic(1).to_string()), "{err}");
    // Refused whole: topic 3 was not claimed either.
    assert_eq!(db.topic_owner(&topic(3)).unwrap(), None);
}
