//! Blocks from a peer, kept apart until the tree root they add up to has
//! been checked.

use std::{collections::HashMap, path::PathBuf};

use bytes::Bytes;

use super::{block_name, disk::write_file};
use crate::error::Error;

/// Blocks fetched from a peer that are not verified yet. They become part
/// of the store only through [`Store::commit`]; dropped uncommitted (a tree
/// root that did not match, a client that went away), they are deleted.
#[derive(Debug)]
pub(crate) struct Staging {
    pub(super) dir: PathBuf,
    /// Block CID text → size, for each block written here.
    pub(super) blocks: HashMap<String, u64>,
}

impl Staging {
    /// Stages a data block under its CID, durably, so that the rename into
    /// the store at commit moves complete bytes.
    pub(crate) async fn put(&mut self, digest: &[u8; 32], block: Bytes) -> Result<(), Error> {
        let name = block_name(digest);
        if self.blocks.contains_key(&name) {
            return Ok(());
        }
        let size = block.len() as u64;
        let path = self.dir.join(&name);
        tokio::task::spawn_blocking(move || write_file(&path, &block))
            .await
            .map_err(|e| Error::io("staging a block", std::io::Error::other(e)))??;
        self.blocks.insert(name, size);
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let dir = std::mem::take(&mut self.dir);
        let remove = move || {
            // A block write still in flight (its blocking task outlives the
            // dropped fetch) can land a file between the listing and the
            // rmdir, failing the removal: try again once it has landed.
            // Best effort beyond that: leftovers are cleared when the store
            // next opens.
            for _ in 0..100 {
                match std::fs::remove_dir_all(&dir) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    _ => return,
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(remove)),
            Err(_) => remove(),
        }
    }
}
