//! The dataset manifest in wire format A (Codex ≤ Dec 2025, spec 4.4 and 4.6),
//! its CID, and its JSON form in the REST API.
//!
//! The protobuf is written by hand: format A emits every field even when zero
//! and in a fixed order, which a generated proto3 encoder would not do.

use cid::Cid;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    BadManifest,
    cid::{BLOCK_CODEC, MANIFEST_CODEC, SHA2_256, cid_of_digest, cid_text, parse_cid},
};

/// `version` is the Nim enum ordinal of `CIDv1`, which is 2 (spec 4.4).
const CID_VERSION_ORDINAL: u64 = 2;

/// What a plain (unprotected) upload's manifest says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The tree root (`treeCid`, codec 0xCD03).
    pub tree_cid: Cid,
    /// Block size in bytes.
    pub block_size: u64,
    /// The dataset's length without padding.
    pub dataset_size: u64,
    /// The uploaded file name, from `Content-Disposition`.
    pub filename: Option<String>,
    /// The uploaded MIME type, from `Content-Type`.
    pub mimetype: Option<String>,
}

impl Manifest {
    /// The manifest block, format A.
    pub fn encode(&self) -> Vec<u8> {
        let mut header = Vec::with_capacity(96);
        put_bytes(&mut header, 1, &self.tree_cid.to_bytes());
        put_varint_field(&mut header, 2, self.block_size);
        put_varint_field(&mut header, 3, self.dataset_size);
        put_varint_field(&mut header, 4, BLOCK_CODEC);
        put_varint_field(&mut header, 5, SHA2_256);
        put_varint_field(&mut header, 6, CID_VERSION_ORDINAL);
        if let Some(name) = &self.filename {
            put_bytes(&mut header, 8, name.as_bytes());
        }
        if let Some(mime) = &self.mimetype {
            put_bytes(&mut header, 9, mime.as_bytes());
        }
        let mut block = Vec::with_capacity(header.len() + 4);
        put_bytes(&mut block, 1, &header);
        block
    }

    /// The manifest CID (codec 0xCD01) of [`encode`](Self::encode).
    pub fn cid(&self) -> Cid {
        cid_of_digest(MANIFEST_CODEC, &Sha256::digest(self.encode()).into())
    }

    /// Reads a format-A manifest block. Protected (erasure-coded) manifests and
    /// other codecs are refused: a plain upload never makes them.
    pub fn decode(block: &[u8]) -> Result<Manifest, BadManifest> {
        let bad = |why: &str| BadManifest(why.to_string());
        let mut outer = Fields(block);
        let header = match outer.next_field()? {
            Some((1, Value::Bytes(h))) => h,
            _ => return Err(bad("no header in field 1")),
        };
        let (mut tree, mut bs, mut size, mut codec, mut hcodec, mut version) =
            (None, None, None, None, None, None);
        let (mut filename, mut mimetype) = (None, None);
        let mut fields = Fields(header);
        while let Some((number, value)) = fields.next_field()? {
            match (number, value) {
                (1, Value::Bytes(b)) => {
                    tree = Some(Cid::try_from(b).map_err(|e| bad(&format!("treeCid: {e}")))?)
                }
                (2, Value::Varint(v)) => bs = Some(v),
                (3, Value::Varint(v)) => size = Some(v),
                (4, Value::Varint(v)) => codec = Some(v),
                (5, Value::Varint(v)) => hcodec = Some(v),
                (6, Value::Varint(v)) => version = Some(v),
                (7, _) => return Err(bad("protected (erasure-coded) manifests are not supported")),
                (8, Value::Bytes(b)) => filename = Some(utf8(b)?),
                (9, Value::Bytes(b)) => mimetype = Some(utf8(b)?),
                (n, _) => return Err(bad(&format!("unexpected field {n}"))),
            }
        }
        let (Some(tree_cid), Some(block_size), Some(dataset_size)) = (tree, bs, size) else {
            return Err(bad("treeCid, blockSize or datasetSize missing"));
        };
        if codec != Some(BLOCK_CODEC) || hcodec != Some(SHA2_256) {
            return Err(bad("codec or hash codec is not codex-block / sha2-256"));
        }
        if version != Some(CID_VERSION_ORDINAL) || block_size == 0 {
            return Err(bad("CID version or block size out of range"));
        }
        Ok(Manifest {
            tree_cid,
            block_size,
            dataset_size,
            filename,
            mimetype,
        })
    }

