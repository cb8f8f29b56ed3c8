//! Verified downloads: the length against `Content-Length` and the manifest,
//! the tree root recomputed from the bytes against the manifest's `treeCid`,
//! and for format-A manifests the manifest against the CID; with progress,
//! and with the buffer of one download reused by the next.

use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use futures::StreamExt;
use reqwest::Response;

use super::{CodexClient, OnProgress, Progress, Source};
use crate::{
    error::CodexError,
    format::{
        cid::{cid_text, parse_cid},
        manifest::{DataItem, Manifest},
        tree::{TreeHasher, tree_cid},
    },
};

/// Downloads smaller than this are not worth a kept buffer: the allocator
/// reuses small blocks by itself.
const KEEP_FROM: usize = 1024 * 1024;
/// The most reserved up front on the manifest's word alone; a bigger
/// dataset grows the buffer as bytes arrive.
const MAX_RESERVE: usize = 1024 * 1024 * 1024;

/// How to download a dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadOptions {
    /// Where the bytes may come from.
    pub source: Source,
    /// Called as bytes arrive.
    pub progress: Option<OnProgress>,
}

impl DownloadOptions {
    /// A download from `source`, without progress.
    pub fn new(source: Source) -> DownloadOptions {
        DownloadOptions {
            source,
            progress: None,
        }
    }

    /// The same, reporting progress to `callback`.
    pub fn with_progress(
        mut self,
        callback: impl Fn(Progress) + Send + Sync + 'static,
    ) -> DownloadOptions {
        self.progress = Some(OnProgress::new(callback));
        self
    }
}

impl From<Source> for DownloadOptions {
    fn from(source: Source) -> DownloadOptions {
        DownloadOptions::new(source)
    }
}

/// A download whose headers and manifest are in and checked.
struct Incoming {
    what: String,
    response: Response,
    expected: u64,
    block_size: usize,
    /// The manifest's `treeCid`, as the node prints it.
    tree: String,
}

impl CodexClient {
    /// Downloads a dataset and returns its bytes once they are verified.
    pub async fn download(&self, cid: &str, source: Source) -> Result<Bytes, CodexError> {
        self.download_with(cid, &DownloadOptions::new(source)).await
    }

    /// [`download`](Self::download) with options. The bytes live in a buffer
    /// that goes back to the client when the last `Bytes` of it is dropped,
    /// for the next download of a similar size (see
    /// [`ClientConfig::keep_download_buffer`](crate::ClientConfig::keep_download_buffer)).
    pub async fn download_with(
        &self,
        cid: &str,
        options: &DownloadOptions,
    ) -> Result<Bytes, CodexError> {
        let incoming = self.open_download(cid, options.source).await?;
        let mut buffer = self.buffers.take(incoming.expected);
        let mut sink = |chunk: &[u8]| buffer.extend_from_slice(chunk);
        let received = self
            .receive(cid, incoming, options.progress.as_ref(), &mut sink)
            .await;
        match received {
            Ok(_) => Ok(self.buffers.share(buffer)),
            Err(e) => {
                self.buffers.put(buffer);
                Err(e)
            }
        }
    }

    /// Streams a dataset into `sink` and verifies it: the byte count against
    /// `Content-Length` and the manifest, the tree root recomputed from the
    /// bytes against the manifest's `treeCid`, and, for format-A manifests,
    /// the manifest against `cid`. `sink` sees bytes before the end is
    /// verified; an error means they must be discarded. Returns the length.
    pub async fn download_into(
        &self,
        cid: &str,
        source: Source,
        sink: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<u64, CodexError> {
        self.download_into_with(cid, &DownloadOptions::new(source), sink)
            .await
    }

    /// [`download_into`](Self::download_into) with options.
    pub async fn download_into_with(
        &self,
        cid: &str,
        options: &DownloadOptions,
        sink: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<u64, CodexError> {
        let incoming = self.open_download(cid, options.source).await?;
        self.receive(cid, incoming, options.progress.as_ref(), sink)
            .await
    }

    /// Sends the download and fetches the manifest, and checks all that can
    /// be checked before the body.
    async fn open_download(&self, cid: &str, source: Source) -> Result<Incoming, CodexError> {
        let (what, response, item) = match source {
            Source::Network => {
                let item = self.manifest(cid).await?;
                let what = format!("GET /data/{cid}/network/stream");
                let url = self.cid_url(cid, "/network/stream")?;
                let response = self.send(&what, None, || self.http.get(&url)).await?;
                (what, response, item)
            }
            Source::Local => {
                // Local first: asking for the manifest of a dataset that is not
                // local would make the node look for it on the network.
                let what = format!("GET /data/{cid}");
                let url = self.cid_url(cid, "")?;
                let response = self.send(&what, None, || self.http.get(&url)).await?;
                let item = self.manifest(cid).await?;
                (what, response, item)
            }
        };
        let (expected, block_size, tree) = check_manifest(cid, &item)?;
        if let Some(length) = response.content_length()
            && length != expected
        {
            return Err(verification(
                cid,
                format!("Content-Length {length}, manifest datasetSize {expected}"),
            ));
        }
        Ok(Incoming {
            what,
            response,
            expected,
            block_size,
            tree,
        })
    }

    /// Hashes the body into `sink` and checks the length and the tree root.
    async fn receive(
        &self,
        cid: &str,
        incoming: Incoming,
        progress: Option<&OnProgress>,
        sink: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<u64, CodexError> {
        let Incoming {
            what,
            response,
            expected,
            block_size,
            tree,
        } = incoming;
        let report = |bytes| {
            if let Some(progress) = progress {
                progress.report(bytes, Some(expected));
            }
        };
        report(0);
        let mut check = BodyCheck::new(cid, expected, block_size, tree);
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| self.transport_error(&what, e, None))?;
            check.update(&chunk)?;
            sink(&chunk);
            report(check.len());
        }
        check.finish()
    }
}

/// What makes a download verified, apart from the network: the bytes'
/// count against the manifest's `datasetSize`, and the tree root of their
/// blocks against its `treeCid`. Fed the body as it arrives; a change to any
/// byte of any block changes that block's digest and so the root.
pub(crate) struct BodyCheck<'a> {
    cid: &'a str,
    expected: u64,
    tree: String,
    hasher: TreeHasher,
}

