//! Archive state per community: the last archive end, the last accepted
//! announcement per link kind, and downloaded/imported archives.
//!
//! Every field has its own column or row and every write is an upsert of only
//! the fields it names, so no write resets a neighbour (status-go's f.3 bug).

use std::collections::BTreeSet;

use archive_index::{ArchiveId, CommunityId, LinkKind, TimeRange};
use rusqlite::OptionalExtension;

use super::Database;
use crate::{
    columns::{archive_id_from_blob, community_blob, from_sql, to_sql},
    error::Result,
};

/// Where each network's state is kept: under its name (migration 4).
fn column_value(kind: &LinkKind) -> &str {
    kind.name()
}

/// The last accepted announcement of one link kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Announcement {
    /// The announcement's clock, milliseconds.
    pub clock: u64,
    /// The link it carried.
    pub link: String,
}

/// An archive the member has downloaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DownloadedArchive {
    /// Its ID.
    pub id: ArchiveId,
    /// The range its metadata covers.
    pub range: TimeRange,
    /// Whether its messages have been imported.
    pub imported: bool,
}

impl Database {
    /// The end of the last archive built for `community` on the network of
    /// `kind`, seconds; `None` before the first run (status-go says 0).
    ///
    /// Each network keeps its own end, so an owner publishing on two networks
    /// archives every range once on each, whatever fails where.
    pub fn last_archive_end(
        &self,
        community: &CommunityId,
        kind: &LinkKind,
    ) -> Result<Option<u64>> {
        let end: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT last_archive_end FROM archive_ends WHERE community_id = ?1 AND kind = ?2",
            )?
            .query_row(
                rusqlite::params![community_blob(community), column_value(kind)],
                |row| row.get(0),
            )
            .optional()?;
        end.map(|e| from_sql("archive end", e)).transpose()
    }

    /// The latest archive end of `community` over all networks: a message
    /// older than it is not in a new archive on at least one network, since
    /// archives are only ever appended after the end.
    pub fn latest_archive_end(&self, community: &CommunityId) -> Result<Option<u64>> {
        let end: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT max(last_archive_end) FROM archive_ends WHERE community_id = ?1",
            )?
            .query_row([community_blob(community)], |row| row.get(0))?;
        end.map(|e| from_sql("archive end", e)).transpose()
    }

    /// Records the end of the last archive built for `community` on the
    /// network of `kind`.
    pub fn set_last_archive_end(
        &mut self,
        community: &CommunityId,
        kind: &LinkKind,
        end: u64,
    ) -> Result<()> {
        let end = to_sql("archive end", end)?;
        self.conn
            .prepare_cached(
                "INSERT INTO archive_ends (community_id, kind, last_archive_end) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (community_id, kind) DO UPDATE SET last_archive_end = excluded.last_archive_end",
            )?
            .execute(rusqlite::params![community_blob(community), column_value(kind), end])?;
        Ok(())
    }

    /// The last link of `kind` whose archives this member fetched and
    /// imported completely.
    ///
    /// Kept apart from the accepted announcement: an announcement is accepted
    /// (its clock recorded) before its archives arrive, and one whose fetch
    /// failed must still be acted on when the owner repeats it.
    pub fn fetched_link(&self, community: &CommunityId, kind: &LinkKind) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT link FROM fetched_links WHERE community_id = ?1 AND kind = ?2")?
            .query_row(
                rusqlite::params![community_blob(community), column_value(kind)],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Records `link` as fetched and imported completely.
    pub fn set_fetched_link(
        &mut self,
        community: &CommunityId,
        kind: &LinkKind,
        link: &str,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO fetched_links (community_id, kind, link) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (community_id, kind) DO UPDATE SET link = excluded.link",
            )?
            .execute(rusqlite::params![
                community_blob(community),
                column_value(kind),
                link
            ])?;
        Ok(())
    }

    /// The last accepted announcement of `kind` for `community`.
    pub fn announcement(
        &self,
        community: &CommunityId,
        kind: &LinkKind,
    ) -> Result<Option<Announcement>> {
        let row: Option<(i64, String)> = self
            .conn
            .prepare_cached(
                "SELECT clock, link FROM announcements WHERE community_id = ?1 AND kind = ?2",
            )?
            .query_row(
                rusqlite::params![community_blob(community), column_value(kind)],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        row.map(|(clock, link)| {
            Ok(Announcement {
                clock: from_sql("announcement clock", clock)?,
                link,
            })
        })
        .transpose()
    }

    /// Records `clock` and `link` as the last announcement of `kind` unless a
    /// newer one is stored; returns whether it did.
    ///
    /// An equal clock is accepted, so re-recording the same announcement
    /// succeeds; the check and the write are one statement, so two writers
    /// cannot both pass the check.
    pub fn record_announcement(
        &mut self,
        community: &CommunityId,
        kind: &LinkKind,
        clock: u64,
        link: &str,
    ) -> Result<bool> {
        let clock = to_sql("announcement clock", clock)?;
        let changed = self
            .conn
            .prepare_cached(
                "INSERT INTO announcements (community_id, kind, clock, link) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (community_id, kind) DO UPDATE \
                 SET clock = excluded.clock, link = excluded.link \
                 WHERE excluded.clock >= announcements.clock",
            )?
            .execute(rusqlite::params![
                community_blob(community),
                column_value(kind),
                clock,
                link
            ])?;
        Ok(changed == 1)
    }

    /// Records that archive `id` covering `range` has been downloaded, not yet
    /// imported. Returns `false`, changing nothing, if it was already recorded:
    /// a repeated download must not clear the `imported` flag.
    pub fn record_downloaded(
        &mut self,
        community: &CommunityId,
        id: &ArchiveId,
        range: TimeRange,
    ) -> Result<bool> {
        let from = to_sql("time range", range.from)?;
        let to = to_sql("time range", range.to)?;
        let changed = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO downloaded_archives (community_id, archive_id, range_from, range_to, imported) \
                 VALUES (?1, ?2, ?3, ?4, 0)",
            )?
            .execute(rusqlite::params![community_blob(community), &id.0[..], from, to])?;
        Ok(changed == 1)
    }

    /// Sets the `imported` flag of a downloaded archive; returns `false` if the
    /// archive was never recorded as downloaded.
    pub fn set_imported(
        &mut self,
        community: &CommunityId,
        id: &ArchiveId,
        imported: bool,
    ) -> Result<bool> {
        let changed = self
            .conn
            .prepare_cached("UPDATE downloaded_archives SET imported = ?3 WHERE community_id = ?1 AND archive_id = ?2")?
            .execute(rusqlite::params![community_blob(community), &id.0[..], imported])?;
        Ok(changed == 1)
    }

    /// One downloaded archive, if recorded.
    pub fn downloaded_archive(
        &self,
        community: &CommunityId,
        id: &ArchiveId,
    ) -> Result<Option<DownloadedArchive>> {
        let row: Option<(i64, i64, bool)> = self
            .conn
            .prepare_cached(
                "SELECT range_from, range_to, imported FROM downloaded_archives \
                 WHERE community_id = ?1 AND archive_id = ?2",
            )?
            .query_row(
                rusqlite::params![community_blob(community), &id.0[..]],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        row.map(|(from, to, imported)| {
            Ok(DownloadedArchive {
                id: *id,
                range: TimeRange {
                    from: from_sql("time range", from)?,
                    to: from_sql("time range", to)?,
                },
                imported,
            })
        })
        .transpose()
    }

    /// The IDs of every archive downloaded for `community`, imported or not.
    ///
    /// "Which archives are missing" is the set difference of an index's IDs
    /// and this set, never a comparison of counts (spec i.2).
    pub fn downloaded_archive_ids(&self, community: &CommunityId) -> Result<BTreeSet<ArchiveId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT archive_id FROM downloaded_archives WHERE community_id = ?1")?;
        let mut rows = stmt.query([community_blob(community)])?;
        let mut ids = BTreeSet::new();
        while let Some(row) = rows.next()? {
            ids.insert(archive_id_from_blob(&row.get::<_, Vec<u8>>(0)?)?);
        }
        Ok(ids)
    }

    /// Downloaded archives not yet imported, oldest range first (status-go had
    /// no ORDER BY here, spec i.5), ties broken by range end and ID.
    pub fn archives_to_import(&self, community: &CommunityId) -> Result<Vec<DownloadedArchive>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT archive_id, range_from, range_to FROM downloaded_archives \
             WHERE community_id = ?1 AND imported = 0 ORDER BY range_from, range_to, archive_id",
        )?;
        let mut rows = stmt.query([community_blob(community)])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(DownloadedArchive {
                id: archive_id_from_blob(&row.get::<_, Vec<u8>>(0)?)?,
                range: TimeRange {
                    from: from_sql("time range", row.get(1)?)?,
                    to: from_sql("time range", row.get(2)?)?,
                },
                imported: false,
            });
        }
        Ok(out)
    }
}
