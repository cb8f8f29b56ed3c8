//! "The network" of a devnode: its own store plus the peer devnodes it was
//! given, reached over their REST API. Peers are asked only through their
//! local endpoints (`GET /data`, `GET /data/{cid}`), so two devnodes that peer
//! with each other never loop. Everything a peer sends is verified — the
//! manifest against its CID, every block against the tree root — before any of
//! it is stored; a peer serving wrong bytes is skipped.

use cid::Cid;
use futures::StreamExt;

use crate::{
    error::DevnodeError,
    format::cid::{MANIFEST_CODEC, cid_text},
    format::manifest::{DataList, Manifest},
    format::tree::{BlockSplitter, block_digest, tree_cid},
    node::NodeState,
};

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
                node.store.put(cid, &m.encode()).await?;
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
/// the first peer that serves it correctly, and returns the block digests.
pub(crate) async fn ensure_dataset(
    node: &NodeState,
    cid: &Cid,
    manifest: &Manifest,
) -> Result<Vec<[u8; 32]>, DevnodeError> {
    if let Some(leaves) = node.store.complete_leaves(manifest).await? {
        return Ok(leaves);
    }
    let mut last = None;
    for peer in node.peers() {
        match dataset_from(node, &peer, cid, manifest).await {
            Ok(leaves) => return Ok(leaves),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        DevnodeError::NotFound(format!("no peer serves the blocks of {}", cid_text(cid)))
    }))
}

/// Downloads a dataset from one peer and stores it only once the length, the
/// block count and the tree root all match the manifest. The dataset is held
/// in memory meanwhile: fine for a development node.
async fn dataset_from(
    node: &NodeState,
    peer: &str,
    cid: &Cid,
    manifest: &Manifest,
) -> Result<Vec<[u8; 32]>, DevnodeError> {
    let peer_err = |source| DevnodeError::Peer {
        peer: peer.to_string(),
        source,
    };
    let response = node
        .http
        .get(format!("{peer}/data/{}", cid_text(cid)))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(peer_err)?;
    let block_size = usize::try_from(manifest.block_size)
        .map_err(|_| crate::format::BadManifest("block size does not fit memory".into()))?;
    let mut splitter = BlockSplitter::new(block_size);
    let mut blocks = Vec::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(peer_err)?;
        let mut data = &chunk[..];
        while let Some(block) = splitter.next_block(&mut data) {
            blocks.push(block);
        }
        if splitter.len() > manifest.dataset_size {
            return Err(DevnodeError::Verification(format!(
                "{peer} sent more than the {} bytes of the dataset",
                manifest.dataset_size
            )));
        }
    }
    let len = splitter.len();
    blocks.extend(splitter.finish());
    if len != manifest.dataset_size {
        return Err(DevnodeError::Verification(format!(
            "{peer} sent {len} bytes, the manifest says {}",
            manifest.dataset_size
        )));
    }
    let leaves: Vec<[u8; 32]> = blocks.iter().map(|b| block_digest(b)).collect();
    if tree_cid(&leaves).as_ref() != Some(&manifest.tree_cid) {
        return Err(DevnodeError::Verification(format!(
            "{peer} sent bytes whose tree root is not {}",
            cid_text(&manifest.tree_cid)
        )));
    }
    for (digest, block) in leaves.iter().zip(&blocks) {
        node.store.put_data_block(digest, block).await?;
    }
    node.store.put_tree(&manifest.tree_cid, &leaves).await?;
    Ok(leaves)
}
