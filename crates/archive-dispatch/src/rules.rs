//! Who may announce and which announcements a member acts on (spec c.9, h.2),
//! as a pure decision over state the caller supplies.

use std::fmt;

use archive_index::CommunityId;

use crate::{announcement::Announcement, error::Error};

/// What a member knows about a community, for one [`LinkKind`](crate::LinkKind).
///
/// The caller reads it from its store: `last_clock` is `magnetlink_clock` /
/// `index_cid_clock` (raised both by accepted announcements and by
/// CommunityDescriptions, which is what makes replayed old announcements
/// stale), `last_link` is `last_magnetlink_uri` / `last_index_cid`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommunityView {
    /// This node has joined the community.
    pub joined: bool,
    /// This node is the community's owner (control node): it sent the
    /// announcement itself and must not download its own archives.
    pub is_owner: bool,
    /// Clock of the last accepted announcement of this kind; 0 if none.
    pub last_clock: u64,
    /// The last link of this kind that was downloaded, if any.
    pub last_link: Option<String>,
}

/// Why a received announcement was not acted on. Every variant has a stable
/// [`code`](Rejection::code) and a human-readable `Display` for events and logs.
#[derive(Debug)]
#[non_exhaustive]
pub enum Rejection {
    /// The message could not be decoded or its signature is not valid.
    Invalid(Error),
    /// The signer's key is not the key of any community this node knows; any
    /// signature by a non-owner key ends up here (spec c.9 step 1–2).
    UnknownCommunity {
        /// The community the signer's key would be.
        community: CommunityId,
    },
    /// The community is known but not joined.
    NotJoined {
        /// The community.
        community: CommunityId,
    },
    /// This node owns the community; owners never act on announcements.
    OwnNode {
        /// The community.
        community: CommunityId,
    },
    /// The clock is older than the last accepted one (a replay, or superseded
    /// by a newer CommunityDescription).
    StaleClock {
        /// The announcement's clock.
        clock: u64,
        /// The last accepted clock.
        last: u64,
    },
    /// The link is the one already downloaded.
    AlreadySeen {
        /// The link.
        link: String,
    },
    /// A newer announcement for the same community and kind arrived within the
    /// quiet period, so this one was dropped unacted.
    Superseded {
        /// The dropped announcement's clock.
        clock: u64,
        /// The clock of the announcement kept instead.
        by: u64,
    },
}

impl Rejection {
    /// A short stable identifier of the reason, for metrics and event names.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Invalid(_) => "invalid",
            Rejection::UnknownCommunity { .. } => "unknown-community",
            Rejection::NotJoined { .. } => "not-joined",
            Rejection::OwnNode { .. } => "own-node",
            Rejection::StaleClock { .. } => "stale-clock",
            Rejection::AlreadySeen { .. } => "already-seen",
            Rejection::Superseded { .. } => "superseded",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Invalid(e) => write!(f, "invalid announcement: {e}"),
            Rejection::UnknownCommunity { community } => {
                write!(f, "signer {community} is not a known community")
            }
            Rejection::NotJoined { community } => write!(f, "community {community} is not joined"),
            Rejection::OwnNode { community } => {
                write!(f, "this node owns community {community}")
            }
            Rejection::StaleClock { clock, last } => {
                write!(
                    f,
                    "clock {clock} is older than the last accepted clock {last}"
                )
            }
            Rejection::AlreadySeen { link } => write!(f, "link {link} was already processed"),
            Rejection::Superseded { clock, by } => {
                write!(
                    f,
                    "clock {clock} was superseded by clock {by} within the quiet period"
                )
            }
        }
    }
}

impl From<Error> for Rejection {
    fn from(error: Error) -> Rejection {
        Rejection::Invalid(error)
    }
}

/// Decides whether a member acts on a verified announcement (spec c.9 step 5,
/// h.2): the community must be known (`view` is `Some`), joined and not owned
/// by this node; the clock must not be older than the last accepted one (equal
/// is accepted, as status-go does); the link must differ from the last one.
pub fn check(announcement: &Announcement, view: Option<&CommunityView>) -> Result<(), Rejection> {
    let community = announcement.community;
    let view = view.ok_or(Rejection::UnknownCommunity { community })?;
    if view.is_owner {
        return Err(Rejection::OwnNode { community });
    }
    if !view.joined {
        return Err(Rejection::NotJoined { community });
    }
    if announcement.clock < view.last_clock {
        return Err(Rejection::StaleClock {
            clock: announcement.clock,
            last: view.last_clock,
        });
    }
    if view.last_link.as_deref() == Some(announcement.link.as_str()) {
        return Err(Rejection::AlreadySeen {
            link: announcement.link.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LinkKind;

    fn announcement(clock: u64, link: &str) -> Announcement {
        Announcement {
            community: CommunityId([2; 33]),
            kind: LinkKind::TORRENT,
            clock,
            link: link.to_owned(),
        }
    }

    fn member(last_clock: u64, last_link: Option<&str>) -> CommunityView {
        CommunityView {
            joined: true,
            is_owner: false,
            last_clock,
            last_link: last_link.map(str::to_owned),
        }
    }

    #[test]
    fn accepts_newer_or_equal_clock_with_new_link() {
        assert!(check(&announcement(10, "b"), Some(&member(10, Some("a")))).is_ok());
        assert!(check(&announcement(11, "b"), Some(&member(10, Some("a")))).is_ok());
        assert!(check(&announcement(1, "a"), Some(&member(0, None))).is_ok());
    }

    #[test]
    fn each_rule_has_its_reason() {
        let a = announcement(5, "a");
        let reject = |view: Option<&CommunityView>| check(&a, view).unwrap_err();

        assert!(matches!(reject(None), Rejection::UnknownCommunity { .. }));
        let not_joined = CommunityView {
            joined: false,
            ..member(0, None)
        };
        assert!(matches!(
            reject(Some(&not_joined)),
            Rejection::NotJoined { .. }
        ));
        let owner = CommunityView {
            is_owner: true,
            ..member(0, None)
        };
        assert!(matches!(reject(Some(&owner)), Rejection::OwnNode { .. }));
        assert!(matches!(
            reject(Some(&member(6, None))),
            Rejection::StaleClock { clock: 5, last: 6 }
        ));
        assert!(matches!(
            reject(Some(&member(5, Some("a")))),
            Rejection::AlreadySeen { link } if link == "a"
        ));
    }

    #[test]
    fn codes_and_messages_name_the_reason() {
        let r = Rejection::StaleClock { clock: 1, last: 2 };
        assert_eq!(r.code(), "stale-clock");
        assert!(r.to_string().contains("older"), "{r}");
        let r = Rejection::from(Error::RecoveryId(9));
        assert_eq!(r.code(), "invalid");
        assert!(r.to_string().contains("recovery ID 9"), "{r}");
    }
}
