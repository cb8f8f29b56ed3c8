//! The devnode's repository: content-addressed blocks on disk (data blocks
//! zero-padded to the block size, manifest blocks as encoded), the leaf list
//! of each tree, and the space accounting `/space` reports (spec 2.2).

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Mutex,
};

use cid::Cid;

use crate::{
    error::DevnodeError,
    format::cid::{BLOCK_CODEC, MANIFEST_CODEC, cid_of_digest, cid_text, parse_cid},
    format::manifest::Manifest,
};

/// Blocks under `<data dir>/blocks/<cid>`, leaf lists under
/// `<data dir>/trees/<treeCid>` (32 bytes per block, in order).
#[derive(Debug)]
pub(crate) struct Store {
    blocks: PathBuf,
    trees: PathBuf,
    /// Block CID text → stored size; the truth about what is local.
    sizes: Mutex<HashMap<String, u64>>,
}

impl Store {
    /// Opens (or creates) the repository and counts what is already there.
    pub(crate) fn open(data_dir: &Path) -> Result<Store, DevnodeError> {
        let blocks = data_dir.join("blocks");
        let trees = data_dir.join("trees");
        for dir in [&blocks, &trees] {
            std::fs::create_dir_all(dir)
                .map_err(|e| DevnodeError::io(format!("creating {}", dir.display()), e))?;
        }
        let mut sizes = HashMap::new();
        let entries = std::fs::read_dir(&blocks)
            .map_err(|e| DevnodeError::io(format!("listing {}", blocks.display()), e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Half-written files (`.tmp`) from a crash are not blocks.
            if parse_cid(&name).is_ok()
                && let Ok(meta) = entry.metadata()
            {
                sizes.insert(name, meta.len());
            }
        }
        Ok(Store {
            blocks,
            trees,
            sizes: Mutex::new(sizes),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.sizes.lock().expect("store lock")
    }

    pub(crate) fn has(&self, cid: &Cid) -> bool {
        self.lock().contains_key(&cid_text(cid))
    }

    /// Stores a block under `cid`; storing one that is there is a no-op.
    pub(crate) async fn put(&self, cid: &Cid, bytes: &[u8]) -> Result<(), DevnodeError> {
        let name = cid_text(cid);
        if self.lock().contains_key(&name) {
            return Ok(());
        }
        let path = self.blocks.join(&name);
        write_atomically(&path, bytes).await?;
        self.lock().insert(name, bytes.len() as u64);
        Ok(())
    }

    /// Stores a data block under its block CID and returns its digest.
    pub(crate) async fn put_data_block(
        &self,
        digest: &[u8; 32],
        block: &[u8],
    ) -> Result<(), DevnodeError> {
        self.put(&cid_of_digest(BLOCK_CODEC, digest), block).await
    }

    pub(crate) async fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, DevnodeError> {
        if !self.has(cid) {
            return Ok(None);
        }
        match tokio::fs::read(self.blocks.join(cid_text(cid))).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(DevnodeError::io("reading a block", e)),
        }
    }

    /// Deletes one block; a missing block is not an error.
    pub(crate) async fn delete(&self, cid: &Cid) -> Result<(), DevnodeError> {
        let name = cid_text(cid);
        self.lock().remove(&name);
        match tokio::fs::remove_file(self.blocks.join(&name)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(DevnodeError::io("deleting a block", e))
            }
            _ => Ok(()),
        }
    }

    pub(crate) async fn put_tree(
        &self,
        tree: &Cid,
        leaves: &[[u8; 32]],
    ) -> Result<(), DevnodeError> {
        write_atomically(&self.trees.join(cid_text(tree)), leaves.as_flattened()).await
    }

    pub(crate) async fn tree(&self, tree: &Cid) -> Result<Option<Vec<[u8; 32]>>, DevnodeError> {
        match tokio::fs::read(self.trees.join(cid_text(tree))).await {
            Ok(bytes) => Ok(Some(
                bytes
                    .chunks_exact(32)
                    .map(|c| c.try_into().expect("32-byte chunk"))
                    .collect(),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(DevnodeError::io("reading a tree", e)),
        }
    }

    pub(crate) async fn delete_tree(&self, tree: &Cid) {
        // Leaf lists are bookkeeping, not blocks: a leftover one is harmless.
        let _ = tokio::fs::remove_file(self.trees.join(cid_text(tree))).await;
    }

    /// The local manifest of `cid`, if its block is here and is a manifest.
    pub(crate) async fn manifest(&self, cid: &Cid) -> Result<Option<Manifest>, DevnodeError> {
        if cid.codec() != MANIFEST_CODEC {
            return Ok(None);
        }
        match self.get(cid).await? {
            Some(block) => Ok(Some(Manifest::decode(&block)?)),
            None => Ok(None),
        }
    }

    /// Every local manifest, in CID order.
    pub(crate) async fn manifests(&self) -> Vec<(Cid, Manifest)> {
        let mut names: Vec<String> = self.lock().keys().cloned().collect();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            let Ok(cid) = parse_cid(&name) else { continue };
            if let Ok(Some(m)) = self.manifest(&cid).await {
                out.push((cid, m));
            }
        }
        out
    }

    /// The leaf digests of a dataset when every one of its blocks is local.
    pub(crate) async fn complete_leaves(
        &self,
        manifest: &Manifest,
    ) -> Result<Option<Vec<[u8; 32]>>, DevnodeError> {
        let Some(leaves) = self.tree(&manifest.tree_cid).await? else {
            return Ok(None);
        };
        let sizes = self.lock();
        let complete = leaves.len() as u64 == manifest.block_count()
            && leaves
                .iter()
                .all(|d| sizes.contains_key(&cid_text(&cid_of_digest(BLOCK_CODEC, d))));
        Ok(complete.then_some(leaves))
    }

    /// `(totalBlocks, quotaUsedBytes)`.
    pub(crate) fn usage(&self) -> (u64, u64) {
        let sizes = self.lock();
        (sizes.len() as u64, sizes.values().sum())
    }
}

async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DevnodeError> {
    // A unique temporary name: two uploads of the same block may race.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("{n}.tmp"));
    tokio::fs::write(&tmp, bytes)
        .await
        .map_err(|e| DevnodeError::io(format!("writing {}", tmp.display()), e))?;
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|e| DevnodeError::io(format!("renaming to {}", path.display()), e))
}
