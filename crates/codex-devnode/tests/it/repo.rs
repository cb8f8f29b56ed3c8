//! The repository as a real node's repo store keeps it: blocks shared by
//! datasets are reference-counted across deletes and restarts, a corrupt
//! block file is rewritten rather than trusted, and the quota is enforced.

use std::path::Path;

use codex_devnode::{Config, Devnode, DevnodeHandle};

use crate::TestNode;

const BLOCK: usize = 65_536;

/// `len` bytes that differ from block to block and from `seed` to `seed`.
fn bytes(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed << 20).wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

/// Two datasets whose first 64 KiB block is the same and whose tails differ.
fn sharing_first_block() -> (Vec<u8>, Vec<u8>) {
    let common = bytes(BLOCK, 1);
    let mut a = common.clone();
    a.extend(bytes(10_000, 2));
    let mut b = common;
    b.extend(bytes(BLOCK + 5_000, 3));
    (a, b)
}

async fn upload(http: &reqwest::Client, node: &DevnodeHandle, body: Vec<u8>) -> String {
    let r = http
        .post(format!("{}/data", node.api_url()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

async fn download(http: &reqwest::Client, node: &DevnodeHandle, path: &str) -> (u16, Vec<u8>) {
    let r = http
        .get(format!("{}{path}", node.api_url()))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

async fn delete(http: &reqwest::Client, node: &DevnodeHandle, cid: &str) {
    let r = http
        .delete(format!("{}/data/{cid}", node.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

async fn space(http: &reqwest::Client, node: &DevnodeHandle) -> serde_json::Value {
    http.get(format!("{}/space", node.api_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn stop(node: DevnodeHandle) {
    tokio::time::timeout(std::time::Duration::from_secs(10), node.shutdown())
        .await
        .expect("devnode shuts down in time")
        .expect("devnode shuts down cleanly");
}

/// Asserts that `cid` downloads as `expected`, both from the local store
/// and through `/network/stream`.
async fn assert_downloads(
    http: &reqwest::Client,
    node: &DevnodeHandle,
    cid: &str,
    expected: &[u8],
) {
    for path in [
        format!("/data/{cid}"),
        format!("/data/{cid}/network/stream"),
    ] {
        let (status, got) = download(http, node, &path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            got == expected,
            "{path}: {} bytes, not the dataset",
            got.len()
        );
    }
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[tokio::test]
async fn deleting_a_dataset_keeps_the_blocks_another_dataset_shares() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new(dir.path());
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let (a, b) = sharing_first_block();

    let node = Devnode::spawn(config.clone()).await.unwrap();
    let cid_a = upload(&http, &node, a.clone()).await;
    let cid_b = upload(&http, &node, b.clone()).await;
    assert_eq!(
        space(&http, &node).await["totalBlocks"],
        1 + 1 + 2 + 2,
        "one shared block, A's tail, B's other two, two manifests"
    );
    delete(&http, &node, &cid_a).await;
    assert_eq!(
        download(&http, &node, &format!("/data/{cid_a}")).await.0,
        404
    );
    assert_downloads(&http, &node, &cid_b, &b).await;
    assert_eq!(space(&http, &node).await["totalBlocks"], 3 + 1);

    // The counts survive a restart: A again, restart, delete A again.
    let cid_a_again = upload(&http, &node, a.clone()).await;
    assert_eq!(cid_a_again, cid_a);
    stop(node).await;
    let node = Devnode::spawn(config.clone()).await.unwrap();
    assert_downloads(&http, &node, &cid_b, &b).await;
    delete(&http, &node, &cid_a).await;
    assert_downloads(&http, &node, &cid_b, &b).await;
    stop(node).await;

    let node = Devnode::spawn(config).await.unwrap();
    assert_downloads(&http, &node, &cid_b, &b).await;
    // Deleting a block a dataset still uses is a no-op, as on the node.
    let first_block = codex_devnode::format::cid::cid_of_digest(
        codex_devnode::format::cid::BLOCK_CODEC,
        &codex_devnode::format::tree::block_digest(&b[..BLOCK]),
    );
    delete(
        &http,
        &node,
        &codex_devnode::format::cid::cid_text(&first_block),
    )
    .await;
    assert_downloads(&http, &node, &cid_b, &b).await;
    delete(&http, &node, &cid_b).await;
    let space = space(&http, &node).await;
    assert_eq!(space["totalBlocks"], 0);
    assert_eq!(space["quotaUsedBytes"], 0);
    assert_eq!(
        files_in(&dir.path().join("blocks")),
        0,
        "nothing left on disk"
    );
    assert_eq!(files_in(&dir.path().join("trees")), 0);
    stop(node).await;
}

#[tokio::test]
async fn datasets_sharing_a_tree_survive_each_others_delete() {
    let t = TestNode::start().await;
    let data = bytes(100_000, 7);
    let post = |name: &'static str| {
        t.http
            .post(t.url("/data"))
            .header(
                reqwest::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            )
            .body(data.clone())
            .send()
    };
    let first = post("a.bin").await.unwrap().text().await.unwrap();
    let second = post("b.bin").await.unwrap().text().await.unwrap();
    assert_ne!(first, second, "the filename is part of the manifest");
    delete(&t.http, &t.node, &first).await;
    assert_downloads(&t.http, &t.node, &second, &data).await;
    t.stop().await;
}

/// Overwrites every data block file under `dir` with bytes of the same
/// length that are not the block: what a bad disk or a stray write leaves.
fn corrupt_data_blocks(dir: &Path) -> usize {
    let mut corrupted = 0;
    for entry in std::fs::read_dir(dir.join("blocks")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let cid = codex_devnode::format::cid::parse_cid(&name).unwrap();
        if cid.codec() == codex_devnode::format::cid::BLOCK_CODEC {
            let len = std::fs::metadata(&path).unwrap().len() as usize;
            std::fs::write(&path, vec![0xa5; len]).unwrap();
            corrupted += 1;
        }
    }
    corrupted
}

#[tokio::test]
async fn a_corrupt_block_file_is_rewritten_not_trusted() {
    let t = TestNode::start().await;
    let data = bytes(3 * BLOCK + 123, 9);
    let cid = upload(&t.http, &t.node, data.clone()).await;
    assert_eq!(corrupt_data_blocks(t.dir.path()), 4);
    let (_, bad) = download(&t.http, &t.node, &format!("/data/{cid}")).await;
    assert!(
        bad != data,
        "the corruption is visible before the re-upload"
    );

    assert_eq!(upload(&t.http, &t.node, data.clone()).await, cid);
    assert_downloads(&t.http, &t.node, &cid, &data).await;

    // A truncated manifest block is rewritten too.
    let manifest = t.dir.path().join("blocks").join(&cid);
    std::fs::write(&manifest, b"x").unwrap();
    assert_eq!(upload(&t.http, &t.node, data.clone()).await, cid);
    assert_downloads(&t.http, &t.node, &cid, &data).await;
    let leftovers: Vec<_> = std::fs::read_dir(t.dir.path().join("blocks"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files: {leftovers:?}");
    t.stop().await;
}

#[tokio::test]
async fn uploads_over_the_quota_are_refused_and_store_nothing() {
    // Room for three padded blocks and two manifests (under 64 bytes each).
    let quota = 3 * BLOCK as u64 + 2 * 64;
    let t = TestNode::with(|c| c.quota_max_bytes = quota).await;
    let first = bytes(BLOCK + 1, 11);
    let cid = upload(&t.http, &t.node, first.clone()).await;
    let before = space(&t.http, &t.node).await;
    assert_eq!(before["quotaMaxBytes"], quota);
    assert!(before["quotaUsedBytes"].as_u64().unwrap() > 2 * BLOCK as u64);

    let r = t
        .http
        .post(t.url("/data"))
        .body(bytes(2 * BLOCK, 12))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500, "the node's answer to a failed store");
    assert_eq!(r.headers()[reqwest::header::CONTENT_TYPE], "text/html");
    let text = r.text().await.unwrap();
    assert!(
        text.starts_with("Unable to store block z"),
        "the node's message: {text}"
    );
    assert_eq!(
        space(&t.http, &t.node).await,
        before,
        "nothing of the refused upload stays"
    );
    assert_downloads(&t.http, &t.node, &cid, &first).await;

    // Bytes already stored cost no quota: the same upload again is fine.
    assert_eq!(upload(&t.http, &t.node, first.clone()).await, cid);
    // Deleting frees the room.
    delete(&t.http, &t.node, &cid).await;
    let second = bytes(2 * BLOCK, 12);
    let cid = upload(&t.http, &t.node, second.clone()).await;
    assert_downloads(&t.http, &t.node, &cid, &second).await;
    t.stop().await;
}

#[tokio::test]
async fn a_fetch_over_the_quota_stores_nothing() {
    let owner = TestNode::start().await;
    let data = bytes(4 * BLOCK, 13);
    let cid = upload(&owner.http, &owner.node, data.clone()).await;
    let member = TestNode::with(|c| {
        c.peers = vec![owner.node.url()];
        c.quota_max_bytes = 2 * BLOCK as u64;
    })
    .await;
    let r = member
        .http
        .get(member.url(&format!("/data/{cid}/network/stream")))
        .send()
        .await
        .unwrap();
    let got = r.bytes().await.map(|b| b.len()).unwrap_or(0);
    assert!(got < data.len(), "the dataset does not fit");
    let space = space(&member.http, &member.node).await;
    assert!(
        space["quotaUsedBytes"].as_u64().unwrap() <= 2 * BLOCK as u64,
        "{space}"
    );
    assert_eq!(space["totalBlocks"], 1, "the manifest only");
    member.stop().await;
    owner.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_racing_deletes_never_lose_a_shared_block() {
    let t = TestNode::start().await;
    let (a, b) = sharing_first_block();
    let cid_b = upload(&t.http, &t.node, b.clone()).await;
    for _ in 0..20 {
        let (cid_a, (), cid_b_again) = tokio::join!(
            upload(&t.http, &t.node, a.clone()),
            async {
                // The dataset A of the last round, if any, goes while A and
                // B are uploaded again.
                let list: serde_json::Value = t
                    .http
                    .get(t.url("/data"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                for item in list["content"].as_array().unwrap() {
                    let cid = item["cid"].as_str().unwrap();
                    if cid != cid_b {
                        delete(&t.http, &t.node, cid).await;
                    }
                }
            },
            upload(&t.http, &t.node, b.clone()),
        );
        assert_eq!(cid_b_again, cid_b);
        assert_downloads(&t.http, &t.node, &cid_b, &b).await;
        let (status, got) = download(&t.http, &t.node, &format!("/data/{cid_a}")).await;
        assert!(
            status == 404 || got == a,
            "A is either gone or whole, never missing a block: {status}"
        );
    }
    for cid in [upload(&t.http, &t.node, a).await, cid_b] {
        delete(&t.http, &t.node, &cid).await;
    }
    assert_eq!(space(&t.http, &t.node).await["totalBlocks"], 0);
    assert_eq!(files_in(&t.dir.path().join("blocks")), 0);
    t.stop().await;
}

#[tokio::test]
async fn a_restart_after_a_crash_mid_upload_counts_only_what_a_manifest_reaches() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new(dir.path());
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let (_, b) = sharing_first_block();
    let node = Devnode::spawn(config.clone()).await.unwrap();
    let cid_b = upload(&http, &node, b.clone()).await;
    let clean = space(&http, &node).await;
    stop(node).await;

    // What a crash between the writes of an upload leaves: a block and a
    // leaf list no manifest names, and a half-written temporary file.
    let stray = bytes(BLOCK, 99);
    let digest = codex_devnode::format::tree::block_digest(&stray);
    let name = codex_devnode::format::cid::cid_text(&codex_devnode::format::cid::cid_of_digest(
        codex_devnode::format::cid::BLOCK_CODEC,
        &digest,
    ));
    std::fs::write(dir.path().join("blocks").join(&name), &stray).unwrap();
    let tree = codex_devnode::format::tree::tree_cid(&[digest]).unwrap();
    let tree = codex_devnode::format::cid::cid_text(&tree);
    std::fs::write(dir.path().join("trees").join(&tree), digest).unwrap();
    std::fs::write(
        dir.path().join("blocks").join(format!("{name}.7.tmp")),
        b"torn",
    )
    .unwrap();

    let node = Devnode::spawn(config.clone()).await.unwrap();
    assert_eq!(
        space(&http, &node).await,
        clean,
        "the leftovers are not counted"
    );
    assert!(!dir.path().join("blocks").join(&name).exists());
    assert!(!dir.path().join("trees").join(&tree).exists());
    assert_eq!(
        files_in(&dir.path().join("blocks")),
        4,
        "B's three blocks and manifest"
    );
    assert_downloads(&http, &node, &cid_b, &b).await;
    delete(&http, &node, &cid_b).await;
    assert_eq!(files_in(&dir.path().join("blocks")), 0);
    stop(node).await;
}
