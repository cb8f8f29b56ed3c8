//! "The network": a devnode fetching from peer devnodes, verifying first.

use std::time::Duration;

use futures::StreamExt;

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

/// Reads a response body to its end or its first error: the bytes that
/// came, and whether it ended cleanly.
async fn drain(response: reqwest::Response) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => got.extend_from_slice(&chunk),
            Err(_) => return (got, false),
        }
    }
    (got, true)
}

/// Waits until the node's staging area is empty: staged blocks are deleted
/// in the background once their fetch is dropped.
async fn staging_cleared(t: &TestNode) {
    let staging = t.dir.path().join("staging");
    let cleared = async {
        while staging.read_dir().unwrap().next().is_some() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), cleared)
        .await
        .expect("the unverified blocks are deleted");
}

async fn stream(t: &TestNode, cid: &str) -> reqwest::Response {
    t.http
        .get(t.url(&format!("/data/{cid}/network/stream")))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_peer_serving_wrong_bytes_is_cut_off_and_nothing_is_stored() {
    let liar = TestNode::start().await;
    let member = TestNode::with(|c| c.peers = vec![liar.node.url()]).await;
    let bytes = data(200_000, 3);
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

    let r = stream(&member, &cid).await;
    assert_eq!(r.status(), 200, "headers go out before the data is in");
    assert_eq!(r.content_length(), Some(200_000));
    let (got, clean) = drain(r).await;
    assert!(!clean, "the body is cut off");
    assert!(
        got.len() < bytes.len(),
        "the last block is held back until the tree root matches"
    );
    let space = json(&member, "/space").await;
    assert_eq!(
        space["totalBlocks"], 1,
        "only the (verified) manifest was stored, no data block"
    );
    staging_cleared(&member).await;

    liar.node.set_corrupt_data(false);
    let (got, clean) = drain(stream(&member, &cid).await).await;
    assert!(clean);
    assert_eq!(got, bytes);
    member.stop().await;
    liar.stop().await;
}

#[tokio::test]
async fn a_lying_peer_is_skipped_by_fetches_and_asked_last_by_streams() {
    let liar = TestNode::start().await;
    let honest = TestNode::start().await;
    let bytes = data(150_000, 4);
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
    let r = honest
        .http
        .post(honest.url("/data"))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), cid, "same bytes, same CID");
    liar.node.set_corrupt_data(true);
    let peers = vec![liar.node.url(), honest.node.url()];

    let streaming = TestNode::with(|c| c.peers = peers.clone()).await;
    let (_, clean) = drain(stream(&streaming, &cid).await).await;
    assert!(!clean, "the first peer lied");
    let (got, clean) = drain(stream(&streaming, &cid).await).await;
    assert!(clean, "the liar is asked last now");
    assert_eq!(got, bytes);

    let fetching = TestNode::with(|c| c.peers = peers).await;
    let r = fetching
        .http
        .post(fetching.url(&format!("/data/{cid}/network")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let done = async {
        loop {
            let r = fetching
                .http
                .get(fetching.url(&format!("/data/{cid}")))
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
        .expect("the background fetch moves on to the honest peer");
    assert_eq!(got, bytes);
    for node in [fetching, streaming, honest, liar] {
        node.stop().await;
    }
}

#[tokio::test]
async fn a_client_leaving_mid_stream_leaves_nothing_behind() {
    let owner = TestNode::start().await;
    let member = TestNode::with(|c| c.peers = vec![owner.node.url()]).await;
    // More than loopback socket buffers hold, so the member is still
    // fetching when the client goes; no two blocks alike.
    let bytes: Vec<u8> = (0..32u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
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
    let mut body = stream(&member, &cid).await.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert_eq!(
        first[..],
        bytes[..first.len()],
        "the first bytes arrive early"
    );
    drop(body);
    staging_cleared(&member).await;
    assert_eq!(json(&member, "/space").await["totalBlocks"], 1);

    let (got, clean) = drain(stream(&member, &cid).await).await;
    assert!(clean);
    assert_eq!(got, bytes, "a later stream starts over");
    member.stop().await;
    owner.stop().await;
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
