//! Archive state: "update only if newer" announcements, independent fields
//! (status-go's f.3 must not reproduce), downloaded and imported archives.

use std::collections::BTreeSet;

use archive_store::{Announcement, Database, DownloadedArchive, LinkKind};

use crate::sample::{archive_id, community, range};

fn announcement(clock: u64, link: &str) -> Option<Announcement> {
    Some(Announcement {
        clock,
        link: link.to_owned(),
    })
}

#[test]
fn announcements_update_only_if_not_older() {
    let mut db = Database::open_in_memory().unwrap();
    let c = community(1);
    assert_eq!(db.announcement(&c, &LinkKind::TORRENT).unwrap(), None);

    assert!(
        db.record_announcement(&c, &LinkKind::TORRENT, 100, "magnet:?a")
            .unwrap()
    );
    assert!(
        !db.record_announcement(&c, &LinkKind::TORRENT, 99, "magnet:?old")
            .unwrap()
    );
    assert_eq!(
        db.announcement(&c, &LinkKind::TORRENT).unwrap(),
        announcement(100, "magnet:?a")
    );

    // An equal clock is the same announcement seen again: accepted.
    assert!(
        db.record_announcement(&c, &LinkKind::TORRENT, 100, "magnet:?b")
            .unwrap()
    );
    assert_eq!(
        db.announcement(&c, &LinkKind::TORRENT).unwrap(),
        announcement(100, "magnet:?b")
    );
    assert!(
        db.record_announcement(&c, &LinkKind::TORRENT, 101, "magnet:?c")
            .unwrap()
    );
    assert_eq!(
        db.announcement(&c, &LinkKind::TORRENT).unwrap(),
        announcement(101, "magnet:?c")
    );

    // Link kinds and communities are independent.
    assert_eq!(db.announcement(&c, &LinkKind::CODEX).unwrap(), None);
    assert!(
        db.record_announcement(&c, &LinkKind::CODEX, 5, "zDvZ")
            .unwrap()
    );
    assert_eq!(
        db.announcement(&c, &LinkKind::TORRENT).unwrap(),
        announcement(101, "magnet:?c")
    );
    assert_eq!(
        db.announcement(&community(2), &LinkKind::TORRENT).unwrap(),
        None
    );
}

/// status-go's `SaveLastMessageArchiveEndDate` replaced the whole
/// `communities_archive_info` row and reset the magnet clock and link (f.3).
#[test]
fn updating_one_field_never_resets_another() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let c = community(7);
    let a = archive_id(1);
    {
        let mut db = Database::open(&path).unwrap();
        // The archive end first, as when a row exists from a CommunityDescription.
        db.set_last_archive_end(&c, &LinkKind::TORRENT, 0).unwrap();
        db.record_announcement(&c, &LinkKind::TORRENT, 1_000, "magnet:?xt=1")
            .unwrap();
        db.record_announcement(&c, &LinkKind::CODEX, 2_000, "zDvZcid")
            .unwrap();
        db.record_downloaded(&c, &a, range(0, 10)).unwrap();
        db.set_imported(&c, &a, true).unwrap();

        db.set_last_archive_end(&c, &LinkKind::TORRENT, 604_800)
            .unwrap();
        assert_eq!(
            db.announcement(&c, &LinkKind::TORRENT).unwrap(),
            announcement(1_000, "magnet:?xt=1")
        );
        assert_eq!(
            db.announcement(&c, &LinkKind::CODEX).unwrap(),
            announcement(2_000, "zDvZcid")
        );
        assert!(db.downloaded_archive(&c, &a).unwrap().unwrap().imported);

        db.record_announcement(&c, &LinkKind::TORRENT, 1_001, "magnet:?xt=2")
            .unwrap();
        db.record_downloaded(&c, &archive_id(2), range(10, 20))
            .unwrap();
        assert_eq!(
            db.last_archive_end(&c, &LinkKind::TORRENT).unwrap(),
            Some(604_800)
        );
        assert_eq!(
            db.announcement(&c, &LinkKind::CODEX).unwrap(),
            announcement(2_000, "zDvZcid")
        );
    }
    // And all of it survives a reopen.
    let db = Database::open(&path).unwrap();
    assert_eq!(
        db.last_archive_end(&c, &LinkKind::TORRENT).unwrap(),
        Some(604_800)
    );
    assert_eq!(
        db.announcement(&c, &LinkKind::TORRENT).unwrap(),
        announcement(1_001, "magnet:?xt=2")
    );
    assert_eq!(
        db.announcement(&c, &LinkKind::CODEX).unwrap(),
        announcement(2_000, "zDvZcid")
    );
    assert_eq!(
        db.last_archive_end(&community(8), &LinkKind::TORRENT)
            .unwrap(),
        None
    );
}

