//! Routes, status codes, bodies and quirks of spec 2.2–2.3.

use codex_devnode::{
    CODEX_PREFIX, Devnode,
    format::{cid::cid_text, manifest::Manifest},
};
use reqwest::header;

use crate::TestNode;

const VECTOR_CID: &str = "zDvZRwzmAkhzDRPH5EW242gJBNZ2T7aoH2v1fVH66FxXL4kSbvyM";

#[tokio::test]
async fn upload_reproduces_the_spec_vector_and_downloads_without_range() {
    let t = TestNode::start().await;
    for _ in 0..2 {
        let r = t
            .http
            .post(t.url("/data"))
            .header(header::CONTENT_TYPE, "text/plain")
            .header(
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"hello.txt\"",
            )
            .body("Hello World!")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/plain");
        assert_eq!(r.text().await.unwrap(), VECTOR_CID, "same bytes, same CID");
    }
    let r = t
        .http
        .get(t.url(&format!("/data/{VECTOR_CID}")))
        .header(header::RANGE, "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "Range is ignored");
    assert_eq!(r.headers()[header::CONTENT_TYPE], "text/plain");
    assert_eq!(
        r.headers()[header::CONTENT_DISPOSITION],
        "attachment; filename=\"hello.txt\""
    );
    assert_eq!(r.headers()[header::CONTENT_LENGTH], "12");
    assert!(r.headers().get(header::ACCEPT_RANGES).is_none());
    assert_eq!(r.bytes().await.unwrap(), "Hello World!");
    t.stop().await;
}

#[tokio::test]
async fn space_counts_a_padded_block_and_the_manifest() {
    let t = TestNode::start().await;
    let cid = t.upload(b"eighteen bytes !!!").await;
    let space: serde_json::Value = t
        .http
        .get(t.url("/space"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(space["totalBlocks"], 2);
    assert_eq!(
        space["quotaUsedBytes"],
        65_536 + 56,
        "spec 2.2: 65592 after 18 bytes"
    );
    assert_eq!(space["quotaMaxBytes"], 21_474_836_480u64);
    let r = t
        .http
        .get(t.url(&format!("/data/{cid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()[header::CONTENT_TYPE],
        "application/octet-stream"
    );
    assert_eq!(r.headers()[header::CONTENT_DISPOSITION], "attachment");
    t.stop().await;
}

#[tokio::test]
async fn header_rules_answer_422_and_an_empty_upload_500() {
    let t = TestNode::start().await;
    let post = |ct: Option<&str>, cd: Option<&str>, body: &'static str| {
        let mut r = t.http.post(t.url("/data")).body(body);
        if let Some(ct) = ct {
            r = r.header(header::CONTENT_TYPE, ct);
        }
        if let Some(cd) = cd {
            r = r.header(header::CONTENT_DISPOSITION, cd);
        }
        r.send()
    };
    let r = post(Some("hello/world"), None, "x").await.unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "text/html");
    assert_eq!(
        r.text().await.unwrap(),
        "The MIME type 'hello/world' is not valid."
    );
    for ct in [
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
    ] {
        assert_eq!(
            post(Some(ct), None, "x").await.unwrap().status(),
            422,
            "{ct}"
        );
    }
    let r = post(None, Some("attachment; filename=\"exam*ple.txt\""), "x")
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(r.text().await.unwrap(), "The filename is not valid.");
    let quirk = post(None, Some("attachment; filename=\"a\"; size=3"), "x")
        .await
        .unwrap();
    assert_eq!(
        quirk.status(),
        422,
        "the Codex parser drops only the last character"
    );
    let ignored = post(None, Some("attachment; filename=a.txt"), "x")
        .await
        .unwrap();
    assert_eq!(ignored.status(), 200, "an unquoted filename is ignored");
    let bare = post(None, None, "x").await.unwrap().text().await.unwrap();
    assert_eq!(ignored.text().await.unwrap(), bare);
    let r = post(None, None, "").await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(r.text().await.unwrap(), "Empty leaves");
    t.stop().await;
}

#[tokio::test]
async fn cid_routes_follow_the_node() {
    let t = TestNode::start().await;
    let cid = t.upload(b"some bytes").await;
    let get = |path: String| t.http.get(t.url(&path)).send();

    let r = get("/data/not-a-cid".into()).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.text().await.unwrap(), "Incorrect Cid");
    let exists: serde_json::Value = get(format!("/data/{cid}/exists"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        exists,
        serde_json::json!({ cid.clone(): true }),
        "{{\"<cid>\": bool}}, not {{has}}"
    );

    // The old GET on /network, HEAD, and unknown paths are all 404.
    assert_eq!(
        get(format!("/data/{cid}/network")).await.unwrap().status(),
        404
    );
    let head = t
        .http
        .head(t.url(&format!("/data/{cid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 404);
    assert_eq!(get("/nowhere".into()).await.unwrap().status(), 404);
    assert_eq!(
        t.http
            .get(format!("{}/api/v2/data", t.node.url()))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        t.http.put(t.url("/data")).send().await.unwrap().status(),
        404
    );

    // POST /network with a body but no Content-Type is presto's 400.
    let r = t
        .http
        .post(t.url(&format!("/data/{cid}/network")))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // DELETE is 204, even twice; then the dataset is gone.
    for _ in 0..2 {
        let r = t
            .http
            .delete(t.url(&format!("/data/{cid}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }
    let r = get(format!("/data/{cid}")).await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.text().await.unwrap(),
        "The requested CID could not be retrieved (Block not found in local store)."
    );
    let space: serde_json::Value = get("/space".into()).await.unwrap().json().await.unwrap();
    assert_eq!(space["totalBlocks"], 0);
    let exists: serde_json::Value = get(format!("/data/{cid}/exists"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(exists[&cid], false);
    t.stop().await;
}

#[tokio::test]
async fn multi_block_datasets_persist_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let config = codex_devnode::Config::new(dir.path());
    let node = Devnode::spawn(config.clone()).await.unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let cid = http
        .post(format!("{}/data", node.api_url()))
        .body(data.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    node.shutdown().await.unwrap();

    let node = Devnode::spawn(config).await.unwrap();
    let list: serde_json::Value = http
        .get(format!("{}/data", node.api_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["content"][0]["cid"], cid.as_str());
    assert_eq!(list["content"][0]["manifest"]["datasetSize"], 200_000);
    assert_eq!(list["content"][0]["manifest"]["blockSize"], 65_536);
    assert_eq!(list["content"][0]["manifest"]["protected"], false);
    let body = http
        .get(format!("{}/data/{cid}", node.api_url()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body, data);
    // The manifest block on disk is exactly what the CID names.
    let tree = list["content"][0]["manifest"]["treeCid"].as_str().unwrap();
    let manifest = Manifest {
        tree_cid: codex_devnode::format::cid::parse_cid(tree).unwrap(),
        block_size: 65_536,
        dataset_size: 200_000,
        filename: None,
        mimetype: None,
    };
    assert_eq!(cid_text(&manifest.cid()), cid);
    let space: serde_json::Value = http
        .get(format!("{}/space", node.api_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(space["totalBlocks"], 5, "4 padded blocks and the manifest");
    tokio::time::timeout(std::time::Duration::from_secs(10), node.shutdown())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn both_prefixes_are_served_and_block_size_is_a_storage_option() {
    let t = TestNode::start().await;
    let codex = format!("{}{CODEX_PREFIX}", t.node.url());
    let info: serde_json::Value = t
        .http
        .get(format!("{codex}/debug/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(info["codex"]["version"].is_string());
    let info: serde_json::Value = t
        .http
        .get(t.url("/debug/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(info["storage"]["version"].is_string());

    let small = t
        .http
        .post(t.url("/data?blockSize=4096"))
        .body(vec![1u8; 10_000])
        .send()
        .await
        .unwrap();
    let cid = small.text().await.unwrap();
    let item: serde_json::Value = t
        .http
        .get(t.url(&format!("/data/{cid}/network/manifest")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(item["manifest"]["blockSize"], 4096);
    let bad = t
        .http
        .post(t.url("/data?blockSize=5000"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let ignored = t
        .http
        .post(format!("{codex}/data?blockSize=5000"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(ignored.status(), 200, "Codex ignores the unknown query");

    let text = t
        .http
        .get(t.url("/peerid"))
        .header(header::ACCEPT, "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(text.text().await.unwrap(), t.node.peer_id());
    t.stop().await;
}

#[tokio::test]
async fn cors_headers_only_when_asked_for() {
    let off = TestNode::start().await;
    let r = off
        .http
        .get(off.url("/space"))
        .header(header::ORIGIN, "http://app")
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    let r = off
        .http
        .request(reqwest::Method::OPTIONS, off.url("/data"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    off.stop().await;

    let on = TestNode::with(|c| c.cors_origin = Some("*".into())).await;
    let r = on.http.get(on.url("/space")).send().await.unwrap();
    assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let r = on
        .http
        .request(reqwest::Method::OPTIONS, on.url("/data"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS],
        "content-type,content-disposition"
    );
    on.stop().await;
}

#[tokio::test]
async fn injected_faults_fail_and_delay_requests() {
    let t = TestNode::with(|c| {
        c.faults.fail_every_nth = Some(3);
        c.faults.delay = std::time::Duration::from_millis(30);
    })
    .await;
    let mut statuses = Vec::new();
    let start = std::time::Instant::now();
    for _ in 0..6 {
        statuses.push(
            t.http
                .get(t.url("/space"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert!(start.elapsed() >= std::time::Duration::from_millis(180));
    assert_eq!(statuses, [200, 200, 503, 200, 200, 503]);
    t.node.fail_next_requests(2);
    let burst: Vec<u16> = [
        t.http
            .get(t.url("/space"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        t.http
            .get(t.url("/space"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
    ]
    .into();
    assert_eq!(burst, [503, 503]);
    t.stop().await;
}

#[tokio::test]
async fn a_lying_node_flips_the_first_byte_of_every_block() {
    let t = TestNode::start().await;
    // Blocks read from disk several at a time: the flips must still land on
    // block starts, in every batch.
    let bytes: Vec<u8> = (0..20 * 65_536u32 + 100)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let cid = t
        .http
        .post(t.url("/data"))
        .body(bytes.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    t.node.set_corrupt_data(true);
    let got = t
        .http
        .get(t.url(&format!("/data/{cid}")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut lie = bytes.clone();
    for start in (0..lie.len()).step_by(65_536) {
        lie[start] ^= 0xff;
    }
    assert_eq!(got.len(), bytes.len());
    assert!(got[..] == lie[..], "exactly the first byte of each block");
    t.node.set_corrupt_data(false);
    let honest = t.http.get(t.url(&format!("/data/{cid}"))).send().await;
    assert!(honest.unwrap().bytes().await.unwrap()[..] == bytes[..]);
    t.stop().await;
}
