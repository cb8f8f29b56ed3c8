//! Which community owns each topic: a topic has at most one owner in a store,
//! and a message belongs to its topic's owner. Imports act only on the
//! importing community's topics (see [`Database::import_archive`]).

use archive_index::{CommunityId, Topic};
use rusqlite::{OptionalExtension, Transaction};

use super::Database;
use crate::{
    columns::community_blob,
    error::{Error, Result},
};

/// How a topic is held, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Owner {
    pub(crate) community: CommunityId,
    /// Guessed by the migration from a store that recorded no ownership;
    /// an owner's configured claim overrides it, an archive's never does.
    pub(crate) inferred: bool,
}

pub(crate) fn owner_of(tx: &rusqlite::Connection, topic: &Topic) -> Result<Option<Owner>> {
    let row: Option<(Vec<u8>, bool)> = tx
        .prepare_cached("SELECT community_id, inferred FROM community_topics WHERE topic = ?1")?
        .query_row([&topic.0[..]], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    row.map(|(bytes, inferred)| {
        let community =
            bytes
                .as_slice()
                .try_into()
                .map(CommunityId)
                .map_err(|_| Error::Corrupt {
                    what: "topic owner",
                    reason: format!("community ID of {} bytes, expected 33", bytes.len()),
                })?;
        Ok(Owner {
            community,
            inferred,
        })
    })
    .transpose()
}

/// Records `community` as the owner of `topic` (not inferred).
pub(crate) fn set_owner(
    tx: &Transaction<'_>,
    topic: &Topic,
    community: &CommunityId,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO community_topics (topic, community_id, inferred) VALUES (?1, ?2, 0) \
         ON CONFLICT (topic) DO UPDATE SET community_id = excluded.community_id, inferred = 0",
    )?
    .execute(rusqlite::params![&topic.0[..], community_blob(community)])?;
    Ok(())
}

impl Database {
    /// Records `topics` as `community`'s, as an owner does for the topics it
    /// is configured to archive.
    ///
    /// A topic another community owns is refused with
    /// [`Error::TopicOfAnotherCommunity`] and nothing is recorded, unless that
    /// ownership was only inferred by the schema migration: then the owner's
    /// configuration wins. Claiming a topic again changes nothing.
    pub fn claim_topics(&mut self, community: &CommunityId, topics: &[Topic]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for topic in topics {
            match owner_of(&tx, topic)? {
                Some(owner) if owner.community != *community && !owner.inferred => {
                    return Err(Error::TopicOfAnotherCommunity {
                        topic: *topic,
                        owner: owner.community,
                        community: *community,
                    });
                }
                _ => set_owner(&tx, topic, community)?,
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The community that owns `topic` in this store, if any.
    pub fn topic_owner(&self, topic: &Topic) -> Result<Option<CommunityId>> {
        Ok(owner_of(&self.conn, topic)?.map(|o| o.community))
    }

    /// The topics `community` owns, in byte order.
    pub fn community_topics(&self, community: &CommunityId) -> Result<Vec<Topic>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT topic FROM community_topics WHERE community_id = ?1 ORDER BY topic",
        )?;
        let mut rows = stmt.query([community_blob(community)])?;
        let mut topics = Vec::new();
        while let Some(row) = rows.next()? {
            let bytes: Vec<u8> = row.get(0)?;
            topics.push(Topic::from_slice(&bytes).ok_or_else(|| Error::Corrupt {
                what: "owned topic",
                reason: format!("{} bytes, expected 4", bytes.len()),
            })?);
        }
        Ok(topics)
    }
}
