//! Progress of uploads and downloads, reported to a callback the caller
//! supplies in [`UploadOptions`](crate::UploadOptions) or
//! [`DownloadOptions`](crate::DownloadOptions).

use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};

/// Upload slices handed to the connection one at a time when progress is
/// reported: small enough for a smooth report, big enough that their count
/// does not matter.
const UPLOAD_SLICE: usize = 256 * 1024;

/// How far one transfer has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Bytes so far: for an upload, handed to the connection; for a
    /// download, received and hashed (not yet verified: that happens at the
    /// end).
    pub bytes: u64,
    /// The whole length when it is known: for downloads (the manifest's
    /// `datasetSize`) and uploads of [`Bytes`], not for
    /// [`upload_stream`](crate::CodexClient::upload_stream).
    pub total: Option<u64>,
}

/// A callback that receives [`Progress`]: first `bytes: 0` when the transfer
/// starts (again on each retry), then once per chunk, on the task driving
/// the transfer. It should only record or forward, e.g. an atomic store or a
/// `tokio::sync::watch::Sender::send_replace`. Two handles are equal when
/// they share one callback.
#[derive(Clone)]
pub struct OnProgress(Arc<dyn Fn(Progress) + Send + Sync>);

impl OnProgress {
    /// Wraps a callback.
    pub fn new(callback: impl Fn(Progress) + Send + Sync + 'static) -> OnProgress {
        OnProgress(Arc::new(callback))
    }

    pub(crate) fn report(&self, bytes: u64, total: Option<u64>) {
        (self.0)(Progress { bytes, total });
    }
}

impl std::fmt::Debug for OnProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnProgress(..)")
    }
}

impl PartialEq for OnProgress {
    fn eq(&self, other: &OnProgress) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for OnProgress {}

/// `data` as a request body that reports each slice as the connection takes
/// it. The caller sets `Content-Length`: a stream body has no length of its
/// own, and the node should see the same request as without progress.
pub(super) fn reporting_body(data: Bytes, progress: OnProgress) -> reqwest::Body {
    let total = data.len() as u64;
    progress.report(0, Some(total));
    let slices = (0..data.len())
        .step_by(UPLOAD_SLICE)
        .map(move |start| data.slice(start..data.len().min(start + UPLOAD_SLICE)));
    let mut sent = 0;
    let body = futures::stream::iter(slices).map(move |slice| {
        sent += slice.len() as u64;
        progress.report(sent, Some(total));
        Ok::<_, std::io::Error>(slice)
    });
    reqwest::Body::wrap_stream(body)
}

/// `body` reporting the bytes pulled from it so far.
pub(super) fn reporting_stream<S>(
    body: S,
    progress: OnProgress,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
{
    progress.report(0, None);
    let mut sent = 0;
    body.inspect(move |chunk| {
        if let Ok(chunk) = chunk {
            sent += chunk.len() as u64;
            progress.report(sent, None);
        }
    })
}
