//! [`CodexBackend`]: history archives on Codex / Logos Storage, the way
//! status-go's Logos Storage backend stores them (spec h.4). Each archive is
//! its own dataset; a `CodexWakuMessageArchiveIndex` maps archive IDs to their
//! CIDs and is uploaded too; its CID is the link.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use archive_backend::{
    Backend, Capabilities, Error, ErrorKind, FetchEvent, FetchOptions, FetchOrder, FetchOutcome,
    Link, LinkKind, PartitionItem, PublishOptions, PublishOutcome, PublishRequest,
    PublishedArchive, RemoteIndex, ResolveOptions, Result, feed_partitions,
};
use archive_index::{
    Archive, ArchiveId, ArchiveMetadata, BlobKind, CodexEntry, CodexIndex, CommunityId, DataWriter,
    DroppedMessage, Envelope, decode_sealed_archive, open_blob, seal_blob,
};
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    NAME,
    client::{CodexClient, Source, UploadOptions},
    error::ClientError,
};

/// How the backend uses its node.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BackendOptions {
    /// How long `resolve` waits for the index when the caller gives no
    /// timeout (status-go: 20 s).
    pub resolve_timeout: Duration,
    /// The metadata of every upload. The default is what status-go's
    /// `UploadArchive` produces (`archive-data.bin`, whose extension gives
    /// `application/octet-stream`), so the same bytes get the same CIDs.
    pub upload: UploadOptions,
}

impl Default for BackendOptions {
    fn default() -> BackendOptions {
        BackendOptions {
            resolve_timeout: Duration::from_secs(20),
            upload: UploadOptions::new(Some("archive-data.bin"), Some("application/octet-stream")),
        }
    }
}

/// The Codex backend over one node's REST API.
#[derive(Debug)]
pub struct CodexBackend {
    client: CodexClient,
    options: BackendOptions,
    /// Index bytes by CID, as published or resolved: what `fetch` and
    /// `read_archive` look archives up in, and what `seed` re-uploads when the
    /// node lost an index this backend published.
    indexes: Mutex<HashMap<String, Bytes>>,
}

impl CodexBackend {
    /// A backend using `client`'s node.
    pub fn new(client: CodexClient) -> CodexBackend {
        CodexBackend::with_options(client, BackendOptions::default())
    }

    /// The same with other options.
    pub fn with_options(client: CodexClient, options: BackendOptions) -> CodexBackend {
        CodexBackend {
            client,
            options,
            indexes: Mutex::default(),
        }
    }

    /// The REST client.
    pub fn client(&self) -> &CodexClient {
        &self.client
    }

    fn cached(&self, cid: &str) -> Option<Bytes> {
        self.indexes
            .lock()
            .expect("index cache lock")
            .get(cid)
            .cloned()
    }

    fn remember(&self, cid: &str, bytes: Bytes) {
        self.indexes
            .lock()
            .expect("index cache lock")
            .insert(cid.to_string(), bytes);
    }

    /// The index behind `cid`, from the cache or downloaded from `source`.
    /// Opened with `envelope` for an encrypted community.
    async fn index(
        &self,
        cid: &str,
        source: Source,
        deadline: Duration,
        envelope: Option<&dyn Envelope>,
    ) -> Result<CodexIndex> {
        let bytes = match self.cached(cid) {
            Some(bytes) => bytes,
            None => {
                let bytes = tokio::time::timeout(deadline, self.client.download(cid, source))
                    .await
                    .map_err(|_| ClientError::Timeout {
                        what: format!("downloading the index {cid}"),
                        after: deadline,
                    })??;
                self.remember(cid, bytes.clone());
                bytes
            }
        };
        let decoded = match envelope {
            None => CodexIndex::decode(&bytes),
            Some(_) => open_blob(envelope, BlobKind::Index, bytes.to_vec())
                .and_then(|plain| CodexIndex::decode(&plain)),
        };
        decoded.map_err(|e| Error::undecodable(NAME, format!("index {cid}"), e))
    }

    /// Uploads the archives of the partition `state`'s writer holds, each
    /// unpadded, and adds them to the index.
    async fn upload_partition(&self, state: &Mutex<Publishing>) -> Result<()> {
        let writer = lock(state).writer.take().expect("a partition is open");
        let (data, report) = writer.finish().map_err(format_error)?;
        lock(state).dropped.extend(report.dropped);
        let data = Bytes::from(data);
        for written in report.archives {
            let entry = &written.entry;
            let start = entry.offset as usize;
            let raw = data.slice(start..start + (entry.size - entry.padding) as usize);
            let cid = self.client.upload(raw, &self.options.upload).await?;
            let mut state = lock(state);
            let id = state.index.insert(CodexEntry {
                version: 0,
                metadata: entry.metadata.clone(),
                cid,
            });
            state.archives.push(PublishedArchive {
                id,
                range: entry.metadata.range,
                message_count: written.message_count,
            });
        }
        Ok(())
    }

