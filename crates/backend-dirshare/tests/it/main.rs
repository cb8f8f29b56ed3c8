//! The directory-share backend against the conformance kit every backend
//! runs, and against a shared folder someone tampered with.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use archive_backend::{
    Backend, DynBackend, ErrorKind, FetchOptions, Link, MessageList, PublishOptions,
    PublishRequest, ResolveOptions,
    conformance::{Harness, same_node},
};
use archive_index::{CommunityId, Message, TimeRange, Topic, keccak256};
use backend_dirshare::{DIR, DirShareBackend};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Nodes sharing one folder, each with a folder of its own.
struct SharedFolder {
    root: tempfile::TempDir,
    nodes: Mutex<Vec<Arc<DirShareBackend>>>,
}

impl SharedFolder {
    fn new() -> SharedFolder {
        SharedFolder {
            root: tempfile::tempdir().unwrap(),
            nodes: Mutex::default(),
        }
    }

    fn shared(&self) -> PathBuf {
        self.root.path().join("shared")
    }

    fn local(&self, n: usize) -> PathBuf {
        self.root.path().join(format!("node-{n}"))
    }

    fn backend(&self) -> Arc<DirShareBackend> {
        let mut nodes = self.nodes.lock().unwrap();
        let node = Arc::new(DirShareBackend::new(self.shared(), self.local(nodes.len())));
        nodes.push(Arc::clone(&node));
        node
    }
}

#[async_trait::async_trait]
impl Harness for SharedFolder {
    async fn node(&self) -> DynBackend {
        self.backend()
    }

    /// What a node serves is its own folder and the shared one: a flipped
    /// byte in every blob of the community in both.
    async fn corrupt_stored_archives(&self, node: &DynBackend, community: &CommunityId) -> bool {
        let nodes = self.nodes.lock().unwrap();
        let Some(n) = nodes.iter().position(|ours| same_node(ours, node)) else {
            return false;
        };
        for folder in [self.local(n), self.shared()] {
            for blob in files(&folder.join(community.to_string())) {
                let mut bytes = std::fs::read(&blob).unwrap();
                let at = bytes.len() / 2;
                bytes[at] ^= 0x01;
                std::fs::write(&blob, bytes).unwrap();
            }
        }
        true
    }
}

archive_backend::conformance_tests!(SharedFolder::new());

const WEEK: u64 = 7 * 86_400;
const D1: u64 = 1_577_836_800;

fn messages(weeks: u64) -> Vec<Message> {
    (0..weeks)
        .map(|w| Message {
            sig: vec![7; 65],
            timestamp: D1 + w * WEEK + 60,
            topic: Topic([1, 2, 3, 4]),
            payload: format!("week {w}").into_bytes(),
            padding: Vec::new(),
            hash: keccak256(format!("{w}").as_bytes()).to_vec(),
            third_party_id: String::new(),
        })
        .collect()
}

async fn publish(owner: &Arc<DirShareBackend>, community: CommunityId, weeks: u64) -> Link {
    let source = MessageList::new(messages(weeks));
    let request = PublishRequest {
        community,
        topics: vec![Topic([1, 2, 3, 4])],
        range: TimeRange {
            from: D1,
            to: D1 + weeks * WEEK,
        },
        interval: WEEK,
        previous: None,
        messages: &source,
    };
    let outcome = owner
        .publish(request, &PublishOptions::default())
        .await
        .unwrap();
    outcome.link.unwrap()
}

/// Every regular file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_name_the_network_and_the_index_hash() {
    let folder = SharedFolder::new();
    let link = publish(&folder.backend(), CommunityId([2; 33]), 2).await;
    assert_eq!(link.kind(), DIR);
    assert_eq!(link.kind().name(), "dir");
    assert_eq!(link.announced(), link.to_string());
    assert!(link.announced().starts_with("dir:") && link.rest().len() == 64);
    assert_eq!(link.to_string().parse::<Link>().unwrap(), link);
}

/// A shared folder anyone can write to: every archive blob altered in turn
/// is refused as corrupt, never reported fetched, never readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_blobs_in_the_shared_folder_are_refused() {
    let folder = SharedFolder::new();
    let community = CommunityId([2; 33]);
    let link = publish(&folder.backend(), community, 3).await;
    let shared = folder.root.path().join("shared");
    let blobs = files(&shared);
    assert_eq!(blobs.len(), 4, "three archives and the index");
    for blob in blobs {
        let original = std::fs::read(&blob).unwrap();
        let mut altered = original.clone();
        let at = altered.len() / 2;
        altered[at] ^= 0x01;
        std::fs::write(&blob, &altered).unwrap();

        let member = folder.backend();
        let result = match member
            .resolve(&community, &link, &ResolveOptions::default())
            .await
        {
            Err(e) => Err(e),
            Ok(index) => {
                let ids = index.missing(&HashSet::new());
                let (tx, mut rx) = mpsc::channel(8);
                let fetched = member
                    .fetch(
                        &community,
                        &link,
                        &ids,
                        &FetchOptions::default(),
                        tx,
                        CancellationToken::new(),
                    )
                    .await;
                let mut reported = Vec::new();
                while let Ok(event) = rx.try_recv() {
                    reported.push(event);
                }
                for id in &ids {
                    let readable = member
                        .read_archive(
                            &community,
                            &link,
                            id,
                            &archive_backend::FetchOptions::default(),
                        )
                        .await
                        .is_ok();
                    let was_reported = reported.iter().any(|e| {
                        matches!(e, archive_backend::FetchEvent::ArchiveFetched { id: r, .. } if r == id)
                    });
                    assert_eq!(readable, was_reported, "{}", blob.display());
                }
                // The fetch stops at the tampered archive (oldest first).
                assert!(reported.len() < ids.len(), "{}", blob.display());
                fetched.map(drop)
            }
        };
        let err = result.expect_err("a tampered blob fails the resolve or the fetch");
        assert_eq!(err.kind(), ErrorKind::Corrupt, "{}: {err}", blob.display());
        std::fs::write(&blob, &original).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_of_other_networks_and_bad_hashes_are_refused() {
    let folder = SharedFolder::new();
    let node = folder.backend();
    let community = CommunityId([2; 33]);
    for text in [
        "dir:0123",
        "dir:../../etc/passwd",
        "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567",
    ] {
        let link: Link = text.parse().unwrap();
        let err = node
            .resolve(&community, &link, &ResolveOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{text}: {err}");
    }
}
