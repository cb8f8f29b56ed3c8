//! [`CodexBackend`]: history archives on Codex / Logos Storage, the way
//! status-go's Logos Storage backend stores them (spec h.4). Each archive is
//! its own dataset; a `CodexWakuMessageArchiveIndex` maps archive IDs to their
//! CIDs and is uploaded too; its CID is the link.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use archive_backend::{
    Backend, Capabilities, Error, ErrorKind, FetchEvent, FetchOptions, FetchOrder, FetchOutcome,
    Link, LinkKind, PublishOptions, PublishOutcome, PublishRequest, PublishedArchive, RemoteIndex,
    ResolveOptions, Result,
};
use archive_index::{
    Archive, ArchiveId, CodexEntry, CodexIndex, CommunityId, DataWriter, partitions,
};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    NAME,
    client::{CodexClient, Source, UploadOptions},
    error::CodexError,
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
    async fn index(&self, cid: &str, source: Source, deadline: Duration) -> Result<CodexIndex> {
        let bytes = match self.cached(cid) {
            Some(bytes) => bytes,
            None => {
                let bytes = tokio::time::timeout(deadline, self.client.download(cid, source))
                    .await
                    .map_err(|_| CodexError::Timeout {
                        what: format!("downloading the index {cid}"),
                        after: deadline,
                    })??;
                self.remember(cid, bytes.clone());
                bytes
            }
        };
        CodexIndex::decode(&bytes).map_err(|e| {
            Error::new(
                ErrorKind::Corrupt,
                NAME,
                format!("index {cid} does not decode"),
            )
            .with_source(e)
        })
    }

    /// An archive's bytes, from the local node when it has them (no network
    /// bytes), else through the network; verified either way.
    async fn archive_bytes(&self, cid: &str) -> Result<(Bytes, u64), CodexError> {
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

fn decode_archive(cid: &str, bytes: &[u8]) -> Result<Archive> {
    Archive::decode(bytes).map_err(|e| {
        Error::new(
            ErrorKind::Corrupt,
            NAME,
            format!("archive {cid} does not decode"),
        )
        .with_source(e)
    })
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
        let mut caps = Capabilities::default();
        caps.partial_fetch = true;
        caps.member_seeding = true;
        caps
    }

    async fn publish(
        &self,
        request: PublishRequest<'_>,
        _options: &PublishOptions,
    ) -> Result<PublishOutcome> {
        let manifest_deadline = self.client.config().manifest_deadline;
        let mut index = match &request.previous {
            Some(link) => {
                self.index(index_cid(link)?, Source::Network, manifest_deadline)
                    .await?
            }
            None => CodexIndex::new(),
        };
        let mut archives = Vec::new();
        let mut dropped = Vec::new();
        for part in partitions(request.range, request.interval).map_err(format_error)? {
            // One partition at a time: status-go's 30 MB chunking, encoded
            // into memory, then each archive uploaded unpadded.
            let mut writer = DataWriter::new(Vec::new(), 0, request.topics.clone());
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
            let data = Bytes::from(data);
            for written in report.archives {
                let entry = &written.entry;
                let start = entry.offset as usize;
                let raw = data.slice(start..start + (entry.size - entry.padding) as usize);
                let cid = self.client.upload(raw, &self.options.upload).await?;
                let id = index.insert(CodexEntry {
                    version: 0,
                    metadata: entry.metadata.clone(),
                    cid,
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
        let bytes = Bytes::from(index.encode());
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
            .map_err(|_| CodexError::Timeout {
                what: format!("resolving {cid}"),
                after: deadline,
            })??;
        self.remember(cid, bytes);
        let index = self.index(cid, Source::Network, deadline).await?;
        Ok(RemoteIndex {
            archives: index
                .iter()
                .map(|(id, e)| (*id, e.metadata.clone()))
                .collect(),
        })
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
            index = self.index(cid, Source::Network, deadline) => index?,
        };
        let mut wanted = archives
            .iter()
            .map(|id| {
                index
                    .get(id)
                    .map(|e| (e.metadata.range, *id, e.cid.clone()))
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::InvalidInput,
                            NAME,
                            format!("archive {id} is not behind {link}"),
                        )
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        wanted.sort();
        if options.order == FetchOrder::NewestFirst {
            wanted.reverse();
        }
        let mut outcome = FetchOutcome::default();
        for (range, id, archive_cid) in wanted {
            let (bytes, network_bytes) = tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(cancelled()),
                fetched = self.archive_bytes(&archive_cid) => fetched?,
            };
            decode_archive(&archive_cid, &bytes)?;
            outcome.bytes_fetched += network_bytes;
            outcome.fetched.push(id);
            // A caller that stopped listening still gets its archives.
            let _ = events.send(FetchEvent::ArchiveFetched { id, range }).await;
        }
        Ok(outcome)
    }

    async fn read_archive(
        &self,
        _community: &CommunityId,
        link: &Link,
        id: &ArchiveId,
    ) -> Result<Archive> {
        let cid = index_cid(link)?;
        let index = self
            .index(cid, Source::Local, self.client.config().request_deadline)
            .await?;
        let entry = index.get(id).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                NAME,
                format!("archive {id} is not behind {link}"),
            )
        })?;
        let bytes = self.client.download(&entry.cid, Source::Local).await?;
        decode_archive(&entry.cid, &bytes)
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
