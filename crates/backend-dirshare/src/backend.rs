//! [`DirShareBackend`]: publishing into the shared folder, fetching from it
//! into the node's own, and the checks that make what it reads verified.

use std::{collections::HashSet, path::PathBuf};

use archive_backend::{
    Backend, Capabilities, Error, ErrorKind, FetchEvent, FetchOptions, FetchOrder, FetchOutcome,
    Link, LinkKind, PublishOptions, PublishOutcome, PublishRequest, PublishedArchive, RemoteIndex,
    ResolveOptions, Result,
};
use archive_index::{
    Archive, ArchiveId, ArchiveMetadata, BlobKind, CodexEntry, CodexIndex, CommunityId, DataWriter,
    Envelope, MAX_ARCHIVE_SIZE, decode_sealed_archive, open_blob, partitions, seal_blob,
};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    DIR, MAX_INDEX_LEN, NAME,
    blobs::{BlobDir, is_hash},
};

/// One node of a shared-folder network: the folder all nodes see, and this
/// node's own folder, where it keeps what it published and fetched.
#[derive(Debug, Clone)]
pub struct DirShareBackend {
    shared: BlobDir,
    local: BlobDir,
}

impl DirShareBackend {
    /// A node publishing into and fetching from `shared`, keeping its own
    /// copies in `local`. Neither folder needs to exist yet.
    pub fn new(shared: impl Into<PathBuf>, local: impl Into<PathBuf>) -> DirShareBackend {
        DirShareBackend {
            shared: BlobDir::new(shared.into()),
            local: BlobDir::new(local.into()),
        }
    }

    /// The index behind `hash`: this node's copy, else the shared one, which
    /// is then kept (verified) as this node's copy.
    /// Opened with `envelope` for an encrypted community.
    async fn index(
        &self,
        community: &CommunityId,
        hash: &str,
        envelope: Option<&dyn Envelope>,
    ) -> Result<CodexIndex> {
        let (this, community, hash) = (self.clone(), *community, hash.to_owned());
        let bytes = blocking(move || {
            this.local
                .read(&community, &hash, MAX_INDEX_LEN)
                .or_else(|_| {
                    let bytes = this.shared.read(&community, &hash, MAX_INDEX_LEN)?;
                    this.local.write(&community, &bytes)?;
                    Ok(bytes)
                })
        })
        .await?;
        open_blob(envelope, BlobKind::Index, bytes)
            .and_then(|plain| CodexIndex::decode(&plain))
            .map_err(|e| Error::undecodable(NAME, "the index", e))
    }

    /// Stores `bytes` in this node's folder and the shared one.
    async fn store(&self, community: &CommunityId, bytes: Vec<u8>) -> Result<String> {
        let (this, community) = (self.clone(), *community);
        blocking(move || {
            this.local.write(&community, &bytes)?;
            this.shared.write(&community, &bytes)
        })
        .await
    }
}

/// Runs blocking file work off the async runtime's worker threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::new(ErrorKind::Other, NAME, format!("file task failed: {e}")))?
}

/// The SHA-256 a `dir:` link names.
fn index_hash(link: &Link) -> Result<&str> {
    if link.kind() != DIR || !is_hash(link.rest()) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            NAME,
            format!("{link} is not a dir:<SHA-256> link"),
        ));
    }
    Ok(link.rest())
}

fn link_to(hash: &str) -> Result<Link> {
    Link::from_announced(DIR, &format!("{}:{hash}", DIR.scheme()))
}

fn format_error(e: archive_index::Error) -> Error {
    Error::new(ErrorKind::InvalidInput, NAME, "archive format").with_source(e)
}

/// Decodes a verified archive blob and checks it is the archive its index
/// entry describes.
fn decode(
    id: &ArchiveId,
    bytes: Vec<u8>,
    metadata: &ArchiveMetadata,
    envelope: Option<&dyn Envelope>,
) -> Result<Archive> {
    let archive = decode_sealed_archive(envelope, bytes)
        .map_err(|e| Error::undecodable(NAME, format!("archive {id}"), e))?;
    if archive.metadata != *metadata {
        return Err(Error::new(
            ErrorKind::Corrupt,
            NAME,
            format!("archive {id} is not the archive its index entry describes"),
        ));
    }
    Ok(archive)
}