    /// The manifest a JSON answer describes. Only format A carries everything
    /// the manifest block holds, so only there does `cid()` of the result
    /// re-derive the CID the node announced.
    pub fn from_json(json: &ManifestJson) -> Result<Manifest, BadManifest> {
        let tree_cid = parse_cid(&json.tree_cid)
            .map_err(|e| BadManifest(format!("treeCid {:?}: {e}", json.tree_cid)))?;
        if json.block_size == 0 {
            return Err(BadManifest("block size 0".into()));
        }
        Ok(Manifest {
            tree_cid,
            block_size: json.block_size,
            dataset_size: json.dataset_size,
            filename: json.filename.clone(),
            mimetype: json.mimetype.clone(),
        })
    }

    /// How many blocks the dataset has.
    pub fn block_count(&self) -> u64 {
        self.dataset_size.div_ceil(self.block_size)
    }

    /// The JSON object the REST API shows for this manifest (format A).
    pub fn to_json(&self) -> ManifestJson {
        ManifestJson {
            tree_cid: cid_text(&self.tree_cid),
            dataset_size: self.dataset_size,
            block_size: self.block_size,
            filename: self.filename.clone(),
            mimetype: self.mimetype.clone(),
            protected: Some(false),
            manifest_version: None,
        }
    }
}

fn utf8(bytes: &[u8]) -> Result<String, BadManifest> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| BadManifest("filename or mimetype is not UTF-8".into()))
}

/// A manifest as JSON, read leniently: only `treeCid`, `datasetSize` and
/// `blockSize` are required and unknown keys are ignored, so every API
/// generation parses (spec 2.2, 8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestJson {
    /// The tree root CID.
    pub tree_cid: String,
    /// Length without padding.
    pub dataset_size: u64,
    /// Block size.
    pub block_size: u64,
    /// File name, `null` when none.
    #[serde(default)]
    pub filename: Option<String>,
    /// MIME type, `null` when none.
    #[serde(default)]
    pub mimetype: Option<String>,
    /// Format A only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
    /// Formats C/D only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_version: Option<u64>,
}

/// `{"cid", "manifest"}` as `/data`, `/network` and `/network/manifest` show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataItem {
    /// The manifest CID.
    pub cid: String,
    /// The manifest.
    pub manifest: ManifestJson,
    /// 2026 nodes answer `POST /network` with a background download ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_id: Option<u64>,
}

/// `GET /data`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataList {
    /// Every local manifest.
    pub content: Vec<DataItem>,
}

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// A minimal protobuf field reader: varint and length-delimited fields only.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn next_field(&mut self) -> Result<Option<(u64, Value<'a>)>, BadManifest> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            2 => {
                let len = usize::try_from(self.varint()?).unwrap_or(usize::MAX);
                if len > self.0.len() {
                    return Err(BadManifest("truncated field".into()));
                }
                let (bytes, rest) = self.0.split_at(len);
                self.0 = rest;
                Value::Bytes(bytes)
            }
            t => return Err(BadManifest(format!("wire type {t}"))),
        };
        Ok(Some((key >> 3, value)))
    }

    fn varint(&mut self) -> Result<u64, BadManifest> {
        let mut value = 0u64;
        for (i, byte) in self.0.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.0 = &self.0[i + 1..];
                return Ok(value);
            }
        }
        Err(BadManifest("bad varint".into()))
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_varint_field(out: &mut Vec<u8>, number: u64, value: u64) {
    put_varint(out, number << 3);
    put_varint(out, value);
}

