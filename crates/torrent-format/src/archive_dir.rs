//! A community's `data` and `index` files, appended to without ever leaving the
//! index pointing past `data`.
//!
//! Order of an append: truncate `data` back to the length the index describes
//! (a crash may have left bytes behind), append the new archives, fsync `data`,
//! then replace `index` atomically (temporary file, fsync, rename, fsync of the
//! directory). A crash at any point leaves either the old index or the new one,
//! each describing bytes that are on disk. status-go writes the index first,
//! which a crash can leave pointing at archives that were never written.
//!
//! One writer at a time: an append holds an exclusive advisory lock on
//! `<dir>/writer.lock` (which names the holder's pid and command), so a second
//! writer, in this process or another, fails at once with [`Error::Locked`]
//! instead of interleaving its bytes. The torrent lists only `data` and
//! `index`, so the lock file is never shared.

use std::{
    fs::{self, File, OpenOptions},
    io::{BufWriter, Read, Write},
    path::{Path, PathBuf},
    sync::Arc,
};

use archive_index::{
    BlobKind, CommunityId, Envelope, TorrentIndex, WriteReport, open_blob, seal_blob,
};

use crate::{
    error::{Error, IoContext, Result},
    folder_lock::{self, WriterLock},
};

/// The name of the writer lock inside a community folder.
const LOCK_FILE: &str = "writer.lock";

/// The files of one community under a data directory.
///
/// An encrypted community's folder has an envelope
/// ([`with_envelope`](Self::with_envelope)): its `index` file is sealed as
/// status-go seals it, opened on every load and sealed on every write.
#[derive(Clone, Debug)]
pub struct ArchiveDir {
    dir: PathBuf,
    envelope: Option<Arc<dyn Envelope>>,
}

/// What an append did.
#[derive(Debug)]
pub struct AppendOutcome {
    /// What the writer produced.
    pub report: WriteReport,
    /// The index after the append.
    pub index: TorrentIndex,
    /// Bytes of a crashed earlier append that were cut off `data` first.
    pub truncated: u64,
}

impl ArchiveDir {
    /// The directory `<root>/<community ID>`.
    pub fn new(root: &Path, community: &CommunityId) -> ArchiveDir {
        ArchiveDir {
            dir: root.join(community.to_string()),
            envelope: None,
        }
    }

    /// Opens an existing community directory by path.
    pub fn at(dir: PathBuf) -> ArchiveDir {
        ArchiveDir {
            dir,
            envelope: None,
        }
    }

    /// The same folder, its index sealed and opened with `envelope` (none:
    /// plain).
    pub fn with_envelope(mut self, envelope: Option<Arc<dyn Envelope>>) -> ArchiveDir {
        self.envelope = envelope;
        self
    }

    /// The envelope its index (and its archives) are sealed with, if any.
    pub fn envelope(&self) -> Option<&dyn Envelope> {
        self.envelope.as_deref()
    }

    /// The same envelope, shared (for a [`archive_index::DataWriter`]).
    pub fn shared_envelope(&self) -> Option<Arc<dyn Envelope>> {
        self.envelope.clone()
    }

    /// The community directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/data`.
    pub fn data_path(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// `<dir>/index`.
    pub fn index_path(&self) -> PathBuf {
        self.dir.join("index")
    }

    /// `<dir>/writer.lock`, held by whoever appends.
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }

    /// Creates the community folder (owner-only, as status-go) and any missing
    /// parents if needed, syncing the directory above each so that a crash
    /// cannot lose the new entries. Returns the directories created, deepest
    /// first.
    pub fn create(&self) -> Result<Vec<PathBuf>> {
        let created: Vec<PathBuf> = self
            .dir
            .ancestors()
            .take_while(|dir| !dir.as_os_str().is_empty() && !dir.exists())
            .map(Path::to_path_buf)
            .collect();
        if !created.is_empty() {
            create_private_dir(&self.dir).at(&self.dir)?;
            for dir in &created {
                sync_parent(dir)?;
            }
        }
        Ok(created)
    }

