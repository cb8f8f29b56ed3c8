//! The devnode's repository, kept as a node's repo store keeps it:
//! content-addressed blocks on disk (data blocks zero-padded to the block
//! size, manifest blocks as encoded), the leaf list of each tree, reference
//! counts so that a `DELETE` removes only blocks no other dataset uses, the
//! quota, the space accounting `/space` reports (spec 2.2), reading a
//! dataset back as a stream, and a staging area for blocks from peers that
//! are not verified yet.
//!
//! Reference counts are not stored: they are rebuilt from the manifests and
//! leaf lists on disk when the store opens. What makes that exact is the
//! order of writes, each made durable (file and directory fsync) before the
//! next: data blocks, then the leaf list, then the manifest; and deletes in
//! the reverse order. A crash therefore leaves at worst a leaf list no
//! manifest names or blocks no leaf list names, and opening removes both.

mod disk;
mod staging;
mod upload;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
};

use bytes::Bytes;
use cid::Cid;
use futures::Stream;

use crate::{
    error::Error,
    format::cid::{BLOCK_CODEC, MANIFEST_CODEC, cid_of_digest, cid_text, parse_cid},
    format::manifest::Manifest,
};
use disk::{holds, list, read_blocks, remove_file, sync_dir, write_durably};
pub(crate) use staging::Staging;
pub(crate) use upload::Upload;

/// Blocks read from disk per trip to the blocking pool when a dataset is
/// streamed: a trip costs two thread switches, a block is 64 KiB by default,
/// and what is read ahead is what the stream holds in memory.
const BLOCKS_PER_READ: usize = 8;

/// Blocks under `<data dir>/blocks/<cid>`, leaf lists under
/// `<data dir>/trees/<treeCid>` (32 bytes per block, in order), unverified
/// blocks under `<data dir>/staging/<n>/<cid>`.
#[derive(Debug)]
pub(crate) struct Store {
    repo: Arc<Repo>,
    staging: PathBuf,
}

#[derive(Debug)]
struct Repo {
    blocks: PathBuf,
    trees: PathBuf,
    quota_max_bytes: u64,
    /// Held while files change, so that what it says and what is on disk
    /// change together: a block is unlinked only under it, and only when
    /// nothing references it.
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Block CID text → stored size; the truth about what is local.
    sizes: HashMap<String, u64>,
    /// The sum of `sizes`.
    used: u64,
    /// Bytes of new blocks being written, already counted against the quota.
    reserved: u64,
    /// Data block CID text → one reference per leaf of each recorded tree,
    /// plus one per upload that has stored it and not finished yet.
    refs: HashMap<String, u64>,
    /// Manifest CID text → its tree CID text, for each manifest block here.
    manifests: HashMap<String, String>,
    /// Tree CID text → the trees the manifests here name.
    trees: HashMap<String, Tree>,
}

#[derive(Debug, Default)]
struct Tree {
    /// How many manifests here name the tree (same bytes, other filename or
    /// mimetype: another manifest, the same tree).
    manifests: u64,
    /// The leaf digests once the leaf list is recorded; each leaf then holds
    /// a reference on its block.
    leaves: Option<Arc<[[u8; 32]]>>,
}

impl State {
    fn check_quota(&self, max: u64, name: &str, more: u64) -> Result<(), Error> {
        let wanted = self.used + self.reserved + more;
        if wanted > max {
            return Err(Error::QuotaExceeded {
                block: name.to_string(),
                used: self.used + self.reserved,
                limit: max,
            });
        }
        Ok(())
    }

    fn stored(&mut self, name: String, size: u64) {
        if let Some(old) = self.sizes.insert(name, size) {
            self.used -= old;
        }
        self.used += size;
    }

    fn forget(&mut self, name: &str) {
        if let Some(size) = self.sizes.remove(name) {
            self.used -= size;
        }
    }
}

