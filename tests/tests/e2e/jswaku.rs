//! An announcement built by an independent implementation: js-waku with
//! `@waku/message-encryption`'s symmetric encoder frames, signs and encrypts
//! the owner's signed link as status-go does, and an Archivist member on a
//! real Waku node accepts it and fetches the archives.
//!
//! Needs `node` (≥ 20) and `npm`; the pinned packages are installed under
//! `target/interop-waku` as the transport-waku interop test does, from the
//! same list and with the same peer script.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use archivist::{
    Node, NodeEvent,
    dispatch::{Channel, sign_announcement},
    index::LinkKind,
};
use tokio::sync::mpsc;

use crate::fixture::{DEADLINE, Member, Networks, World, assert_same_history};

const PACKAGE_LIST: &str =
    include_str!("../../../crates/transport-waku/tests/it/interop-packages.txt");
const PEER_SCRIPT: &str = include_str!("../../../crates/transport-waku/tests/it/waku-peer.mjs");
const POLYFILL: &str = include_str!("../../../crates/transport-waku/tests/it/polyfill.mjs");
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

fn packages() -> Vec<&'static str> {
    PACKAGE_LIST
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_whitespace().next())
        .collect()
}

/// `target/interop-waku` with every pinned package, installed if missing.
fn interop_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/interop-waku");
    let installed = packages().iter().all(|pinned| {
        let (name, version) = pinned.rsplit_once('@').unwrap();
        std::fs::read_to_string(dir.join("node_modules").join(name).join("package.json"))
            .is_ok_and(|manifest| manifest.contains(&format!("\"version\": \"{version}\"")))
    });
    if !installed {
        std::fs::create_dir_all(&dir).unwrap();
        let mut npm = Command::new("npm")
            .args(["install", "--ignore-scripts", "--no-audit", "--no-fund"])
            .arg("--prefix")
            .arg(&dir)
            .args(packages())
            .stdout(Stdio::null())
            .spawn()
            .expect("npm is on the PATH");
        let deadline = Instant::now() + INSTALL_TIMEOUT;
        let status = loop {
            if let Some(status) = npm.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = npm.kill();
                let _ = npm.wait();
                panic!("npm install took over {INSTALL_TIMEOUT:?}");
            }
            thread::sleep(Duration::from_millis(200));
        };
        assert!(
            status.success(),
            "npm install of {:?}: {status}",
            packages()
        );
    }
    std::fs::write(dir.join("waku-peer.mjs"), PEER_SCRIPT).unwrap();
    std::fs::write(dir.join("polyfill.mjs"), POLYFILL).unwrap();
    dir
}

/// The js-waku peer process; killed (and reaped) on drop.
struct JsPeer {
    child: Child,
    _stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl JsPeer {
    async fn expect(&mut self, prefix: &str) -> String {
        let found = tokio::time::timeout(DEADLINE, async {
            while let Some(line) = self.lines.recv().await {
                self.seen.push(line.clone());
                if let Some(rest) = line.strip_prefix(prefix) {
                    return Some(rest.to_owned());
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(rest)) => rest,
            _ => panic!(
                "js-waku peer: no {prefix:?}; output:\n{}",
                self.seen.join("\n")
            ),
        }
    }
}

impl Drop for JsPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_waku_announcement_is_accepted_and_fetched() {
    let dir = interop_dir();
    let world = World::new(Networks::Torrent).await;
    // The owner announces on the hub, which the member does not hear: the
    // member learns the link from js-waku alone.
    let mut owner = world.owner().await;
    let mut owner_events = owner.node.events();
    owner.write_weeks(2).await;
    owner.start_archiving().await;
    let mut seen = Vec::new();
    let (link, clock) = crate::fixture::wait_for(&mut owner_events, &mut seen, &mut |e| match e {
        NodeEvent::Announced { link, clock, .. } => Some((link.clone(), *clock)),
        _ => None,
    })
    .await;
    let amm = sign_announcement(&owner.key, LinkKind::TORRENT, clock, &link).unwrap();

    let mut config = world.member_config("member", owner.node.torrent_listen_addr());
    config.waku.enabled = true;
    let node = Node::start(config).await.unwrap();
    let events = node.events();
    node.join(owner.community(), None).await.unwrap();
    let mut member = Member { node, events };
    // js-waku in Node speaks websocket only.
    let ws = member
        .node
        .waku()
        .unwrap()
        .listen_addrs()
        .iter()
        .map(ToString::to_string)
        .find(|a| a.contains("/ws/"))
        .unwrap();

    let channel = Channel::member_update(&owner.community());
    let mut child = Command::new("node")
        .current_dir(&dir)
        .args(["--import", "./polyfill.mjs", "waku-peer.mjs", "dial", &ws])
        .env("CONTENT_TOPIC", &channel.content_topic)
        .env("CHAT_ID", &channel.chat_id)
        .env("AMM_HEX", hex(&amm))
        .env("ANNOUNCE_AT_ONCE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is on the PATH");
    let (tx, lines) = mpsc::unbounded_channel();
    for pipe in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let mut js = JsPeer {
        _stdin: child.stdin.take(),
        child,
        lines,
        seen: Vec::new(),
    };
    js.expect("SENT").await;

    let mut seen = Vec::new();
    let accepted = member
        .wait_for(&mut seen, |e| match e {
            NodeEvent::AnnouncementAccepted { link, .. } => Some(link.clone()),
            _ => None,
        })
        .await;
    assert_eq!(accepted, link);
    let (fetched, _, _, _) = member.finished().await;
    assert_eq!(fetched, 2);
    assert_same_history(&owner, &member.node).await;
    drop(js);
    member.node.stop().await;
    owner.node.stop().await;
}
