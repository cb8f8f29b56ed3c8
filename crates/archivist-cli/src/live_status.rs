//! What only a running node knows about its communities (the links heard
//! and seeded, the download in progress, the last event): `archivist run`
//! keeps it in `<data_dir>/node-status.json`, rewritten whole through a
//! temporary file and a rename after each event, and `archivist status`
//! shows it beside what the store says.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::human_time;

/// The file's name inside `data_dir`.
pub(crate) const FILE_NAME: &str = "node-status.json";

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LiveStatus {
    /// The `archivist run` process.
    pub(crate) pid: u32,
    /// When it started, Unix seconds.
    pub(crate) started: u64,
    /// When it last wrote the file.
    pub(crate) updated: u64,
    /// When it stopped cleanly; absent while it runs (or after a crash).
    pub(crate) stopped: Option<u64>,
    /// By community ID.
    pub(crate) communities: BTreeMap<String, LiveCommunity>,
}

/// One community.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LiveCommunity {
    /// `owner` or `member`.
    pub(crate) role: String,
    /// By network name (`torrent`, `codex`).
    pub(crate) networks: BTreeMap<String, LiveNetwork>,
    /// The last download, if any.
    pub(crate) download: Option<Download>,
    /// The last event about the community.
    pub(crate) last_event: Option<LastEvent>,
}

/// One community on one network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LiveNetwork {
    /// The current link, as events write it.
    pub(crate) link: Option<String>,
    /// An owner: a relay peer took its announcement. A member: it heard the
    /// owner announce this link.
    pub(crate) heard: bool,
    /// This node serves the link.
    pub(crate) seeding: bool,
}

/// A download's progress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Download {
    /// The network it uses.
    pub(crate) network: String,
    /// Archives missing when it started.
    pub(crate) missing: u64,
    /// Fetched and verified so far.
    pub(crate) downloaded: u64,
    /// Imported so far.
    pub(crate) imported: u64,
    /// `running`, `finished`, `failed` or `stopped`.
    pub(crate) state: String,
}

/// An event's name and when it was seen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LastEvent {
    /// Its `type`.
    pub(crate) name: String,
    /// Unix seconds.
    pub(crate) at: u64,
}

impl LiveStatus {
    /// A node that starts now with these communities (ID, role).
    pub(crate) fn new(communities: impl IntoIterator<Item = (String, &'static str)>) -> LiveStatus {
        let now = human_time::now_secs();
        LiveStatus {
            pid: std::process::id(),
            started: now,
            updated: now,
            stopped: None,
            communities: communities
                .into_iter()
                .map(|(id, role)| {
                    (
                        id,
                        LiveCommunity {
                            role: role.to_owned(),
                            ..LiveCommunity::default()
                        },
                    )
                })
                .collect(),
        }
    }

    /// The file of the node whose data folder is `data_dir`.
    pub(crate) fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(FILE_NAME)
    }

