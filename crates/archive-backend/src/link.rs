//! The link an owner announces: a magnet link or a Codex index CID.

use std::{fmt, str::FromStr};

use crate::error::{Error, ErrorKind};

pub use archive_index::LinkKind;

/// A validated link. Its string form is the magnet URI itself, or `codex:` and
/// the CID; [`Link::announced`] is what goes on the wire (the URI, or the bare
/// CID).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Link {
    /// `magnet:?xt=urn:btih:<infohash>…`.
    Magnet(String),
    /// A base58btc CIDv1 (`zDv…`).
    IndexCid(String),
}

const CODEX_PREFIX: &str = "codex:";
/// No real link is anywhere near this long; longer input is refused unread.
const MAX_LINK_LEN: usize = 8 * 1024;

impl Link {
    /// Reads a link as announced on the wire for `kind`.
    pub fn from_announced(kind: LinkKind, text: &str) -> Result<Link, Error> {
        match kind {
            LinkKind::Magnet => parse_magnet(text),
            LinkKind::IndexCid => parse_cid(text),
        }
    }

    /// The kind of link.
    pub fn kind(&self) -> LinkKind {
        match self {
            Link::Magnet(_) => LinkKind::Magnet,
            Link::IndexCid(_) => LinkKind::IndexCid,
        }
    }

    /// The text announced on the wire: the magnet URI or the bare CID.
    pub fn announced(&self) -> &str {
        match self {
            Link::Magnet(s) | Link::IndexCid(s) => s,
        }
    }

    /// For magnets, the 40-hex-digit infohash (lowercase).
    pub fn infohash(&self) -> Option<String> {
        let Link::Magnet(uri) = self else { return None };
        magnet_btih(uri).map(|h| h.to_ascii_lowercase())
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidInput, "link", message)
}

fn parse_magnet(text: &str) -> Result<Link, Error> {
    if text.len() > MAX_LINK_LEN {
        return Err(invalid(format!(
            "magnet link of {} bytes is too long",
            text.len()
        )));
    }
    if !text.starts_with("magnet:?") {
        return Err(invalid("a magnet link starts with \"magnet:?\"".into()));
    }
    match magnet_btih(text) {
        Some(_) => Ok(Link::Magnet(text.to_string())),
        None => Err(invalid(
            "magnet link has no xt=urn:btih: with a 40-hex-digit infohash".into(),
        )),
    }
}

fn magnet_btih(uri: &str) -> Option<&str> {
    let query = uri.strip_prefix("magnet:?")?;
    query.split('&').find_map(|pair| {
        let hash = pair.strip_prefix("xt=urn:btih:")?;
        (hash.len() == 40 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hash)
    })
}

fn parse_cid(text: &str) -> Result<Link, Error> {
    const BASE58: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    if text.is_empty() || text.len() > 128 {
        return Err(invalid(format!(
            "a CID has 1 to 128 characters, not {}",
            text.len()
        )));
    }
    let Some(rest) = text.strip_prefix('z') else {
        return Err(invalid(format!(
            "CID {text:?} is not base58btc (it must start with 'z')"
        )));
    };
    if rest.len() < 30 || !rest.chars().all(|c| BASE58.contains(c)) {
        return Err(invalid(format!("CID {text:?} is not a base58btc CIDv1")));
    }
    Ok(Link::IndexCid(text.to_string()))
}

impl FromStr for Link {
    type Err = Error;

    fn from_str(s: &str) -> Result<Link, Error> {
        if let Some(cid) = s.strip_prefix(CODEX_PREFIX) {
            parse_cid(cid)
        } else if s.starts_with("magnet:") {
            parse_magnet(s)
        } else {
            Err(invalid(format!(
                "{:?} is neither a magnet link nor codex:<CID>",
                s.chars().take(80).collect::<String>()
            )))
        }
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Link::Magnet(uri) => f.write_str(uri),
            Link::IndexCid(cid) => write!(f, "{CODEX_PREFIX}{cid}"),
        }
    }
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGNET: &str = "magnet:?xt=urn:btih:0123456789abcdef0123456789ABCDEF01234567&dn=0x02ab&tr=udp%3A%2F%2Ft%3A1";
    const CID: &str = "zDvZRwzm6Rmj7Tq6oCCkQ1UwYfq8HGVZZpKbLsRyrtcvSWX8CtUa";

    #[test]
    fn links_round_trip_through_their_string_form() {
        let magnet: Link = MAGNET.parse().unwrap();
        assert_eq!(magnet.kind(), LinkKind::Magnet);
        assert_eq!(magnet.to_string(), MAGNET);
        assert_eq!(
            magnet.infohash().unwrap(),
            "0123456789abcdef0123456789abcdef01234567"
        );

        let cid: Link = format!("codex:{CID}").parse().unwrap();
        assert_eq!(cid.kind(), LinkKind::IndexCid);
        assert_eq!(cid.announced(), CID);
        assert_eq!(cid.to_string(), format!("codex:{CID}"));
        assert_eq!(Link::from_announced(LinkKind::IndexCid, CID).unwrap(), cid);
    }

    #[test]
    fn malformed_links_are_rejected_with_the_reason() {
        let cases = [
            ("http://example", "neither a magnet"),
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
    }
}
