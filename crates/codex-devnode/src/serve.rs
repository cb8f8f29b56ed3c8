//! The devnode's HTTP/1 connection loop, on hyper directly because
//! `axum::serve` offers no timeouts: a cap on open connections, hyper's
//! header-read timeout (which also closes keep-alive connections that sit
//! idle between requests), an idle timeout while a request is served, and a
//! graceful stop. When the cap or the descriptor limit is reached, the
//! connections that have sent nothing for a second are closed to make room:
//! a real client sends its request as soon as it connects, so a flood of
//! silent connections cannot keep it waiting behind them.

use std::{
    collections::VecDeque,
    io,
    pin::{Pin, pin},
    sync::{
        Arc, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError, oneshot, watch},
    task::JoinSet,
    time::Instant,
};

/// How long to wait before accepting again after `accept` failed, e.g. out
/// of file descriptors: long enough not to spin, short enough not to matter.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// How long a connection may stay silent before it may be closed to make
/// room: far longer than a client takes to send what it wrote on connect.
const SILENT_GRACE: Duration = Duration::from_secs(1);

/// What bounds each connection (see [`crate::Config`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_connections: usize,
}

/// Serves `app` on `listener` until `stop` fires (or its sender goes), then
/// lets open requests finish. Dropping the returned future drops every
/// connection with it.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut stop: oneshot::Receiver<()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (closing, closing_rx) = watch::channel(());
    let mut connections = JoinSet::new();
    // Every connection that has not sent a byte yet, oldest first.
    let mut silent: VecDeque<Weak<Activity>> = VecDeque::new();
    loop {
        while connections.try_join_next().is_some() {}
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(TryAcquireError::Closed) => break,
            Err(TryAcquireError::NoPermits) => {
                close_silent(&mut silent);
                // New connections wait in the kernel's backlog meanwhile,
                // costing no descriptor here.
                tokio::select! {
                    biased;
                    _ = &mut stop => break,
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    () = tokio::time::sleep(SILENT_GRACE / 4) => continue,
                }
            }
        };
        let accepted = tokio::select! {
            biased;
            _ = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                let activity = Arc::new(Activity::new());
                silent.retain(|a| a.upgrade().is_some_and(|a| !a.spoke()));
                silent.push_back(Arc::downgrade(&activity));
                connections.spawn(connection(
                    stream,
                    app.clone(),
                    limits,
                    activity,
                    closing_rx.clone(),
                    slot,
                ));
            }
            // Out of descriptors, most likely: make room, then try again.
            Err(_) => {
                close_silent(&mut silent);
                tokio::time::sleep(ACCEPT_RETRY).await;
            }
        }
    }
    drop(listener);
    closing.send_replace(());
    while connections.join_next().await.is_some() {}
}

/// Closes every connection that has sent nothing for [`SILENT_GRACE`].
fn close_silent(silent: &mut VecDeque<Weak<Activity>>) {
    silent.retain(|activity| {
        let Some(activity) = activity.upgrade() else {
            return false;
        };
        if activity.spoke() {
            return false;
        }
        if activity.start.elapsed() < SILENT_GRACE {
            return true;
        }
        activity.close.notify_one();
        false
    });
}

/// One connection, until it ends, times out or is told to close.
async fn connection(
    stream: TcpStream,
    app: Router,
    limits: Limits,
    activity: Arc<Activity>,
    mut closing: watch::Receiver<()>,
    _slot: OwnedSemaphorePermit,
) {
    // Small answers (status codes, CIDs) should not wait for Nagle.
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut conn = pin!(builder.serve_connection(io, TowerToHyperService::new(app)));
    let mut closing_seen = false;
    loop {
        let idle_until = activity.last() + limits.idle_timeout;
        tokio::select! {
            // Errors here are the client's (a reset, a header timeout):
            // nothing to report but the closed connection.
            _ = conn.as_mut() => return,
            // Silent since it connected, while others wait for its slot.
            () = activity.close.notified() => return,
            _ = closing.changed(), if !closing_seen => {
                closing_seen = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(idle_until) => {
                if activity.last() + limits.idle_timeout <= Instant::now() {
                    // Dropping the connection closes the socket.
                    return;
                }
            }
        }
    }
}

/// When a byte last moved on a connection, whether the client ever sent
/// one, and the way to close it from the accept loop.
#[derive(Debug)]
struct Activity {
    /// When it was accepted.
    start: Instant,
    /// Milliseconds after `start`.
    last: AtomicU64,
    spoke: AtomicBool,
    close: Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last: AtomicU64::new(0),
            spoke: AtomicBool::new(false),
            close: Notify::new(),
        }
    }

    fn heard(&self) {
        self.spoke.store(true, Ordering::Relaxed);
        self.touch();
    }

    fn spoke(&self) -> bool {
        self.spoke.load(Ordering::Relaxed)
    }

    fn touch(&self) {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }
}

/// A TCP stream that records when bytes move, for the idle timeout.
#[derive(Debug)]
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.heard();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