    /// Reads the file, if there is one that parses.
    pub(crate) fn read(data_dir: &Path) -> Option<LiveStatus> {
        let text = std::fs::read_to_string(LiveStatus::path(data_dir)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes the file whole: a reader sees the old or the new one, never
    /// half of one.
    pub(crate) fn write(&mut self, data_dir: &Path) -> std::io::Result<()> {
        self.updated = human_time::now_secs();
        let path = LiveStatus::path(data_dir);
        let temporary = path.with_extension("json.tmp");
        std::fs::write(&temporary, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&temporary, &path)
    }

    /// Takes in one event envelope (`{"type", "event": {"communityId", …}}`);
    /// events about other communities, or none, are ignored.
    pub(crate) fn record(&mut self, envelope: &Value, at: u64) {
        let name = envelope["type"].as_str().unwrap_or_default();
        let event = &envelope["event"];
        let Some(community) = event["communityId"]
            .as_str()
            .and_then(|id| self.communities.get_mut(id))
        else {
            return;
        };
        community.last_event = Some(LastEvent {
            name: name.to_owned(),
            at,
        });
        let network_of_event = network_of(event);
        match name {
            "archivist.announced"
            | "archivist.reannounced"
            | "archivist.announcementAccepted"
            | "archivist.announcementRepeated" => {
                if let Some(network) = network_of_event {
                    let entry = community.networks.entry(network.clone()).or_default();
                    entry.heard = true;
                    if let Some(link) = event["link"].as_str() {
                        entry.link = Some(link_text(&network, link));
                    }
                }
            }
            "archivist.announceFailed" => {
                for network in community.networks.values_mut() {
                    network.heard = false;
                }
            }
            "community.historyArchivesSeeding" => {
                if let Some(network) = network_of_event {
                    let entry = community.networks.entry(network.clone()).or_default();
                    entry.seeding = true;
                    if let Some(link) = event["link"].as_str() {
                        entry.link = Some(link_text(&network, link));
                    }
                }
            }
            "community.historyArchivesUnseeded" => {
                if let Some(network) =
                    network_of_event.and_then(|network| community.networks.get_mut(&network))
                    && network.link.as_deref() == event["link"].as_str()
                {
                    network.seeding = false;
                }
            }
            "community.downloadingHistoryArchivesStarted" => {
                community.download = Some(Download {
                    network: network_of_event.unwrap_or_default(),
                    missing: event["missing"].as_u64().unwrap_or_default(),
                    state: "running".to_owned(),
                    ..Download::default()
                });
            }
            "community.historyArchiveDownloaded" => {
                if let Some(download) = &mut community.download {
                    download.downloaded += 1;
                }
            }
            "archivist.historyArchiveImported" => {
                if let Some(download) = &mut community.download {
                    download.imported += 1;
                }
            }
            "community.downloadingHistoryArchivesFinished" => {
                set_state(community, "finished");
            }
            "archivist.downloadFailed" => set_state(community, "failed"),
            "archivist.downloadStopped" => set_state(community, "stopped"),
            _ => {}
        }
    }
}

fn set_state(community: &mut LiveCommunity, state: &str) {
    if let Some(download) = &mut community.download {
        state.clone_into(&mut download.state);
    }
}

/// The network an event is about: its `backend`, its link kind, or its
/// link's scheme.
fn network_of(event: &Value) -> Option<String> {
    if let Some(backend) = event["backend"].as_str() {
        return Some(backend.to_owned());
    }
    match event["kind"].as_str() {
        Some("magnet") => return Some("torrent".to_owned()),
        Some("index-cid") => return Some("codex".to_owned()),
        _ => {}
    }
    let link = event["link"].as_str()?;
    if link.starts_with("magnet:") {
        Some("torrent".to_owned())
    } else if link.starts_with("codex:") {
        Some("codex".to_owned())
    } else {
        None
    }
}

/// A link as events write it; announcements carry a Codex link as the bare
/// CID.
pub(crate) fn link_text(network: &str, link: &str) -> String {
    if network == "codex" && !link.starts_with("codex:") {
        format!("codex:{link}")
    } else {
        link.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const C: &str = "0x02aa";

    fn event(name: &str, fields: Value) -> Value {
        let mut fields = fields;
        fields["communityId"] = json!(C);
        json!({ "type": name, "event": fields })
    }

    #[test]
    fn events_become_links_heard_seeding_and_progress() {
        let mut live = LiveStatus::new([(C.to_owned(), "member")]);
        live.record(
            &event(
                "archivist.announcementAccepted",
                json!({ "kind": "index-cid", "link": "zDvZ" }),
            ),
            10,
        );
        live.record(
            &event(
                "community.downloadingHistoryArchivesStarted",
                json!({ "backend": "codex", "missing": 3 }),
            ),
            11,
        );
        live.record(&event("community.historyArchiveDownloaded", json!({})), 12);
        live.record(&event("archivist.historyArchiveImported", json!({})), 13);
        live.record(
            &event(
                "community.historyArchivesSeeding",
                json!({ "link": "codex:zDvZ" }),
            ),
            14,
        );
        // Another community's event changes nothing.
        live.record(
            &json!({ "type": "archivist.downloadFailed", "event": { "communityId": "0x03" } }),
            15,
        );
        let community = &live.communities[C];
        let codex = &community.networks["codex"];
        assert_eq!(codex.link.as_deref(), Some("codex:zDvZ"));
        assert!(codex.heard && codex.seeding);
        let download = community.download.as_ref().unwrap();
        assert_eq!(
            (download.missing, download.downloaded, download.imported),
            (3, 1, 1)
        );
        assert_eq!(download.state, "running");
        assert_eq!(
            community.last_event,
            Some(LastEvent {
                name: "community.historyArchivesSeeding".to_owned(),
                at: 14
            })
        );
    }

    #[test]
    fn the_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut live = LiveStatus::new([(C.to_owned(), "owner")]);
        live.record(
            &event(
                "archivist.announced",
                json!({ "kind": "magnet", "link": "magnet:?xt=1" }),
            ),
            5,
        );
        live.write(dir.path()).unwrap();
        let read = LiveStatus::read(dir.path()).unwrap();
        assert_eq!(read, live);
        assert!(!dir.path().join("node-status.json.tmp").exists());
    }
}
