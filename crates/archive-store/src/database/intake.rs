//! Messages stored by hand (an owner's `messages import`), with a report of
//! what the store gained: new messages, ones it held already, and ones that
//! fall into time a community has already archived, which no archive will
//! ever hold since archiving only appends after the last archive end.
//!
//! An [`Intake`] takes the messages in batches inside one transaction, so a
//! file of a million messages is imported with one batch in memory, all or
//! nothing, and reported as exactly as if it had been one slice.

use std::collections::{HashMap, HashSet};

use archive_index::{CommunityId, Message, Topic};
use rusqlite::OptionalExtension;

use super::{
    Database,
    messages::{INSERT_OR_REPLACE, bind_message},
};
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
        let mut intake = self.intake()?;
        intake.insert(messages)?;
        intake.commit()
    }

    /// Starts an [`insert_messages_reported`](Self::insert_messages_reported)
    /// fed in batches: one transaction until [`Intake::commit`]; dropping
    /// the intake uncommitted (a bad line further on, say) stores none of
    /// it.
    pub fn intake(&mut self) -> Result<Intake<'_>> {
        // The pages an import's hash lookups touch through the memory map
        // count as the process's resident memory, up to the whole map (a
        // re-import of 200 K messages peaked at 121 MiB with it, 57 MiB for
        // a fresh one); the page cache alone bounds it. Restored at the end.
        // (An in-memory database has no map and answers no row.)
        let mmap_size: Option<i64> = self
            .conn
            .query_row("PRAGMA mmap_size", [], |row| row.get(0))
            .optional()?;
        if mmap_size.is_some() {
            self.conn.execute_batch("PRAGMA mmap_size = 0")?;
        }
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        // Rolled back on drop from here on, an error below included.
        let mut intake = Intake {
            db: self,
            mmap_size,
            watermark: 0,
            new: 0,
            already_present: 0,
            late: None,
            ends: HashMap::new(),
            open: true,
        };
        let watermark: Option<i64> =
            intake
                .db
                .conn
                .query_row("SELECT max(rowid) FROM waku_messages", [], |row| row.get(0))?;
        intake.watermark = watermark.unwrap_or(0);
        Ok(intake)
    }
}

/// A reported insert in progress; see [`Database::intake`].
///
/// How it counts across batches without a set of every hash seen (for a
/// million messages that set alone would be tens of MiB): SQLite gives each
/// row it writes a rowid above every rowid in the table, a replaced row
/// included (the new rowid is chosen before the old row is deleted). So a
/// stored row whose rowid is at most the table's largest when the intake
/// began was there before it (`already_present`), and one above was
/// written by an earlier batch of this intake (a repeat within the input,
/// counted once, as the one-slice report counts distinct hashes).
#[derive(Debug)]
pub struct Intake<'a> {
    db: &'a mut Database,
    /// The connection's memory map size before, restored at the end.
    mmap_size: Option<i64>,
    watermark: i64,
    new: usize,
    already_present: usize,
    late: Option<LateMessages>,
    /// Each topic's owning community and its archive end, looked up once.
    ends: HashMap<Topic, Option<(CommunityId, u64)>>,
    /// Whether the transaction is still to be committed or rolled back.
    open: bool,
}

impl Intake<'_> {
    /// Counts and stores one batch; within it and across batches the later
    /// of equal hashes wins, as in one [`Database::insert_messages`].
    pub fn insert(&mut self, messages: &[Message]) -> Result<()> {
        {
            let mut stored = self
                .db
                .conn
                .prepare_cached("SELECT rowid FROM waku_messages WHERE hash = ?1")?;
            let mut seen = HashSet::new();
            for m in messages {
                if !seen.insert(m.hash.as_slice()) {
                    continue;
                }
                match stored
                    .query_row([&m.hash], |row| row.get::<_, i64>(0))
                    .optional()?
                {
                    None => self.new += 1,
                    Some(rowid) if rowid <= self.watermark => self.already_present += 1,
                    Some(_) => {}
                }
            }
        }
        self.count_late(messages)?;
        let mut insert = self.db.conn.prepare_cached(INSERT_OR_REPLACE)?;
        for m in messages {
            bind_message(&mut insert, m)?;
        }
        Ok(())
    }

    /// Commits everything inserted and reports it.
    pub fn commit(mut self) -> Result<InsertReport> {
        self.db.conn.execute_batch("COMMIT")?;
        self.open = false;
        self.restore_mmap();
        Ok(InsertReport {
            new: self.new,
            already_present: self.already_present,
            late: self.late.take(),
        })
    }

    fn restore_mmap(&self) {
        // Reads are only slower without it, so a failure is not an error.
        if let Some(size) = self.mmap_size {
            let _ = self
                .db
                .conn
                .execute_batch(&format!("PRAGMA mmap_size = {size}"));
        }
    }

    /// Adds the batch's late messages to those of the community found late
    /// first (in this batch or an earlier one).
    fn count_late(&mut self, messages: &[Message]) -> Result<()> {
        for m in messages {
            let end = match self.ends.get(&m.topic) {
                Some(end) => *end,
                None => {
                    let end = match self.db.topic_owner(&m.topic)? {
                        Some(community) => self
                            .db
                            .latest_archive_end(&community)?
                            .map(|end| (community, end)),
                        None => None,
                    };
                    self.ends.insert(m.topic, end);
                    end
                }
            };
            let Some((community, archive_end)) = end else {
                continue;
            };
            if m.timestamp >= archive_end {
                continue;
            }
            match &mut self.late {
                Some(l) if l.community == community => {
                    l.messages += 1;
                    l.from = l.from.min(m.timestamp);
                    l.to = l.to.max(m.timestamp);
                }
                Some(_) => {}
                None => {
                    self.late = Some(LateMessages {
                        community,
                        messages: 1,
                        from: m.timestamp,
                        to: m.timestamp,
                        archive_end,
                    });
                }
            }
        }
        Ok(())
    }
}

impl Drop for Intake<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing of an uncommitted intake is kept; a failed rollback
            // leaves SQLite to roll back when the connection closes.
            let _ = self.db.conn.execute_batch("ROLLBACK");
            self.restore_mmap();
        }
    }
}
