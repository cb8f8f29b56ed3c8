//! The BitTorrent v1 infohash: SHA-1 of the bencoded `info` dictionary.

use std::{fmt, str::FromStr};

use crate::error::{Error, Result};

/// SHA-1 of a torrent's bencoded `info` dictionary; shown as 40 lowercase hex
/// digits, as status-go puts it in magnet links.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHash(pub [u8; 20]);

impl InfoHash {
    /// The infohash of encoded `info` bytes.
    pub fn of_info_bytes(info: &[u8]) -> InfoHash {
        use sha1::Digest;
        InfoHash(sha1::Sha1::digest(info).into())
    }

    /// Reads the hash of a `urn:btih:` URN: 40 hex digits or, as BEP 9 also
    /// allows, 32 base32 characters. Either case is accepted.
    pub(crate) fn from_btih(text: &str) -> Result<InfoHash, &'static str> {
        let mut out = [0u8; 20];
        match text.len() {
            40 => hex::decode_to_slice(text, &mut out).map_err(|_| "info hash is not valid hex")?,
            32 => decode_base32(text.as_bytes(), &mut out)?,
            _ => return Err("info hash must be 40 hex or 32 base32 characters"),
        }
        Ok(InfoHash(out))
    }
}

/// RFC 4648 base32 without padding; 32 characters are exactly 160 bits.
fn decode_base32(text: &[u8], out: &mut [u8; 20]) -> Result<(), &'static str> {
    let mut acc: u64 = 0;
    let mut bits = 0;
    let mut written = 0;
    for &c in text {
        let v = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return Err("info hash is not valid base32"),
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out[written] = (acc >> bits) as u8;
            written += 1;
        }
    }
    Ok(())
}

impl FromStr for InfoHash {
    type Err = Error;
    fn from_str(s: &str) -> Result<InfoHash> {
        InfoHash::from_btih(s).map_err(|reason| Error::InvalidMagnet { part: "xt", reason })
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base32_forms_agree() {
        let hex = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
        let from_hex: InfoHash = hex.parse().unwrap();
        assert_eq!(from_hex.to_string(), hex);
        assert_eq!(hex.to_uppercase().parse::<InfoHash>().unwrap(), from_hex);
        // The same 20 bytes in RFC 4648 base32.
        let b32 = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK";
        assert_eq!(b32.parse::<InfoHash>().unwrap(), from_hex);
        assert_eq!(b32.to_lowercase().parse::<InfoHash>().unwrap(), from_hex);
        assert!(
            "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKE1"
                .parse::<InfoHash>()
                .is_err()
        );
        assert!(hex[..39].parse::<InfoHash>().is_err());
        assert!(format!("{}g", &hex[..39]).parse::<InfoHash>().is_err());
    }

    #[test]
    fn sha1_of_empty_input() {
        assert_eq!(
            InfoHash::of_info_bytes(b"").to_string(),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
    }
}
