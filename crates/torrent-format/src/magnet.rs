//! Magnet links as status-go writes them (spec c.6) and reads them.
//!
//! Rendering follows anacrolix `Magnet.String()`: `xt=urn:btih:<hex>` first and
//! unescaped, then the other parameters as Go's `url.Values.Encode()` gives
//! them: keys sorted (`dn`, `tr`, `x.pe`), values escaped with
//! `url.QueryEscape`. Parsing accepts what BEP 9 allows and reports which
//! parameter is wrong; it never panics, whatever the input.

use std::{fmt, str::FromStr};

use archive_index::CommunityId;

use crate::{
    error::{Error, Result},
    info_hash::InfoHash,
};

/// Longer links are refused before any decoding: a community magnet is a few
/// hundred bytes.
pub const MAX_MAGNET_LEN: usize = 64 * 1024;

const BTIH: &str = "urn:btih:";

/// A BitTorrent v1 magnet link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Magnet {
    /// `xt=urn:btih:…`.
    pub info_hash: InfoHash,
    /// `dn`: status-go puts the community ID here.
    pub display_name: Option<String>,
    /// `tr`, in order.
    pub trackers: Vec<String>,
    /// `x.pe` peer addresses (`host:port`), in order.
    pub peers: Vec<String>,
}

impl Magnet {
    /// Checks that `dn`, when present, names `community`, the one being
    /// fetched (status-go puts the community ID there).
    pub fn check_community(&self, community: &CommunityId) -> Result<()> {
        match &self.display_name {
            Some(name) => crate::metainfo::check_name("magnet dn", name, community),
            None => Ok(()),
        }
    }

    /// A link with only the infohash.
    pub fn new(info_hash: InfoHash) -> Magnet {
        Magnet {
            info_hash,
            display_name: None,
            trackers: Vec::new(),
            peers: Vec::new(),
        }
    }
}

fn invalid(part: &'static str, reason: &'static str) -> Error {
    Error::InvalidMagnet { part, reason }
}

impl fmt::Display for Magnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "magnet:?xt={BTIH}{}", self.info_hash)?;
        // Go omits an empty display name.
        let dn = self.display_name.iter().filter(|n| !n.is_empty());
        let params = dn
            .map(|v| ("dn", v))
            .chain(self.trackers.iter().map(|v| ("tr", v)))
            .chain(self.peers.iter().map(|v| ("x.pe", v)));
        for (key, value) in params {
            write!(f, "&{key}=")?;
            query_escape(value, f)?;
        }
        Ok(())
    }
}

impl FromStr for Magnet {
    type Err = Error;

    fn from_str(link: &str) -> Result<Magnet> {
        if link.len() > MAX_MAGNET_LEN {
            return Err(invalid("link", "is longer than 64 KiB"));
        }
        let scheme = link.get(..7).filter(|s| s.eq_ignore_ascii_case("magnet:"));
        if scheme.is_none() {
            return Err(invalid("link", "does not start with magnet:"));
        }
        let query = link[7..]
            .strip_prefix('?')
            .ok_or_else(|| invalid("link", "has no query after magnet:"))?;
        // As Go's url.Parse: a fragment is not part of the query.
        let query = query.split_once('#').map_or(query, |(q, _)| q);

        let pairs = || {
            query.split('&').filter(|p| !p.is_empty()).map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                Ok::<_, Error>((part_named(key)?, value))
            })
        };
        // Counted first, so that each list is allocated once at its final
        // size: a growing vector of strings would briefly hold three times
        // their 24 bytes each for every five bytes of `&tr=x`.
        let (mut tr, mut pe) = (0, 0);
        for pair in pairs() {
            match pair?.0 {
                Some("tr") => tr += 1,
                Some("x.pe") => pe += 1,
                _ => {}
            }
        }
        let mut info_hash = None;
        let mut saw_xt = false;
        let mut display_name = None;
        let mut trackers = Vec::with_capacity(tr);
        let mut peers = Vec::with_capacity(pe);
        for pair in pairs() {
            let (Some(part), value) = pair? else {
                continue;
            };
            let value = query_unescape(value).map_err(|reason| invalid(part, reason))?;
            match part {
                "xt" => {
                    saw_xt = true;
                    let Some(hash) = strip_prefix_ignore_case(&value, BTIH) else {
                        continue; // another kind of URN, e.g. BitTorrent v2's btmh
                    };
                    let hash = InfoHash::from_btih(hash).map_err(|r| invalid("xt", r))?;
                    if info_hash.is_some_and(|h| h != hash) {
                        return Err(invalid("xt", "names two different info hashes"));
                    }
                    info_hash = Some(hash);
                }
                "dn" if display_name.is_some() => {
                    return Err(invalid("dn", "appears more than once"));
                }
                "dn" => display_name = Some(value),
                _ if value.is_empty() => return Err(invalid(part, "is empty")),
                "tr" => trackers.push(value),
                _ => peers.push(value),
            }
        }
        let info_hash = info_hash.ok_or_else(|| {
            invalid(
                "xt",
                if saw_xt {
                    "has no urn:btih: info hash"
                } else {
                    "is missing"
                },
            )
        })?;
        Ok(Magnet {
            info_hash,
            display_name,
            trackers,
            peers,
        })
    }
}

/// The parameter a raw query key names, if it is one this crate reads.
fn part_named(key: &str) -> Result<Option<&'static str>> {
    let key = query_unescape(key).map_err(|reason| invalid("link", reason))?;
    Ok(match key.as_str() {
        "xt" => Some("xt"),
        "dn" => Some("dn"),
        "tr" => Some("tr"),
        "x.pe" => Some("x.pe"),
        _ => None,
    })
}

fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

/// Go's `url.QueryEscape`: unreserved bytes as they are, space as `+`,
/// everything else `%XX` with upper-case hex.
fn query_escape(value: &str, out: &mut impl fmt::Write) -> fmt::Result {
    for &b in value.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.write_char(char::from(b))?;
            }
            b' ' => out.write_char('+')?,
            _ => write!(out, "%{b:02X}")?,
        }
    }
    Ok(())
}

/// Go's `url.QueryUnescape`, plus the requirement that the result is UTF-8.
fn query_unescape(value: &str) -> Result<String, &'static str> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or("has a truncated %-escape")?;
                let mut byte = [0u8];
                hex::decode_to_slice(hex, &mut byte).map_err(|_| "has an invalid %-escape")?;
                out.push(byte[0]);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "is not UTF-8 once unescaped")
}

#[cfg(test)]
mod tests;
