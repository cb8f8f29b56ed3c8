//! The networks a community's archives are announced on, each by one name
//! shared by the store, the configuration, the announcements, the events and
//! the backends, so that all of them mean the same thing.
//!
//! The set is open: a backend names its network with [`LinkKind::new`] (or
//! [`LinkKind::from_static`] in a `const`), and every layer keys by that name.
//! This file is the one place that knows the two built-in names and the one
//! exception to "a network's links start with its name and a colon"
//! (BitTorrent's links are magnet URIs).

use std::{borrow::Cow, fmt, str::FromStr};

/// Which network a link belongs to, and so which backend resolves it and
/// which index format is behind it.
///
/// A name is 1 to [`LinkKind::MAX_NAME_LEN`] ASCII characters: a lowercase
/// letter, then lowercase letters, digits and `-` (a URI scheme a backend
/// would plausibly choose, safe as a config value, a store key and a JSON
/// string). `magnet` is not a name: it is the [`LinkKind::TORRENT`]
/// network's scheme.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LinkKind(Cow<'static, str>);

/// A name that is not a valid [`LinkKind`], and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not a network name: {reason}")]
pub struct InvalidLinkKind {
    /// The refused name, cut to 40 characters.
    pub name: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

const TORRENT_SCHEME: &str = "magnet";

impl LinkKind {
    /// BitTorrent (status-go's design): magnet links to `data` + `index`.
    pub const TORRENT: LinkKind = LinkKind::from_static("torrent");
    /// Codex / Logos Storage (the Codex team's design): the CID of an index,
    /// written `codex:<CID>` and announced as the bare CID.
    pub const CODEX: LinkKind = LinkKind::from_static("codex");
    /// The longest network name.
    pub const MAX_NAME_LEN: usize = 32;

    /// A network named by a literal. Panics (at compile time in a `const`)
    /// when `name` is not a valid name.
    pub const fn from_static(name: &'static str) -> LinkKind {
        if let Some(reason) = refusal(name) {
            panic!("{}", reason);
        }
        LinkKind(Cow::Borrowed(name))
    }

    /// A network named at run time (read from a file, a store or a link).
    pub fn new(name: impl Into<Cow<'static, str>>) -> Result<LinkKind, InvalidLinkKind> {
        let name = name.into();
        match refusal(&name) {
            None => Ok(LinkKind(name)),
            Some(reason) => Err(InvalidLinkKind {
                name: name.chars().take(40).collect(),
                reason,
            }),
        }
    }

    /// The network whose links start with `scheme:` (`magnet` is
    /// BitTorrent's).
    pub fn from_scheme(scheme: &str) -> Result<LinkKind, InvalidLinkKind> {
        if scheme == TORRENT_SCHEME {
            return Ok(LinkKind::TORRENT);
        }
        if scheme == LinkKind::TORRENT.name() {
            return Err(InvalidLinkKind {
                name: scheme.to_owned(),
                reason: "BitTorrent links are magnet: URIs",
            });
        }
        LinkKind::new(scheme.to_owned())
    }

    /// The network's name: `torrent`, `codex`, or a backend's own.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// Where the network sorts: BitTorrent, then Codex (the order status-go
    /// and then the Codex team added them), then the others by name.
    fn rank(&self) -> u8 {
        if *self == LinkKind::TORRENT {
            0
        } else if *self == LinkKind::CODEX {
            1
        } else {
            2
        }
    }

    /// The scheme its links start with (before the `:`): the name, except
    /// BitTorrent's `magnet`.
    pub fn scheme(&self) -> &str {
        if *self == LinkKind::TORRENT {
            TORRENT_SCHEME
        } else {
            self.name()
        }
    }
}

/// Why `name` is not a network name, if it is not one. `const` so that
/// [`LinkKind::from_static`] checks literals at compile time.
const fn refusal(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Some("it is empty");
    }
    if bytes.len() > LinkKind::MAX_NAME_LEN {
        return Some("it is longer than 32 characters");
    }
    if !bytes[0].is_ascii_lowercase() {
        return Some("it must start with a lowercase ASCII letter");
    }
    let mut i = 1;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Some("only lowercase ASCII letters, digits and '-' are allowed");
        }
        i += 1;
    }
    if bytes.len() == TORRENT_SCHEME.len() {
        let scheme = TORRENT_SCHEME.as_bytes();
        let mut same = true;
        let mut i = 0;
        while i < bytes.len() {
            same &= bytes[i] == scheme[i];
            i += 1;
        }
        if same {
            return Some("\"magnet\" is the scheme of the \"torrent\" network");
        }
    }
    None
}

impl FromStr for LinkKind {
    type Err = InvalidLinkKind;

    fn from_str(name: &str) -> Result<LinkKind, InvalidLinkKind> {
        match name {
            "torrent" => Ok(LinkKind::TORRENT),
            "codex" => Ok(LinkKind::CODEX),
            other => LinkKind::new(other.to_owned()),
        }
    }
}

impl Ord for LinkKind {
    fn cmp(&self, other: &LinkKind) -> std::cmp::Ordering {
        (self.rank(), self.name()).cmp(&(other.rank(), other.name()))
    }
}

impl PartialOrd for LinkKind {
    fn partial_cmp(&self, other: &LinkKind) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for LinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for LinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LinkKind({})", self.name())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_built_in_networks_have_one_name_each() {
        assert_eq!("torrent".parse::<LinkKind>().unwrap(), LinkKind::TORRENT);
        assert_eq!("codex".parse::<LinkKind>().unwrap(), LinkKind::CODEX);
        assert_eq!(LinkKind::TORRENT.scheme(), "magnet");
        assert_eq!(LinkKind::CODEX.scheme(), "codex");
        assert_eq!(LinkKind::from_scheme("magnet").unwrap(), LinkKind::TORRENT);
        assert_eq!(LinkKind::from_scheme("dir").unwrap().name(), "dir");
        assert!(LinkKind::from_scheme("torrent").is_err());
        assert_eq!(LinkKind::TORRENT.to_string(), "torrent");
        let dir = LinkKind::new("dir").unwrap();
        let mut kinds = vec![dir.clone(), LinkKind::CODEX, LinkKind::TORRENT];
        kinds.sort();
        assert_eq!(kinds, [LinkKind::TORRENT, LinkKind::CODEX, dir]);
    }

    #[test]
    fn bad_names_are_refused_with_the_reason() {
        for (name, reason) in [
            ("", "empty"),
            ("Dir", "lowercase"),
            ("1dir", "lowercase"),
            ("dir:x", "only lowercase"),
            ("magnet", "scheme"),
            (&"a".repeat(33), "longer"),
        ] {
            let err = LinkKind::new(name.to_owned()).unwrap_err();
            assert!(err.reason.contains(reason), "{name:?}: {err}");
        }
    }

    proptest! {
        #[test]
        fn valid_names_round_trip(name in "[a-z][a-z0-9-]{0,31}") {
            prop_assume!(name != "magnet");
            let kind: LinkKind = name.parse().unwrap();
            prop_assert_eq!(kind.name(), name.as_str());
            prop_assert_eq!(kind.to_string().parse::<LinkKind>().unwrap(), kind);
        }

        #[test]
        fn anything_else_is_refused(name in "\\PC{0,40}") {
            let valid = name.len() <= 32
                && name.starts_with(|c: char| c.is_ascii_lowercase())
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && name != "magnet";
            prop_assert_eq!(LinkKind::new(name.clone()).is_ok(), valid);
        }
    }
}