impl Repo {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic under the lock leaves counts that are still the best
        // account of the disk; keep going with them.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn block_path(&self, name: &str) -> PathBuf {
        self.blocks.join(name)
    }

    /// Drops one reference per name; a data block left without any is
    /// deleted, under the lock, so no upload can be relying on it.
    fn release(&self, state: &mut State, names: impl IntoIterator<Item = String>) {
        for name in names {
            let Some(count) = state.refs.get_mut(&name) else {
                continue;
            };
            *count -= 1;
            if *count == 0 {
                state.refs.remove(&name);
                self.unlink_unreferenced(state, &name);
            }
        }
    }

    /// Deletes a block nothing references. Best effort on disk: a block that
    /// stays behind is unreferenced and goes when the store next opens.
    fn unlink_unreferenced(&self, state: &mut State, name: &str) {
        if state.refs.contains_key(name) {
            return;
        }
        state.forget(name);
        let _ = std::fs::remove_file(self.block_path(name));
    }

    /// Stores the manifest block `bytes` under `name`, unless an identical
    /// copy is there, and records which tree it names.
    fn put_manifest(
        &self,
        state: &mut State,
        name: &str,
        bytes: &[u8],
        tree: &str,
    ) -> Result<(), Error> {
        let path = self.block_path(name);
        let present = state.sizes.contains_key(name);
        if !(present && holds(&path, bytes)) {
            if !present {
                state.check_quota(self.quota_max_bytes, name, bytes.len() as u64)?;
            }
            write_durably(&path, bytes)?;
            sync_dir(&self.blocks)?;
            state.stored(name.to_string(), bytes.len() as u64);
        }
        if !state.manifests.contains_key(name) {
            state.manifests.insert(name.to_string(), tree.to_string());
            state.trees.entry(tree.to_string()).or_default().manifests += 1;
        }
        Ok(())
    }

    /// Records the leaf list of `tree` unless it is recorded: the blocks it
    /// names must already be durable. Returns whether it was new, in which
    /// case the leaves' references are the caller's pins, handed over.
    fn record_tree(
        &self,
        state: &mut State,
        tree: &str,
        leaves: &[[u8; 32]],
    ) -> Result<bool, Error> {
        let entry = state.trees.entry(tree.to_string()).or_default();
        if entry.leaves.is_some() {
            return Ok(false);
        }
        write_durably(&self.trees.join(tree), leaves.as_flattened())?;
        sync_dir(&self.trees)?;
        entry.leaves = Some(leaves.into());
        Ok(true)
    }

    /// Forgets a tree no manifest names any more: its leaf list, then the
    /// references its leaves held.
    fn drop_tree_if_unnamed(&self, state: &mut State, tree: &str) {
        if state.trees.get(tree).is_some_and(|t| t.manifests > 0) {
            return;
        }
        let Some(entry) = state.trees.remove(tree) else {
            return;
        };
        if let Some(leaves) = entry.leaves {
            let _ = std::fs::remove_file(self.trees.join(tree));
            self.release(state, leaves.iter().map(block_name));
        }
    }
}

fn block_name(digest: &[u8; 32]) -> String {
    cid_text(&cid_of_digest(BLOCK_CODEC, digest))
}

impl Store {
    /// Opens (or creates) the repository, rebuilds the reference counts
    /// from the manifests and leaf lists on disk, and removes what a crash
    /// left unreferenced.
    pub(crate) fn open(data_dir: &Path, quota_max_bytes: u64) -> Result<Store, Error> {
        let blocks = data_dir.join("blocks");
        let trees = data_dir.join("trees");
        let staging = data_dir.join("staging");
        // What a crash left staged was never verified: it goes.
        if let Err(e) = std::fs::remove_dir_all(&staging)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(Error::io(format!("clearing {}", staging.display()), e));
        }
        for dir in [&blocks, &trees, &staging] {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        let repo = Repo {
            quota_max_bytes,
            state: Mutex::new(rebuild(&blocks, &trees)?),
            blocks,
            trees,
        };
        Ok(Store {
            repo: Arc::new(repo),
            staging,
        })
    }

