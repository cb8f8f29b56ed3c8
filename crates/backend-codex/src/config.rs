//! Where the node is and how long to wait for it.

use std::time::Duration;

pub use codex_format::api::{CODEX_PREFIX, STORAGE_PREFIX};

/// How the client reaches one node.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    /// `http://127.0.0.1:8080`: scheme, host and port, no path.
    pub base_url: String,
    /// [`STORAGE_PREFIX`] (default) or [`CODEX_PREFIX`].
    pub prefix: String,
    /// How long to wait for a TCP connection.
    pub connect_timeout: Duration,
    /// How long a response may go silent. Bodies have no total deadline: a
    /// large download may take long, as long as bytes keep coming.
    pub read_timeout: Duration,
    /// Deadline of short calls (exists, delete, space, upload answers aside).
    pub request_deadline: Duration,
    /// Deadline of `/network/manifest` and `POST /network`, which a real node
    /// may block on for minutes; status-go waits 20 s.
    pub manifest_deadline: Duration,
    /// Retries of failed requests.
    pub retry: RetryPolicy,
    /// The largest download buffer the client keeps, once its bytes are
    /// dropped, for the next download of a similar size (64 MiB by default;
    /// 0 keeps none). Fresh memory costs a page fault per 4 KiB, which for a
    /// large download costs as much as verifying it; the price is holding
    /// up to this much memory between downloads.
    pub keep_download_buffer: u64,
}

impl ClientConfig {
    /// Defaults for the node at `base_url`.
    pub fn new(base_url: impl Into<String>) -> ClientConfig {
        ClientConfig {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            prefix: STORAGE_PREFIX.into(),
            connect_timeout: Duration::from_secs(3),
            read_timeout: Duration::from_secs(60),
            request_deadline: Duration::from_secs(30),
            manifest_deadline: Duration::from_secs(20),
            retry: RetryPolicy::default(),
            keep_download_buffer: 64 * 1024 * 1024,
        }
    }

    /// The same with another API prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> ClientConfig {
        self.prefix = prefix.into();
        self
    }
}

/// Exponential backoff for connection errors, timeouts and 5xx.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Tries in all, the first included (1 = no retry).
    pub attempts: u32,
    /// Wait before the first retry; doubles each time.
    pub initial_backoff: Duration,
    /// Upper bound of the wait.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// A policy of `attempts` tries starting at `initial_backoff`.
    pub fn new(attempts: u32, initial_backoff: Duration) -> RetryPolicy {
        RetryPolicy {
            attempts: attempts.max(1),
            initial_backoff,
            max_backoff: initial_backoff.max(Duration::from_secs(2)),
        }
    }
}
