//! Interop with js-waku: a real js-waku relay node in Node talks to a
//! `WakuNode`, each side dialling in turn.
//!
//! Needs `node` (≥ 20) and `npm` on the PATH. The js-waku packages
//! (`@waku/sdk@0.0.27` + `@waku/relay@0.0.14`, the newest relay-capable pair
//! Node 20 can run, plus a protons-runtime pin, see [`PROTONS`]) live in
//! `<workspace>/target/interop-waku`. When `node_modules/@waku/sdk` is
//! missing there, the test runs `npm install --ignore-scripts --prefix
//! target/interop-waku …` itself, which needs the npm registry once (about
//! 15 s). The peer script and the Node 20 polyfill (`Promise.withResolvers`)
//! are copied next to those modules so Node resolves `@waku/*` from there.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::Mutex,
    thread,
    time::{Duration, Instant},
};

use archive_dispatch::Transport;
use archive_index::TimeRange;
use archive_store::Store;
use futures::StreamExt;
use tokio::{sync::mpsc, time::timeout};
use transport_waku::{Ingestion, Multiaddr, WakuConfig, WakuNode, new_message, v1_topic};

const SDK: &str = "@waku/sdk@0.0.27";
const RELAY: &str = "@waku/relay@0.0.14";
/// `@chainsafe/libp2p-gossipsub` pins protons-runtime 5.4.0 and npm hoists
/// it, but `@waku/proto` 0.0.8 imports `MaxLengthError`, new in 5.5.0. Asking
/// for 5.6.0 at the top leaves gossipsub its own nested 5.4.0.
const PROTONS: &str = "protons-runtime@5.6.0";
const PEER_SCRIPT: &str = include_str!("waku-peer.mjs");
const POLYFILL: &str = include_str!("polyfill.mjs");
/// The whole exchange, js-waku start-up included.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(90);
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

/// Both tests share one install; a second `npm install` into the same
/// prefix at the same time would corrupt it.
static INSTALL: Mutex<()> = Mutex::new(());

/// The directory holding js-waku's modules and the scripts, installing the
/// modules first if they are missing.
fn interop_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/interop-waku");
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if !dir.join("node_modules/@waku/sdk").is_dir() {
        std::fs::create_dir_all(&dir).unwrap();
        let mut npm = Command::new("npm")
            .args(["install", "--ignore-scripts", "--no-audit", "--no-fund"])
            .arg("--prefix")
            .arg(&dir)
            .args([SDK, RELAY, PROTONS])
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
                panic!("npm install of {SDK} {RELAY} took over {INSTALL_TIMEOUT:?}");
            }
            thread::sleep(Duration::from_millis(200));
        };
        assert!(status.success(), "npm install of {SDK} {RELAY}: {status}");
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
    fn spawn(dir: &Path, content_topic: &str, args: &[String]) -> JsPeer {
        let mut child = Command::new("node")
            .current_dir(dir)
            .args(["--import", "./polyfill.mjs", "waku-peer.mjs"])
            .args(args)
            .env("CONTENT_TOPIC", content_topic)
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

/// Rust publishes, js-waku receives it (and names it by the same hash), and
/// js-waku's answer reaches Rust through the `Transport` subscription.
async fn exchange(rust: &WakuNode, js: &mut JsPeer, content_topic: &str) {
    js.expect("READY").await;
    rust.wait_for_relay_peers(1, Duration::from_secs(30))
        .await
        .unwrap();
    let mut inbox = rust.subscribe(&[content_topic.to_owned()]).await.unwrap();
    let store = Store::open_in_memory().await.unwrap();
    let ingestion = Ingestion::start(rust, store.clone(), &[content_topic.to_owned()])
        .await
        .unwrap();

    let message = new_message(content_topic, &b"hello from rust"[..], odd_now_ns());
    let hash = rust.publish_message(&message).await.unwrap();
    let got = js.expect("GOT ").await;
    assert_eq!(got, format!("{} hello from rust", hex::encode(hash)));

    let reply = inbox.next().await.expect("a reply from js-waku");
    assert_eq!(reply.content_topic, content_topic);
    assert_eq!(reply.payload, "pong: hello from rust");

    // js-waku's message on the community topic is ingested into our store with
    // status-go's mapping.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while ingestion.stored() < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "js-waku's message was not stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let topic = v1_topic(content_topic).unwrap();
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
    assert_eq!(stored[0].payload, b"pong: hello from rust");
    assert_eq!(stored[0].topic, topic);
}

fn odd_now_ns() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    // Deliberately not a whole millisecond: the hash must use nanoseconds.
    i64::try_from(since_epoch.as_nanos()).unwrap() | 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_dials_js_waku() {
    let dir = interop_dir();
    let topic = "/waku/1/0x0a0b0c0d/rfc26";
    let mut js = JsPeer::spawn(&dir, topic, &["listen".to_owned()]);
    timeout(EXCHANGE_TIMEOUT, async {
        let addr: Multiaddr = js.expect("ADDR ").await.parse().unwrap();
        let rust = WakuNode::start(WakuConfig {
            bootstrap: vec![addr],
            ..WakuConfig::default()
        })
        .await
        .unwrap();
        exchange(&rust, &mut js, topic).await;
        rust.shutdown().await;
    })
    .await
    .unwrap_or_else(|_| panic!("timed out; js-waku said:\n{}", js.seen.join("\n")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_waku_dials_rust() {
    let dir = interop_dir();
    let topic = "/waku/1/0x01020304/rfc26";
    let rust = WakuNode::start(WakuConfig::default()).await.unwrap();
    // js-waku in Node speaks websocket only.
    let ws = rust
        .listen_addrs()
        .iter()
        .map(ToString::to_string)
        .find(|a| a.contains("/ws/"))
        .unwrap();
    let mut js = JsPeer::spawn(&dir, topic, &["dial".to_owned(), ws]);
    timeout(EXCHANGE_TIMEOUT, exchange(&rust, &mut js, topic))
        .await
        .unwrap_or_else(|_| panic!("timed out; js-waku said:\n{}", js.seen.join("\n")));
    rust.shutdown().await;
}
