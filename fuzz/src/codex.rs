//! Properties of `codex-format`: the manifest block, its JSON, and CIDs.

use cid::Cid;
use codex_format::{
    cid::{MANIFEST_CODEC, cid_of_digest, cid_text, parse_cid, sha256_digest},
    manifest::{Manifest, ManifestJson},
};
use sha2::{Digest, Sha256};

/// What every manifest satisfies: its block decodes to itself, its CID is
/// sha2-256 of that block, and its JSON form reads back to it.
fn check_manifest(manifest: &Manifest) {
    let block = manifest.encode();
    let again = Manifest::decode(&block).expect("an encoded manifest decodes");
    assert_eq!(
        &again, manifest,
        "decode → encode → decode changed the manifest"
    );
    assert_eq!(again.encode(), block);
    let digest: [u8; 32] = Sha256::digest(&block).into();
    assert_eq!(manifest.cid(), cid_of_digest(MANIFEST_CODEC, &digest));
    let json = serde_json::to_string(&manifest.to_json()).expect("JSON serializes");
    let read: ManifestJson = serde_json::from_str(&json).expect("our JSON parses");
    assert_eq!(
        Manifest::from_json(&read).as_ref(),
        Ok(manifest),
        "manifest → JSON → manifest changed it: {json}"
    );
    assert!(manifest.block_size > 0);
    assert_eq!(
        manifest.block_count(),
        manifest.dataset_size.div_ceil(manifest.block_size)
    );
}

/// First byte even: the rest is a manifest block; odd: a manifest as a node's
/// JSON. Whatever is accepted satisfies `check_manifest`.
pub fn codex_manifest(data: &[u8]) {
    let [mode, rest @ ..] = data else {
        return;
    };
    let manifest = if mode % 2 == 0 {
        Manifest::decode(rest).ok()
    } else {
        serde_json::from_slice::<ManifestJson>(rest)
            .ok()
            .and_then(|json| Manifest::from_json(&json).ok())
    };
    if let Some(manifest) = manifest {
        check_manifest(&manifest);
    }
}

fn check_cid(cid: &Cid) {
    assert_eq!(
        Cid::try_from(cid.to_bytes()).ok().as_ref(),
        Some(cid),
        "bytes round trip"
    );
    assert_eq!(
        parse_cid(&cid.to_string()).ok().as_ref(),
        Some(cid),
        "default text round trip"
    );
    assert_eq!(
        parse_cid(&cid_text(cid)).ok().as_ref(),
        Some(cid),
        "base58btc round trip"
    );
    if let Some(digest) = sha256_digest(cid)
        && cid.version() == cid::Version::V1
        && cid.hash().size() == 32
    {
        assert_eq!(&cid_of_digest(cid.codec(), &digest), cid);
    }
}

/// First byte even: the rest is a CID as text, as a node's path parameter;
/// odd: as bytes, as inside a manifest. What parses prints and re-parses to the
/// same CID in every form.
pub fn codex_cid(data: &[u8]) {
    let [mode, rest @ ..] = data else {
        return;
    };
    let cid = if mode % 2 == 0 {
        std::str::from_utf8(rest)
            .ok()
            .and_then(|text| parse_cid(text).ok())
    } else {
        Cid::try_from(rest).ok()
    };
    if let Some(cid) = cid {
        check_cid(&cid);
    }
}