    /// Runs `f` on the blocking pool: it touches files and holds the lock.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Repo) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let repo = self.repo.clone();
        tokio::task::spawn_blocking(move || f(&repo))
            .await
            .map_err(|e| Error::io("the store's blocking task", std::io::Error::other(e)))?
    }

    pub(crate) fn has(&self, cid: &Cid) -> bool {
        self.repo.lock().sizes.contains_key(&cid_text(cid))
    }

    /// A new upload: its data blocks are stored and pinned one by one, then
    /// [`Upload::finish`] records the tree and the manifest.
    pub(crate) fn upload(&self) -> Upload {
        Upload {
            repo: self.repo.clone(),
            pins: Vec::new(),
        }
    }

    /// Stores a manifest fetched from a peer (already checked against its
    /// CID); one that is there and intact is left alone.
    pub(crate) async fn put_manifest(&self, manifest: &Manifest) -> Result<(), Error> {
        let name = cid_text(&manifest.cid());
        let tree = cid_text(&manifest.tree_cid);
        let bytes = manifest.encode();
        self.blocking(move |repo| {
            let mut state = repo.lock();
            repo.put_manifest(&mut state, &name, &bytes, &tree)
        })
        .await
    }

    pub(crate) async fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, Error> {
        if !self.has(cid) {
            return Ok(None);
        }
        match tokio::fs::read(self.repo.block_path(&cid_text(cid))).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("reading a block", e)),
        }
    }

    /// The dataset whose blocks have `leaves` as digests, `dataset_size`
    /// bytes with the padding stripped, read a few blocks at a time as the
    /// stream is polled. A block that vanished ends the stream with an error.
    pub(crate) fn read_dataset(
        &self,
        leaves: Arc<[[u8; 32]]>,
        dataset_size: u64,
    ) -> impl Stream<Item = Result<Bytes, Error>> + Send + 'static {
        let state = (self.repo.blocks.clone(), leaves, 0, dataset_size);
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
                Err(join) => Err(Error::io("reading blocks", std::io::Error::other(join))),
            };
            let sent = item.as_ref().map_or(remaining, |b| b.len() as u64);
            let next = next + BLOCKS_PER_READ;
            Some((item, (dir, leaves, next, remaining - sent)))
        })
    }

    /// A new, empty staging area for one fetch.
    pub(crate) async fn staging(&self) -> Result<Staging, Error> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = self
            .staging
            .join(NEXT.fetch_add(1, Ordering::Relaxed).to_string());
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        Ok(Staging {
            dir,
            blocks: HashMap::new(),
        })
    }

    /// Moves every staged block into the store, then records the tree and
    /// the manifest: what a fetch does once the tree root matched. Staged
    /// blocks replace stored copies (they are verified, a stored copy may
    /// not be). Over the quota, nothing is stored.
    pub(crate) async fn commit(
        &self,
        staging: &mut Staging,
        manifest: &Manifest,
        leaves: &[[u8; 32]],
    ) -> Result<(), Error> {
        let staged: Vec<(String, u64)> = staging.blocks.drain().collect();
        let from = staging.dir.clone();
        let name = cid_text(&manifest.cid());
        let tree = cid_text(&manifest.tree_cid);
        let manifest_bytes = manifest.encode();
        let leaves: Vec<[u8; 32]> = leaves.to_vec();
        self.blocking(move |repo| {
            let mut state = repo.lock();
            let mut new: Vec<&(String, u64)> = staged
                .iter()
                .filter(|(name, _)| !state.sizes.contains_key(name))
                .collect();
            new.sort();
            let more: u64 = new.iter().map(|(_, size)| size).sum::<u64>()
                + if state.sizes.contains_key(&name) {
                    0
                } else {
                    manifest_bytes.len() as u64
                };
            if let Some((first, _)) = new.first() {
                state.check_quota(repo.quota_max_bytes, first, more)?;
            }
            let moved = move_blocks(repo, &mut state, &from, &staged)
                .and_then(|()| sync_dir(&repo.blocks))
                .and_then(|()| repo.record_tree(&mut state, &tree, &leaves))
                .and_then(|new| {
                    if new {
                        for digest in &leaves {
                            *state.refs.entry(block_name(digest)).or_default() += 1;
                        }
                    }
                    repo.put_manifest(&mut state, &name, &manifest_bytes, &tree)
                });
            if let Err(e) = moved {
                // Blocks moved in that no tree names yet go again.
                for (block, _) in &staged {
                    repo.unlink_unreferenced(&mut state, block);
                }
                repo.drop_tree_if_unnamed(&mut state, &tree);
                return Err(e);
            }
            Ok(())
        })
        .await
    }

    /// `DELETE /data/{cid}` as the node's repo store does it: a manifest
    /// CID deletes the manifest, then, if no other manifest names its tree,
    /// the leaf list and every block no other tree uses; any other CID
    /// deletes that block unless a dataset uses it. Nothing there is not an
    /// error.
    pub(crate) async fn delete(&self, cid: &Cid) -> Result<(), Error> {
        let name = cid_text(cid);
        self.blocking(move |repo| {
            let mut state = repo.lock();
            match state.manifests.remove(&name) {
                Some(tree) => {
                    state.forget(&name);
                    remove_file(&repo.block_path(&name))?;
                    // The manifest is gone for good before its blocks go, so
                    // a crash can leave only unreferenced blocks behind.
                    sync_dir(&repo.blocks)?;
                    if let Some(entry) = state.trees.get_mut(&tree) {
                        entry.manifests -= 1;
                    }
                    repo.drop_tree_if_unnamed(&mut state, &tree);
                }
                None if state.refs.contains_key(&name) => {}
                None => {
                    state.forget(&name);
                    remove_file(&repo.block_path(&name))?;
                }
            }
            Ok(())
        })
        .await
    }

    /// The local manifest of `cid`, if its block is here and is a manifest.
    pub(crate) async fn manifest(&self, cid: &Cid) -> Result<Option<Manifest>, Error> {
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
        let mut names: Vec<String> = self.repo.lock().manifests.keys().cloned().collect();
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
    pub(crate) fn complete_leaves(&self, manifest: &Manifest) -> Option<Arc<[[u8; 32]]>> {
        let state = self.repo.lock();
        let leaves = state
            .trees
            .get(&cid_text(&manifest.tree_cid))?
            .leaves
            .clone()?;
        let complete = leaves.len() as u64 == manifest.block_count()
            && leaves
                .iter()
                .all(|d| state.sizes.contains_key(&block_name(d)));
        complete.then_some(leaves)
    }

    /// `(totalBlocks, quotaUsedBytes)`.
    pub(crate) fn usage(&self) -> (u64, u64) {
        let state = self.repo.lock();
        (state.sizes.len() as u64, state.used)
    }
}

