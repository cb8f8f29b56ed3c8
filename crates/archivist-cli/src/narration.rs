//! What `archivist run` says besides the node's own events, so a waiting
//! node says why: what a member waits for and what a restart found, a
//! warning when a joined community stays silent, what an owner's
//! announcement waiting for a relay peer means (and, for the node's counted
//! repeats, since when it fails), how many events a lagging output missed,
//! and a repeated announcement called what it is.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use archivist::{CommunityStatus, Config};
use serde_json::{Value, json};

/// The example configuration's placeholder community ID.
pub(crate) const PLACEHOLDER_COMMUNITY: &str =
    "0x02aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// A joined community and whether anything was heard about it.
#[derive(Debug)]
struct Joined {
    id: String,
    key: String,
    heard: bool,
    warned: bool,
}

/// Turns the node's events into what the user reads, and adds notes of its
/// own.
#[derive(Debug)]
pub(crate) struct Narrator {
    joined: Vec<Joined>,
    /// (community, link) pairs this member accepted or found fetched.
    known_links: HashSet<(String, String)>,
    started: Instant,
    silence: Duration,
}

/// A note as an event envelope: `{"type", "event": {"communityId", "note", …}}`.
fn note(name: &str, community: &str, text: String, mut fields: Value) -> Value {
    fields["communityId"] = json!(community);
    fields["note"] = json!(text);
    json!({ "type": name, "event": fields })
}

impl Narrator {
    /// For a node started from `config`; a joined community unheard after
    /// `silence` gets one warning.
    pub(crate) fn new(config: &Config, silence: Duration) -> Narrator {
        Narrator {
            joined: config
                .joined
                .iter()
                .enumerate()
                .map(|(i, joined)| Joined {
                    id: joined.community.to_string(),
                    key: format!("joined[{i}].community"),
                    heard: false,
                    warned: false,
                })
                .collect(),
            known_links: HashSet::new(),
            started: Instant::now(),
            silence,
        }
    }

    /// What each joined community waits for, given what the store held
    /// before the node started (`before`, one status per joined community
    /// that had any state).
    pub(crate) fn start_notes(
        &mut self,
        config: &Config,
        before: &[CommunityStatus],
    ) -> Vec<Value> {
        for status in before {
            for network in &status.networks {
                let name = network.kind.name();
                for link in [&network.announced_link, &network.fetched_link]
                    .into_iter()
                    .flatten()
                {
                    self.known_links.insert((
                        status.community.to_string(),
                        crate::live_status::link_text(name, link),
                    ));
                }
            }
        }
        let mut notes = Vec::new();
        for joined in &self.joined {
            if joined.id == PLACEHOLDER_COMMUNITY {
                notes.push(note(
                    "archivist.configWarning",
                    &joined.id,
                    format!(
                        "`{}` is still the example's placeholder: put there the community ID \
                         that `archivist keygen` printed for the owner's key",
                        joined.key
                    ),
                    json!({ "key": joined.key }),
                ));
            }
            if let Some(status) = before.iter().find(|s| s.community.to_string() == joined.id) {
                notes.extend(resume_note(&joined.id, status));
            }
            let asked = if config.request_link_on_join {
                "; asked the owner for its current link"
            } else {
                ""
            };
            notes.push(note(
                "archivist.waiting",
                &joined.id,
                format!(
                    "waiting for an announcement of {} on {}; quiet period {}{asked}",
                    joined.id,
                    config.waku.pubsub_topic,
                    crate::human_time::span(config.quiet_period.as_secs()),
                ),
                json!({
                    "pubsubTopic": config.waku.pubsub_topic,
                    "quietPeriodSecs": config.quiet_period.as_secs(),
                }),
            ));
        }
        notes
    }

