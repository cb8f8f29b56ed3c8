//! The HTTP/1 connection loop, on hyper directly because `axum::serve` has
//! no timeouts: a cap on open connections, hyper's header-read timeout
//! (which also ends keep-alive connections idle between requests), and a
//! graceful stop that lets requests in flight finish for a bounded time.

use std::{pin::pin, sync::Arc, time::Duration};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, watch},
    task::JoinSet,
};

/// A client has this long to send a request's headers (and a kept-alive
/// connection to send its next request).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 64;

/// How long requests in flight may take to finish once the stop is asked.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How long to wait after `accept` failed (out of descriptors, say).
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `stop` changes (or its sender goes).
pub(crate) async fn serve(listener: TcpListener, app: Router, mut stop: watch::Receiver<()>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            biased;
            _ = stop.changed() => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            biased;
            _ = stop.changed() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::debug!(%error, "api: accept failed");
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        let app = app.clone();
        let mut closing = stop.clone();
        connections.spawn(async move {
            let _slot = slot;
            let _ = stream.set_nodelay(true);
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            let mut conn =
                pin!(builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app)));
            tokio::select! {
                // A client's reset or timeout: nothing to report.
                _ = conn.as_mut() => {}
                _ = closing.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(STOP_GRACE, conn).await;
                }
            }
        });
    }
    drop(listener);
    // Each connection bounds its own wait by STOP_GRACE.
    while connections.join_next().await.is_some() {}
}
