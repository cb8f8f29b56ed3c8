//! Reading a community folder's `index` and archives whether or not they are
//! encrypted, with the keys of `--keys FILE` (status-go's "try plain first"
//! detection, as `inspect` and `verify` know nothing of the configuration).

use std::{
    fs::File,
    io::{Read, Seek, SeekFrom},
    path::Path,
};

use anyhow::Context;
use archive_crypto::{Detected, GroupId, Keyring, detect_archive, detect_index};
use archive_index::{Archive, ArchiveId, CommunityId, ExtractOptions, TorrentIndex};

/// A keyring and the group its blobs belong to.
pub(crate) struct KeyedReader {
    keyring: Keyring,
    /// The community the folder is named after, when it is; otherwise each
    /// blob's own header says its group.
    group: Option<GroupId>,
}

impl KeyedReader {
    /// A reader for the community folder `dir` with `keyring`.
    pub(crate) fn new(keyring: Keyring, dir: &Path) -> KeyedReader {
        let group = dir
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.parse::<CommunityId>().ok())
            .and_then(|community| GroupId::new(&community.0).ok());
        KeyedReader { keyring, group }
    }

    fn open(&mut self, detected: Detected<'_>, what: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let Detected::Encrypted(message) = detected else {
            return Ok(None);
        };
        let group = match &self.group {
            Some(group) => group.clone(),
            None => GroupId::new(message.header.group_id)?,
        };
        let opened = self
            .keyring
            .decrypt_message(&message, &group)
            .with_context(|| format!("{what} is encrypted"))?;
        Ok(Some(opened.plaintext))
    }

    /// Decodes an index file's bytes, decrypting them first if they are encrypted.
    pub(crate) fn decode_index(&mut self, bytes: &[u8]) -> anyhow::Result<TorrentIndex> {
        let plain = self.open(detect_index(bytes), "the index")?;
        Ok(TorrentIndex::decode(plain.as_deref().unwrap_or(bytes))?)
    }

    /// Opens `dir/data` with `dir/index`, checking the index against its length.
    pub(crate) fn open_dir(&mut self, dir: &Path) -> anyhow::Result<(File, u64, TorrentIndex)> {
        let index_path = dir.join("index");
        let bytes = std::fs::read(&index_path)
            .with_context(|| format!("reading {}", index_path.display()))?;
        let index = self
            .decode_index(&bytes)
            .with_context(|| format!("decoding {}", index_path.display()))?;
        let data_path = dir.join("data");
        let data =
            File::open(&data_path).with_context(|| format!("opening {}", data_path.display()))?;
        let len = data.metadata()?.len();
        index.check_data_len(len)?;
        Ok((data, len, index))
    }

    /// Reads archive `id` out of `data` as `archive_index::extract_archive`
    /// does, decrypting it if it is encrypted; its metadata must equal its entry's.
    pub(crate) fn extract(
        &mut self,
        data: &mut File,
        data_len: u64,
        index: &TorrentIndex,
        id: &ArchiveId,
    ) -> anyhow::Result<Archive> {
        let entry = index
            .get(id)
            .ok_or(archive_index::Error::UnknownArchive(*id))?;
        entry.check_readable(id, data_len, ExtractOptions::default().max_archive_bytes)?;
        let raw_len = entry.raw_len();
        data.seek(SeekFrom::Start(entry.offset))?;
        let mut bytes = Vec::with_capacity(raw_len.min(1 << 20) as usize);
        data.take(raw_len).read_to_end(&mut bytes)?;
        anyhow::ensure!(
            bytes.len() as u64 == raw_len,
            "archive {id}: data ended after {} of {raw_len} archive bytes",
            bytes.len()
        );
        let plain = self.open(detect_archive(&bytes), &format!("archive {id}"))?;
        let archive = Archive::decode(plain.as_deref().unwrap_or(&bytes))?;
        anyhow::ensure!(
            archive.metadata == entry.metadata,
            "archive {id}: its metadata differs from its index entry"
        );
        Ok(archive)
    }
}
