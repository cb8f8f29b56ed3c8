//! [`Store`]: the async handle that runs [`Database`] calls off the runtime.
//!
//! Design: the connection sits behind a `std::sync::Mutex` and every call runs
//! in `tokio::task::spawn_blocking`. SQLite serialises work on one connection
//! anyway, so a dedicated thread would add a shutdown protocol and a channel
//! without adding parallelism; this way a `Store` is just an `Arc`, works on
//! any runtime flavour and needs no closing. The lock is only ever taken
//! inside a blocking task and never held across an `.await`, and range
//! streams re-take it per page (keyset pagination) instead of holding a read
//! open, so a consumer that writes to the store while draining a stream
//! cannot deadlock and a slow consumer does not block writers. The cost: a
//! write that commits between two pages is seen by the later pages only.

use std::{
    collections::BTreeSet,
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
};

use archive_index::{Archive, ArchiveId, CommunityId, Message, TimeRange, Topic};
use futures::{Stream, StreamExt, stream};

use crate::{
    database::{Announcement, Database, DownloadedArchive, ImportReport, LinkKind, MessageKey},
    error::{Error, Result},
};

/// Most messages a stream fetches per page.
const PAGE_MESSAGES: usize = 512;
/// Most payload and signature bytes a stream fetches per page, so pages of
/// large messages stay small too.
const PAGE_BYTES: usize = 4 << 20;

/// An async, cheaply cloneable handle to one [`Database`].
#[derive(Clone, Debug)]
pub struct Store {
    db: Arc<Mutex<Database>>,
}

impl Store {
    /// Opens the database at `path` as [`Database::open`] does.
    pub async fn open(path: impl Into<PathBuf>) -> Result<Store> {
        let path = path.into();
        let db = blocking(move || Database::open(path)).await?;
        Ok(Store::from_database(db))
    }

    /// Opens the database at `path` for reading only, as
    /// [`Database::open_read_only`] does.
    pub async fn open_read_only(path: impl Into<PathBuf>) -> Result<Store> {
        let path = path.into();
        let db = blocking(move || Database::open_read_only(path)).await?;
        Ok(Store::from_database(db))
    }

    /// A fresh in-memory store.
    pub async fn open_in_memory() -> Result<Store> {
        Ok(Store::from_database(
            blocking(Database::open_in_memory).await?,
        ))
    }

    /// Wraps an open [`Database`].
    pub fn from_database(db: Database) -> Store {
        Store {
            db: Arc::new(Mutex::new(db)),
        }
    }

