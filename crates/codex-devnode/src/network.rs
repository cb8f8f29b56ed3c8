//! "The network" of a devnode: its own store plus the peer devnodes it was
//! given, reached over their REST API. Peers are asked only through their
//! local endpoints (`GET /data`, `GET /data/{cid}`), so two devnodes that peer
//! with each other never loop.
//!
//! Everything a peer sends is verified before any of it is stored: the
//! manifest against its CID; the dataset's length, and its blocks against the
//! tree root. The REST API carries no Merkle proofs, so the root can only be
//! checked once the last block is in: a [`PeerFetch`] hashes and stages each
//! block as it arrives and hands it on at once, but holds the last one back
//! until the root matches. A wrong dataset therefore never arrives whole, and
//! nothing of it is stored. A peer that sent one is asked last for that tree
//! from then on.

use std::sync::Arc;

use bytes::{Buf, Bytes};
use cid::Cid;
use futures::{Stream, StreamExt, stream::BoxStream};

use crate::{
    error::DevnodeError,
    format::BadManifest,
    format::cid::{MANIFEST_CODEC, cid_text},
    format::manifest::{DataList, Manifest},
    format::tree::{BlockSplitter, block_digest, tree_cid},
    state::NodeState,
    store::Staging,
};

/// The largest block size fetched from a peer: a fetch holds about one block
/// in memory, and nodes make blocks of at most 512 KiB.
const MAX_BLOCK_SIZE: u64 = 4 * 1024 * 1024;

/// The manifest of `cid`, from the local store or else from the first peer
/// that has it; a fetched manifest is stored locally.
pub(crate) async fn manifest(node: &NodeState, cid: &Cid) -> Result<Manifest, DevnodeError> {
    if let Some(m) = node.store.manifest(cid).await? {
        return Ok(m);
    }
    if cid.codec() != MANIFEST_CODEC {
        return Err(DevnodeError::NotFound(format!(
            "{} is not a manifest CID",
            cid_text(cid)
        )));
    }
    let mut last = None;
    for peer in node.peers() {
        match manifest_from(node, &peer, cid).await {
            Ok(m) => {
                node.store.put_manifest(&m).await?;
                return Ok(m);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        DevnodeError::NotFound(format!("no peer has {} (Block not found)", cid_text(cid)))
    }))
}

async fn manifest_from(node: &NodeState, peer: &str, cid: &Cid) -> Result<Manifest, DevnodeError> {
    let peer_err = |source| DevnodeError::Peer {
        peer: peer.to_string(),
        source,
    };
    let body = node
        .http
        .get(format!("{peer}/data"))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(peer_err)?
        .bytes()
        .await
        .map_err(peer_err)?;
    let list: DataList = serde_json::from_slice(&body)
        .map_err(|e| DevnodeError::Verification(format!("{peer}: /data is not a DataList: {e}")))?;
    let wanted = cid_text(cid);
    let item = list
        .content
        .into_iter()
        .find(|item| item.cid == wanted)
        .ok_or_else(|| DevnodeError::NotFound(format!("{peer} does not hold {wanted}")))?;
    let manifest = Manifest::from_json(&item.manifest)?;
    if manifest.cid() != *cid {
        return Err(DevnodeError::Verification(format!(
            "{peer}: the manifest it lists under {wanted} does not hash to that CID"
        )));
    }
    Ok(manifest)
}

/// Makes every block of the dataset local, fetching the whole dataset from
/// the first peer that serves it correctly.
pub(crate) async fn ensure_dataset(
    node: &Arc<NodeState>,
    cid: &Cid,
    manifest: &Manifest,
) -> Result<(), DevnodeError> {
    if node.store.complete_leaves(manifest).is_some() {
        return Ok(());
    }
    let mut last = None;
    for peer in node.peers_for(&manifest.tree_cid) {
        let fetched = async {
            let mut fetch = PeerFetch::start(node, &peer, cid, manifest).await?;
            while fetch.next_chunk().await?.is_some() {}
            Ok::<(), DevnodeError>(())
        };
        match fetched.await {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| no_peer(cid)))
}

/// The dataset from the first peer that starts sending it, as a stream of
/// verified chunks (see [`PeerFetch`]). Once bytes flow there is no switching
/// peers: what went to the client cannot be taken back.
pub(crate) async fn open_dataset(
    node: &Arc<NodeState>,
    cid: &Cid,
    manifest: &Manifest,
) -> Result<impl Stream<Item = Result<Bytes, DevnodeError>> + Send + 'static, DevnodeError> {
    let mut last = None;
    for peer in node.peers_for(&manifest.tree_cid) {
        match PeerFetch::start(node, &peer, cid, manifest).await {
            Ok(fetch) => return Ok(fetch.into_stream()),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| no_peer(cid)))
}

fn no_peer(cid: &Cid) -> DevnodeError {
    DevnodeError::NotFound(format!("no peer serves the blocks of {}", cid_text(cid)))
}

/// One dataset coming from one peer. Each block is hashed and staged as it
/// arrives and handed on at once, except the last, which is handed on only
/// once the length and the tree root match the manifest and the staged
/// blocks are in the store. Memory: about one block.
struct PeerFetch {
    node: Arc<NodeState>,
    peer: String,
    manifest: Manifest,
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    /// What is left of the last chunk the peer sent.
    pending: Bytes,
    splitter: BlockSplitter,
    staging: Staging,
    leaves: Vec<[u8; 32]>,
    /// The last block, padding stripped, until the root is checked.
    held: Option<Bytes>,
    done: bool,
}

