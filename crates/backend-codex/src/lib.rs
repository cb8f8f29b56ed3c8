//! Codex / Logos Storage for history archives: a REST client for the node
//! ([`CodexClient`]) and the archive backend on top of it ([`CodexBackend`]).
//!
//! - The client speaks both API generations (`/api/storage/v1` by default,
//!   `/api/codex/v1`), uploads raw bodies, and verifies every download: its
//!   length, and the tree root recomputed from the bytes against the
//!   manifest's `treeCid`, so a node serving wrong bytes is caught.
//! - It has a connect timeout, an idle-read timeout, deadlines on the calls a
//!   node may block on, and retries with backoff on connection errors,
//!   timeouts and 5xx, never on 4xx.
//! - Uploads and downloads report [`Progress`] to a callback in
//!   [`UploadOptions`] or [`DownloadOptions`]. A download's buffer is reused
//!   by the next one once its bytes are dropped, since first-touching fresh
//!   memory costs about as much as verifying it
//!   ([`ClientConfig::keep_download_buffer`]).
//! - Plain HTTP only: the node's API is meant for loopback; reaching a remote
//!   node through a TLS proxy needs reqwest's `rustls` feature added here.
//!
//! [`format`](mod@format) is `codex-format`, the CID and manifest code the devnode uses
//! too, so client and test node cannot disagree.

mod backend;
mod client;
mod config;
mod error;
pub use codex_format as format;

pub use archive_backend::RetryPolicy;
pub use backend::{BackendOptions, CodexBackend};
pub use client::{
    CodexClient, DownloadOptions, OnProgress, Progress, Source, Space, UploadOptions,
};
pub use config::{CODEX_PREFIX, ClientConfig, STORAGE_PREFIX};
pub use error::ClientError;

/// The backend's name in errors and logs.
pub const NAME: &str = "codex";