impl<'a> BodyCheck<'a> {
    /// A check of dataset `cid` of `expected` bytes in blocks of
    /// `block_size`, whose tree root must print as `tree`.
    pub(crate) fn new(cid: &'a str, expected: u64, block_size: usize, tree: String) -> Self {
        BodyCheck {
            cid,
            expected,
            tree,
            hasher: TreeHasher::new(block_size),
        }
    }

    /// Hashes the next `chunk`; fails as soon as there are more bytes than
    /// announced.
    pub(crate) fn update(&mut self, chunk: &[u8]) -> Result<(), CodexError> {
        self.hasher.update(chunk);
        if self.hasher.len() > self.expected {
            return Err(verification(
                self.cid,
                format!("more than the {} bytes announced", self.expected),
            ));
        }
        Ok(())
    }

    /// Bytes hashed so far.
    pub(crate) fn len(&self) -> u64 {
        self.hasher.len()
    }

    /// The length, once the count and the tree root are the manifest's.
    pub(crate) fn finish(self) -> Result<u64, CodexError> {
        let BodyCheck {
            cid,
            expected,
            tree,
            hasher,
        } = self;
        if hasher.len() != expected {
            return Err(verification(
                cid,
                format!("truncated: {} of {expected} bytes", hasher.len()),
            ));
        }
        let root = tree_cid(&hasher.finish()).map(|root| cid_text(&root));
        if root.as_deref() != Some(tree.as_str()) {
            return Err(verification(
                cid,
                format!("the bytes' tree root is not the manifest's treeCid {tree}"),
            ));
        }
        Ok(expected)
    }
}

fn verification(cid: &str, reason: String) -> CodexError {
    CodexError::Verification {
        cid: cid.to_string(),
        reason,
    }
}

/// `(datasetSize, blockSize, treeCid)` of a manifest answer, once it is
/// known to be about `cid`; the tree CID as the node prints it.
fn check_manifest(cid: &str, item: &DataItem) -> Result<(u64, usize, String), CodexError> {
    let manifest = &item.manifest;
    if item.cid != cid {
        return Err(verification(
            cid,
            format!("the node answered for {}", item.cid),
        ));
    }
    if manifest.protected.is_some() && manifest.manifest_version.is_none() {
        // Format A: the JSON holds every field of the manifest block.
        let rebuilt =
            Manifest::from_json(manifest).map_err(|e| verification(cid, e.to_string()))?;
        if cid_text(&rebuilt.cid()) != cid {
            return Err(verification(
                cid,
                "the manifest does not hash to the CID".into(),
            ));
        }
    }
    let block_size = usize::try_from(manifest.block_size)
        .ok()
        .filter(|b| *b > 0)
        .ok_or_else(|| verification(cid, format!("block size {}", manifest.block_size)))?;
    let tree =
        parse_cid(&manifest.tree_cid).map_err(|e| verification(cid, format!("treeCid: {e}")))?;
    Ok((manifest.dataset_size, block_size, cid_text(&tree)))
}

/// The buffer of the last download, kept for the next one of a similar
/// size. Writing into fresh memory costs a page fault per 4 KiB, which for
/// a large download costs about as much as hashing it; a kept buffer was
/// faulted in already.
#[derive(Debug)]
pub(super) struct BufferPool {
    kept: Mutex<Option<Vec<u8>>>,
    /// The largest buffer kept, in bytes; 0 keeps none.
    limit: usize,
}

