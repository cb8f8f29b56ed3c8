//! The link an owner announces: `scheme:rest` for any network, with the two
//! built-in networks' links checked strictly (a magnet URI, a Codex index CID).

use std::{fmt, str::FromStr};

use crate::error::{Error, ErrorKind};

pub use archive_index::LinkKind;

/// A validated link of some network.
///
/// Its string form ([`Display`](fmt::Display), [`FromStr`]) is `scheme:rest`:
/// the magnet URI itself, `codex:` and the CID, or a backend's own
/// `<name>:<rest>`. [`Link::announced`] is what goes on the wire: the same
/// text, except that a Codex link is announced as the bare CID, as status-go
/// sends it.
///
/// Links of networks other than BitTorrent and Codex are checked only
/// generically: at most [`MAX_LINK_LEN`] bytes, a valid network name as the
/// scheme, and a non-empty rest of printable ASCII without spaces. Whether
/// the rest names anything is for the backend that resolves it to decide.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Link {
    kind: LinkKind,
    /// The announced text (for Codex, the bare CID).
    announced: String,
}

/// The longest link accepted: no real link is anywhere near this long, and
/// longer input is refused unread.
pub const MAX_LINK_LEN: usize = 8 * 1024;

impl Link {
    /// Reads a link as announced on the wire for `kind`.
    pub fn from_announced(kind: LinkKind, text: &str) -> Result<Link, Error> {
        if text.len() > MAX_LINK_LEN {
            return Err(invalid(format!(
                "a {kind} link of {} bytes is too long",
                text.len()
            )));
        }
        if kind == LinkKind::TORRENT {
            check_magnet(text)?;
        } else if kind == LinkKind::CODEX {
            check_cid(text)?;
        } else {
            let rest = text
                .strip_prefix(kind.scheme())
                .and_then(|t| t.strip_prefix(':'))
                .ok_or_else(|| invalid(format!("a {kind} link starts with \"{kind}:\"")))?;
            check_rest(&kind, rest)?;
        }
        Ok(Link {
            kind,
            announced: text.to_owned(),
        })
    }

    /// The network the link belongs to.
    pub fn kind(&self) -> LinkKind {
        self.kind.clone()
    }

    /// The text announced on the wire: the magnet URI, the bare CID, or the
    /// link's full text for other networks.
    pub fn announced(&self) -> &str {
        &self.announced
    }

    /// What follows the scheme: the magnet URI's query, the CID, a backend's
    /// own reference.
    pub fn rest(&self) -> &str {
        if self.kind == LinkKind::CODEX {
            &self.announced
        } else {
            // Checked on construction: every other link is `scheme:rest`.
            &self.announced[self.kind.scheme().len() + 1..]
        }
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidInput, "link", message)
}

fn shown(text: &str) -> String {
    text.chars().take(80).collect()
}

/// The wire form of a magnet link, as far as announcing it needs: the
/// magnet scheme and a BitTorrent v1 infohash. Everything else about it is
/// read by `torrent-format`'s `Magnet`, the one magnet parser.
fn check_magnet(text: &str) -> Result<(), Error> {
    let Some(query) = text.strip_prefix("magnet:?") else {
        return Err(invalid("a magnet link starts with \"magnet:?\"".into()));
    };
    let has_btih = query.split('&').any(|pair| {
        pair.strip_prefix("xt=urn:btih:")
            .is_some_and(|hash| hash.len() == 40 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
    });
    if !has_btih {
        return Err(invalid(
            "magnet link has no xt=urn:btih: with a 40-hex-digit infohash".into(),
        ));
    }
    Ok(())
}

fn check_cid(text: &str) -> Result<(), Error> {
    const BASE58: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    if text.is_empty() || text.len() > 128 {
        return Err(invalid(format!(
            "a CID has 1 to 128 characters, not {}",
            text.len()
        )));
    }
    let Some(rest) = text.strip_prefix('z') else {
        return Err(invalid(format!(
            "CID {:?} is not base58btc (it must start with 'z')",
            shown(text)
        )));
    };
    if rest.len() < 30 || !rest.chars().all(|c| BASE58.contains(c)) {
        return Err(invalid(format!(
            "CID {:?} is not a base58btc CIDv1",
            shown(text)
        )));
    }
    Ok(())
}

fn check_rest(kind: &LinkKind, rest: &str) -> Result<(), Error> {
    if rest.is_empty() {
        return Err(invalid(format!(
            "a {kind} link names nothing after \"{kind}:\""
        )));
    }
    if !rest.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(format!(
            "a {kind} link is printable ASCII without spaces: {:?}",
            shown(rest)
        )));
    }
    Ok(())
}

impl FromStr for Link {
    type Err = Error;