impl PeerFetch {
    /// Asks `peer` for the dataset; fails unless it answers 200 with the
    /// manifest's length.
    async fn start(
        node: &Arc<NodeState>,
        peer: &str,
        cid: &Cid,
        manifest: &Manifest,
    ) -> Result<PeerFetch, DevnodeError> {
        if manifest.block_size == 0 || manifest.block_size > MAX_BLOCK_SIZE {
            return Err(BadManifest(format!(
                "block size {} is not within the 1 to {MAX_BLOCK_SIZE} bytes fetched from peers",
                manifest.block_size
            ))
            .into());
        }
        let response = node
            .http
            .get(format!("{peer}/data/{}", cid_text(cid)))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|source| DevnodeError::Peer {
                peer: peer.to_string(),
                source,
            })?;
        if let Some(length) = response.content_length()
            && length != manifest.dataset_size
        {
            return Err(DevnodeError::Verification(format!(
                "{peer} announces {length} bytes, the manifest says {}",
                manifest.dataset_size
            )));
        }
        Ok(PeerFetch {
            node: node.clone(),
            peer: peer.to_string(),
            manifest: manifest.clone(),
            body: response.bytes_stream().boxed(),
            pending: Bytes::new(),
            // Within 1..=MAX_BLOCK_SIZE, checked above.
            splitter: BlockSplitter::new(manifest.block_size as usize),
            staging: node.store.staging().await?,
            leaves: Vec::new(),
            held: None,
            done: false,
        })
    }

    /// The verified chunks, then the end, or an error that ends the stream.
    fn into_stream(self) -> impl Stream<Item = Result<Bytes, DevnodeError>> + Send + 'static {
        futures::stream::unfold(self, |mut fetch| async move {
            match fetch.next_chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), fetch)),
                Ok(None) => None,
                Err(e) => {
                    fetch.done = true;
                    Some((Err(e), fetch))
                }
            }
        })
    }

    /// The next block to hand on; `None` at the end of a verified dataset.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, DevnodeError> {
        loop {
            if self.done {
                return Ok(None);
            }
            let mut rest = &self.pending[..];
            let block = self.splitter.next_block(&mut rest);
            let taken = self.pending.len() - rest.len();
            self.pending.advance(taken);
            if let Some(block) = block {
                match self.accept(block).await? {
                    Some(chunk) => return Ok(Some(chunk)),
                    None => continue,
                }
            }
            match self.body.next().await {
                Some(chunk) => {
                    self.pending = chunk.map_err(|source| DevnodeError::Peer {
                        peer: self.peer.clone(),
                        source,
                    })?;
                    if self.splitter.len() + self.pending.len() as u64 > self.manifest.dataset_size
                    {
                        return Err(DevnodeError::Verification(format!(
                            "{} sent more than the {} bytes of the dataset",
                            self.peer, self.manifest.dataset_size
                        )));
                    }
                }
                None => {
                    self.done = true;
                    return self.finish().await;
                }
            }
        }
    }

    /// Hashes and stages one padded block; returns it unless it is the last.
    async fn accept(&mut self, block: Vec<u8>) -> Result<Option<Bytes>, DevnodeError> {
        let digest = block_digest(&block);
        let block = Bytes::from(block);
        self.staging.put(&digest, block.clone()).await?;
        self.leaves.push(digest);
        let before = (self.leaves.len() as u64 - 1) * self.manifest.block_size;
        if self.leaves.len() as u64 == self.manifest.block_count() {
            let last = self.manifest.dataset_size.saturating_sub(before);
            self.held = Some(block.slice(..(last as usize).min(block.len())));
            Ok(None)
        } else {
            Ok(Some(block))
        }
    }

    /// At the end of the peer's body: the padded last block, the length and
    /// the root checks, then the staged blocks go into the store and the
    /// held-back block is released.
    async fn finish(&mut self) -> Result<Option<Bytes>, DevnodeError> {
        let len = self.splitter.len();
        let splitter = std::mem::replace(&mut self.splitter, BlockSplitter::new(1));
        if let Some(block) = splitter.finish() {
            self.accept(block).await?;
        }
        if len != self.manifest.dataset_size {
            return Err(DevnodeError::Verification(format!(
                "{} sent {len} bytes, the manifest says {}",
                self.peer, self.manifest.dataset_size
            )));
        }
        let tree = &self.manifest.tree_cid;
        if tree_cid(&self.leaves).as_ref() != Some(tree) {
            self.node.distrust(&self.peer, tree);
            return Err(DevnodeError::Verification(format!(
                "{} sent bytes whose tree root is not {}",
                self.peer,
                cid_text(tree)
            )));
        }
        self.node
            .store
            .commit(&mut self.staging, &self.manifest, &self.leaves)
            .await?;
        self.node.trust(&self.peer, tree);
        Ok(self.held.take())
    }
}

impl std::fmt::Debug for PeerFetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerFetch")
            .field("peer", &self.peer)
            .field("tree", &cid_text(&self.manifest.tree_cid))
            .field("blocks", &self.leaves.len())
            .finish_non_exhaustive()
    }
}