#[test]
fn downloaded_archives_and_import_queue() {
    let mut db = Database::open_in_memory().unwrap();
    let c = community(3);
    let (a, b, d) = (archive_id(10), archive_id(11), archive_id(12));
    // Recorded newest first; the queue still comes out oldest first.
    assert!(db.record_downloaded(&c, &d, range(200, 300)).unwrap());
    assert!(db.record_downloaded(&c, &b, range(100, 200)).unwrap());
    assert!(db.record_downloaded(&c, &a, range(0, 100)).unwrap());
    assert!(
        db.record_downloaded(&community(4), &archive_id(99), range(0, 1))
            .unwrap()
    );

    assert_eq!(
        db.downloaded_archive_ids(&c).unwrap(),
        BTreeSet::from([a, b, d])
    );
    let queue: Vec<_> = db
        .archives_to_import(&c)
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(queue, vec![a, b, d]);

    assert!(db.set_imported(&c, &b, true).unwrap());
    // Downloading an imported archive again must not clear its flag.
    assert!(!db.record_downloaded(&c, &b, range(100, 200)).unwrap());
    assert_eq!(
        db.downloaded_archive(&c, &b).unwrap(),
        Some(DownloadedArchive {
            id: b,
            range: range(100, 200),
            imported: true
        })
    );
    let queue: Vec<_> = db
        .archives_to_import(&c)
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(queue, vec![a, d]);
    assert_eq!(db.downloaded_archive_ids(&c).unwrap().len(), 3);

    assert!(!db.set_imported(&c, &archive_id(1234), true).unwrap());
    assert!(db.set_imported(&c, &b, false).unwrap());
    assert_eq!(db.archives_to_import(&c).unwrap().len(), 3);
}

/// The fetched link is its own field: accepting a newer announcement does
/// not make it look fetched, and each kind keeps its own.
#[test]
fn fetched_link_is_kept_per_kind_apart_from_the_announcement() {
    let mut db = Database::open_in_memory().unwrap();
    let c = community(9);
    assert_eq!(db.fetched_link(&c, &LinkKind::TORRENT).unwrap(), None);
    db.record_announcement(&c, &LinkKind::TORRENT, 5, "magnet:?xt=a")
        .unwrap();
    db.set_fetched_link(&c, &LinkKind::TORRENT, "magnet:?xt=a")
        .unwrap();
    db.record_announcement(&c, &LinkKind::TORRENT, 6, "magnet:?xt=b")
        .unwrap();
    assert_eq!(
        db.fetched_link(&c, &LinkKind::TORRENT).unwrap().as_deref(),
        Some("magnet:?xt=a")
    );
    assert_eq!(db.fetched_link(&c, &LinkKind::CODEX).unwrap(), None);
    db.set_fetched_link(&c, &LinkKind::TORRENT, "magnet:?xt=b")
        .unwrap();
    assert_eq!(
        db.fetched_link(&c, &LinkKind::TORRENT).unwrap().as_deref(),
        Some("magnet:?xt=b")
    );
}

/// An import asks which of its messages are stored already and which fall
/// before the community's latest archive end on any network.
#[test]
fn stored_hashes_and_the_latest_archive_end_over_networks() {
    let mut db = Database::open_in_memory().unwrap();
    let c = community(3);
    assert_eq!(db.latest_archive_end(&c).unwrap(), None);
    db.set_last_archive_end(&c, &LinkKind::TORRENT, 700)
        .unwrap();
    db.set_last_archive_end(&c, &LinkKind::CODEX, 900).unwrap();
    db.set_last_archive_end(&community(4), &LinkKind::TORRENT, 5_000)
        .unwrap();
    assert_eq!(db.latest_archive_end(&c).unwrap(), Some(900));

    let message = |n: u64| crate::sample::message(crate::sample::topic(1), n, n);
    db.insert_messages(&[message(1), message(2)]).unwrap();
    // Repeats within the batch count once.
    let batch = [message(1), message(1), message(2), message(3)];
    assert_eq!(db.count_stored(&batch).unwrap(), 2);
    assert_eq!(db.count_stored(&[message(9)]).unwrap(), 0);
}

