//! Interop with aria2 through a local tracker (npm `bittorrent-tracker`), in
//! both directions. aria2 finds peers only through trackers, so this also
//! proves our announces work. Everything on 127.0.0.1.

use std::{
    collections::HashSet,
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Arc,
    time::Duration,
};

use archive_backend::{Backend, MessageList, PublishOptions, PublishRequest};
use archive_index::{CommunityId, Message, TimeRange, Topic};
use backend_torrent::{Config, TorrentBackend};

use super::{fetch_missing, process::Process};

const WEEK: u64 = 7 * 86_400;
const TOPIC: Topic = Topic([5, 5, 5, 5]);

/// Where `cargo xtask test` installs the npm tracker.
fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/interop")
}

/// Starts the tracker and returns it with its announce URL.
fn tracker() -> (Process, String) {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules/bittorrent-tracker").exists(),
        "npm bittorrent-tracker is missing from {}: run `cargo xtask test`",
        dir.display()
    );
    let script = dir.join("tracker.mjs");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/tracker.mjs"),
        &script,
    )
    .unwrap();
    let mut child = Process(
        Command::new("node")
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs"),
    );
    let line = child.first_line(Duration::from_secs(30));
    let port = line
        .trim()
        .strip_prefix("port ")
        .unwrap_or_else(|| panic!("tracker said {line:?}"));
    (child, format!("http://127.0.0.1:{port}/announce"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A node that announces to `tracker` on a fixed port (a loopback listener
/// would otherwise announce none).
async fn node(root: &Path, tracker: &str) -> Arc<TorrentBackend> {
    let mut config = Config::new(root);
    config.listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
    config.trackers = vec![tracker.to_string()];
    config.contact_trackers = true;
    config.metadata_timeout = Duration::from_secs(30);
    Arc::new(TorrentBackend::start(config).await.unwrap())
}

fn aria2c(args: &[&str]) -> Process {
    Process(
        Command::new("aria2c")
            .args([
                "--enable-dht=false",
                "--enable-dht6=false",
                "--bt-enable-lpd=false",
                "--enable-peer-exchange=false",
                "--summary-interval=0",
                "--console-log-level=warn",
                "--allow-overwrite=true",
                "--bt-tracker-interval=1",
            ])
            .args(args)
            .stdout(Stdio::null())
            .spawn()
            .expect("aria2c (installed by `cargo xtask test`)"),
    )
}

async fn publish(owner: &TorrentBackend, community: CommunityId) -> archive_backend::Link {
    let messages: Vec<Message> = (0..25u64)
        .map(|i| Message {
            sig: vec![9; 65],
            timestamp: (i / 13) * WEEK + i * 11 + 1,
            topic: TOPIC,
            payload: vec![i as u8; 9_000],
            padding: vec![],
            hash: i.to_le_bytes().to_vec(),
            third_party_id: String::new(),
        })
        .collect();
    let source = MessageList::new(messages);
    let request = PublishRequest {
        community,
        topics: vec![TOPIC],
        range: TimeRange {
            from: 0,
            to: 2 * WEEK,
        },
        interval: WEEK,
        previous: None,
        messages: &source,
    };
    owner
        .publish(request, &PublishOptions::default())
        .await
        .unwrap()
        .link
        .unwrap()
}

fn assert_same_files(a: &Path, b: &Path) {
    for file in ["data", "index"] {
        assert_eq!(
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
            "{file} differs"
        );
    }
}

/// Waits for `process` to exit successfully within `timeout`.
async fn wait_success(mut process: Process, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(status) = process.0.try_wait().unwrap() {
            assert!(status.success(), "aria2c failed: {status}");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "aria2c did not finish in {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aria2_downloads_from_our_seeder_through_a_tracker() {
    let (_tracker, announce) = tracker();
    let tmp = tempfile::tempdir().unwrap();
    let owner = node(&tmp.path().join("owner"), &announce).await;
    let community = CommunityId([2; 33]);
    publish(&owner, community).await;
    let save = tmp.path().join("aria2");
    let torrent = owner.torrent_path(&community);
    let download = aria2c(&[
        "--seed-time=0",
        &format!("--dir={}", save.display()),
        torrent.to_str().unwrap(),
    ]);
    wait_success(download, Duration::from_secs(90)).await;
    assert_same_files(
        owner.archive_dir(&community).path(),
        &save.join(community.to_string()),
    );
    tokio::time::timeout(Duration::from_secs(10), owner.stop())
        .await
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_download_from_aria2_through_a_tracker() {
    let (_tracker, announce) = tracker();
    let tmp = tempfile::tempdir().unwrap();
    let owner = node(&tmp.path().join("owner"), &announce).await;
    let mut id = [3; 33];
    id[1] = 5;
    let community = CommunityId(id);
    let link = publish(&owner, community).await;
    owner.unseed(&community, &link).await.unwrap();

    // aria2 seeds a copy of the owner's files.
    let seed_root = tmp.path().join("aria2");
    let seed_dir = seed_root.join(community.to_string());
    std::fs::create_dir_all(&seed_dir).unwrap();
    for file in ["data", "index"] {
        std::fs::copy(
            owner.archive_dir(&community).path().join(file),
            seed_dir.join(file),
        )
        .unwrap();
    }
    let torrent = owner.torrent_path(&community);
    let _seeder = aria2c(&[
        "--seed-time=5",
        "--seed-ratio=0.0",
        "--check-integrity=true",
        &format!("--listen-port={}", free_port()),
        &format!("--dir={}", seed_root.display()),
        torrent.to_str().unwrap(),
    ]);

    let member = node(&tmp.path().join("member"), &announce).await;
    let (fetched, _) = fetch_missing(&member, &community, &link, &HashSet::new()).await;
    assert_eq!(fetched.len(), 2, "both weeks arrive from aria2");
    assert_same_files(member.archive_dir(&community).path(), &seed_dir);
    for node in [owner, member] {
        tokio::time::timeout(Duration::from_secs(10), node.stop())
            .await
            .ok();
    }
}