/// Reads the repository's bookkeeping back from disk (see the module
/// comment) and removes what no manifest reaches.
fn rebuild(blocks: &Path, trees: &Path) -> Result<State, Error> {
    let mut state = State::default();
    for (name, path) in list(blocks)? {
        // Half-written files (`.tmp`) from a crash are not blocks.
        let Ok(cid) = parse_cid(&name) else {
            if name.ends_with(".tmp") {
                let _ = std::fs::remove_file(&path);
            }
            continue;
        };
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        state.stored(name.clone(), meta.len());
        if cid.codec() == MANIFEST_CODEC
            && let Ok(bytes) = std::fs::read(&path)
            && let Ok(manifest) = Manifest::decode(&bytes)
        {
            let tree = cid_text(&manifest.tree_cid);
            state.trees.entry(tree.clone()).or_default().manifests += 1;
            state.manifests.insert(name, tree);
        }
    }
    for (name, path) in list(trees)? {
        let bytes = match state.trees.get(&name) {
            Some(_) => std::fs::read(&path).ok(),
            None => None,
        };
        // A leaf list no manifest names, or a torn one, goes; the dataset
        // is then incomplete and is fetched or uploaded again.
        let Some(bytes) = bytes.filter(|b| !b.is_empty() && b.len() % 32 == 0) else {
            let _ = std::fs::remove_file(&path);
            continue;
        };
        let leaves: Arc<[[u8; 32]]> = bytes
            .chunks_exact(32)
            .map(|c| c.try_into().expect("32-byte chunk"))
            .collect();
        for digest in leaves.iter() {
            *state.refs.entry(block_name(digest)).or_default() += 1;
        }
        if let Some(tree) = state.trees.get_mut(&name) {
            tree.leaves = Some(leaves);
        }
    }
    let orphans: Vec<String> = state
        .sizes
        .keys()
        .filter(|name| !state.refs.contains_key(*name))
        .filter(|name| parse_cid(name).is_ok_and(|c| c.codec() == BLOCK_CODEC))
        .cloned()
        .collect();
    for name in orphans {
        state.forget(&name);
        let _ = std::fs::remove_file(blocks.join(&name));
    }
    Ok(state)
}

fn move_blocks(
    repo: &Repo,
    state: &mut State,
    from: &Path,
    staged: &[(String, u64)],
) -> Result<(), Error> {
    for (name, size) in staged {
        let to = repo.block_path(name);
        std::fs::rename(from.join(name), &to)
            .map_err(|e| Error::io(format!("moving a block to {}", to.display()), e))?;
        state.stored(name.clone(), *size);
    }
    Ok(())
}