/// An owner importing by hand learns what was new, what was there, and
/// which messages fall into time its community has archived already.
#[test]
fn a_reported_insert_names_new_present_and_late_messages() {
    let mut db = Database::open_in_memory().unwrap();
    let c = community(5);
    let on =
        |topic: u8, t: u64, seed: u64| crate::sample::message(crate::sample::topic(topic), t, seed);
    let first = db
        .insert_messages_reported(&[on(1, 10, 1), on(1, 20, 2)])
        .unwrap();
    assert_eq!((first.new, first.already_present, first.late), (2, 0, None));

    db.claim_topics(&c, &[crate::sample::topic(1)]).unwrap();
    db.set_last_archive_end(&c, &LinkKind::TORRENT, 100)
        .unwrap();
    // Topic 2 belongs to no community: never late.
    let report = db
        .insert_messages_reported(&[
            on(1, 20, 2),
            on(1, 50, 3),
            on(1, 30, 4),
            on(1, 150, 5),
            on(2, 5, 6),
        ])
        .unwrap();
    assert_eq!((report.new, report.already_present), (4, 1));
    let late = report.late.unwrap();
    assert_eq!(late.community, c);
    assert_eq!(
        (late.messages, late.from, late.to, late.archive_end),
        (3, 20, 50, 100)
    );
    assert_eq!(db.message_count().unwrap(), 6);
}

/// An intake fed in batches reports exactly what one slice would, repeats
/// across batches included (of a stored message whose row is the table's
/// last, too: replacing it must not make its repeat look stored before),
/// and one dropped uncommitted stores nothing.
#[test]
fn an_intake_in_batches_reports_what_one_slice_would() {
    let on =
        |topic: u8, t: u64, seed: u64| crate::sample::message(crate::sample::topic(topic), t, seed);
    let setup = || {
        let mut db = Database::open_in_memory().unwrap();
        let (a, b) = (community(6), community(7));
        db.claim_topics(&a, &[crate::sample::topic(1)]).unwrap();
        db.claim_topics(&b, &[crate::sample::topic(2)]).unwrap();
        db.set_last_archive_end(&a, &LinkKind::TORRENT, 100)
            .unwrap();
        db.set_last_archive_end(&b, &LinkKind::TORRENT, 100)
            .unwrap();
        // Seed 2 is stored last: the row with the largest rowid.
        db.insert_messages(&[on(1, 10, 1), on(3, 20, 2)]).unwrap();
        db
    };
    let input = [
        on(2, 40, 9),  // late for b, found first
        on(3, 20, 2),  // stored before (the last row), replaced
        on(1, 60, 10), // late for a: not counted, b was found first
        on(3, 20, 2),  // its repeat: counted once
        on(2, 50, 11), // late for b
        on(1, 10, 1),  // stored before
        on(2, 200, 12),
        on(2, 50, 11), // a repeat of a new one
        on(2, 30, 13), // late for b
    ];
    let whole = setup().insert_messages_reported(&input).unwrap();
    assert_eq!((whole.new, whole.already_present), (5, 2));
    let late = whole.late.clone().unwrap();
    assert_eq!(
        (late.community, late.messages, late.from, late.to),
        (community(7), 4, 30, 50)
    );
    for size in 1..=input.len() {
        let mut db = setup();
        let mut intake = db.intake().unwrap();
        for batch in input.chunks(size) {
            intake.insert(batch).unwrap();
        }
        assert_eq!(intake.commit().unwrap(), whole, "batches of {size}");
        assert_eq!(db.message_count().unwrap(), 7);
    }

    let mut db = setup();
    let mut intake = db.intake().unwrap();
    intake.insert(&input[..4]).unwrap();
    drop(intake);
    assert_eq!(
        db.message_count().unwrap(),
        2,
        "an uncommitted intake stores nothing"
    );
    assert_eq!(db.insert_messages_reported(&input).unwrap(), whole);
}