    /// The event to print for `envelope`, or `None` when it only repeats
    /// what was said.
    pub(crate) fn on_event(&mut self, mut envelope: Value) -> Option<Value> {
        let name = envelope["type"].as_str().unwrap_or_default().to_owned();
        let community = envelope["event"]["communityId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if let Some(joined) = self.joined.iter_mut().find(|j| j.id == community) {
            joined.heard = true;
        }
        let event = &mut envelope["event"];
        // Announcements carry a Codex link as its bare CID; every other
        // event, and `status`, write it `codex:<CID>`.
        if event["kind"] == "index-cid"
            && let Some(link) = event["link"].as_str()
        {
            event["link"] = json!(crate::live_status::link_text("codex", link));
        }
        match name.as_str() {
            "archivist.announceFailed" => {
                // The node reports a repeating failure once, then now and
                // then with the attempts since; each report is printed.
                let error = event["error"].as_str().unwrap_or("?");
                let attempts = event["attempts"].as_u64().unwrap_or(1);
                event["note"] = json!(if attempts <= 1 {
                    format!(
                        "no relay peer has taken the announcement yet ({error}); it is kept \
                         and goes out when a peer appears (repeats are counted, not shown)"
                    )
                } else {
                    format!(
                        "no relay peer has taken the announcement yet ({error}); still \
                         trying (failed {attempts} times since {})",
                        hh_mm(event["since"].as_u64().unwrap_or_default())
                    )
                });
            }
            "archivist.eventsMissed" => {
                event["note"] = json!(format!(
                    "{} event(s) missed: this output fell behind the node; `archivist status` \
                     shows the current state",
                    event["count"]
                ));
            }
            "archivist.announcementAccepted" => {
                if let Some(link) = event["link"].as_str() {
                    self.known_links.insert((community, link.to_owned()));
                }
            }
            "archivist.announcementRepeated" => {
                let link = event["link"].as_str().unwrap_or_default().to_owned();
                event["note"] = json!(if self.known_links.contains(&(community, link.clone())) {
                    format!("already known: {link}")
                } else {
                    // The dispatcher collapses repeats within the quiet
                    // period; the link is acted on when the period ends.
                    format!("heard {link} again while the quiet period runs; acted on when it ends")
                });
            }
            "archivist.announcementRejected" if event["code"] == "already-seen" => {
                // The owner repeating a link already fetched is no rejection.
                envelope["type"] = json!("archivist.announcementRepeated");
                envelope["event"]["known"] = json!(true);
                envelope["event"]["note"] =
                    json!("already known: this link was fetched completely before");
            }
            "community.downloadingHistoryArchivesStarted" => {
                event["note"] = json!(format!(
                    "fetching {} missing archive(s) over {}",
                    event["missing"],
                    event["backend"].as_str().unwrap_or("?")
                ));
            }
            "community.downloadingHistoryArchivesFinished" => {
                event["note"] = json!(format!(
                    "done: every archive of the announced link is here ({} fetched now)",
                    event["fetched"]
                ));
            }
            _ => {}
        }
        Some(envelope)
    }

    /// One warning per joined community that nothing was heard about for
    /// the silence period.
    pub(crate) fn tick(&mut self) -> Vec<Value> {
        if self.started.elapsed() < self.silence {
            return Vec::new();
        }
        let silence = self.silence.as_secs();
        self.joined
            .iter_mut()
            .filter(|j| !j.heard && !j.warned)
            .map(|j| {
                j.warned = true;
                note(
                    "archivist.notHeard",
                    &j.id,
                    format!(
                        "nothing heard about {} in {}: check that `{}` is the owner's community \
                         ID (printed by `archivist keygen`), that the owner runs, and that \
                         waku.bootstrap reaches it",
                        j.id,
                        crate::human_time::span(silence),
                        j.key
                    ),
                    json!({ "secs": silence }),
                )
            })
            .collect()
    }
}

/// `HH:MM UTC` of `secs`: when a repeating failure began.
fn hh_mm(secs: u64) -> String {
    let rest = secs % 86_400;
    format!("{:02}:{:02} UTC", rest / 3600, rest % 3600 / 60)
}

