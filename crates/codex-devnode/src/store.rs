//! The devnode's repository: content-addressed blocks on disk (data blocks
//! zero-padded to the block size, manifest blocks as encoded), the leaf list
//! of each tree, the space accounting `/space` reports (spec 2.2), reading a
//! dataset back as a stream, and a staging area for blocks from peers that
//! are not verified yet.

use std::{
    collections::HashMap,
    io::Read,
    path::{Path, PathBuf},
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use bytes::Bytes;
use cid::Cid;
use futures::Stream;

use crate::{
    error::DevnodeError,
    format::cid::{BLOCK_CODEC, MANIFEST_CODEC, cid_of_digest, cid_text, parse_cid},
    format::manifest::Manifest,
};

/// Blocks read from disk per trip to the blocking pool when a dataset is
/// streamed: a trip costs two thread switches, a block is 64 KiB by default,
/// and what is read ahead is what the stream holds in memory.
const BLOCKS_PER_READ: usize = 8;

/// Blocks under `<data dir>/blocks/<cid>`, leaf lists under
/// `<data dir>/trees/<treeCid>` (32 bytes per block, in order), unverified
/// blocks under `<data dir>/staging/<n>/<cid>`.
#[derive(Debug)]
pub(crate) struct Store {
    blocks: PathBuf,
    trees: PathBuf,
    staging: PathBuf,
    /// Block CID text → stored size; the truth about what is local.
    sizes: Mutex<HashMap<String, u64>>,
}

impl Store {
    /// Opens (or creates) the repository and counts what is already there.
    pub(crate) fn open(data_dir: &Path) -> Result<Store, DevnodeError> {
        let blocks = data_dir.join("blocks");
        let trees = data_dir.join("trees");
        let staging = data_dir.join("staging");
        // What a crash left staged was never verified: it goes.
        if let Err(e) = std::fs::remove_dir_all(&staging)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(DevnodeError::io(
                format!("clearing {}", staging.display()),
                e,
            ));
        }
        for dir in [&blocks, &trees, &staging] {
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
            staging,
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

    /// The dataset whose blocks have `leaves` as digests, `dataset_size`
    /// bytes with the padding stripped, read a few blocks at a time as the
    /// stream is polled. A block that vanished ends the stream with an error.
    pub(crate) fn read_dataset(
        &self,
        leaves: Vec<[u8; 32]>,
        dataset_size: u64,
    ) -> impl Stream<Item = Result<Bytes, DevnodeError>> + Send + 'static {
        let state = (self.blocks.clone(), leaves, 0, dataset_size);
        futures::stream::unfold(state, |(dir, leaves, next, remaining)| async move {
            let batch: Vec<[u8; 32]> = leaves
                .get(next..)?
                .iter()
                .take(BLOCKS_PER_READ)
                .copied()
                .collect();
            if batch.is_empty() || remaining == 0 {
                return None;
            }
            let read = {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || read_blocks(&dir, &batch, remaining))
            };
            let item = match read.await {
                Ok(Ok(bytes)) => Ok(bytes),
                Ok(Err(e)) => Err(e),
                Err(join) => Err(DevnodeError::io(
                    "reading blocks",
                    std::io::Error::other(join),
                )),
            };
            let sent = item.as_ref().map_or(remaining, |b| b.len() as u64);
            let next = next + BLOCKS_PER_READ;
            Some((item, (dir, leaves, next, remaining - sent)))
        })
    }

    /// A new, empty staging area for one fetch.
    pub(crate) async fn staging(&self) -> Result<Staging, DevnodeError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = self
            .staging
            .join(NEXT.fetch_add(1, Ordering::Relaxed).to_string());
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| DevnodeError::io(format!("creating {}", dir.display()), e))?;
        Ok(Staging {
            dir,
            blocks: HashMap::new(),
        })
    }

    /// Moves every staged block into the store and records the tree: what
    /// a fetch does once the tree root matched.
    pub(crate) async fn commit(
        &self,
        staging: &mut Staging,
        tree: &Cid,
        leaves: &[[u8; 32]],
    ) -> Result<(), DevnodeError> {
        for (name, size) in std::mem::take(&mut staging.blocks) {
            let to = self.blocks.join(&name);
            tokio::fs::rename(staging.dir.join(&name), &to)
                .await
                .map_err(|e| DevnodeError::io(format!("moving a block to {}", to.display()), e))?;
            self.lock().insert(name, size);
        }
        self.put_tree(tree, leaves).await
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

/// Reads the blocks named by `batch` in order into one buffer, keeping at
/// most `limit` bytes: the padding of the last block is cut off.
fn read_blocks(dir: &Path, batch: &[[u8; 32]], limit: u64) -> Result<Bytes, DevnodeError> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for digest in batch {
        let path = dir.join(cid_text(&cid_of_digest(BLOCK_CODEC, digest)));
        let mut file = std::fs::File::open(&path)
            .map_err(|e| DevnodeError::io(format!("reading block {}", path.display()), e))?;
        if out.is_empty()
            && let Ok(meta) = file.metadata()
        {
            // One allocation for the batch: every block has the first one's size.
            let len = usize::try_from(meta.len()).unwrap_or(0);
            out.reserve_exact(len.saturating_mul(batch.len()).min(limit));
        }
        let room = (limit - out.len()) as u64;
        (&mut file)
            .take(room)
            .read_to_end(&mut out)
            .map_err(|e| DevnodeError::io(format!("reading block {}", path.display()), e))?;
        if out.len() == limit {
            break;
        }
    }
    Ok(Bytes::from(out))
}

/// Blocks fetched from a peer that are not verified yet. They become part
/// of the store only through [`Store::commit`]; dropped uncommitted (a tree
/// root that did not match, a client that went away), they are deleted.
#[derive(Debug)]
pub(crate) struct Staging {
    dir: PathBuf,
    /// Block CID text → size, for each block written here.
    blocks: HashMap<String, u64>,
}

impl Staging {
    /// Stages a data block under its CID, unless the store already holds
    /// it: blocks are content-addressed, so the stored one is the same.
    pub(crate) async fn put(
        &mut self,
        store: &Store,
        digest: &[u8; 32],
        block: &[u8],
    ) -> Result<(), DevnodeError> {
        let name = cid_text(&cid_of_digest(BLOCK_CODEC, digest));
        if self.blocks.contains_key(&name) || store.lock().contains_key(&name) {
            return Ok(());
        }
        let path = self.dir.join(&name);
        tokio::fs::write(&path, block)
            .await
            .map_err(|e| DevnodeError::io(format!("writing {}", path.display()), e))?;
        self.blocks.insert(name, block.len() as u64);
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let dir = std::mem::take(&mut self.dir);
        let remove = move || {
            // Best effort: leftovers are cleared when the store next opens.
            let _ = std::fs::remove_dir_all(dir);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(remove)),
            Err(_) => remove(),
        }
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
