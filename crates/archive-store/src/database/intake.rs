//! Messages stored by hand (an owner's `messages import`), with a report of
//! what the store gained: new messages, ones it held already, and ones that
//! fall into time a community has already archived, which no archive will
//! ever hold since archiving only appends after the last archive end.

use std::collections::{HashMap, HashSet};

use archive_index::{CommunityId, Message, Topic};

use super::Database;
use crate::error::Result;

/// What [`Database::insert_messages_reported`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InsertReport {
    /// Distinct messages (by hash) the store did not hold.
    pub new: usize,
    /// Distinct messages it held already, now replaced by the given copy.
    pub already_present: usize,
    /// Messages older than their community's last archive end, if any.
    pub late: Option<LateMessages>,
}

/// Stored messages whose time a community has archived already: members
/// will not get them unless that range is archived again.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LateMessages {
    /// The community owning their topic (the first found, if several).
    pub community: CommunityId,
    /// How many of the batch are late for it.
    pub messages: usize,
    /// The oldest one's timestamp, seconds.
    pub from: u64,
    /// The newest one's timestamp, seconds.
    pub to: u64,
    /// The community's latest archive end over its networks, seconds.
    pub archive_end: u64,
}

impl Database {
    /// [`insert_messages`](Self::insert_messages) (all or nothing, same hash
    /// replaced) that reports what is new, what was there, and what fell
    /// before the archive end of the community owning its topic. A message
    /// on a topic no community has claimed is never reported late.
    pub fn insert_messages_reported(&mut self, messages: &[Message]) -> Result<InsertReport> {
        let distinct = messages
            .iter()
            .map(|m| m.hash.as_slice())
            .collect::<HashSet<_>>()
            .len();
        let already_present = self.count_stored(messages)?;
        let late = self.late_messages(messages)?;
        self.insert_messages(messages)?;
        Ok(InsertReport {
            new: distinct - already_present,
            already_present,
            late,
        })
    }

    fn late_messages(&self, messages: &[Message]) -> Result<Option<LateMessages>> {
        let mut ends: HashMap<Topic, Option<(CommunityId, u64)>> = HashMap::new();
        let mut late: Option<LateMessages> = None;
        for m in messages {
            let end = match ends.get(&m.topic) {
                Some(end) => *end,
                None => {
                    let end = match self.topic_owner(&m.topic)? {
                        Some(community) => self
                            .latest_archive_end(&community)?
                            .map(|end| (community, end)),
                        None => None,
                    };
                    ends.insert(m.topic, end);
                    end
                }
            };
            let Some((community, archive_end)) = end else {
                continue;
            };
            if m.timestamp >= archive_end {
                continue;
            }
            match &mut late {
                Some(l) if l.community == community => {
                    l.messages += 1;
                    l.from = l.from.min(m.timestamp);
                    l.to = l.to.max(m.timestamp);
                }
                Some(_) => {}
                None => {
                    late = Some(LateMessages {
                        community,
                        messages: 1,
                        from: m.timestamp,
                        to: m.timestamp,
                        archive_end,
                    });
                }
            }
        }
        Ok(late)
    }
}