impl BufferPool {
    pub(super) fn new(limit: u64) -> Arc<BufferPool> {
        Arc::new(BufferPool {
            kept: Mutex::new(None),
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
        })
    }

    /// An empty buffer for `expected` bytes: the kept one if it is big
    /// enough but not more than twice that (a caller may keep the bytes
    /// long), else a new one.
    fn take(&self, expected: u64) -> Vec<u8> {
        let want = usize::try_from(expected)
            .unwrap_or(usize::MAX)
            .min(MAX_RESERVE);
        if want >= KEEP_FROM {
            let fits = |v: &mut Vec<u8>| (want..=want.saturating_mul(2)).contains(&v.capacity());
            if let Some(mut kept) = self.lock().take_if(fits) {
                kept.clear();
                return kept;
            }
        }
        let mut buffer = Vec::new();
        // A reservation the system refuses just means growing as bytes come.
        let _ = buffer.try_reserve_exact(want);
        buffer
    }

    /// Keeps `buffer` for the next download if it is worth keeping.
    fn put(&self, buffer: Vec<u8>) {
        if (KEEP_FROM..=self.limit).contains(&buffer.capacity()) {
            *self.lock() = Some(buffer);
        }
    }

    /// `buffer` as `Bytes` that give it back when the last of them is
    /// dropped.
    fn share(self: &Arc<Self>, buffer: Vec<u8>) -> Bytes {
        if !(KEEP_FROM..=self.limit).contains(&buffer.capacity()) {
            return Bytes::from(buffer);
        }
        Bytes::from_owner(Returning {
            buffer,
            pool: Arc::downgrade(self),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Vec<u8>>> {
        // A panic elsewhere while holding the lock leaves at worst no
        // buffer kept: nothing to recover.
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A downloaded buffer on its way back to its pool.
struct Returning {
    buffer: Vec<u8>,
    pool: Weak<BufferPool>,
}

impl AsRef<[u8]> for Returning {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.upgrade() {
            pool.put(std::mem::take(&mut self.buffer));
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The `treeCid` a manifest would give for `data` in blocks of `block_size`.
    fn tree_of(data: &[u8], block_size: usize) -> String {
        let mut hasher = TreeHasher::new(block_size);
        hasher.update(data);
        cid_text(&tree_cid(&hasher.finish()).expect("a dataset has a block"))
    }

    /// Feeds `data` in chunks of `chunk` bytes and finishes.
    fn check(data: &[u8], expected: u64, block_size: usize, tree: &str, chunk: usize) -> bool {
        let mut check = BodyCheck::new("zDvZRwzm", expected, block_size, tree.to_string());
        data.chunks(chunk).all(|c| check.update(c).is_ok()) && check.finish().is_ok()
    }

    /// A dataset of 1 to 8 blocks (the last one possibly short), a block
    /// size, and how the body arrives in chunks.
    fn dataset() -> impl Strategy<Value = (Vec<u8>, usize, usize)> {
        (1usize..=8, prop::sample::select(vec![64usize, 256, 1024])).prop_flat_map(
            |(blocks, block_size)| {
                let len = (blocks - 1) * block_size + 1..=blocks * block_size;
                (
                    prop::collection::vec(any::<u8>(), len),
                    Just(block_size),
                    1usize..=2 * block_size,
                )
            },
        )
    }

    proptest! {
        /// The bytes the manifest describes pass, however they are chunked.
        #[test]
        fn the_published_bytes_verify((data, block_size, chunk) in dataset()) {
            let tree = tree_of(&data, block_size);
            prop_assert!(check(&data, data.len() as u64, block_size, &tree, chunk));
        }

        /// Any change to any byte of any block (first, middle or last, the
        /// short last one included) is rejected.
        #[test]
        fn any_corruption_of_any_block_is_rejected(
            (data, block_size, chunk) in dataset(),
            at in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let tree = tree_of(&data, block_size);
            let mut corrupt = data.clone();
            corrupt[at.index(data.len())] ^= flip;
            prop_assert!(!check(&corrupt, data.len() as u64, block_size, &tree, chunk));
        }

        /// Bytes cut off or added are rejected, even when the count
        /// announced is made to match them.
        #[test]
        fn a_body_of_another_length_is_rejected(
            (data, block_size, chunk) in dataset(),
            cut in any::<prop::sample::Index>(),
            extra in prop::collection::vec(any::<u8>(), 1..64),
        ) {
            let tree = tree_of(&data, block_size);
            let expected = data.len() as u64;
            let short = &data[..cut.index(data.len())];
            prop_assert!(!check(short, expected, block_size, &tree, chunk));
            prop_assert!(!check(short, short.len() as u64, block_size, &tree, chunk));
            let mut long = data.clone();
            long.extend_from_slice(&extra);
            prop_assert!(!check(&long, expected, block_size, &tree, chunk));
            prop_assert!(!check(&long, long.len() as u64, block_size, &tree, chunk));
        }
    }
}