    fn from_str(s: &str) -> Result<Link, Error> {
        if s.len() > MAX_LINK_LEN {
            return Err(invalid(format!("a link of {} bytes is too long", s.len())));
        }
        let Some((scheme, rest)) = s.split_once(':') else {
            return Err(invalid(format!(
                "{:?} is not a link: it has no scheme (magnet:, codex:, …)",
                shown(s)
            )));
        };
        let kind = LinkKind::from_scheme(scheme)
            .map_err(|e| invalid(format!("{:?} is not a link: {e}", shown(s))))?;
        if kind == LinkKind::CODEX {
            Link::from_announced(kind, rest)
        } else {
            Link::from_announced(kind, s)
        }
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == LinkKind::CODEX {
            write!(f, "{}:", self.kind.scheme())?;
        }
        f.write_str(&self.announced)
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const MAGNET: &str = "magnet:?xt=urn:btih:0123456789abcdef0123456789ABCDEF01234567&dn=0x02ab&tr=udp%3A%2F%2Ft%3A1";
    const CID: &str = "zDvZRwzm6Rmj7Tq6oCCkQ1UwYfq8HGVZZpKbLsRyrtcvSWX8CtUa";

    #[test]
    fn links_round_trip_through_their_string_form() {
        let magnet: Link = MAGNET.parse().unwrap();
        assert_eq!(magnet.kind(), LinkKind::TORRENT);
        assert_eq!(magnet.to_string(), MAGNET);
        assert_eq!(magnet.announced(), MAGNET);

        let cid: Link = format!("codex:{CID}").parse().unwrap();
        assert_eq!(cid.kind(), LinkKind::CODEX);
        assert_eq!(cid.announced(), CID);
        assert_eq!(cid.rest(), CID);
        assert_eq!(cid.to_string(), format!("codex:{CID}"));
        assert_eq!(Link::from_announced(LinkKind::CODEX, CID).unwrap(), cid);

        let dir: Link = "dir:archives-0x02ab".parse().unwrap();
        assert_eq!(dir.kind().name(), "dir");
        assert_eq!(dir.announced(), "dir:archives-0x02ab");
        assert_eq!(dir.rest(), "archives-0x02ab");
        assert_eq!(
            Link::from_announced(dir.kind(), dir.announced()).unwrap(),
            dir
        );
    }

    #[test]
    fn malformed_links_are_rejected_with_the_reason() {
        let cases = [
            ("example", "no scheme"),
            ("Http://example", "not a network name"),
            ("torrent:abc", "magnet: URIs"),
            ("dir:", "names nothing"),
            ("dir:a b", "without spaces"),
            ("magnet:?dn=x", "no xt=urn:btih"),
            ("magnet:?xt=urn:btih:1234", "no xt=urn:btih"),
            ("codex:Qm123", "base58btc"),
            ("codex:z0OIl", "base58btc"),
            ("codex:", "1 to 128"),
        ];
        for (text, reason) in cases {
            let err = text.parse::<Link>().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.to_string().contains(reason), "{text}: {err}");
        }
        let long = format!("magnet:?{}", "a".repeat(MAX_LINK_LEN));
        assert!(long.parse::<Link>().is_err());
        let dir = LinkKind::new("dir").unwrap();
        let err = Link::from_announced(dir, "other:x").unwrap_err();
        assert!(err.to_string().contains("starts with \"dir:\""), "{err}");
    }

    fn any_link() -> impl Strategy<Value = String> {
        prop_oneof![
            ("[0-9a-f]{40}", "[a-zA-Z0-9%&=.]{0,60}")
                .prop_map(|(hash, tail)| format!("magnet:?xt=urn:btih:{hash}&dn={tail}")),
            "z[1-9A-HJ-NP-Za-km-z]{30,60}".prop_map(|cid| format!("codex:{cid}")),
            ("[a-z][a-z0-9-]{0,31}", "[!-~]{1,200}")
                .prop_filter("a built-in scheme", |(s, _)| {
                    !matches!(s.as_str(), "magnet" | "codex" | "torrent")
                })
                .prop_map(|(scheme, rest)| format!("{scheme}:{rest}")),
        ]
    }

    proptest! {
        #[test]
        fn every_valid_link_renders_as_it_was_written(text in any_link()) {
            let link: Link = text.parse().unwrap();
            prop_assert_eq!(link.to_string(), text.as_str());
            let announced = Link::from_announced(link.kind(), link.announced()).unwrap();
            prop_assert_eq!(&announced, &link);
            prop_assert!(link.announced().len() <= MAX_LINK_LEN);
        }

        #[test]
        fn junk_is_refused_or_renders_back_unchanged(text in "\\PC{0,120}") {
            // Whatever is accepted is exactly what was given; nothing is
            // accepted without a scheme or with a character outside ASCII.
            match text.parse::<Link>() {
                Ok(link) => {
                    prop_assert_eq!(link.to_string(), text.as_str());
                    prop_assert!(text.is_ascii() && text.contains(':'));
                }
                Err(e) => prop_assert_eq!(e.kind(), ErrorKind::InvalidInput),
            }
        }

        #[test]
        fn a_link_of_one_network_is_never_read_as_another(text in any_link(), other in "[a-z][a-z0-9-]{0,31}") {
            let link: Link = text.parse().unwrap();
            prop_assume!(other != "magnet" && other != link.kind().name());
            let kind = LinkKind::new(other).unwrap();
            prop_assert!(Link::from_announced(kind, link.announced()).is_err());
        }
    }
}