    /// Takes the writer lock, creating the directory and any missing parents
    /// if needed (and syncing the directory above each, so a crash cannot
    /// lose the new entries), or fails at once with [`Error::Locked`] naming
    /// the holder. Returns the lock and the directories created, deepest
    /// first.
    fn lock(&self) -> Result<(WriterLock, Vec<PathBuf>)> {
        let created = self.create()?;
        Ok((folder_lock::acquire(&self.lock_path())?, created))
    }

    /// The current index; empty when there is no index file yet.
    pub fn load_index(&self) -> Result<TorrentIndex> {
        let path = self.index_path();
        match fs::read(&path) {
            Ok(bytes) => {
                let plain = open_blob(self.envelope.as_deref(), BlobKind::Index, bytes)?;
                Ok(TorrentIndex::decode(&plain)?)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TorrentIndex::new()),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    /// Current length of `data`, 0 when it does not exist.
    pub fn data_len(&self) -> Result<u64> {
        let path = self.data_path();
        match fs::metadata(&path) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    /// Opens `data` for reading, with the loaded index checked against its length.
    pub fn open_data(&self) -> Result<(File, u64, TorrentIndex)> {
        let index = self.load_index()?;
        let path = self.data_path();
        let file = File::open(&path).at(&path)?;
        let len = file.metadata().at(&path)?.len();
        index.check_data_len(len)?;
        Ok((file, len, index))
    }

    /// Appends new archives. `write` receives the `data` stream and the offset
    /// it starts at (the index's end) and returns what it wrote, typically via
    /// [`archive_index::write_archives`] or a [`archive_index::DataWriter`].
    ///
    /// Nothing is created when `write` produces no archive. When `write` fails,
    /// `data` is cut back to its old length and the index is untouched.
    /// The writer's error type is the caller's, so a writer that reads from a
    /// database can fail with the database's error.
    pub fn append<F, E>(&self, write: F) -> Result<AppendOutcome, E>
    where
        F: FnOnce(&mut dyn Write, u64) -> Result<WriteReport, E>,
        E: From<Error>,
    {
        let (lock, created) = self.lock()?;
        let mut index = self.load_index()?;
        let start = index.data_len();
        let data_path = self.data_path();
        let truncated = self.truncate_to(start)?;

        let mut out = BufWriter::with_capacity(1 << 20, LazyAppend::new(&self.dir, &data_path));
        let written = write(&mut out, start).and_then(|report| {
            out.flush().at(&data_path)?;
            Ok::<_, E>(report)
        });
        let lazy = out.into_inner().map_err(|e| Error::Io {
            path: data_path.clone(),
            source: e.into_error(),
        })?;
        let report = match written {
            Ok(report) => report,
            Err(e) => {
                // Leave `data` as the index describes it; a failure here is
                // repaired by the truncation at the next append.
                let _ = self.truncate_to(start);
                return Err(e);
            }
        };
        if report.archives.is_empty() {
            if !created.is_empty() {
                // A run without archives leaves nothing on disk (status-go
                // test 6): the folders and the lock existed only for this call.
                let _ = fs::remove_file(self.lock_path());
                drop(lock);
                for dir in &created {
                    let _ = fs::remove_dir(dir);
                }
            }
            return Ok(AppendOutcome {
                report,
                index,
                truncated,
            });
        }
        lazy.sync()?;
        for archive in &report.archives {
            index.insert(archive.entry.clone()).map_err(Error::from)?;
        }
        self.write_index(&index)?;
        Ok(AppendOutcome {
            report,
            index,
            truncated,
        })
    }

    /// Takes back every archive that ends after `time` (seconds), and every
    /// archive after it in `data`, so that the range can be archived again
    /// (an owner re-archiving messages that arrived after their range was
    /// archived). Returns the entries taken back, in `data` order.
    ///
    /// The shortened index is written first and `data` is cut after it, so a
    /// crash in between leaves bytes past the index, which the next append
    /// cuts anyway.
    pub fn rewind(&self, time: u64) -> Result<Vec<archive_index::IndexEntry>> {
        let (_lock, _created) = self.lock()?;
        let index = self.load_index()?;
        let entries: Vec<archive_index::IndexEntry> =
            index.by_offset().map(|(_, e)| e.clone()).collect();
        let Some(first) = entries.iter().position(|e| e.metadata.range.to > time) else {
            return Ok(Vec::new());
        };
        let mut kept = TorrentIndex::new();
        for entry in &entries[..first] {
            kept.insert(entry.clone())?;
        }
        self.write_index(&kept)?;
        self.truncate_to(kept.data_len())?;
        Ok(entries[first..].to_vec())
    }

    /// Replaces `index` atomically, sealed when the folder has an envelope.
    fn write_index(&self, index: &TorrentIndex) -> Result<()> {
        let bytes = seal_blob(self.envelope.as_deref(), BlobKind::Index, index.encode())?;
        write_atomically(&self.index_path(), &bytes)
    }

    /// Cuts `data` back to `len` bytes if it is longer; fails if it is shorter.
    fn truncate_to(&self, len: u64) -> Result<u64> {
        let path = self.data_path();
        let actual = self.data_len()?;
        if actual < len {
            return Err(Error::DataTruncated {
                path,
                expected: len,
                actual,
            });
        }
        if actual > len {
            let file = OpenOptions::new().write(true).open(&path).at(&path)?;
            file.set_len(len).at(&path)?;
            file.sync_all().at(&path)?;
        }
        Ok(actual - len)
    }

    /// Reads `len` bytes of `data` at `offset` (used to hash new pieces).
    pub fn read_data(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        use std::io::{Seek, SeekFrom};
        let path = self.data_path();
        let mut file = File::open(&path).at(&path)?;
        file.seek(SeekFrom::Start(offset)).at(&path)?;
        let mut buf = Vec::with_capacity(len);
        file.take(len as u64).read_to_end(&mut buf).at(&path)?;
        Ok(buf)
    }
}

/// Syncs the directory holding `path`, so that a new entry in it survives a
/// crash.
fn sync_parent(path: &Path) -> Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => File::open(parent).and_then(|d| d.sync_all()).at(parent),
        None => Ok(()),
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the
/// new one: temporary file in the same directory, fsync, rename, fsync the
/// directory.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().expect("archive files live in a directory");
    let tmp = path.with_extension("tmp");
    {
        let mut file = File::create(&tmp).at(&tmp)?;
        file.write_all(bytes).at(&tmp)?;
        file.sync_all().at(&tmp)?;
    }
    fs::rename(&tmp, path).at(path)?;
    File::open(dir).and_then(|d| d.sync_all()).at(dir)?;
    Ok(())
}

/// An append-only `data` handle that creates the directory and file on the first
/// write, so a run without archives leaves nothing on disk (status-go test 6).
struct LazyAppend<'a> {
    dir: &'a Path,
    path: &'a Path,
    file: Option<File>,
}

impl<'a> LazyAppend<'a> {
    fn new(dir: &'a Path, path: &'a Path) -> LazyAppend<'a> {
        LazyAppend {
            dir,
            path,
            file: None,
        }
    }

    fn file(&mut self) -> std::io::Result<&mut File> {
        if self.file.is_none() {
            create_private_dir(self.dir)?;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path)?;
            self.file = Some(file);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }

    fn sync(self) -> Result<()> {
        if let Some(file) = self.file {
            file.sync_all().at(self.path)?;
        }
        Ok(())
    }
}

impl Write for LazyAppend<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file()?.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// Creates `dir` (and parents) readable by the owner only, as status-go (0700).
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests;
