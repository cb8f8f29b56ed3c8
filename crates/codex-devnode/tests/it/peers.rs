//! "The network": a devnode fetching from peer devnodes, verifying first.

use std::time::Duration;

use crate::TestNode;

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect()
}

async fn json(t: &TestNode, path: &str) -> serde_json::Value {
    t.http
        .get(t.url(path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_member_fetches_through_its_peer() {
    let owner = TestNode::start().await;
    let member = TestNode::with(|c| c.peers = vec![owner.node.url()]).await;
    let bytes = data(150_000, 1);
    let cid = owner
        .http
        .post(owner.url("/data"))
        .body(bytes.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert_eq!(
        json(&member, &format!("/data/{cid}/exists")).await[&cid],
        false
    );
    let item = json(&member, &format!("/data/{cid}/network/manifest")).await;
    assert_eq!(item["cid"], cid.as_str());
    assert_eq!(
        json(&member, &format!("/data/{cid}/exists")).await[&cid],
        true,
        "the manifest is now local"
    );
    let local = member
        .http
        .get(member.url(&format!("/data/{cid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), 404, "the blocks are not");

    let streamed = member
        .http
        .get(member.url(&format!("/data/{cid}/network/stream")))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), 200);
    assert_eq!(streamed.bytes().await.unwrap(), bytes);
    let local = member
        .http
        .get(member.url(&format!("/data/{cid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        local.bytes().await.unwrap(),
        bytes,
        "a streamed dataset is kept"
    );
    member.stop().await;
    owner.stop().await;
}

#[tokio::test]
async fn background_fetch_returns_at_once_and_completes() {
    let owner = TestNode::start().await;
    let member = TestNode::with(|c| c.peers = vec![owner.node.api_url()]).await;
    let bytes = data(300_000, 2);
    let cid = owner
        .http
        .post(owner.url("/data"))
        .body(bytes.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = member
        .http
        .post(member.url(&format!("/data/{cid}/network")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let item: serde_json::Value = r.json().await.unwrap();
    assert_eq!(item["manifest"]["datasetSize"], 300_000);
    assert!(item["downloadId"].is_u64(), "2026 nodes add a download ID");
    let done = async {
        loop {
            let r = member
                .http
                .get(member.url(&format!("/data/{cid}")))
                .send()
                .await
                .unwrap();
            if r.status() == 200 {
                return r.bytes().await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let got = tokio::time::timeout(Duration::from_secs(10), done)
        .await
        .expect("background fetch completes");
    assert_eq!(got, bytes);
    member.stop().await;
    owner.stop().await;
}

#[tokio::test]
async fn a_peer_serving_wrong_bytes_is_rejected() {
    let liar = TestNode::start().await;
    let member = TestNode::with(|c| c.peers = vec![liar.node.url()]).await;
    let bytes = data(70_000, 3);
    let cid = liar
        .http
        .post(liar.url("/data"))
        .body(bytes.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    liar.node.set_corrupt_data(true);

    let r = member
        .http
        .get(member.url(&format!("/data/{cid}/network/stream")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.text().await.unwrap().contains("tree root"),
        "the reason is the tree root"
    );
    let space = json(&member, "/space").await;
    assert_eq!(
        space["totalBlocks"], 1,
        "only the (verified) manifest was stored, no data block"
    );

    liar.node.set_corrupt_data(false);
    let r = member
        .http
        .get(member.url(&format!("/data/{cid}/network/stream")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap(), bytes);
    member.stop().await;
    liar.stop().await;
}

#[tokio::test]
async fn a_peer_that_is_down_means_not_found() {
    let gone = TestNode::start().await;
    let url = gone.node.url();
    let cid = gone.upload(b"soon unreachable").await;
    gone.stop().await;
    let member = TestNode::with(|c| c.peers = vec![url]).await;
    let start = std::time::Instant::now();
    let r = member
        .http
        .get(member.url(&format!("/data/{cid}/network/manifest")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "a refused connection fails fast"
    );
    member.stop().await;
}

#[tokio::test]
async fn mutual_peers_do_not_loop() {
    let a = TestNode::start().await;
    let b = TestNode::with(|c| c.peers = vec![a.node.url()]).await;
    a.node.add_peer(&b.node.url());
    let foreign = "zDvZRwzmAkhzDRPH5EW242gJBNZ2T7aoH2v1fVH66FxXL4kSbvyM";
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        a.http
            .get(a.url(&format!("/data/{foreign}/network/stream")))
            .send(),
    )
    .await
    .expect("answers without looping")
    .unwrap();
    assert_eq!(r.status(), 404);
    b.stop().await;
    a.stop().await;
}
