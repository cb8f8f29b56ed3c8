//! Interop with js-waku: a real js-waku relay node in Node talks to a
//! `WakuNode`, each side dialling in turn, and both speak status-go's
//! announcement wire format (wire spec A.1–A.9): our owner's announcement is
//! decrypted by `@waku/message-encryption`'s symmetric decoder, and the
//! announcement js-waku builds with its symmetric encoder is accepted by our
//! member's `Dispatcher`.
//!
//! Needs `node` (≥ 20) and `npm` on the PATH. The js-waku packages
//! (`@waku/sdk@0.0.27` + `@waku/relay@0.0.14`, the newest relay-capable pair
//! Node 20 can run, a protons-runtime pin, and
//! `@waku/message-encryption@0.0.38` for status-go's 26/WAKU2-PAYLOAD
//! encryption; pinned in `interop-packages.txt`) live in
//! `<workspace>/target/interop-waku`. When one of them
//! is missing there, the test runs `npm install --ignore-scripts --prefix
//! target/interop-waku …` itself, which needs the npm registry once (about
//! 15 s). The peer script and the Node 20 polyfill (`Promise.withResolvers`)
//! are copied next to those modules so Node resolves `@waku/*` from there.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use archive_dispatch::{
    Channel, CommunityId, CommunityKey, CommunityLookup, CommunityView, Dispatcher, Event,
    LinkKind, MAX_WIRE_SIZE, NodeIdentity, Transport, decode_announcement, encode_announcement,
    open_announcement, sign_announcement, wire::OsEntropy,
};
use archive_index::TimeRange;
use archive_proto::{Message as _, encryption::ProtocolMessage};
use archive_store::Store;
use tokio::{sync::mpsc, time::timeout};
use transport_waku::{Config, Ingestion, Multiaddr, WakuNode, v1_topic};

/// The pinned npm packages, one per line with why (`interop-packages.txt`,
/// shared with the end-to-end test that announces through js-waku).
const PACKAGE_LIST: &str = include_str!("interop-packages.txt");
const PEER_SCRIPT: &str = include_str!("waku-peer.mjs");
const POLYFILL: &str = include_str!("polyfill.mjs");
/// The whole exchange, js-waku start-up included.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(90);
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

/// Both tests share one install; a second `npm install` into the same
/// prefix at the same time would corrupt it.
static INSTALL: Mutex<()> = Mutex::new(());

/// The pinned `name@version`s: each line's first word, `#` lines skipped.
fn packages() -> Vec<&'static str> {
    PACKAGE_LIST
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_whitespace().next())
        .collect()
}

/// Whether every pinned package is installed in `dir` at its version.
fn installed(dir: &Path) -> bool {
    packages().iter().all(|pinned| {
        let (name, version) = pinned.rsplit_once('@').unwrap();
        std::fs::read_to_string(dir.join("node_modules").join(name).join("package.json"))
            .is_ok_and(|manifest| manifest.contains(&format!("\"version\": \"{version}\"")))
    })
}