/// The content hash an index entry records, checked to be a blob name.
fn archive_hash(id: &ArchiveId, entry: &CodexEntry) -> Result<String> {
    if !is_hash(&entry.cid) {
        return Err(Error::new(
            ErrorKind::Corrupt,
            NAME,
            format!("the index entry of archive {id} names no SHA-256"),
        ));
    }
    Ok(entry.cid.clone())
}

#[async_trait::async_trait]
impl Backend for DirShareBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn link_kind(&self) -> LinkKind {
        DIR
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.partial_fetch = true;
        caps.member_seeding = true;
        caps
    }

    /// Each archive becomes a blob, then the extended index; a failing
    /// message source leaves at most complete, unreferenced archive blobs,
    /// which the next publish of the same messages reuses.
    async fn publish(
        &self,
        request: PublishRequest<'_>,
        options: &PublishOptions,
    ) -> Result<PublishOutcome> {
        let envelope = options.envelope.as_deref();
        let mut index = match &request.previous {
            Some(link) => {
                self.index(&request.community, index_hash(link)?, envelope)
                    .await?
            }
            None => CodexIndex::new(),
        };
        let mut archives = Vec::new();
        let mut dropped = Vec::new();
        for part in partitions(request.range, request.interval).map_err(format_error)? {
            // One partition in memory at a time, as the Codex backend does.
            let mut writer = DataWriter::new(Vec::new(), 0, request.topics.clone())
                .with_envelope(options.envelope.clone());
            let mut messages = request.messages.messages(&request.topics, part);
            let mut open = false;
            while let Some(message) = messages.next().await {
                let message = message?;
                if !open {
                    writer.begin_partition(part).map_err(format_error)?;
                    open = true;
                }
                writer.push(&message).map_err(format_error)?;
            }
            drop(messages);
            let (data, report) = writer.finish().map_err(format_error)?;
            dropped.extend(report.dropped);
            for written in report.archives {
                let entry = &written.entry;
                let start = entry.offset as usize;
                let raw = data[start..start + (entry.size - entry.padding) as usize].to_vec();
                let hash = self.store(&request.community, raw).await?;
                let id = index.insert(CodexEntry {
                    version: 0,
                    metadata: entry.metadata.clone(),
                    cid: hash,
                });
                archives.push(PublishedArchive {
                    id,
                    range: entry.metadata.range,
                    message_count: written.message_count,
                });
            }
        }
        if archives.is_empty() {
            return Ok(PublishOutcome {
                link: request.previous,
                archives,
                dropped,
            });
        }
        let sealed = seal_blob(envelope, BlobKind::Index, index.encode()).map_err(format_error)?;
        let hash = self.store(&request.community, sealed).await?;
        Ok(PublishOutcome {
            link: Some(link_to(&hash)?),
            archives,
            dropped,
        })
    }

    async fn resolve(
        &self,
        community: &CommunityId,
        link: &Link,
        options: &ResolveOptions,
    ) -> Result<RemoteIndex> {
        let index = self
            .index(community, index_hash(link)?, options.envelope.as_deref())
            .await?;
        Ok(RemoteIndex {
            archives: index
                .iter()
                .map(|(id, entry)| (*id, entry.metadata.clone()))
                .collect(),
        })
    }

    async fn fetch(
        &self,
        community: &CommunityId,
        link: &Link,
        archives: &[ArchiveId],
        options: &FetchOptions,
        events: mpsc::Sender<FetchEvent>,
        cancel: CancellationToken,
    ) -> Result<FetchOutcome> {
        let cancelled = || Error::new(ErrorKind::Cancelled, NAME, "fetch cancelled");
        let index = tokio::select! {
            () = cancel.cancelled() => return Err(cancelled()),
            index = self.index(community, index_hash(link)?, options.envelope.as_deref()) => index?,
        };
        let mut wanted = archives
            .iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .map(|id| match index.get(id) {
                Some(entry) => Ok((entry.metadata.range, *id, archive_hash(id, entry)?, entry)),
                None => Err(Error::new(
                    ErrorKind::NotFound,
                    NAME,
                    format!("archive {id} is not behind {link}"),
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        wanted.sort_by_key(|(range, id, _, _)| (*range, *id));
        if options.order == FetchOrder::NewestFirst {
            wanted.reverse();
        }
        let mut outcome = FetchOutcome::default();
        for (range, id, hash, entry) in wanted {
            if cancel.is_cancelled() {
                return Err(cancelled());
            }
            let (this, c, h) = (self.clone(), *community, hash.clone());
            let local = blocking(move || Ok(this.local.read(&c, &h, MAX_ARCHIVE_SIZE).ok()));
            let bytes = match local.await? {
                Some(bytes) => bytes,
                None => {
                    let (this, c, h) = (self.clone(), *community, hash.clone());
                    let read = blocking(move || this.shared.read(&c, &h, MAX_ARCHIVE_SIZE));
                    // Cancelled while reading: the bytes are dropped unwritten,
                    // so nothing not handed over becomes readable.
                    let bytes = tokio::select! {
                        () = cancel.cancelled() => return Err(cancelled()),
                        bytes = read => bytes?,
                    };
                    outcome.bytes_fetched += bytes.len() as u64;
                    bytes
                }
            };
            // The blob matched its hash: kept even when its key is missing,
            // so `read_archive` opens it once the key is held.
            let (this, c, blob) = (self.clone(), *community, bytes.clone());
            let event = FetchEvent::from_read(
                id,
                range,
                decode(&id, bytes, &entry.metadata, options.envelope.as_deref()),
            )?;
            blocking(move || this.local.write(&c, &blob)).await?;
            outcome.fetched.push(id);
            event.hand_over(&events, &cancel, NAME).await?;
        }
        Ok(outcome)
    }

    async fn read_archive(
        &self,
        community: &CommunityId,
        link: &Link,
        id: &ArchiveId,
        options: &FetchOptions,
    ) -> Result<Archive> {
        let envelope = options.envelope.as_deref();
        let index = self.index(community, index_hash(link)?, envelope).await?;
        let entry = index.get(id).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                NAME,
                format!("archive {id} is not behind {link}"),
            )
        })?;
        let hash = archive_hash(id, entry)?;
        let (this, c) = (self.clone(), *community);
        let bytes = blocking(move || this.local.read(&c, &hash, MAX_ARCHIVE_SIZE)).await?;
        decode(id, bytes, &entry.metadata, envelope)
    }

    /// Copies the index and the archives behind `link` that this node holds
    /// from its folder into the shared one (blobs already there with the
    /// right bytes are kept).
    async fn seed(&self, community: &CommunityId, link: &Link) -> Result<()> {
        let hash = index_hash(link)?.to_owned();
        let (this, c) = (self.clone(), *community);
        blocking(move || {
            let bytes = this.local.read(&c, &hash, MAX_INDEX_LEN).map_err(|e| {
                Error::new(e.kind(), NAME, format!("this node holds no index {hash}"))
                    .with_source(e)
            })?;
            // A member serves the archives it holds; an owner holds all. A
            // sealed index (an encrypted community's) names its archives
            // only to a key holder, and `seed` has no envelope: then only
            // the index is shared, and its archives stay where publishing
            // or fetching put them (the shared folder already has them).
            let index = CodexIndex::decode(&bytes).unwrap_or_default();
            for (id, entry) in index.iter() {
                match this
                    .local
                    .read(&c, &archive_hash(id, entry)?, MAX_ARCHIVE_SIZE)
                {
                    Ok(archive) => this.shared.write(&c, &archive).map(drop)?,
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            this.shared.write(&c, &bytes)?;
            Ok(())
        })
        .await
    }

    /// Removes the index from the shared folder, so the link no longer
    /// resolves there. Archive blobs stay: a newer index names them too.
    async fn unseed(&self, community: &CommunityId, link: &Link) -> Result<()> {
        let hash = index_hash(link)?.to_owned();
        let (this, c) = (self.clone(), *community);
        blocking(move || this.shared.remove(&c, &hash)).await
    }
}
