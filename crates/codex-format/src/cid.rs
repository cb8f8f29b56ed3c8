//! Content identifiers as a Codex / Logos Storage node prints and parses them
//! (spec 4.1): CIDv1, a sha2-256 multihash, base58btc text.

use cid::{Cid, multihash::Multihash};

/// `codex-manifest` / `storage-manifest`: the CID of a dataset.
pub const MANIFEST_CODEC: u64 = 0xcd01;
/// `codex-block` / `storage-block`: one padded data block.
pub const BLOCK_CODEC: u64 = 0xcd02;
/// `codex-root` / `storage-root`: the tree root of a dataset (`treeCid`).
pub const ROOT_CODEC: u64 = 0xcd03;
/// The multihash code of sha2-256, the only hash a plain upload uses.
pub const SHA2_256: u64 = 0x12;

/// A CIDv1 of `codec` over a sha2-256 `digest`.
pub fn cid_of_digest(codec: u64, digest: &[u8; 32]) -> Cid {
    let hash = Multihash::<64>::wrap(SHA2_256, digest).expect("32 bytes fit a 64-byte multihash");
    Cid::new_v1(codec, hash)
}

/// The text a node prints: `z` + base58btc. (`Cid`'s `Display` would print
/// base32, which no Codex node ever shows.)
pub fn cid_text(cid: &Cid) -> String {
    cid.to_string_of_base(cid::multibase::Base::Base58Btc)
        .expect("a CIDv1 prints in any base")
}

/// Parses a CID path parameter as the node does: any multibase, CIDv0 or v1.
pub fn parse_cid(text: &str) -> Result<Cid, cid::Error> {
    Cid::try_from(text)
}

/// The sha2-256 digest inside `cid`, if that is its hash.
pub fn sha256_digest(cid: &Cid) -> Option<[u8; 32]> {
    let hash = cid.hash();
    if hash.code() != SHA2_256 {
        return None;
    }
    hash.digest().try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_give_the_documented_text_prefixes() {
        let digest = [7u8; 32];
        for (codec, prefix) in [
            (MANIFEST_CODEC, "zDvZRwz"),
            (BLOCK_CODEC, "zDxWB8E"),
            (ROOT_CODEC, "zDzSvJT"),
        ] {
            let cid = cid_of_digest(codec, &digest);
            assert_eq!(cid.to_bytes().len(), 38, "every Codex CID is 38 bytes");
            let text = cid_text(&cid);
            assert_eq!(text.len(), 52);
            assert!(
                text.starts_with(prefix),
                "{text} should start with {prefix}"
            );
            let parsed = parse_cid(&text).unwrap();
            assert_eq!(parsed, cid);
            assert_eq!(sha256_digest(&parsed), Some(digest));
        }
        assert!(parse_cid("not-a-cid").is_err());
    }
}