    /// An archive's bytes, from the local node when it has them (no network
    /// bytes), else through the network; verified either way.
    async fn archive_bytes(&self, cid: &str) -> Result<(Bytes, u64), ClientError> {
        if self.client.exists(cid).await? {
            match self.client.download(cid, Source::Local).await {
                Ok(bytes) => return Ok((bytes, 0)),
                // The manifest is local but not every block: fetch below.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let bytes = self.client.download(cid, Source::Network).await?;
        let len = bytes.len() as u64;
        Ok((bytes, len))
    }
}

/// A publish in progress: the open partition's writer, and what is done.
struct Publishing {
    writer: Option<DataWriter<Vec<u8>>>,
    index: CodexIndex,
    archives: Vec<PublishedArchive>,
    dropped: Vec<DroppedMessage>,
}

fn lock(state: &Mutex<Publishing>) -> MutexGuard<'_, Publishing> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn index_cid(link: &Link) -> Result<&str> {
    if link.kind() != LinkKind::CODEX {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            NAME,
            format!("{link} is not a Codex index CID"),
        ));
    }
    Ok(link.rest())
}

fn format_error(e: archive_index::Error) -> Error {
    Error::new(ErrorKind::InvalidInput, NAME, "archive format").with_source(e)
}

/// Decodes archive `cid`, whose bytes the client verified against their
/// tree root, and checks it is the archive its index entry describes.
fn decode_archive(
    cid: &str,
    bytes: &[u8],
    metadata: &ArchiveMetadata,
    envelope: Option<&dyn Envelope>,
) -> Result<Archive> {
    let decoded = match envelope {
        None => Archive::decode(bytes),
        Some(_) => decode_sealed_archive(envelope, bytes.to_vec()),
    };
    let archive = decoded.map_err(|e| Error::undecodable(NAME, format!("archive {cid}"), e))?;
    if archive.metadata != *metadata {
        return Err(Error::new(
            ErrorKind::Corrupt,
            NAME,
            format!("archive {cid} does not match its index entry"),
        ));
    }
    Ok(archive)
}

