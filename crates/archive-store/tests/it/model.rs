//! Model-based test: the store against a `BTreeMap` model under random
//! sequences of batch inserts, canonical imports and range queries.

use std::collections::{BTreeMap, BTreeSet};

use archive_index::{Archive, ArchiveId, Message, TimeRange, Topic};
use archive_store::{Database, MessageKey};
use proptest::prelude::*;

use crate::sample::{EVERYTHING, archive, archive_id, community, sorted, topic};

/// Small domains so that hashes collide, ranges repeat (sibling chunks) and
/// timestamps pile up on one second.
const TOPICS: u8 = 4;
const HASHES: u8 = 24;
const RANGES: [(u64, u64); 6] = [(0, 8), (8, 16), (16, 24), (4, 12), (0, 24), (10, 10)];

#[derive(Clone, Debug)]
enum Op {
    Insert(Vec<Message>),
    Import(Archive),
    /// Imports the `n`-th earlier import again (modulo their count).
    Reimport(usize),
    Query {
        topics: Vec<Topic>,
        range: TimeRange,
        page: usize,
    },
}

fn a_message() -> impl Strategy<Value = Message> {
    (
        0..TOPICS,
        0u64..26,
        0..HASHES,
        proptest::collection::vec(any::<u8>(), 0..3),
    )
        .prop_map(|(t, timestamp, h, payload)| Message {
            sig: vec![h],
            timestamp,
            topic: topic(t),
            payload,
            padding: Vec::new(),
            hash: vec![h],
            third_party_id: String::new(),
        })
}

fn some_topics() -> impl Strategy<Value = Vec<Topic>> {
    proptest::collection::vec((0..TOPICS + 1).prop_map(topic), 0..4)
}

fn a_range() -> impl Strategy<Value = TimeRange> {
    prop_oneof![
        proptest::sample::select(RANGES.to_vec()).prop_map(|(from, to)| TimeRange { from, to }),
        (0u64..30, 0u64..30).prop_map(|(from, to)| TimeRange { from, to }),
        Just(EVERYTHING),
    ]
}

fn an_op() -> impl Strategy<Value = Op> {
    let messages = || proptest::collection::vec(a_message(), 0..12);
    prop_oneof![
        3 => messages().prop_map(Op::Insert),
        3 => (proptest::sample::select(RANGES.to_vec()), some_topics(), messages()).prop_map(
            |((from, to), topics, messages)| Op::Import(archive(TimeRange { from, to }, &topics, messages))
        ),
        1 => any::<usize>().prop_map(Op::Reimport),
        3 => (some_topics(), a_range(), 1usize..6).prop_map(|(topics, range, page)| Op::Query { topics, range, page }),
    ]
}

/// The specification, written as plainly as possible.
#[derive(Debug, Default)]
struct Model {
    messages: BTreeMap<Vec<u8>, Message>,
    imported: BTreeMap<ArchiveId, TimeRange>,
}

impl Model {
    fn insert(&mut self, batch: &[Message]) {
        for m in batch {
            self.messages.insert(m.hash.clone(), m.clone());
        }
    }

    fn import(&mut self, id: ArchiveId, archive: &Archive) {
        let range = archive.metadata.range;
        let topics = &archive.metadata.topics;
        let covered = |m: &Message| range.contains(m.timestamp) && topics.contains(&m.topic);
        let sibling = self
            .imported
            .iter()
            .any(|(other, r)| *other != id && *r == range);
        if !sibling {
            self.messages.retain(|_, m| !covered(m));
        }
        // The archive's last copy of a hash wins; stored rows are never replaced.
        let mut last: BTreeMap<&[u8], &Message> = BTreeMap::new();
        for m in archive.messages.iter().filter(|m| covered(m)) {
            last.insert(&m.hash, m);
        }
        for (hash, m) in last {
            self.messages
                .entry(hash.to_vec())
                .or_insert_with(|| m.clone());
        }
        self.imported.insert(id, range);
    }

    fn query(&self, topics: &[Topic], range: TimeRange) -> Vec<Message> {
        sorted(
            self.messages
                .values()
                .filter(|m| topics.contains(&m.topic) && range.contains(m.timestamp))
                .cloned()
                .collect(),
        )
    }
}

fn paged(db: &Database, topics: &[Topic], range: TimeRange, page: usize) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    loop {
        let after = out.last().map(MessageKey::of);
        let next = db
            .messages_page(topics, range, after.as_ref(), page)
            .unwrap();
        assert!(next.len() <= page);
        if next.is_empty() {
            return out;
        }
        out.extend(next);
    }
}

fn check(
    db: &Database,
    model: &Model,
    topics: &[Topic],
    range: TimeRange,
    page: usize,
) -> Result<(), TestCaseError> {
    let expected = model.query(topics, range);
    prop_assert_eq!(&db.messages(topics, range).unwrap(), &expected);
    prop_assert_eq!(&paged(db, topics, range, page), &expected);
    let on_topics = model.query(topics, EVERYTHING);
    prop_assert_eq!(
        db.oldest_timestamp(topics).unwrap(),
        on_topics.first().map(|m| m.timestamp)
    );
    prop_assert_eq!(
        db.newest_timestamp(topics).unwrap(),
        on_topics.iter().map(|m| m.timestamp).max()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn store_behaves_like_the_model(ops in proptest::collection::vec(an_op(), 1..40)) {
        let mut db = Database::open_in_memory().unwrap();
        let mut model = Model::default();
        let c = community(1);
        let mut imports: Vec<(ArchiveId, Archive)> = Vec::new();
        let all_topics: Vec<Topic> = (0..=TOPICS).map(topic).collect();

        for (n, op) in ops.into_iter().enumerate() {
            match op {
                Op::Insert(batch) => {
                    db.insert_messages(&batch).unwrap();
                    model.insert(&batch);
                }
                Op::Import(a) => {
                    let id = archive_id(n as u64);
                    db.import_archive(&c, &id, &a).unwrap();
                    model.import(id, &a);
                    imports.push((id, a));
                }
                Op::Reimport(k) => {
                    if !imports.is_empty() {
                        let (id, a) = &imports[k % imports.len()];
                        db.import_archive(&c, id, a).unwrap();
                        model.import(*id, a);
                    }
                }
                Op::Query { topics, range, page } => check(&db, &model, &topics, range, page)?,
            }
            prop_assert_eq!(db.message_count().unwrap(), model.messages.len() as u64);
        }
        check(&db, &model, &all_topics, EVERYTHING, 3)?;
        let ids: BTreeSet<ArchiveId> = model.imported.keys().copied().collect();
        prop_assert_eq!(db.downloaded_archive_ids(&c).unwrap(), ids);
        prop_assert!(db.archives_to_import(&c).unwrap().is_empty());
    }
}
