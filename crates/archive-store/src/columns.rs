//! How domain values map to SQLite columns: unsigned numbers as checked
//! `INTEGER`s, identifiers and topics as raw `BLOB`s, ranges as inclusive bounds.

use archive_index::{ArchiveId, CommunityId, Message, TimeRange, Topic};
use rusqlite::Row;

use crate::error::{Error, Result};

/// The `waku_messages` columns in the order [`message_from_row`] reads them.
pub(crate) const MESSAGE_COLUMNS: &str =
    "sig, timestamp, topic, payload, padding, hash, third_party_id";

/// SQLite integers are signed; refusing values past `i64::MAX` keeps the
/// stored order equal to the numeric order.
pub(crate) fn to_sql(what: &'static str, value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::OutOfRange { what, value })
}

pub(crate) fn from_sql(what: &'static str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::Corrupt {
        what,
        reason: format!("negative value {value}"),
    })
}

/// `[from, to)` as inclusive SQLite bounds, or `None` when no storable
/// timestamp lies inside. Saturating keeps `to = u64::MAX` ("everything") usable.
pub(crate) fn inclusive_bounds(range: TimeRange) -> Option<(i64, i64)> {
    if range.from >= range.to {
        return None;
    }
    let lo = i64::try_from(range.from).ok()?;
    let hi = i64::try_from(range.to - 1).unwrap_or(i64::MAX);
    Some((lo, hi))
}

/// `?first,?first+1,…` for an `IN` list of `n` values. Numbered because an
/// anonymous `?` after `?N` in the text would take number `N + 1`.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn message_from_row(row: &Row<'_>) -> Result<Message> {
    let topic: Vec<u8> = row.get(2)?;
    let topic = Topic::from_slice(&topic).ok_or_else(|| Error::Corrupt {
        what: "message",
        reason: format!("topic has {} bytes, expected 4", topic.len()),
    })?;
    Ok(Message {
        sig: row.get(0)?,
        timestamp: from_sql("message timestamp", row.get(1)?)?,
        topic,
        payload: row.get(3)?,
        padding: row.get(4)?,
        hash: row.get(5)?,
        third_party_id: row.get(6)?,
    })
}

pub(crate) fn archive_id_from_blob(bytes: &[u8]) -> Result<ArchiveId> {
    bytes.try_into().map(ArchiveId).map_err(|_| Error::Corrupt {
        what: "archive ID",
        reason: format!("{} bytes, expected 32", bytes.len()),
    })
}

pub(crate) fn community_blob(community: &CommunityId) -> &[u8] {
    &community.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive_and_saturate() {
        assert_eq!(inclusive_bounds(TimeRange { from: 5, to: 5 }), None);
        assert_eq!(inclusive_bounds(TimeRange { from: 6, to: 5 }), None);
        assert_eq!(inclusive_bounds(TimeRange { from: 5, to: 6 }), Some((5, 5)));
        assert_eq!(
            inclusive_bounds(TimeRange {
                from: 0,
                to: u64::MAX
            }),
            Some((0, i64::MAX))
        );
        assert_eq!(
            inclusive_bounds(TimeRange {
                from: u64::MAX - 1,
                to: u64::MAX
            }),
            None
        );
    }

    #[test]
    fn unsigned_values_past_i64_are_refused() {
        assert_eq!(to_sql("clock", 7).unwrap(), 7);
        assert!(matches!(
            to_sql("clock", u64::MAX),
            Err(Error::OutOfRange {
                what: "clock",
                value: u64::MAX
            })
        ));
        assert!(matches!(from_sql("clock", -1), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn placeholder_lists() {
        assert_eq!(placeholders(1, 1), "?1");
        assert_eq!(placeholders(3, 3), "?3,?4,?5");
    }
}