/// The directory holding js-waku's modules and the scripts, installing the
/// modules first if they are missing.
fn interop_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/interop-waku");
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if !installed(&dir) {
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
                panic!(
                    "npm install of {:?} took over {INSTALL_TIMEOUT:?}",
                    packages()
                );
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

/// The js-waku peer process; killed (and reaped) on drop, whatever happened.
struct JsPeer {
    child: Child,
    /// Held so the script's stdin stays open; closing it asks for a clean stop.
    _stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl JsPeer {
    /// Starts the peer for `community`'s `-memberUpdate` chat; the
    /// announcement it sends is `amm`, a signed `ApplicationMetadataMessage`.
    fn spawn(dir: &Path, community: &CommunityId, amm: &[u8], args: &[String]) -> JsPeer {
        let channel = Channel::member_update(community);
        let mut child = Command::new("node")
            .current_dir(dir)
            .args(["--import", "./polyfill.mjs", "waku-peer.mjs"])
            .args(args)
            .env("CONTENT_TOPIC", &channel.content_topic)
            .env("CHAT_ID", &channel.chat_id)
            .env("AMM_HEX", hex::encode(amm))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node is on the PATH");
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        for (prefix, pipe) in [
            ("", Box::new(stdout) as Box<dyn std::io::Read + Send>),
            ("stderr: ", Box::new(stderr)),
        ] {
            let tx = tx.clone();
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let _ = tx.send(format!("{prefix}{line}"));
                }
            });
        }
        JsPeer {
            _stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The rest of the first line starting with `prefix`.
    async fn expect(&mut self, prefix: &str) -> String {
        loop {
            match self.lines.recv().await {
                Some(line) => {
                    self.seen.push(line.clone());
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.to_owned();
                    }
                }
                None => panic!(
                    "js-waku peer exited before {prefix:?}; output:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for JsPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A member that joined one community.
struct Joined(CommunityId);

#[async_trait::async_trait]
impl CommunityLookup for Joined {
    async fn view(&self, community: CommunityId, _kind: LinkKind) -> Option<CommunityView> {
        (community == self.0).then(|| CommunityView {
            joined: true,
            ..CommunityView::default()
        })
    }
}

const OWNER_LINK: &str = "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=archive";
const JS_LINK: &str = "zDvZRwzmAbCdEf0123456789";

/// One community, and what the js-waku peer announces for it: an index CID
/// signed with the community key. The JS side gets only these signed bytes;
/// the `ProtocolMessage`, the frame, its signature and the encryption are
/// its own (wire spec A.3–A.6).
fn community() -> (CommunityKey, Vec<u8>) {
    let key = CommunityKey::generate();
    let amm = sign_announcement(&key, LinkKind::CODEX, 1_700_000_000_123, JS_LINK).unwrap();
    (key, amm)
}

/// Our owner's announcement reaches js-waku, which decrypts it with the
/// symmetric decoder under its own PBKDF2 chat key and names it by the same
/// hash; js-waku's own announcement reaches our member's `Dispatcher`, which
/// accepts it, and is ingested into our store with status-go's mapping.
async fn exchange(rust: Arc<WakuNode>, js: &mut JsPeer, key: &CommunityKey) {
    let community = key.community_id();
    let channel = Channel::member_update(&community);
    let js_signer = js.expect("SIGNER ").await;
    js.expect("READY").await;
    rust.wait_for_relay_peers(1, Duration::from_secs(30))
        .await
        .unwrap();
    let member = Dispatcher::new(
        rust.clone() as Arc<dyn Transport>,
        archive_dispatch::Config {
            quiet_period: Duration::from_millis(200),
            ..archive_dispatch::Config::default()
        },
    );
    let mut listener = member
        .listen(&[community], Arc::new(Joined(community)))
        .await
        .unwrap();
    let store = Store::open_in_memory().await.unwrap();
    let ingestion = Ingestion::start(
        &rust,
        store.clone(),
        std::slice::from_ref(&channel.content_topic),
    )
    .await
    .unwrap();

    // (b) our owner's announcement, decrypted in JavaScript.
    let owner = NodeIdentity::generate();
    let outbound = encode_announcement(
        key,
        &owner,
        OWNER_LINK,
        1_700_000_000_000,
        odd_now_ns(),
        &mut OsEntropy,
    )
    .unwrap();
    let hash = rust.publish_announcement(&outbound).await.unwrap();
    let got = js.expect("GOT ").await;
    let fields: Vec<&str> = got.split(' ').collect();
    let [js_hash, frame_signer, version, timestamp, data] = fields[..] else {
        panic!("unexpected GOT line {got:?}");
    };
    assert_eq!(
        js_hash,
        hex::encode(hash),
        "js-waku names it by the same hash"
    );
    assert_eq!(
        frame_signer,
        hex::encode(owner.public_key().0),
        "frame signer is our node key"
    );
    assert_eq!(version, "1");
    assert_eq!(
        timestamp,
        outbound.timestamp_ns.to_string(),
        "nanoseconds, kept whole"
    );
    let wrapped = ProtocolMessage::decode(hex::decode(data).unwrap().as_slice()).unwrap();
    assert_eq!(wrapped.installation_id, owner.installation_id());
    let inner = open_announcement(&wrapped.public_message, MAX_WIRE_SIZE).unwrap();
    assert_eq!(
        inner.community, community,
        "the inner message verifies to the community key"
    );
    assert_eq!(
        (inner.kind, inner.link.as_str()),
        (LinkKind::TORRENT, OWNER_LINK)
    );

    // (a) js-waku's announcement, accepted by our member.
    js.expect("SENT").await;
    let event = listener
        .next()
        .await
        .expect("an event from js-waku's announcement");
    let Event::Accepted(accepted) = event else {
        panic!("js-waku's announcement was not accepted: {event:?}");
    };
    assert_eq!(accepted.community, community);
    assert_eq!(
        (accepted.kind, accepted.link.as_str()),
        (LinkKind::CODEX, JS_LINK)
    );
    assert_eq!(accepted.clock, 1_700_000_000_123);

    // The same message, as ingested: every layer is js-waku's.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while ingestion.stored() < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "js-waku's message was not stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let topic = v1_topic(&channel.content_topic).unwrap();
    let stored = store
        .with(move |db| {
            db.messages(
                &[topic],
                TimeRange {
                    from: 0,
                    to: u64::MAX,
                },
            )
        })
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].topic, topic);
    let opened =
        decode_announcement(&community, &channel.content_topic, &stored[0].payload).unwrap();
    assert_eq!(
        hex::encode(opened.frame_signer.0),
        js_signer,
        "framed and signed by js-waku"
    );
    assert_eq!(opened.installation_id, "js-waku-interop");
    drop(listener);
}

fn odd_now_ns() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    // Deliberately not a whole millisecond: the hash must use nanoseconds.
    i64::try_from(since_epoch.as_nanos()).unwrap() | 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_go_announcements_cross_with_js_waku_when_rust_dials() {
    let dir = interop_dir();
    let (key, amm) = community();
    let mut js = JsPeer::spawn(&dir, &key.community_id(), &amm, &["listen".to_owned()]);
    timeout(EXCHANGE_TIMEOUT, async {
        let addr: Multiaddr = js.expect("ADDR ").await.parse().unwrap();
        let rust = Arc::new(
            WakuNode::start(Config {
                bootstrap: vec![addr],
                ..Config::default()
            })
            .await
            .unwrap(),
        );
        exchange(rust.clone(), &mut js, &key).await;
        rust.shutdown().await;
    })
    .await
    .unwrap_or_else(|_| panic!("timed out; js-waku said:\n{}", js.seen.join("\n")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_go_announcements_cross_with_js_waku_when_js_dials() {
    let dir = interop_dir();
    let (key, amm) = community();
    let rust = Arc::new(WakuNode::start(Config::default()).await.unwrap());
    // js-waku in Node speaks websocket only.
    let ws = rust
        .listen_addrs()
        .iter()
        .map(ToString::to_string)
        .find(|a| a.contains("/ws/"))
        .unwrap();
    let mut js = JsPeer::spawn(&dir, &key.community_id(), &amm, &["dial".to_owned(), ws]);
    timeout(EXCHANGE_TIMEOUT, exchange(rust.clone(), &mut js, &key))
        .await
        .unwrap_or_else(|_| panic!("timed out; js-waku said:\n{}", js.seen.join("\n")));
    rust.shutdown().await;
}