fn put_bytes(out: &mut Vec<u8>, number: u64, bytes: &[u8]) {
    put_varint(out, (number << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use proptest::{collection::vec, prelude::*};

    use super::*;
    use crate::tree::{DEFAULT_BLOCK_SIZE, TreeHasher, tree_cid};

    /// Spec 4.5, vectors 2, 2b and 2c: "Hello World!" as `hello.txt`,
    /// `text/plain`, block size 65536.
    #[test]
    fn reproduces_the_published_vector() {
        let mut hasher = TreeHasher::new(DEFAULT_BLOCK_SIZE);
        hasher.update(b"Hello World!");
        let tree = tree_cid(&hasher.finish()).unwrap();
        assert_eq!(
            cid_text(&tree),
            "zDzSvJTf8JYwvysKPmG7BtzpbiAHfuwFMRphxm4hdvnMJ4XPJjKX"
        );
        let manifest = Manifest {
            tree_cid: tree,
            block_size: DEFAULT_BLOCK_SIZE as u64,
            dataset_size: 12,
            filename: Some("hello.txt".into()),
            mimetype: Some("text/plain".into()),
        };
        let block = manifest.encode();
        assert_eq!(
            block.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "0a4d0a2601839a031220755c6167daa1ad7e80d86810278dae8c4c178a548bd3fb133f12fba2e7c0302210808004180c20829a0328123002420968656c6c6f2e7478744a0a746578742f706c61696e"
        );
        assert_eq!(
            cid_text(&manifest.cid()),
            "zDvZRwzmAkhzDRPH5EW242gJBNZ2T7aoH2v1fVH66FxXL4kSbvyM"
        );
        assert_eq!(Manifest::decode(&block).unwrap(), manifest);
    }

    #[test]
    fn bare_manifest_is_56_bytes_and_round_trips() {
        // The node's /space test: 18 bytes upload → a 56-byte manifest block.
        let tree = parse_cid("zDzSvJTf8JYwvysKPmG7BtzpbiAHfuwFMRphxm4hdvnMJ4XPJjKX").unwrap();
        let manifest = Manifest {
            tree_cid: tree,
            block_size: 65_536,
            dataset_size: 18,
            filename: None,
            mimetype: None,
        };
        assert_eq!(manifest.encode().len(), 56);
        assert_eq!(Manifest::decode(&manifest.encode()).unwrap(), manifest);
        assert!(Manifest::decode(b"\x0a\x02\x08").is_err());
        let json = serde_json::to_string(&manifest.to_json()).unwrap();
        assert!(json.contains(r#""filename":null"#) && json.contains(r#""protected":false"#));
    }

    fn arb_manifest() -> impl Strategy<Value = Manifest> {
        (
            any::<[u8; 32]>(),
            1u64..=u64::MAX,
            any::<u64>(),
            proptest::option::of(".{0,40}"),
            proptest::option::of("[a-z]{1,12}/[a-z0-9.+-]{1,20}"),
        )
            .prop_map(
                |(root, block_size, dataset_size, filename, mimetype)| Manifest {
                    tree_cid: cid_of_digest(crate::cid::ROOT_CODEC, &root),
                    block_size,
                    dataset_size,
                    filename,
                    mimetype,
                },
            )
    }

    proptest! {
        /// Format A (spec 4.4, 4.6): every manifest reads back from its
        /// block and from its JSON, and its CID is the codex-manifest CID
        /// of the sha2-256 of that block.
        #[test]
        fn manifests_round_trip_through_block_json_and_cid(manifest in arb_manifest()) {
            let block = manifest.encode();
            prop_assert_eq!(Manifest::decode(&block).unwrap(), manifest.clone());

            let json = serde_json::to_string(&manifest.to_json()).unwrap();
            let parsed: ManifestJson = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(Manifest::from_json(&parsed).unwrap(), manifest.clone());

            let cid = manifest.cid();
            prop_assert_eq!(cid.codec(), MANIFEST_CODEC);
            prop_assert_eq!(
                crate::cid::sha256_digest(&cid),
                Some(<[u8; 32]>::from(Sha256::digest(&block)))
            );
            prop_assert_eq!(parse_cid(&cid_text(&cid)).unwrap(), cid);
            prop_assert_eq!(
                manifest.block_count(),
                manifest.dataset_size.div_ceil(manifest.block_size)
            );
        }

        /// The block is one length-delimited field, so no strict prefix of
        /// it is a manifest: a truncated download never decodes.
        #[test]
        fn no_truncated_block_decodes(
            manifest in arb_manifest(),
            cut in any::<proptest::sample::Index>(),
        ) {
            let block = manifest.encode();
            let cut = cut.index(block.len());
            prop_assert!(Manifest::decode(&block[..cut]).is_err());
        }

        /// Any bytes at all give a manifest or a typed error, never a panic.
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in vec(any::<u8>(), 0..200)) {
            let _ = Manifest::decode(&bytes);
        }
    }
}
