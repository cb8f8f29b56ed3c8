//! Waku messages: batch insert with status-go's `INSERT OR REPLACE`, range reads
//! in (timestamp, hash) order that never hold the range in memory, and the
//! oldest/newest timestamp of a topic set.

use archive_index::{Message, TimeRange, Topic};
use rusqlite::Statement;

use super::Database;
use crate::{
    columns::{MESSAGE_COLUMNS, inclusive_bounds, message_from_row, placeholders, to_sql},
    error::{Error, Result},
};

/// Where a page of a range read ended: the (timestamp, hash) of its last
/// message. The next page starts strictly after it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MessageKey {
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
    /// The message hash.
    pub hash: Vec<u8>,
}

impl MessageKey {
    /// The key of `message`.
    pub fn of(message: &Message) -> MessageKey {
        MessageKey {
            timestamp: message.timestamp,
            hash: message.hash.clone(),
        }
    }
}

pub(super) const INSERT_OR_REPLACE: &str = "INSERT OR REPLACE INTO waku_messages \
     (sig, timestamp, topic, payload, padding, hash, third_party_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

const INSERT_OR_IGNORE: &str = "INSERT OR IGNORE INTO waku_messages \
     (sig, timestamp, topic, payload, padding, hash, third_party_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

pub(super) fn bind_message(stmt: &mut Statement<'_>, m: &Message) -> Result<usize> {
    let timestamp = to_sql("timestamp", m.timestamp)?;
    Ok(stmt.execute(rusqlite::params![
        m.sig,
        timestamp,
        &m.topic.0[..],
        m.payload,
        m.padding,
        m.hash,
        m.third_party_id,
    ])?)
}

impl Database {
    /// Stores `messages` in one transaction. A message whose hash is already
    /// stored replaces the stored one, and within the batch the later one
    /// wins, exactly as status-go's `INSERT OR REPLACE` (and
    /// [`archive_index::write_archives`]).
    ///
    /// Either every message is stored or, on error, none is.
    pub fn insert_messages(&mut self, messages: &[Message]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(INSERT_OR_REPLACE)?;
            for m in messages {
                bind_message(&mut stmt, m)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores those of `messages` whose hash is not stored yet, in one
    /// transaction, and returns how many that was. A stored message and, within
    /// the batch, the first of equal hashes are kept as they are: messages
    /// heard from the network are first come, first kept, so a peer cannot
    /// rewrite a stored message by re-sending one whose hash collides.
    ///
    /// Either every new message is stored or, on error, none is.
    pub fn insert_messages_if_absent(&mut self, messages: &[Message]) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut inserted = 0;
        {
            let mut stmt = tx.prepare_cached(INSERT_OR_IGNORE)?;
            for m in messages {
                inserted += bind_message(&mut stmt, m)?;
            }
        }
        tx.commit()?;
        Ok(inserted)
    }

    /// Calls `f` with each stored message on one of `topics` inside `range`,
    /// in (timestamp, hash) order, from one consistent snapshot.
    ///
    /// Rows are decoded one at a time as SQLite steps through the index, so
    /// memory stays flat however large the range. The first error from `f`
    /// stops the walk and is returned.
    pub fn for_each_message<E: From<Error>>(
        &self,
        topics: &[Topic],
        range: TimeRange,
        mut f: impl FnMut(Message) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some((lo, hi)) = inclusive_bounds(range) else {
            return Ok(());
        };
        if topics.is_empty() {
            return Ok(());
        }
        let sql = range_sql(topics.len(), false, false);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(Error::from)?;
        bind_range(&mut stmt, topics, lo, hi, None)?;
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next().map_err(Error::from)? {
            f(message_from_row(row)?)?;
        }
        Ok(())
    }

    /// Collects the range into memory; for small ranges and tests. Large
    /// ranges should use [`for_each_message`](Self::for_each_message) or
    /// [`messages_page`](Self::messages_page).
    pub fn messages(&self, topics: &[Topic], range: TimeRange) -> Result<Vec<Message>> {
        let mut out = Vec::new();
        self.for_each_message(topics, range, |m| {
            out.push(m);
            Ok::<_, Error>(())
        })?;
        Ok(out)
    }

    /// One page of a range read: at most `limit` messages after `after` (or
    /// from the start), in (timestamp, hash) order.
    ///
    /// Pages are keyed by position rather than held open, so no lock or read
    /// transaction spans two pages; a write that commits between two pages is
    /// seen by the later ones only.
    pub fn messages_page(
        &self,
        topics: &[Topic],
        range: TimeRange,
        after: Option<&MessageKey>,
        limit: usize,
    ) -> Result<Vec<Message>> {
        self.page(topics, range, after, limit, usize::MAX)
    }

    /// [`messages_page`](Self::messages_page) that also stops once the page
    /// holds `max_bytes` of payload and signature (always at least one message).
    pub(crate) fn page(
        &self,
        topics: &[Topic],
        range: TimeRange,
        after: Option<&MessageKey>,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<Message>> {
        let Some((lo, hi)) = inclusive_bounds(range) else {
            return Ok(Vec::new());
        };
        if topics.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let after = match after {
            Some(key) => match i64::try_from(key.timestamp) {
                Ok(ts) if ts > hi => return Ok(Vec::new()),
                Ok(ts) => Some((ts, key.hash.as_slice())),
                Err(_) => return Ok(Vec::new()),
            },
            None => None,
        };
        let sql = range_sql(topics.len(), after.is_some(), true);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        bind_range(&mut stmt, topics, lo, hi, after)?;
        stmt.raw_bind_parameter(
            topics.len() + 3 + 2 * usize::from(after.is_some()),
            limit as i64,
        )?;
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        while let Some(row) = rows.next()? {
            let m = message_from_row(row)?;
            bytes = bytes.saturating_add(m.payload.len() + m.sig.len());
            out.push(m);
            if bytes >= max_bytes {
                break;
            }
        }
        Ok(out)
    }

    /// The smallest stored timestamp on `topics`, as status-go's
    /// `GetOldestWakuMessageTimestamp` (which says 0 where this says `None`).
    pub fn oldest_timestamp(&self, topics: &[Topic]) -> Result<Option<u64>> {
        self.edge_timestamp(topics, "ASC")
    }

    /// The largest stored timestamp on `topics`.
    pub fn newest_timestamp(&self, topics: &[Topic]) -> Result<Option<u64>> {
        self.edge_timestamp(topics, "DESC")
    }

    fn edge_timestamp(&self, topics: &[Topic], direction: &str) -> Result<Option<u64>> {
        if topics.is_empty() {
            return Ok(None);
        }
        // ORDER BY + LIMIT walks the (timestamp, topic) index from one end and
        // stops at the first match; MIN() with a WHERE clause would not.
        let sql = format!(
            "SELECT timestamp FROM waku_messages WHERE topic IN ({}) ORDER BY timestamp {direction} LIMIT 1",
            placeholders(1, topics.len())
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        for (i, topic) in topics.iter().enumerate() {
            stmt.raw_bind_parameter(i + 1, &topic.0[..])?;
        }
        let mut rows = stmt.raw_query();
        match rows.next()? {
            Some(row) => Ok(Some(crate::columns::from_sql(
                "message timestamp",
                row.get(0)?,
            )?)),
            None => Ok(None),
        }
    }

    /// Every topic that has at least one stored message, in byte order.
    pub fn topics(&self) -> Result<Vec<Topic>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT topic FROM waku_messages ORDER BY topic")?;
        let mut rows = stmt.raw_query();
        let mut topics = Vec::new();
        while let Some(row) = rows.next()? {
            let bytes: Vec<u8> = row.get(0)?;
            topics.push(Topic::from_slice(&bytes).ok_or_else(|| Error::Corrupt {
                what: "message topic",
                reason: format!("{} bytes, expected 4", bytes.len()),
            })?);
        }
        Ok(topics)
    }

    /// How many distinct hashes of `messages` are stored already, so an
    /// import can say what it adds and what it only repeats.
    pub fn count_stored(&self, messages: &[Message]) -> Result<usize> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM waku_messages WHERE hash = ?1")?;
        let mut seen = std::collections::HashSet::new();
        let mut stored = 0;
        for m in messages {
            if seen.insert(m.hash.as_slice()) && stmt.exists([&m.hash])? {
                stored += 1;
            }
        }
        Ok(stored)
    }

    /// How many messages are stored, on any topic.
    pub fn message_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM waku_messages", [], |row| row.get(0))?;
        crate::columns::from_sql("message count", n)
    }
}