/// What a restart finds in the store: complete when every announced link
/// was fetched, else how much is here already.
fn resume_note(community: &str, status: &CommunityStatus) -> Option<Value> {
    let announced: Vec<_> = status
        .networks
        .iter()
        .filter(|n| n.announced_link.is_some())
        .collect();
    let fetched: Vec<&str> = announced
        .iter()
        .filter(|n| n.fetched_link == n.announced_link)
        .map(|n| n.kind.name())
        .collect();
    let complete = !announced.is_empty() && fetched.len() == announced.len();
    let downloaded = status.downloaded.len();
    let imported = status.imported.len();
    let text = if complete {
        format!(
            "already complete: the last announced link on {} was fetched and imported \
             ({imported} archive(s) here); only a newer announcement brings more",
            fetched.join(" and ")
        )
    } else if downloaded > 0 {
        let done = if fetched.is_empty() {
            String::new()
        } else {
            format!(" (complete on {})", fetched.join(" and "))
        };
        format!(
            "resuming: {downloaded} archive(s) already here from an earlier run, {imported} of \
             them imported{done}; only the missing ones are fetched"
        )
    } else {
        return None;
    };
    Some(note(
        "archivist.resuming",
        community,
        text,
        json!({ "downloaded": downloaded, "imported": imported, "complete": complete }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(community: &str, quiet: u64) -> Config {
        let text =
            format!("quiet_period_secs = {quiet}\n[[joined]]\ncommunity = \"{community}\"\n");
        Config::parse(&text, "test", std::iter::empty()).unwrap()
    }

    #[test]
    fn a_member_says_what_it_waits_for_and_warns_once_when_unheard() {
        let config = member(PLACEHOLDER_COMMUNITY, 20);
        let mut narrator = Narrator::new(&config, Duration::ZERO);
        let notes = narrator.start_notes(&config, &[]);
        assert_eq!(notes[0]["type"], "archivist.configWarning");
        let waiting = notes[1]["event"]["note"].as_str().unwrap();
        assert!(
            waiting.starts_with(&format!(
                "waiting for an announcement of {PLACEHOLDER_COMMUNITY} on /waku/2/rs/16/32; \
                 quiet period 20 s"
            )),
            "{waiting}"
        );
        let warned = narrator.tick();
        assert_eq!(warned.len(), 1);
        assert_eq!(warned[0]["type"], "archivist.notHeard");
        assert!(narrator.tick().is_empty(), "warned once");
    }

    #[test]
    fn a_heard_community_is_not_warned_about() {
        let config = member(PLACEHOLDER_COMMUNITY, 20);
        let mut narrator = Narrator::new(&config, Duration::ZERO);
        narrator.on_event(json!({
            "type": "archivist.announcementAccepted",
            "event": { "communityId": PLACEHOLDER_COMMUNITY, "kind": "magnet", "link": "m" }
        }));
        assert!(narrator.tick().is_empty());
    }

    #[test]
    fn announce_failures_and_their_counted_repeats_are_said_and_missed_events_counted() {
        let config = member(PLACEHOLDER_COMMUNITY, 20);
        let mut narrator = Narrator::new(&config, Duration::from_secs(3600));
        let failed = |attempts: u64| {
            json!({
                "type": "archivist.announceFailed",
                "event": {
                    "communityId": "0x02bb",
                    "error": "NoPeersSubscribedToTopic",
                    "attempts": attempts,
                    "since": 1_700_000_000 + 13 * 3600 + 5 * 60,
                }
            })
        };
        let first = narrator.on_event(failed(1)).unwrap();
        assert!(
            first["event"]["note"]
                .as_str()
                .unwrap()
                .contains("goes out when a peer appears")
        );
        let repeat = narrator.on_event(failed(37)).unwrap();
        let note = repeat["event"]["note"].as_str().unwrap();
        // 1_700_000_000 is 22:13:20 UTC; plus 13 h 5 min.
        assert!(
            note.ends_with("(failed 37 times since 11:18 UTC)"),
            "{note}"
        );
        let missed = narrator
            .on_event(json!({ "type": "archivist.eventsMissed", "event": { "count": 12 } }))
            .unwrap();
        assert!(
            missed["event"]["note"]
                .as_str()
                .unwrap()
                .starts_with("12 event(s) missed"),
            "{missed}"
        );
    }

    #[test]
    fn a_repeat_is_known_only_once_the_link_was_accepted() {
        let config = member(PLACEHOLDER_COMMUNITY, 20);
        let mut narrator = Narrator::new(&config, Duration::from_secs(3600));
        let event = |name: &str| {
            json!({
                "type": name,
                "event": { "communityId": PLACEHOLDER_COMMUNITY, "kind": "index-cid", "link": "zDvZ" }
            })
        };
        let early = narrator
            .on_event(event("archivist.announcementRepeated"))
            .unwrap();
        assert_eq!(
            early["event"]["link"], "codex:zDvZ",
            "written as events write it"
        );
        assert!(
            early["event"]["note"]
                .as_str()
                .unwrap()
                .contains("quiet period")
        );
        narrator.on_event(event("archivist.announcementAccepted"));
        let later = narrator
            .on_event(event("archivist.announcementRepeated"))
            .unwrap();
        assert_eq!(later["event"]["note"], "already known: codex:zDvZ");
    }

    #[test]
    fn a_link_already_fetched_is_a_repeat_not_a_rejection() {
        let config = member(PLACEHOLDER_COMMUNITY, 20);
        let mut narrator = Narrator::new(&config, Duration::from_secs(3600));
        let said = narrator
            .on_event(json!({
                "type": "archivist.announcementRejected",
                "event": { "communityId": "0x02bb", "code": "already-seen", "reason": "r" }
            }))
            .unwrap();
        assert_eq!(said["type"], "archivist.announcementRepeated");
        assert_eq!(said["event"]["known"], true);
    }
}