    /// Runs `f` with the database on a blocking thread.
    ///
    /// The escape hatch for anything the typed methods do not cover.
    pub async fn with<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Database) -> Result<T> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        blocking(move || {
            // A panic inside a call unwinds through rusqlite's transaction
            // guards, which roll back; the connection itself stays sound.
            let mut db = db.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut db)
        })
        .await
    }

    /// See [`Database::release_writer`].
    pub async fn release_writer(&self) -> Result<()> {
        self.with(Database::release_writer).await
    }

    /// See [`Database::insert_messages`].
    pub async fn insert_messages(&self, messages: Vec<Message>) -> Result<()> {
        self.with(move |db| db.insert_messages(&messages)).await
    }

    /// See [`Database::insert_messages_if_absent`].
    pub async fn insert_messages_if_absent(&self, messages: Vec<Message>) -> Result<usize> {
        self.with(move |db| db.insert_messages_if_absent(&messages))
            .await
    }

    /// The stored messages on `topics` inside `range`, in (timestamp, hash)
    /// order, fetched in pages of at most 512 messages or 4 MiB.
    ///
    /// The stream ends after the first error it yields.
    pub fn messages(
        &self,
        topics: Vec<Topic>,
        range: TimeRange,
    ) -> impl Stream<Item = Result<Message>> + Send + 'static {
        let topics: Arc<[Topic]> = topics.into();
        let start = Some((self.clone(), None::<MessageKey>));
        stream::unfold(start, move |state| {
            let topics = Arc::clone(&topics);
            async move {
                let (store, after) = state?;
                let fetched = store
                    .with(move |db| {
                        db.page(&topics, range, after.as_ref(), PAGE_MESSAGES, PAGE_BYTES)
                    })
                    .await;
                match fetched {
                    Err(e) => Some((vec![Err(e)], None)),
                    Ok(page) if page.is_empty() => None,
                    Ok(page) => {
                        let next = page
                            .last()
                            .map(MessageKey::of)
                            .map(|key| (store, Some(key)));
                        Some((page.into_iter().map(Ok).collect(), next))
                    }
                }
            }
        })
        .flat_map(stream::iter)
    }

    /// See [`Database::oldest_timestamp`].
    pub async fn oldest_timestamp(&self, topics: Vec<Topic>) -> Result<Option<u64>> {
        self.with(move |db| db.oldest_timestamp(&topics)).await
    }

    /// See [`Database::newest_timestamp`].
    pub async fn newest_timestamp(&self, topics: Vec<Topic>) -> Result<Option<u64>> {
        self.with(move |db| db.newest_timestamp(&topics)).await
    }

    /// See [`Database::message_count`].
    pub async fn message_count(&self) -> Result<u64> {
        self.with(|db| db.message_count()).await
    }

    /// See [`Database::import_archive`].
    pub async fn import_archive(
        &self,
        community: CommunityId,
        id: ArchiveId,
        archive: Archive,
    ) -> Result<ImportReport> {
        self.with(move |db| db.import_archive(&community, &id, &archive))
            .await
    }

    /// See [`Database::claim_topics`].
    pub async fn claim_topics(&self, community: CommunityId, topics: Vec<Topic>) -> Result<()> {
        self.with(move |db| db.claim_topics(&community, &topics))
            .await
    }

    /// See [`Database::community_topics`].
    pub async fn community_topics(&self, community: CommunityId) -> Result<Vec<Topic>> {
        self.with(move |db| db.community_topics(&community)).await
    }

    /// See [`Database::topic_owner`].
    pub async fn topic_owner(&self, topic: Topic) -> Result<Option<CommunityId>> {
        self.with(move |db| db.topic_owner(&topic)).await
    }

    /// See [`Database::last_archive_end`].
    pub async fn last_archive_end(
        &self,
        community: CommunityId,
        kind: &LinkKind,
    ) -> Result<Option<u64>> {
        let kind = kind.clone();
        self.with(move |db| db.last_archive_end(&community, &kind))
            .await
    }

    /// See [`Database::set_last_archive_end`].
    pub async fn set_last_archive_end(
        &self,
        community: CommunityId,
        kind: &LinkKind,
        end: u64,
    ) -> Result<()> {
        let kind = kind.clone();
        self.with(move |db| db.set_last_archive_end(&community, &kind, end))
            .await
    }

    /// See [`Database::fetched_link`].
    pub async fn fetched_link(
        &self,
        community: CommunityId,
        kind: &LinkKind,
    ) -> Result<Option<String>> {
        let kind = kind.clone();
        self.with(move |db| db.fetched_link(&community, &kind))
            .await
    }

    /// See [`Database::set_fetched_link`].
    pub async fn set_fetched_link(
        &self,
        community: CommunityId,
        kind: &LinkKind,
        link: String,
    ) -> Result<()> {
        let kind = kind.clone();
        self.with(move |db| db.set_fetched_link(&community, &kind, &link))
            .await
    }

    /// See [`Database::announcement`].
    pub async fn announcement(
        &self,
        community: CommunityId,
        kind: &LinkKind,
    ) -> Result<Option<Announcement>> {
        let kind = kind.clone();
        self.with(move |db| db.announcement(&community, &kind))
            .await
    }

    /// See [`Database::record_announcement`].
    pub async fn record_announcement(
        &self,
        community: CommunityId,
        kind: &LinkKind,
        clock: u64,
        link: String,
    ) -> Result<bool> {
        let kind = kind.clone();
        self.with(move |db| db.record_announcement(&community, &kind, clock, &link))
            .await
    }

    /// See [`Database::record_downloaded`].
    pub async fn record_downloaded(
        &self,
        community: CommunityId,
        id: ArchiveId,
        range: TimeRange,
    ) -> Result<bool> {
        self.with(move |db| db.record_downloaded(&community, &id, range))
            .await
    }

    /// See [`Database::set_imported`].
    pub async fn set_imported(
        &self,
        community: CommunityId,
        id: ArchiveId,
        imported: bool,
    ) -> Result<bool> {
        self.with(move |db| db.set_imported(&community, &id, imported))
            .await
    }

    /// See [`Database::downloaded_archive`].
    pub async fn downloaded_archive(
        &self,
        community: CommunityId,
        id: ArchiveId,
    ) -> Result<Option<DownloadedArchive>> {
        self.with(move |db| db.downloaded_archive(&community, &id))
            .await
    }

    /// See [`Database::downloaded_archive_ids`].
    pub async fn downloaded_archive_ids(
        &self,
        community: CommunityId,
    ) -> Result<BTreeSet<ArchiveId>> {
        self.with(move |db| db.downloaded_archive_ids(&community))
            .await
    }

    /// See [`Database::archives_to_import`].
    pub async fn archives_to_import(
        &self,
        community: CommunityId,
    ) -> Result<Vec<DownloadedArchive>> {
        self.with(move |db| db.archives_to_import(&community)).await
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Task(e.to_string()))?
}