/// Parameters: topics `1..=n`, then `lo`, `hi`, then (paged) the key's
/// timestamp and hash, then (limited) the limit.
fn range_sql(topics: usize, keyed: bool, limited: bool) -> String {
    let n = topics;
    let mut sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM waku_messages \
         WHERE timestamp >= ?{lo} AND timestamp <= ?{hi} AND topic IN ({topics})",
        lo = n + 1,
        hi = n + 2,
        topics = placeholders(1, n),
    );
    if keyed {
        // The key's timestamp also raises the index's lower bound (bound as
        // `lo`), so the walk starts at the key rather than at `range.from`.
        sql.push_str(&format!(
            " AND (timestamp > ?{k} OR hash > ?{h})",
            k = n + 3,
            h = n + 4
        ));
    }
    sql.push_str(" ORDER BY timestamp, hash");
    if limited {
        sql.push_str(&format!(" LIMIT ?{}", n + 3 + 2 * usize::from(keyed)));
    }
    sql
}

fn bind_range(
    stmt: &mut Statement<'_>,
    topics: &[Topic],
    lo: i64,
    hi: i64,
    after: Option<(i64, &[u8])>,
) -> Result<()> {
    let n = topics.len();
    for (i, topic) in topics.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, &topic.0[..])?;
    }
    let lo = after.map_or(lo, |(ts, _)| lo.max(ts));
    stmt.raw_bind_parameter(n + 1, lo)?;
    stmt.raw_bind_parameter(n + 2, hi)?;
    if let Some((ts, hash)) = after {
        stmt.raw_bind_parameter(n + 3, ts)?;
        stmt.raw_bind_parameter(n + 4, hash)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A range read or import that fell back to a full table scan would still
    /// be correct, so only the plan shows it.
    #[test]
    fn range_statements_walk_the_timestamp_index() {
        let db = Database::open_in_memory().unwrap();
        for sql in [
            range_sql(2, false, false),
            range_sql(3, true, true),
            format!(
                "DELETE FROM waku_messages WHERE timestamp >= ?1 AND timestamp <= ?2 AND topic IN ({})",
                placeholders(3, 2)
            ),
        ] {
            let mut stmt = db
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            // Unbound parameters are NULL, which is fine for planning.
            let mut rows = stmt.raw_query();
            let mut plan: Vec<String> = Vec::new();
            while let Some(row) = rows.next().unwrap() {
                plan.push(row.get(3).unwrap());
            }
            assert!(
                plan.iter()
                    .any(|step| step.contains("USING INDEX waku_messages_timestamp_topic")),
                "{sql}: {plan:?}"
            );
        }
    }
}
