//! What a node knows about one community: read from the store (so it can be
//! shown for a node that is not running) and completed with live state by a
//! running [`Node`](crate::Node).

use archive_index::{ArchiveId, CommunityId, LinkKind, TimeRange, coalesce};
use archive_store::Store;
use serde_json::{Value, json};

use crate::error::Result;

/// One community's state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommunityStatus {
    /// The community.
    pub community: CommunityId,
    /// This node owns it (only known while the node runs).
    pub owned: bool,
    /// This node has joined it (only known while the node runs).
    pub joined: bool,
    /// A download is in progress.
    pub downloading: bool,
    /// Per enabled network.
    pub networks: Vec<NetworkStatus>,
    /// Archives downloaded, oldest first.
    pub downloaded: Vec<ArchiveId>,
    /// Of those, the ones imported into the store.
    pub imported: Vec<ArchiveId>,
    /// The time the imported archives cover, adjacent ranges merged, oldest
    /// first: a gap is history this member does not have.
    pub imported_ranges: Vec<TimeRange>,
}

/// A community's state on one network.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetworkStatus {
    /// The network's link kind.
    pub kind: LinkKind,
    /// The owner's last archive end on this network, Unix seconds.
    pub last_archive_end: Option<u64>,
    /// The last link announced (owner) or accepted (member).
    pub announced_link: Option<String>,
    /// Its clock, milliseconds.
    pub announced_clock: Option<u64>,
    /// The last link a member fetched and imported completely.
    pub fetched_link: Option<String>,
    /// The owner's archive task runs (live only).
    pub archiving: bool,
    /// This node serves the community's archives (live only).
    pub seeding: bool,
    /// Archives behind the current link (live only; `None` when the index
    /// could not be read quickly).
    pub archives: Option<usize>,
    /// Spans of archives behind the current link this node has not
    /// downloaded (live only, as `archives`).
    pub not_fetched: Option<Vec<TimeRange>>,
    /// Gaps between the archives behind the current link: time no archive
    /// on the network covers (live only, as `archives`).
    pub not_on_network: Option<Vec<TimeRange>>,
}

impl NetworkStatus {
    /// Fills the live fields from the current link's `archives`, given the
    /// archives `downloaded` here.
    pub(crate) fn set_index(
        &mut self,
        archives: &[(ArchiveId, TimeRange)],
        downloaded: &[ArchiveId],
    ) {
        self.archives = Some(archives.len());
        let available = coalesce(archives.iter().map(|(_, r)| *r));
        self.not_on_network = Some(
            available
                .windows(2)
                .map(|w| TimeRange {
                    from: w[0].to,
                    to: w[1].from,
                })
                .collect(),
        );
        self.not_fetched = Some(coalesce(
            archives
                .iter()
                .filter(|(id, _)| !downloaded.contains(id))
                .map(|(_, r)| *r),
        ));
    }
}

impl CommunityStatus {
    /// The persisted part of `community`'s state on `kinds`.
    pub async fn read(
        store: &Store,
        community: CommunityId,
        kinds: &[LinkKind],
    ) -> Result<CommunityStatus> {
        let mut networks = Vec::new();
        for kind in kinds {
            let announcement = store.announcement(community, kind).await?;
            networks.push(NetworkStatus {
                kind: kind.clone(),
                last_archive_end: store.last_archive_end(community, kind).await?,
                announced_clock: announcement.as_ref().map(|a| a.clock),
                announced_link: announcement.map(|a| a.link),
                fetched_link: store.fetched_link(community, kind).await?,
                archiving: false,
                seeding: false,
                archives: None,
                not_fetched: None,
                not_on_network: None,
            });
        }
        let mut archives = store.archives_to_import(community).await?;
        let pending: Vec<ArchiveId> = archives.iter().map(|a| a.id).collect();
        let mut downloaded = Vec::new();
        for id in store.downloaded_archive_ids(community).await? {
            if !pending.contains(&id)
                && let Some(archive) = store.downloaded_archive(community, id).await?
            {
                archives.push(archive);
            }
        }
        archives.sort_by_key(|a| (a.range, a.id));
        let mut imported = Vec::new();
        let mut imported_ranges: Vec<TimeRange> = Vec::new();
        for archive in archives {
            downloaded.push(archive.id);
            if archive.imported {
                imported.push(archive.id);
                match imported_ranges.last_mut() {
                    Some(last) if archive.range.from <= last.to => {
                        last.to = last.to.max(archive.range.to);
                    }
                    _ => imported_ranges.push(archive.range),
                }
            }
        }
        Ok(CommunityStatus {
            community,
            owned: false,
            joined: false,
            downloading: false,
            networks,
            downloaded,
            imported,
            imported_ranges,
        })
    }

    /// Whether the live fields are filled in: only a running node knows
    /// them, and one always owns or has joined the community it reports.
    pub fn is_live(&self) -> bool {
        self.owned || self.joined
    }

    /// The status as JSON, for `archivist status --json`. Links are written
    /// as events write them (`magnet:?…`, `codex:<CID>`); the fields only a
    /// running node knows (`owned`, `joined`, `downloading`, `archiving`,
    /// `seeding`, `archives`, `not_fetched`, `not_on_network`) are left out of a status read from the store
    /// alone rather than shown as `false`.
    pub fn to_json(&self) -> Value {
        let live = self.is_live();
        let networks: Vec<Value> = self
            .networks
            .iter()
            .map(|n| {
                let mut v = json!({
                    "network": n.kind.name(),
                    "last_archive_end": n.last_archive_end,
                    "announced_link": n.announced_link.as_deref().map(|l| link_text(&n.kind, l)),
                    "announced_clock": n.announced_clock,
                    "fetched_link": n.fetched_link.as_deref().map(|l| link_text(&n.kind, l)),
                });
                if live {
                    v["archiving"] = json!(n.archiving);
                    v["seeding"] = json!(n.seeding);
                    v["archives"] = json!(n.archives);
                    v["not_fetched"] = json!(n.not_fetched.as_deref().map(ranges_json));
                    v["not_on_network"] = json!(n.not_on_network.as_deref().map(ranges_json));
                }
                v
            })
            .collect();
        let mut v = json!({
            "community": self.community.to_string(),
            "networks": networks,
            "downloaded": self.downloaded.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "imported": self.imported.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "imported_ranges": ranges_json(&self.imported_ranges),
        });
        if live {
            v["owned"] = json!(self.owned);
            v["joined"] = json!(self.joined);
            v["downloading"] = json!(self.downloading);
        }
        v
    }
}

/// Ranges as `[{"from", "to"}]`, Unix seconds.
fn ranges_json(ranges: &[TimeRange]) -> Value {
    ranges
        .iter()
        .map(|r| json!({ "from": r.from, "to": r.to }))
        .collect()
}

/// A stored link as events write it: the store keeps a Codex link as the
/// bare CID of its announcement.
fn link_text(kind: &LinkKind, stored: &str) -> String {
    archive_backend::Link::from_announced(kind.clone(), stored)
        .map_or_else(|_| stored.to_owned(), |link| link.to_string())
}
