//! An upload's blocks on their way into the repository: each stored (or
//! checked, if already there) and pinned until the tree names it.

use std::sync::Arc;

use super::{
    Repo, block_name,
    disk::{holds, sync_dir, write_durably},
};
use crate::{error::Error, format::cid::cid_text, format::manifest::Manifest};

/// An upload's hold on the data blocks it has stored: each is pinned (one
/// reference per leaf) so that a concurrent `DELETE` cannot remove it before
/// the tree names it. Dropped unfinished (an error, the quota, a client
/// that went away), it releases the pins, and blocks only it held go.
#[derive(Debug)]
pub(crate) struct Upload {
    pub(super) repo: Arc<Repo>,
    pub(super) pins: Vec<String>,
}

impl Upload {
    /// Stores a padded data block under its digest's CID and pins it. A
    /// block already stored is compared with `block` first and rewritten if
    /// its bytes are not these; a new one counts against the quota.
    pub(crate) async fn put_block(
        &mut self,
        digest: &[u8; 32],
        block: Vec<u8>,
    ) -> Result<(), Error> {
        let name = block_name(digest);
        let size = block.len() as u64;
        // The pin comes first, under the lock: from then on no DELETE can
        // remove the block while it is checked or written.
        let present = {
            let mut state = self.repo.lock();
            let present = state.sizes.contains_key(&name);
            if !present {
                state.check_quota(self.repo.quota_max_bytes, &name, size)?;
                state.reserved += size;
            }
            *state.refs.entry(name.clone()).or_default() += 1;
            present
        };
        self.pins.push(name.clone());
        let repo = self.repo.clone();
        let written =
            tokio::task::spawn_blocking(move || write_block(&repo, name, &block, present))
                .await
                .map_err(|e| Error::io("storing a block", std::io::Error::other(e)))
                .and_then(|r| r);
        if written.is_err()
            && let Some(name) = self.pins.pop()
        {
            let mut state = self.repo.lock();
            self.repo.release(&mut state, [name]);
        }
        written
    }

    /// Records the tree of the stored blocks (its leaves take over the
    /// pins), then the manifest. On failure nothing of the upload stays.
    pub(crate) async fn finish(
        mut self,
        leaves: Vec<[u8; 32]>,
        manifest: &Manifest,
    ) -> Result<(), Error> {
        let pins = std::mem::take(&mut self.pins);
        let repo = self.repo.clone();
        let name = cid_text(&manifest.cid());
        let tree = cid_text(&manifest.tree_cid);
        let bytes = manifest.encode();
        tokio::task::spawn_blocking(move || {
            let mut state = repo.lock();
            // The blocks' names reach the disk before anything names them.
            let recorded =
                sync_dir(&repo.blocks).and_then(|()| repo.record_tree(&mut state, &tree, &leaves));
            match recorded {
                Ok(true) => {}
                // Recorded before, by an upload of the same bytes: its
                // leaves hold the references, the pins are not needed.
                Ok(false) => repo.release(&mut state, pins),
                Err(e) => {
                    repo.release(&mut state, pins);
                    return Err(e);
                }
            }
            let stored = repo.put_manifest(&mut state, &name, &bytes, &tree);
            if stored.is_err() {
                repo.drop_tree_if_unnamed(&mut state, &tree);
            }
            stored
        })
        .await
        .map_err(|e| Error::io("storing a manifest", std::io::Error::other(e)))?
    }
}

impl Upload {
    /// Gives the upload up: every block only it held is gone when this
    /// returns, so the failure answered to the client leaves nothing behind.
    pub(crate) async fn abandon(mut self) {
        let pins = std::mem::take(&mut self.pins);
        let repo = self.repo.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let mut state = repo.lock();
            repo.release(&mut state, pins);
        })
        .await;
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.pins.is_empty() {
            return;
        }
        let pins = std::mem::take(&mut self.pins);
        let repo = self.repo.clone();
        let release = move || {
            let mut state = repo.lock();
            repo.release(&mut state, pins);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(release)),
            Err(_) => release(),
        }
    }
}

/// The file half of [`Upload::put_block`], on the blocking pool, the block
/// already pinned.
fn write_block(repo: &Repo, name: String, block: &[u8], present: bool) -> Result<(), Error> {
    let size = block.len() as u64;
    let path = repo.block_path(&name);
    let written = if present && holds(&path, block) {
        Ok(())
    } else {
        write_durably(&path, block)
    };
    let mut state = repo.lock();
    if !present {
        state.reserved -= size;
    }
    if written.is_ok() {
        state.stored(name.clone(), size);
    }
    // An upload dropped meanwhile (its client went away) released its pin:
    // the block it was writing goes with it.
    repo.unlink_unreferenced(&mut state, &name);
    written
}
