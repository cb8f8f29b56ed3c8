//! Publishing on BitTorrent: the archives of a request appended to `data` by
//! a blocking writer fed from the message stream, then the `.torrent` rebuilt
//! over the new files and seeded.

use std::time::{SystemTime, UNIX_EPOCH};

use archive_backend::{
    Error, ErrorKind, Link, LinkKind, PartitionItem, PublishRequest, Result, SharedEnvelope,
    feed_partitions,
};
use archive_index::{CommunityId, DataWriter, Message, TimeRange, WriteReport};
use tokio::sync::mpsc;
use torrent_format::{Metainfo, TorrentOptions};

use crate::{
    backend::{TorrentBackend, local},
    engine::NAME,
};

fn format(e: archive_index::Error) -> Error {
    Error::new(ErrorKind::InvalidInput, NAME, "archive format").with_source(e)
}

/// The error of the closure [`ArchiveDir::append`] runs. `append` needs one
/// that its own errors convert into, and neither `torrent_format::Error` nor
/// `archive_backend::Error` is this crate's to give a `From` impl.
struct AppendError(Error);

impl From<torrent_format::Error> for AppendError {
    fn from(e: torrent_format::Error) -> AppendError {
        AppendError(local(e))
    }
}

impl From<Error> for AppendError {
    fn from(e: Error) -> AppendError {
        AppendError(e)
    }
}

/// What the async side sends the blocking writer.
enum WriterInput {
    Begin(TimeRange),
    Message(Message),
    End,
    /// The source failed: discard everything written in this run.
    Abort,
}

impl TorrentBackend {
    fn torrent_options(&self) -> TorrentOptions {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        TorrentOptions {
            announce_list: self
                .config
                .trackers
                .iter()
                .map(|t| vec![t.clone()])
                .collect(),
            created_by: self.config.created_by.clone(),
            creation_date: now,
        }
    }

    /// Appends the archives of `request` to `data` on a blocking thread fed by
    /// the message stream, one message in memory at a time.
    pub(crate) async fn append(
        &self,
        request: &PublishRequest<'_>,
        envelope: Option<SharedEnvelope>,
    ) -> Result<WriteReport> {
        let dir = self
            .archive_dir(&request.community)
            .with_envelope(envelope.clone());
        let topics = request.topics.clone();
        let (tx, mut rx) = mpsc::channel::<WriterInput>(1024);
        let writer = tokio::task::spawn_blocking(move || {
            dir.append(|out, start| -> Result<WriteReport, AppendError> {
                let mut writer = DataWriter::new(out, start, topics).with_envelope(envelope);
                while let Some(input) = rx.blocking_recv() {
                    match input {
                        WriterInput::Begin(range) => {
                            writer.begin_partition(range).map_err(format)?
                        }
                        WriterInput::Message(m) => writer.push(&m).map_err(format)?,
                        WriterInput::End => writer.finish_partition().map_err(format)?,
                        WriterInput::Abort => {
                            return Err(
                                Error::new(ErrorKind::Other, NAME, "publish aborted").into()
                            );
                        }
                    }
                }
                Ok(writer.finish().map_err(format)?.1)
            })
            .map_err(|AppendError(e)| e)
        });
        let fed = feed_partitions(request, |item| {
            let tx = tx.clone();
            async move {
                let input = match item {
                    PartitionItem::Begin(part) => WriterInput::Begin(part),
                    PartitionItem::Message(m) => WriterInput::Message(m),
                    PartitionItem::End(_) => WriterInput::End,
                };
                // A closed channel means the writer failed; its error is
                // reported below.
                tx.send(input)
                    .await
                    .map_err(|_| Error::new(ErrorKind::Other, NAME, "the archive writer stopped"))
            }
        })
        .await;
        if fed.is_err() {
            // Ignored if the writer is gone already; it failed on its own then.
            let _ = tx.send(WriterInput::Abort).await;
        }
        drop(tx);
        let written = writer.await.map_err(|e| {
            Error::new(
                ErrorKind::Other,
                NAME,
                format!("archive writer failed: {e}"),
            )
        })?;
        // A source that failed mid-way leaves nothing: the writer aborted and
        // `append` cut `data` back. Its error is the one worth reporting.
        match (fed, written) {
            (Err(e), _) | (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(outcome)) => Ok(outcome.report),
        }
    }

    /// Builds and writes the `.torrent` (reusing the previous piece hashes) and
    /// seeds it.
    pub(crate) async fn rebuild_and_seed(&self, community: &CommunityId) -> Result<Link> {
        let dir = self.archive_dir(community);
        let previous = self.current_metainfo(community)?;
        let options = self.torrent_options();
        let torrent_dir = self.config.torrent_dir.clone();
        let build_dir = dir.clone();
        let metainfo = tokio::task::spawn_blocking(move || {
            let metainfo = Metainfo::build(&build_dir, &options, previous.as_ref())?;
            metainfo.write(&torrent_dir)?;
            Ok::<_, torrent_format::Error>(metainfo)
        })
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Other,
                NAME,
                format!("torrent builder failed: {e}"),
            )
        })?
        .map_err(local)?;
        self.engine
            .seed(community, metainfo.to_bytes(), dir.path())
            .await?;
        Link::from_announced(LinkKind::TORRENT, &metainfo.magnet().to_string())
    }
}
