//! The REST client alone: retries, deadlines, prefixes, verification, errors.

use std::time::Duration;

use archive_backend::ErrorKind;
use backend_codex::{CODEX_PREFIX, ClientConfig, ClientError, CodexClient, Source, UploadOptions};
use bytes::Bytes;

use crate::Node;

const VECTOR_CID: &str = "zDvZRwzmAkhzDRPH5EW242gJBNZ2T7aoH2v1fVH66FxXL4kSbvyM";

#[tokio::test]
async fn uploads_reproduce_the_spec_vector_on_both_prefixes() {
    let node = Node::start(|_| {}).await;
    let hello = UploadOptions::new(Some("hello.txt"), Some("text/plain"));
    let storage = node.client();
    let cid = storage
        .upload(Bytes::from_static(b"Hello World!"), &hello)
        .await
        .unwrap();
    assert_eq!(cid, VECTOR_CID);
    let codex =
        CodexClient::new(ClientConfig::new(node.handle.url()).with_prefix(CODEX_PREFIX)).unwrap();
    let streamed = futures::stream::iter([
        Ok(Bytes::from_static(b"Hello ")),
        Ok(Bytes::from_static(b"World!")),
    ]);
    assert_eq!(
        codex.upload_stream(streamed, &hello).await.unwrap(),
        VECTOR_CID
    );
    assert_eq!(
        codex.download(&cid, Source::Local).await.unwrap(),
        "Hello World!"
    );
    assert!(codex.exists(&cid).await.unwrap());
    let item = codex.manifest(&cid).await.unwrap();
    assert_eq!(item.manifest.filename.as_deref(), Some("hello.txt"));
    let space = codex.space().await.unwrap();
    assert_eq!(space.total_blocks, 2);
    codex.delete(&cid).await.unwrap();
    assert!(!storage.exists(&cid).await.unwrap());
    let err = storage.download(&cid, Source::Local).await.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::NotFound, Some(404)));
    assert!(
        err.to_string().contains("could not be retrieved"),
        "errors carry the body: {err}"
    );
    node.stop().await;
}

#[tokio::test]
async fn unusable_metadata_is_refused_before_any_request() {
    let node = Node::start(|_| {}).await;
    let client = node.client();
    for options in [
        UploadOptions::new(Some("exam*ple.txt"), None),
        UploadOptions::new(Some("CON"), None),
        UploadOptions::new(None, Some("text/plain; charset=utf-8")),
    ] {
        let err = client
            .upload(Bytes::from_static(b"x"), &options)
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::InvalidInput(_)), "{err}");
    }
    assert_eq!(node.handle.request_count(), 0);
    node.stop().await;
}

#[tokio::test]
async fn malformed_cids_never_reach_a_url() {
    let node = Node::start(|_| {}).await;
    let client = node.client();
    let base64 = "mAXASIHfTj2V1aP3aGF6QznM9FnXp9i2H4vCAxY/dyAENg+/v";
    for bad in [
        "../space",
        "zDv/../../debug/info",
        "zDvZRwzm?x=1",
        "zDvZRwzm#frag",
        "",
        "not-a-cid",
        "zzzzzz",
        base64,
    ] {
        let errors = [
            client.manifest(bad).await.map(drop).unwrap_err(),
            client.fetch_in_background(bad).await.map(drop).unwrap_err(),
            client.exists(bad).await.map(drop).unwrap_err(),
            client.delete(bad).await.unwrap_err(),
            client
                .download(bad, Source::Local)
                .await
                .map(drop)
                .unwrap_err(),
            client
                .download(bad, Source::Network)
                .await
                .map(drop)
                .unwrap_err(),
        ];
        for err in errors {
            assert!(
                matches!(&err, ClientError::InvalidCid { cid, .. } if cid == bad),
                "{bad:?}: {err}"
            );
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(!err.is_retryable());
        }
    }
    assert_eq!(node.handle.request_count(), 0, "nothing was sent");
    node.stop().await;
}

#[tokio::test]
async fn bursts_of_5xx_are_retried_and_4xx_are_not() {
    let node = Node::start(|_| {}).await;
    let client = node.client();
    node.handle.fail_next_requests(3);
    let cid = client
        .upload(Bytes::from_static(b"retried"), &UploadOptions::default())
        .await
        .unwrap();
    assert_eq!(node.handle.request_count(), 4, "three 503s, then success");
    assert_eq!(
        client.download(&cid, Source::Network).await.unwrap(),
        "retried"
    );

    node.handle.fail_next_requests(100);
    let err = client.exists(&cid).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.status()),
        (ErrorKind::Unavailable, Some(503))
    );
    assert!(
        err.to_string().contains("injected"),
        "the body is kept: {err}"
    );
    node.handle.fail_next_requests(0);

    // A malformed CID is refused before sending (see above): a missing
    // dataset is the 4xx here.
    let before = node.handle.request_count();
    let err = client.manifest(VECTOR_CID).await.unwrap_err();
    assert_eq!((err.kind(), err.status()), (ErrorKind::NotFound, Some(404)));
    assert_eq!(
        node.handle.request_count(),
        before + 1,
        "a 4xx is not retried"
    );
    node.stop().await;
}

#[tokio::test]
async fn deadlines_and_dead_nodes_map_to_timeout_and_unavailable() {
    let slow = Node::start(|c| c.faults.delay = Duration::from_millis(800)).await;
    let mut config = ClientConfig::new(slow.handle.url());
    config.manifest_deadline = Duration::from_millis(100);
    config.retry =
        backend_codex::RetryPolicy::new(2, Duration::from_millis(10), Duration::from_secs(2));
    let client = CodexClient::new(config).unwrap();
    let start = std::time::Instant::now();
    let err = client.manifest(VECTOR_CID).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(
        start.elapsed() < Duration::from_millis(700),
        "the deadline bounds each try"
    );
    slow.stop().await;

    let gone = Node::start(|_| {}).await;
    let client = gone.client();
    gone.stop().await;
    let err = client.space().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
}

/// A node that stops sending mid-body, its connection open, is a stall:
/// the idle-read timeout ends the download with a typed, temporary
/// `Timeout` instead of a wait without end.
#[tokio::test]
async fn a_download_that_stalls_mid_body_fails_as_a_timeout() {
    let node = Node::start(|c| c.faults.stall_after = Some(100_000)).await;
    let mut config = ClientConfig::new(node.handle.url());
    config.read_timeout = Duration::from_millis(500);
    config.retry =
        backend_codex::RetryPolicy::new(2, Duration::from_millis(10), Duration::from_secs(2));
    let client = CodexClient::new(config).unwrap();
    let data = Bytes::from((0..1_000_000u32).map(|i| i as u8).collect::<Vec<_>>());
    let cid = client
        .upload(data, &UploadOptions::default())
        .await
        .unwrap();
    for source in [Source::Local, Source::Network] {
        let err = tokio::time::timeout(Duration::from_secs(60), client.download(&cid, source))
            .await
            .expect("a stalled body ends the download")
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(err.kind().is_temporary(), "{err}");
        assert!(err.to_string().contains("500ms"), "names the stall: {err}");
    }
    node.stop().await;
}
