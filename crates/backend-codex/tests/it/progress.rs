//! Progress reports of uploads and downloads, and the download buffer the
//! client keeps for the next download.

use std::sync::{Arc, Mutex};

use backend_codex::{DownloadOptions, Progress, Source, UploadOptions};
use bytes::Bytes;

use crate::Node;

/// A callback that records every report, and what it recorded.
fn recorder() -> (
    impl Fn(Progress) + Send + Sync + 'static,
    Arc<Mutex<Vec<Progress>>>,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    (move |p| sink.lock().unwrap().push(p), seen)
}

fn bytes_of(seen: &Mutex<Vec<Progress>>) -> Vec<u64> {
    seen.lock().unwrap().iter().map(|p| p.bytes).collect()
}

fn data(len: usize, seed: u32) -> Bytes {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// Starts at 0, never goes back, ends at `len`, and says more than start
/// and end in between.
fn assert_climbs_to(reports: &[u64], len: u64) {
    assert_eq!(reports.first(), Some(&0), "{reports:?}");
    assert!(reports.is_sorted(), "{reports:?}");
    assert_eq!(reports.last(), Some(&len), "{reports:?}");
    assert!(reports.len() > 2, "{reports:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_report_the_bytes_sent_and_the_total_when_known() {
    let node = Node::start(|_| {}).await;
    let client = node.client();
    let bytes = data(1_000_000, 1);

    let (callback, seen) = recorder();
    let options = UploadOptions::default().with_progress(callback);
    let cid = client.upload(bytes.clone(), &options).await.unwrap();
    assert_climbs_to(&bytes_of(&seen), 1_000_000);
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|p| p.total == Some(1_000_000))
    );
    assert_eq!(
        cid,
        client
            .upload(bytes.clone(), &UploadOptions::default())
            .await
            .unwrap(),
        "progress changes nothing the node sees"
    );

    let (callback, seen) = recorder();
    let options = UploadOptions::default().with_progress(callback);
    let pieces: Vec<std::io::Result<Bytes>> = bytes
        .chunks(100_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let streamed = client
        .upload_stream(futures::stream::iter(pieces), &options)
        .await
        .unwrap();
    assert_eq!(streamed, cid);
    assert_climbs_to(&bytes_of(&seen), 1_000_000);
    assert!(
        seen.lock().unwrap().iter().all(|p| p.total.is_none()),
        "a stream's length is not known"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_report_the_bytes_received_against_the_dataset_size() {
    let a = Node::start(|_| {}).await;
    let b = Node::start(|c| c.peers = vec![a.handle.url()]).await;
    let bytes = data(700_000, 2);
    let cid = a
        .client()
        .upload(bytes.clone(), &UploadOptions::default())
        .await
        .unwrap();
    for (node, source) in [(&a, Source::Local), (&b, Source::Network)] {
        let (callback, seen) = recorder();
        let options = DownloadOptions::new(source).with_progress(callback);
        let got = node.client().download_with(&cid, &options).await.unwrap();
        assert_eq!(got, bytes);
        assert_climbs_to(&bytes_of(&seen), 700_000);
        assert!(
            seen.lock()
                .unwrap()
                .iter()
                .all(|p| p.total == Some(700_000))
        );

        let (callback, seen) = recorder();
        let options = DownloadOptions::from(source).with_progress(callback);
        let mut len = 0;
        let mut sink = |chunk: &[u8]| len += chunk.len();
        let counted = node
            .client()
            .download_into_with(&cid, &options, &mut sink)
            .await;
        assert_eq!(counted.unwrap(), 700_000);
        assert_eq!(len, 700_000);
        assert_eq!(bytes_of(&seen).last(), Some(&700_000));
    }
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_buffer_is_reused_only_once_its_bytes_are_dropped() {
    let node = Node::start(|_| {}).await;
    let client = node.client();
    let (one, two) = (data(3_000_000, 3), data(3_000_000, 4));
    let no_meta = UploadOptions::default();
    let cid_one = client.upload(one.clone(), &no_meta).await.unwrap();
    let cid_two = client.upload(two.clone(), &no_meta).await.unwrap();

    let first = client.download(&cid_one, Source::Local).await.unwrap();
    let second = client.download(&cid_two, Source::Local).await.unwrap();
    assert_ne!(first.as_ptr(), second.as_ptr(), "the first is still held");
    assert_eq!((&first, &second), (&one, &two));
    let address = first.as_ptr();
    drop(first);
    let third = client.download(&cid_two, Source::Local).await.unwrap();
    assert_eq!(third.as_ptr(), address, "the dropped buffer came back");
    assert_eq!((&second, &third), (&two, &two));

    // A failed download gives its buffer back too.
    drop(third);
    node.handle.set_corrupt_data(true);
    let err = client.download(&cid_one, Source::Local).await.unwrap_err();
    assert!(err.to_string().contains("tree root"), "{err}");
    node.handle.set_corrupt_data(false);
    let fourth = client.download(&cid_one, Source::Local).await.unwrap();
    assert_eq!(fourth.as_ptr(), address);
    assert_eq!(fourth, one);
    node.stop().await;
}