#[async_trait::async_trait]
impl Backend for CodexBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn link_kind(&self) -> LinkKind {
        LinkKind::CODEX
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
            .with_partial_fetch(true)
            .with_member_seeding(true)
    }

    async fn publish(
        &self,
        request: PublishRequest<'_>,
        options: &PublishOptions,
    ) -> Result<PublishOutcome> {
        let manifest_deadline = self.client.config().manifest_deadline;
        let envelope = options.envelope.as_deref();
        let index = match &request.previous {
            Some(link) => {
                self.index(
                    index_cid(link)?,
                    Source::Network,
                    manifest_deadline,
                    envelope,
                )
                .await?
            }
            None => CodexIndex::new(),
        };
        // One partition at a time: status-go's 30 MB chunking, encoded into
        // memory, then each archive uploaded unpadded as the partition ends.
        let state = Mutex::new(Publishing {
            writer: None,
            index,
            archives: Vec::new(),
            dropped: Vec::new(),
        });
        let topics = &request.topics;
        feed_partitions(&request, |item| {
            let state = &state;
            async move {
                match item {
                    PartitionItem::Begin(part) => {
                        let mut writer = DataWriter::new(Vec::new(), 0, topics.clone())
                            .with_envelope(options.envelope.clone());
                        writer.begin_partition(part).map_err(format_error)?;
                        lock(state).writer = Some(writer);
                    }
                    PartitionItem::Message(message) => lock(state)
                        .writer
                        .as_mut()
                        .expect("a partition is open")
                        .push(&message)
                        .map_err(format_error)?,
                    PartitionItem::End(_) => self.upload_partition(state).await?,
                }
                Ok(())
            }
        })
        .await?;
        let Publishing {
            index,
            archives,
            dropped,
            ..
        } = state.into_inner().unwrap_or_else(PoisonError::into_inner);
        if archives.is_empty() {
            return Ok(PublishOutcome {
                link: request.previous,
                archives,
                dropped,
            });
        }
        let sealed = seal_blob(envelope, BlobKind::Index, index.encode()).map_err(format_error)?;
        let bytes = Bytes::from(sealed);
        let cid = self
            .client
            .upload(bytes.clone(), &self.options.upload)
            .await?;
        self.remember(&cid, bytes);
        // The previous index is kept, unlike status-go's prototype, which
        // deletes it here. An owner killed after that delete but before it
        // recorded the new link could neither publish again from the link it
        // knows (gone) nor name the new one: its history would have no index
        // (found by `cargo xtask crash-test`). Whoever records the new link
        // unseeds the old one, and an index is a few hundred bytes.
        Ok(PublishOutcome {
            link: Some(Link::from_announced(LinkKind::CODEX, &cid)?),
            archives,
            dropped,
        })
    }

    async fn resolve(
        &self,
        _community: &CommunityId,
        link: &Link,
        options: &ResolveOptions,
    ) -> Result<RemoteIndex> {
        let cid = index_cid(link)?;
        let deadline = options.timeout.unwrap_or(self.options.resolve_timeout);
        // Always through the network: resolving answers what is available now.
        let bytes = tokio::time::timeout(deadline, self.client.download(cid, Source::Network))
            .await
            .map_err(|_| ClientError::Timeout {
                what: format!("resolving {cid}"),
                after: deadline,
            })??;
        self.remember(cid, bytes);
        let index = self
            .index(cid, Source::Network, deadline, options.envelope.as_deref())
            .await?;
        Ok(RemoteIndex::from(&index))
    }

    async fn fetch(
        &self,
        _community: &CommunityId,
        link: &Link,
        archives: &[ArchiveId],
        options: &FetchOptions,
        events: mpsc::Sender<FetchEvent>,
        cancel: CancellationToken,
    ) -> Result<FetchOutcome> {
        let cancelled = || Error::new(ErrorKind::Cancelled, NAME, "fetch cancelled");
        let cid = index_cid(link)?;
        let deadline = self.options.resolve_timeout;
        let index = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(cancelled()),
            index = self.index(cid, Source::Network, deadline, options.envelope.as_deref()) => index?,
        };
        let mut wanted = archives
            .iter()
            .map(|id| {
                index
                    .get(id)
                    .map(|e| (e.metadata.range, *id, e.cid.clone(), e.metadata.clone()))
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::InvalidInput,
                            NAME,
                            format!("archive {id} is not behind {link}"),
                        )
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        wanted.sort_by_key(|(range, id, ..)| (*range, *id));
        if options.order == FetchOrder::NewestFirst {
            wanted.reverse();
        }
        let mut outcome = FetchOutcome::default();
        for (range, id, archive_cid, metadata) in wanted {
            let (bytes, network_bytes) = tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(cancelled()),
                fetched = self.archive_bytes(&archive_cid) => fetched?,
            };
            // A locked archive's verified blocks stay with the node: `read_archive`
            // opens them from there once the key is held.
            let event = FetchEvent::from_read(
                id,
                range,
                decode_archive(&archive_cid, &bytes, &metadata, options.envelope.as_deref()),
            )?;
            // The archive is decoded; its buffer goes back to the client for
            // the next download.
            drop(bytes);
            outcome.bytes_fetched += network_bytes;
            outcome.fetched.push(id);
            event.hand_over(&events, &cancel, NAME).await?;
        }
        Ok(outcome)
    }

    async fn read_archive(
        &self,
        _community: &CommunityId,
        link: &Link,
        id: &ArchiveId,
        options: &FetchOptions,
    ) -> Result<Archive> {
        let cid = index_cid(link)?;
        let envelope = options.envelope.as_deref();
        let index = self
            .index(
                cid,
                Source::Local,
                self.client.config().request_deadline,
                envelope,
            )
            .await?;
        let entry = index.get(id).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                NAME,
                format!("archive {id} is not behind {link}"),
            )
        })?;
        let bytes = self.client.download(&entry.cid, Source::Local).await?;
        decode_archive(&entry.cid, &bytes, &entry.metadata, envelope)
    }

    async fn seed(&self, _community: &CommunityId, link: &Link) -> Result<()> {
        let cid = index_cid(link)?;
        match self.client.fetch_in_background(cid).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                // Nobody holds it any more, but we published it: upload again.
                let Some(bytes) = self.cached(cid) else {
                    return Err(e.into());
                };
                let again = self.client.upload(bytes, &self.options.upload).await?;
                if again != cid {
                    return Err(Error::new(
                        ErrorKind::Corrupt,
                        NAME,
                        format!("re-uploading index {cid} gave {again}"),
                    ));
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn unseed(&self, _community: &CommunityId, link: &Link) -> Result<()> {
        self.client.delete(index_cid(link)?).await?;
        Ok(())
    }
}
